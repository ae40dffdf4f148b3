"""Crash safety of the Oracle journal: real writer processes, real files, SIGKILL.

A writer process (:data:`WRITER`, run with ``python -c``) opens a RocksDB journal, runs
the seeded synthetic Titan flow (:class:`exchange.flow.synthetic.OrderFlow`: ``opening()`` then
``take(n)`` in chunks) through ``titan.Engine`` and journals every command with its
events through :class:`exchange.runtime.recorder.Recorder` (group commit of ``BATCH`` records,
a checkpoint every ``CHECKPOINT_EVERY``, a snapshot every ``SNAPSHOT_EVERY``). After
every commit it prints ``ack SEQ``: that seq was *acknowledged* (``Journal.append``
returned). To put kills into storage work that a short run would never reach (a 64 MB
memtable is never full here), the writer also flushes the records family's memtable to
an SST every ``MEMFLUSH_EVERY`` records and runs a full manual compaction after each
snapshot; it prints a marker before each so that the parent can tell where a kill
landed. A resumed writer rebuilds its engine from the journal (snapshot + tail),
regenerates the same flow and skips the commands already journaled.

The parent kills the writer with SIGKILL after a seeded random delay (a few ms to
1.5 s, stratified so that kills land early in the first batches as well as deep in
snapshots and compactions) and then checks, on the files the killed process left:

- the journal opens read-only and as a writer, with the same head;
- every acknowledged seq is there (``last_seq >= last ack``), and at most the one batch
  that was in flight when the kill came is there beyond it;
- no partial batch: ``last_seq`` is a commit point the writer could have reached (a
  multiple of the batch size after the writer's start, a snapshot seq, or the end);
- ``verify()`` passes and counts exactly ``last_seq`` records;
- ``oracle.replay.rebuild`` with ``TitanFactory`` gives the state hash of an in-memory
  run of the same first ``last_seq`` commands through a bare ``titan.Engine``, and the
  chain head on disk equals the chain head of the same records journaled in memory
  without any crash: the history is byte-identical, with no duplicate and no gap.

Two series: kills on a fresh directory each time, and kills on one directory that a new
writer resumes after each check (ending with a writer that runs to its end and a full
audit). A third test kills writers while they create a new journal.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers.paths import ROOT

from exchange.config.symbols import default_specs
from exchange.flow.synthetic import OrderFlow
from exchange.runtime.machines import TitanFactory, TitanMachine, titan_genesis
from exchange.runtime.recorder import Recorder, journaled_apply
from oracle import Journal
from oracle.chain import GENESIS as GENESIS_HASH
from oracle.replay import audit, rebuild
from titan import Engine
from titan.commands import Command

pytestmark = pytest.mark.slow_io  # every test runs subprocesses

SPECS = default_specs()
GENESIS = titan_genesis(SPECS)

BATCH = 256
CHECKPOINT_EVERY = 1_000
SNAPSHOT_EVERY = 5_000
MEMFLUSH_EVERY = 2_000
CHUNK = 1_000
ENDLESS = 10**9  # a total the writer never reaches before it is killed

WRITER = r"""
import sys

from exchange.config.symbols import default_specs
from exchange.flow.synthetic import OrderFlow
from exchange.runtime.machines import TitanFactory, TitanMachine, titan_genesis
from exchange.runtime.recorder import Recorder
from oracle import Journal
from oracle.replay import rebuild
from titan import Engine
from titan.wire import command_to_wire, events_to_wire

path = sys.argv[1]
seed, total, batch, checkpoint_every, snapshot_every, chunk, memflush_every = map(
    int, sys.argv[2:9]
)


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class AckingRecorder(Recorder):
    def flush(self):
        head = super().flush()
        say(f"ack {head.seq}")  # Journal.append has returned: these records are acked
        return head


specs = default_specs()
say("opening")
journal = Journal.open(path, create=True, genesis=titan_genesis(specs))
base = journal.last_seq
say(f"opened {base}")
engine = rebuild(journal, TitanFactory()).machine.engine if base else Engine(specs)
say("rebuilt")
recorder = AckingRecorder(
    journal,
    TitanMachine(engine),
    batch_size=batch,
    checkpoint_every=checkpoint_every,
    snapshot_every=snapshot_every,
)
# Test-only storage churn: the records family's RocksDB handle, to force memtable
# flushes and compactions that a run this short would otherwise never reach.
records_cf = journal._backend._cfs["records"]
flow = OrderFlow(specs, seed=seed)
commands = flow.opening()
while True:
    for cmd in commands:
        seq = cmd.seq
        if seq <= base:
            continue  # journaled by an earlier writer
        events = events_to_wire(engine.apply(cmd))
        recorder.add(seq, cmd.ts, command_to_wire(cmd), events)
        if seq % snapshot_every == 0:
            say("compact")
            records_cf.compact_range(None, None)
            say("compacted")
        if seq % memflush_every == 0:
            say("memflush")
            records_cf.flush()
            say("memflushed")
    if flow.emitted >= total:
        break
    commands = flow.take(min(chunk, total - flow.emitted))
recorder.flush()
journal.close()
say("done")
"""


class Outcome(NamedTuple):
    """What one writer process printed before it died, and how it ended."""

    lines: list[str]
    returncode: int
    stderr: str
    base: int | None  # last_seq when it opened the journal (None: killed before)
    acks: list[int]
    finished: bool

    @property
    def phase(self) -> str:
        """Where the kill landed, from the last marker the writer printed."""
        if self.finished:
            return "after the end"
        if not self.lines:
            return "start-up"
        last = self.lines[-1]
        if last.startswith("ack "):
            seq = int(last.split()[1])
            if seq % SNAPSHOT_EVERY == 0:
                return "snapshot"
            return "execute/append/fsync"
        return {
            "opening": "open/recovery",
            "compact": "compaction",
            "memflush": "memtable flush",
            "compacted": "execute/append/fsync",
            "memflushed": "execute/append/fsync",
        }.get(last.split()[0], "rebuild/first batch")


def is_snapshot_ack(line: str) -> bool:
    """The commit just before a snapshot is saved (Recorder flushes, then snapshots)."""
    return line.startswith("ack ") and int(line.split()[1]) % SNAPSHOT_EVERY == 0


#: Lines a kill delay can be counted from.
MARKERS: dict[str, Callable[[str], bool]] = {
    "opening": lambda line: line == "opening",  # the open (RocksDB recovery) begins
    "opened": lambda line: line.startswith("opened "),  # the writer starts executing
    "snapshot": is_snapshot_ack,
    "compaction": lambda line: line == "compact",
    "memtable flush": lambda line: line == "memflush",
}


def run_writer(path: Path, seed: int, total: int, delay: float | None, *, after: str) -> Outcome:
    """Start a writer; ``delay`` s after its first line that matches ``MARKERS[after]``,
    SIGKILL it (``delay`` None: let it run to its end)."""
    matches = MARKERS[after]
    with open(path.parent / f"{path.name}.stderr", "w+", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(path),
                *map(
                    str,
                    (seed, total, BATCH, CHECKPOINT_EVERY, SNAPSHOT_EVERY, CHUNK, MEMFLUSH_EVERY),
                ),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        lines: list[str] = []
        marker = threading.Event()
        assert proc.stdout is not None
        stdout = proc.stdout

        def read() -> None:
            for line in stdout:
                lines.append(line.strip())
                if matches(line.strip()):
                    marker.set()
            marker.set()  # end of output: never wait forever

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            if delay is None:
                proc.wait(timeout=120)
            else:
                assert marker.wait(timeout=60), "the writer never started"
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
        finally:
            if proc.poll() is None:  # a failed wait: never leave a writer behind
                proc.kill()
                proc.wait()
        reader.join(timeout=60)
        err.seek(0)
        stderr = err.read()
    killed = proc.returncode == -signal.SIGKILL
    assert killed or proc.returncode == 0, f"writer failed ({proc.returncode}):\n{stderr}"
    base = next((int(x.split()[1]) for x in lines if x.startswith("opened ")), None)
    acks = [int(x.split()[1]) for x in lines if x.startswith("ack ")]
    return Outcome(lines, proc.returncode, stderr, base, acks, "done" in lines)


def commit_points(base: int, total: int) -> set[int]:
    """Every head a writer that started at ``base`` can leave: what Recorder commits
    (each BATCH records, at each snapshot seq, and at the end), plus ``base`` itself."""
    points = {base}
    last = base
    for seq in range(base + 1, min(total, base + 400_000) + 1):
        if seq % SNAPSHOT_EVERY == 0 or seq - last >= BATCH or seq == total:
            points.add(seq)
            last = seq
    return points


class Observed(NamedTuple):
    """A journal's state after one kill, to be compared with the reference run."""

    label: str
    seq: int
    state_hash: str
    chain: bytes


def check_after_kill(path: Path, out: Outcome, base: int, total: int, label: str) -> Observed:
    """Reopen the killed writer's journal and check everything that can be checked on
    its own; returns what must match the in-memory reference."""
    last_ack = max(out.acks, default=base)
    points = commit_points(base, total)
    in_flight = min((p for p in points if p > last_ack), default=last_ack)
    where = f"{label} (killed in {out.phase}; base {base}, last ack {last_ack})"
    with Journal.open(path, read_only=True) as journal:
        head = journal.head
        assert head.seq >= last_ack, f"{where}: acknowledged records lost, head {head.seq}"
        assert head.seq <= in_flight, f"{where}: head {head.seq} beyond the batch in flight"
        assert head.seq in points, f"{where}: head {head.seq} is not a commit point (partial)"
        report = journal.verify()
        assert report.ok, f"{where}: verify failed: {report.error}"
        assert report.records == head.seq, where
        built = rebuild(journal, TitanFactory())
        assert built.seq == head.seq, where
        assert not built.skipped, f"{where}: bad snapshots {built.skipped}"
        state_hash = built.machine.state_hash()
    with Journal.open(path, genesis=GENESIS) as journal:
        assert journal.head == head, f"{where}: the writer open sees {journal.head}"
    return Observed(where, head.seq, state_hash, head.chain)


def flow_commands(seed: int, n: int) -> Iterator[Command]:
    """The first ``n`` commands of the flow, drawn as the writer draws them."""
    flow = OrderFlow(SPECS, seed=seed)
    yield from flow.opening()[:n]
    while flow.emitted < n:
        yield from flow.take(min(CHUNK, n - flow.emitted))


def reference(seed: int, seqs: Iterable[int]) -> dict[int, tuple[str, bytes]]:
    """(state hash, chain head) after each of ``seqs`` in one uninterrupted in-memory run:
    a bare ``titan.Engine`` for the state, and the same records journaled in memory
    (``Journal.memory``, same checkpoint interval) for the chain."""
    wanted = sorted(set(seqs))
    engine = Engine(SPECS)
    recorder = Recorder(
        Journal.memory(GENESIS),
        TitanMachine(engine),
        batch_size=1 << 30,
        checkpoint_every=CHECKPOINT_EVERY,
        snapshot_every=0,
    )
    apply = journaled_apply(engine, recorder)
    out: dict[int, tuple[str, bytes]] = {}
    if wanted and wanted[0] == 0:
        out[0] = (engine.state_hash(), GENESIS_HASH)
    targets = set(wanted)
    for cmd in flow_commands(seed, wanted[-1] if wanted else 0):
        apply(cmd)
        if cmd.seq in targets:
            out[cmd.seq] = (engine.state_hash(), recorder.flush().chain)
    return out


def assert_match_reference(seed: int, observed: list[Observed]) -> None:
    ref = reference(seed, (o.seq for o in observed))
    for o in observed:
        state_hash, chain = ref[o.seq]
        assert o.state_hash == state_hash, f"{o.label}: rebuilt state differs at seq {o.seq}"
        assert o.chain == chain, f"{o.label}: chain head differs at seq {o.seq}"


def kill_plan(rng: random.Random, markers: list[str]) -> list[tuple[str, float]]:
    """(marker, delay) per kill. Counted from the start of a writer ("opening", "opened"),
    delays run from 3 ms to 1.5 s, one drawn log-uniformly from each of equal log-strata
    (so kills land in the first batches and deep into long runs alike); counted from a
    storage marker, 0-3 ms, so that the kill lands inside that piece of work."""
    starts = [i for i, m in enumerate(markers) if m in ("opening", "opened")]
    span = math.log(1.5 / 0.003)
    strata = [0.003 * math.exp(span * (k + rng.random()) / len(starts)) for k in range(len(starts))]
    rng.shuffle(strata)
    plan = []
    for i, marker in enumerate(markers):
        plan.append((marker, strata.pop() if i in starts else rng.uniform(0.0, 0.003)))
    return plan


def describe(trials: list[str]) -> None:
    print("\n" + "\n".join(trials))  # shown with pytest -s: where the kills landed


def test_sigkill_on_fresh_directories(tmp_path: Path) -> None:
    """Six writers, each on a new directory, killed at a seeded random moment: three
    counted from the start of writing, one in a snapshot, one in a compaction, one in a
    memtable flush."""
    rng = random.Random(20240611)
    seed = 11
    markers = ["opened", "snapshot", "opened", "compaction", "memtable flush", "opened"]
    observed: list[Observed] = []
    trials: list[str] = []
    for i, (marker, delay) in enumerate(kill_plan(rng, markers)):
        path = tmp_path / f"fresh-{i}"
        out = run_writer(path, seed, ENDLESS, delay, after=marker)
        assert out.base == 0, out.lines[:3]
        label = f"fresh trial {i}, {delay * 1000:.1f} ms after {marker}"
        obs = check_after_kill(path, out, 0, ENDLESS, label)
        observed.append(obs)
        trials.append(f"{obs.label}: head {obs.seq}")
        shutil.rmtree(path)
    assert_match_reference(seed, observed)
    describe(trials)


def test_sigkill_then_resume_the_same_directory(tmp_path: Path) -> None:
    """Seven kills on one directory; after each, the checks, then a new writer resumes at
    last_seq + 1 (it rebuilds its engine from the journal). Kills counted from "opening"
    may land while the new writer opens the journal (RocksDB's WAL recovery) or rebuilds.
    A last writer runs to its end, and the whole journal is audited: every event,
    checkpoint and snapshot re-executed from genesis."""
    rng = random.Random(987654321)
    seed = 12
    markers = [
        "opened",
        "opening",
        "snapshot",
        "opening",
        "compaction",
        "memtable flush",
        "opening",
    ]
    path = tmp_path / "resumed"
    observed: list[Observed] = []
    trials: list[str] = []
    last_seq = 0
    for i, (marker, delay) in enumerate(kill_plan(rng, markers)):
        out = run_writer(path, seed, ENDLESS, delay, after=marker)
        if out.base is not None:
            assert out.base == last_seq, f"writer {i} resumed at {out.base}, not {last_seq}"
        label = f"resume trial {i}, {delay * 1000:.1f} ms after {marker}"
        obs = check_after_kill(path, out, last_seq, ENDLESS, label)
        observed.append(obs)
        trials.append(f"{obs.label}: head {obs.seq}")
        last_seq = obs.seq
    assert last_seq > SNAPSHOT_EVERY, "the series never reached a snapshot"
    total = last_seq + 2 * BATCH + 77  # ends off a batch boundary
    out = run_writer(path, seed, total, None, after="opened")
    assert out.finished and out.base == last_seq
    obs = check_after_kill(path, out, last_seq, total, "final writer")
    assert obs.seq == total
    observed.append(obs)
    with Journal.open(path, read_only=True) as journal:
        snapshots = [s.seq for s in journal.snapshots()]
        report = audit(journal, TitanFactory())
    assert report.ok, report.divergence and report.divergence.describe()
    assert report.records == total
    assert report.checkpoints == total // CHECKPOINT_EVERY
    assert snapshots and all(s % SNAPSHOT_EVERY == 0 for s in snapshots)
    assert report.snapshots == len(snapshots)
    assert report.state_hash == obs.state_hash
    assert_match_reference(seed, observed)
    describe(trials)


CREATOR = r"""
import sys

import oracle.rocks
from oracle import Journal

print("opening", flush=True)
journal = Journal.open(sys.argv[1], create=True, genesis=bytes.fromhex(sys.argv[2]))
print("opened", flush=True)
sys.stdin.read()
"""


def test_killed_while_creating_a_journal_a_new_writer_can_still_open_it(
    tmp_path: Path,
) -> None:
    """A writer killed while ``Journal.open(create=True)`` creates the journal has
    acknowledged nothing; its restart must be able to open (create) the journal there.

    Kills sweep 0..25 ms after the writer announces the open, so some land inside
    RocksDB's creation of the directory (LOCK, LOG, IDENTITY, MANIFEST, CURRENT).
    """
    refused: list[str] = []
    for i in range(34):
        path = tmp_path / f"create-{i}"
        proc = subprocess.Popen(
            [sys.executable, "-c", CREATOR, str(path), GENESIS.hex()],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "opening"
        time.sleep(i * 0.00075)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        left = sorted(os.listdir(path)) if path.exists() else []
        try:
            with Journal.open(path, create=True, genesis=GENESIS) as journal:
                assert journal.last_seq == 0
                assert journal.verify().ok
        except Exception as exc:
            refused.append(f"kill after {i * 0.75:.2f} ms left {left}: {exc!r}")
    assert not refused, "a restarted writer cannot open the journal:\n" + "\n".join(refused)
