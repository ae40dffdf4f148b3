"""Journals and replays are identical across processes and PYTHONHASHSEED values.

The same inputs are journaled in separate processes run with PYTHONHASHSEED 0, 1, 12345
and ``random``: the seeded synthetic flow (``exchange simulate --journal``) and a real LOBSTER
message file (``exchange lobster --journal``). Then, always in processes with a
*different* PYTHONHASHSEED from the writer's:

- ``exchange journal info --json``: the chain heads (which hash every stored record byte)
  and the snapshots' state hashes are identical;
- ``exchange journal audit --json``: every audit passes with one and the same state
  hash, which is also the hash the writer printed at the end of its run;
- ``exchange journal replay --seq N --json``: the state hash at N is the same in every
  process, from a snapshot or from genesis, and equal to an in-memory run of the first
  N flow commands through a bare ``titan.Engine`` in this process.

A first test shows that the environment really changes ``hash()`` in the children, so
that the comparisons are not vacuous.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from helpers.paths import LOBSTER as LOBSTER_DIR
from helpers.paths import ROOT

from exchange.config.symbols import default_specs
from exchange.flow.synthetic import OrderFlow
from exchange.runtime.machines import TitanMachine, titan_genesis
from exchange.runtime.recorder import Recorder, journaled_apply
from oracle import Journal
from titan import Engine

pytestmark = pytest.mark.slow_io  # every test runs subprocesses

LOBSTER = LOBSTER_DIR / "AAPL_2012-06-21_first999_message.csv"
HASH_SEEDS = ["0", "1", "12345", "random"]
# the LOBSTER half of each test is skipped, naming the file, without the recordings
SOURCES = ["flow", pytest.param("lobster", marks=pytest.mark.data(LOBSTER))]

FLOW_SEED = 7
FLOW_COMMANDS = 20_000
FLOW_CHECKPOINT_EVERY = 1_000
FLOW_OPTIONS = [
    "--seed",
    str(FLOW_SEED),
    "--commands",
    str(FLOW_COMMANDS),
    "--batch",
    "500",
    "--checkpoint-every",
    str(FLOW_CHECKPOINT_EVERY),
    "--snapshot-every",
    "5000",
]
LOBSTER_OPTIONS = ["--batch", "64", "--checkpoint-every", "100", "--snapshot-every", "250"]


def run(args: Sequence[str], hash_seed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def run_all(jobs: Sequence[tuple[Sequence[str], str]]) -> list[subprocess.CompletedProcess[str]]:
    """Run (args, hash seed) jobs, a few at a time; results in job order."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda job: run(*job), jobs))


def exchange(*args: str) -> list[str]:
    return ["-m", "exchange", *args]


def json_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def other(hash_seed: str) -> str:
    """A PYTHONHASHSEED different from ``hash_seed`` (the next in HASH_SEEDS)."""
    return HASH_SEEDS[(HASH_SEEDS.index(hash_seed) + 1) % len(HASH_SEEDS)]


class Written(NamedTuple):
    """One journal, the hash seed of its writer, and the state hash the writer printed."""

    path: Path
    hash_seed: str
    final_hash: str


@pytest.fixture(scope="module")
def journals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Written]]:
    """The flow's journals, and the LOBSTER file's when it is there (the tests of those
    are marked ``data`` and skipped without it), one per hash seed."""
    base = tmp_path_factory.mktemp("determinism")
    sources = ["flow", "lobster"] if LOBSTER.is_file() else ["flow"]
    runs: list[tuple[str, Path, str]] = []
    jobs: list[tuple[Sequence[str], str]] = []
    for hs in HASH_SEEDS:
        for source in sources:
            path = base / f"{source}-{hs}"
            if source == "flow":
                args = exchange("simulate", *FLOW_OPTIONS)
            else:
                args = exchange("lobster", str(LOBSTER), "--json", *LOBSTER_OPTIONS)
            runs.append((source, path, hs))
            jobs.append(([*args, "--journal", str(path)], hs))
    out: dict[str, list[Written]] = {source: [] for source in sources}
    for (source, path, hs), proc in zip(runs, run_all(jobs), strict=True):
        if source == "flow":
            assert proc.returncode == 0, proc.stderr
            (line,) = [x for x in proc.stdout.splitlines() if "state hash:" in x]
            out["flow"].append(Written(path, hs, line.split()[-1]))
        else:
            out["lobster"].append(Written(path, hs, json_of(proc)["state_hash"]))
    return out


def test_the_hash_seed_changes_hash_in_the_children() -> None:
    """Control: the fixed seeds give three different str hashes in child processes."""
    code = "print(hash('oracle journal'), hash(('BTCUSDT', 1)))"
    values = [run(["-c", code], hs).stdout for hs in HASH_SEEDS[:3]]
    assert len(set(values)) == 3, values


def reference(n_values: Sequence[int]) -> tuple[dict[int, str], bytes]:
    """State hashes after each of ``n_values`` flow commands (bare Engine), and the chain
    head of the whole flow journaled in memory with the CLI's checkpoint interval."""
    specs = default_specs()
    flow = OrderFlow(specs, seed=FLOW_SEED)
    engine = Engine(specs)
    recorder = Recorder(
        Journal.memory(titan_genesis(specs)),
        TitanMachine(engine),
        batch_size=1_000,
        checkpoint_every=FLOW_CHECKPOINT_EVERY,
        snapshot_every=0,
    )
    apply = journaled_apply(engine, recorder)
    hashes: dict[int, str] = {}
    commands = flow.opening()
    while True:
        for cmd in commands:
            apply(cmd)
            if cmd.seq in n_values:
                hashes[cmd.seq] = engine.state_hash()
        if flow.emitted >= FLOW_COMMANDS:
            break
        commands = flow.take(min(1_000, FLOW_COMMANDS - flow.emitted))
    return hashes, recorder.flush().chain


@pytest.mark.parametrize("source", SOURCES)
def test_chain_heads_and_audits_are_identical(
    journals: dict[str, list[Written]], source: str
) -> None:
    """info and audit, each journal read under another hash seed than its writer's."""
    written = journals[source]
    jobs: list[tuple[Sequence[str], str]] = []
    for w in written:
        jobs.append((exchange("journal", "info", str(w.path), "--json"), other(w.hash_seed)))
        jobs.append((exchange("journal", "audit", str(w.path), "--json"), other(w.hash_seed)))
    procs = run_all(jobs)
    infos = [json_of(p) for p in procs[::2]]
    audits = [json_of(p) for p in procs[1::2]]
    heads = {(i["last_seq"], i["chain_head"]) for i in infos}
    assert len(heads) == 1, f"{source}: chain heads differ across PYTHONHASHSEED: {heads}"
    snapshots = {json.dumps(i["snapshots"]) for i in infos}
    assert len(snapshots) == 1, f"{source}: snapshots differ: {snapshots}"
    assert infos[0]["snapshots"], f"{source}: no snapshot was written"
    for a in audits:
        assert a["ok"] and a["divergence"] is None, a
        assert a["records"] == infos[0]["last_seq"]
        assert a["snapshots"] == len(infos[0]["snapshots"])
    states = {a["state_hash"] for a in audits} | {w.final_hash for w in written}
    assert len(states) == 1, f"{source}: state hashes differ across PYTHONHASHSEED: {states}"
    if source == "flow":
        _, chain = reference([])
        assert infos[0]["last_seq"] == FLOW_COMMANDS
        assert infos[0]["chain_head"] == chain.hex(), "differs from the in-memory journal"
    else:
        assert infos[0]["last_seq"] > 900


class Replay(NamedTuple):
    source: str
    seq: int
    snapshots: bool
    hash_seed: str
    writer: Written


@pytest.mark.parametrize("source", SOURCES)
def test_replay_at_a_seq_is_identical_across_hash_seeds(
    journals: dict[str, list[Written]], source: str
) -> None:
    """replay --seq N in every hash seed, each on a journal another hash seed wrote, from
    the newest snapshot at or before N and (--no-snapshots) from genesis; the flow's
    hashes must also equal those of a bare Engine run in this process, LOBSTER's one
    another."""
    seqs = [1, 4_999, 5_000, 12_345, FLOW_COMMANDS]
    cases: list[Replay] = []
    for i, hs in enumerate(HASH_SEEDS):
        if source == "flow":
            flow_writer = journals["flow"][(i + 1) % len(HASH_SEEDS)]
            cases += [Replay("flow", n, (i + n) % 2 == 0, hs, flow_writer) for n in seqs]
        else:
            lobster_writer = journals["lobster"][(i + 2) % len(HASH_SEEDS)]
            cases.append(Replay("lobster", 600, i % 2 == 0, hs, lobster_writer))
    jobs: list[tuple[Sequence[str], str]] = []
    for c in cases:
        args = ["journal", "replay", str(c.writer.path), "--seq", str(c.seq), "--json"]
        jobs.append((exchange(*args, *([] if c.snapshots else ["--no-snapshots"])), c.hash_seed))
    procs = run_all(jobs)
    expected, _ = reference(seqs) if source == "flow" else ({}, b"")
    lobster_hashes = set()
    for c, proc in zip(cases, procs, strict=True):
        data = json_of(proc)
        assert data["seq"] == c.seq
        every = 5_000 if c.source == "flow" else 250
        assert data["snapshot_seq"] == (c.seq // every * every if c.snapshots else 0), data
        if c.source == "lobster":
            lobster_hashes.add(data["state_hash"])
            continue
        assert data["state_hash"] == expected[c.seq], (
            f"replay --seq {c.seq} under PYTHONHASHSEED={c.hash_seed} of the journal written "
            f"under {c.writer.hash_seed} gives {data['state_hash']}, the engine {expected[c.seq]}"
        )
    if source == "lobster":
        assert len(lobster_hashes) == 1, lobster_hashes
