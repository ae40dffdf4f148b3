"""Recovery: Oracle (snapshot + tail, full replay) against ``matching-engine``'s own
journal recovery, on the same commands, in one process, trials interleaved.

Usage (run by ``bench/suite.py`` in the ``matching-engine`` virtual environment, with
the repository on PYTHONPATH)::

    python bench/peers/recovery_worker.py --stream FILE [--repeat N] [--batch N]
                                          [--snapshot-every N] [--dir DIR] [--json]

Both journals hold the stream's seed and timed commands (all of them, one record per
command), written untimed and durably (fsync per batch of ``--batch``, default 1024):

- ours: :func:`exchange.runtime.recorder.journal_commands` into a RocksDB :class:`oracle.Journal`
  (sync durability) on Titan with the stream's permissive rules, a snapshot every
  ``--snapshot-every`` records (default 100,000), and a second journal without
  snapshots for the full replay;
- theirs: one ``matching_engine.journal.Journal`` per market (the package's design: a
  market shares nothing), ``append`` + ``sync`` per batch, and at every
  ``--snapshot-every``-th command of the stream a ``checkpoint`` of every market
  (``snapshot.encode_snapshot``); a second set without checkpoints for the full replay.

Both snapshot sets are taken at the same points of the stream, so both recoveries replay
the same tail. Timed, per trial (interleaved: ours full, theirs full, ours snapshot,
theirs snapshot): ours = ``Journal.open(read_only=True)`` + ``oracle.replay.rebuild``
(newest valid snapshot, chain-checked tail re-executed); theirs =
``Journal.recover(repair=False)`` of every market (newest snapshot that verifies, CRC
and sequence checks, tail re-executed). Each recovered state is checked against the
stream's recorded L2 book before its time counts.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from engines import MatchingEngineRunner, matching_engine_book
from match_worker import _stats
from stream import Book, Stream, full_depth, permissive_specs, titan_commands

from exchange.runtime.machines import TitanFactory, titan_genesis
from exchange.runtime.recorder import journal_commands
from oracle import Durability, Journal
from oracle.replay import rebuild
from titan import Engine


def _log(msg: str) -> None:
    print(f"recovery worker: {msg}", file=sys.stderr, flush=True)


def write_ours(stream: Stream, path: Path, batch: int, snapshot_every: int) -> float:
    """Journal every command of the stream with Oracle; seconds taken."""
    specs = permissive_specs(stream.symbols)
    commands = titan_commands(stream, stream.seed + stream.commands, 1)
    t0 = time.perf_counter()
    with Journal.open(
        path, create=True, durability=Durability.SYNC, genesis=titan_genesis(specs)
    ) as journal:
        journal_commands(
            journal,
            Engine(specs),
            commands,
            batch_size=batch,
            checkpoint_every=10_000,
            snapshot_every=snapshot_every,
        )
    return time.perf_counter() - t0


def write_theirs(stream: Stream, root: Path, batch: int, snapshot_every: int) -> float:
    """Journal every command with matching-engine's WAL, one journal per market."""
    from matching_engine.engine import MatchingEngine
    from matching_engine.journal import Journal as MeJournal
    from matching_engine.snapshot import encode_snapshot

    runner = MatchingEngineRunner(stream)
    cmds = runner.seed + runner.commands
    t0 = time.perf_counter()
    engines = [MatchingEngine() for _ in runner.names]
    journals = [MeJournal(root / name) for name in runner.names]
    for j in journals:
        j.open(1)
    dirty: set[int] = set()
    for i, (sym, sc) in enumerate(cmds, 1):
        journals[sym].append(sc)
        dirty.add(sym)
        if i % batch == 0 or i == len(cmds):
            for d in sorted(dirty):  # every market's batch durable before it is applied
                journals[d].sync()
            dirty.clear()
        engines[sym].process(sc)
        if snapshot_every and i % snapshot_every == 0:
            for engine, j in zip(engines, journals, strict=True):
                j.sync()
                j.checkpoint(encode_snapshot(engine, engine.last_seq), engine.last_seq)
    for j in journals:
        j.close()
    return time.perf_counter() - t0


def recover_ours(path: Path, use_snapshots: bool) -> tuple[float, Engine]:
    gc.collect()
    t0 = time.perf_counter()
    journal = Journal.open(path, read_only=True)
    try:
        rebuilt = rebuild(journal, TitanFactory(), use_snapshots=use_snapshots)
    finally:
        journal.close()
    elapsed = time.perf_counter() - t0
    return elapsed, rebuilt.machine.engine  # type: ignore[attr-defined]


def recover_theirs(root: Path, names: list[str]) -> tuple[float, list[Any]]:
    from matching_engine.journal import Journal as MeJournal

    gc.collect()
    t0 = time.perf_counter()
    engines = [MeJournal(root / name).recover(repair=False)[0] for name in names]
    return time.perf_counter() - t0, engines


def _check(name: str, stream: Stream, book: Callable[[str], Book]) -> None:
    for symbol, _, _ in stream.symbols:
        if book(symbol) != stream.books[symbol]:
            raise AssertionError(f"{name}: recovered {symbol} book differs from the stream's")


def measure(
    stream: Stream, scratch: Path, repeat: int, batch: int, snapshot_every: int
) -> dict[str, Any]:
    names = [s for s, _, _ in stream.symbols]
    total = len(stream.seed) + len(stream.commands)
    paths = {k: scratch / k for k in ("ours-full", "ours-snap", "theirs-full", "theirs-snap")}
    writes = {
        "ours_full": write_ours(stream, paths["ours-full"], batch, 0),
        "ours_snap": write_ours(stream, paths["ours-snap"], batch, snapshot_every),
        "theirs_full": write_theirs(stream, paths["theirs-full"], batch, 0),
        "theirs_snap": write_theirs(stream, paths["theirs-snap"], batch, snapshot_every),
    }
    _log(f"journals written: {', '.join(f'{k} {v:.1f} s' for k, v in writes.items())}")
    trials: list[dict[str, float]] = []
    for i in range(repeat):
        row: dict[str, float] = {}
        for label, snap in (("full", False), ("snap", True)):
            secs, engine = recover_ours(paths[f"ours-{label}"], snap)
            _check(f"ours {label}", stream, lambda s, e=engine: full_depth(e, s))
            row[f"ours_{label}_s"] = secs
            secs, engines = recover_theirs(paths[f"theirs-{label}"], names)

            def theirs_book(symbol: str, es: list[Any] = engines) -> Book:
                return matching_engine_book(es[names.index(symbol)])

            _check(f"matching-engine {label}", stream, theirs_book)
            row[f"theirs_{label}_s"] = secs
        _log(f"trial {i + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
        trials.append(row)

    def col(key: str, digits: int = 3) -> dict[str, float]:
        return _stats([t[key] for t in trials], digits)

    def ratio(a: str, b: str) -> dict[str, float]:
        return _stats([t[a] / t[b] for t in trials], 2)

    tail = total % snapshot_every if snapshot_every else total
    return {
        "flow": stream.name,
        "python": platform.python_version(),
        "peer_version": metadata.version("matching-engine"),
        "commands": total,
        "snapshot_every": snapshot_every,
        "tail_commands": tail,
        "batch": batch,
        "repeat": repeat,
        "write_seconds": {k: round(v, 2) for k, v in writes.items()},
        "ours_full_s": col("ours_full_s"),
        "ours_snapshot_s": col("ours_snap_s"),
        "theirs_full_s": col("theirs_full_s"),
        "theirs_snapshot_s": col("theirs_snap_s"),
        "ours_snapshot_speedup": ratio("ours_full_s", "ours_snap_s"),
        "theirs_snapshot_speedup": ratio("theirs_full_s", "theirs_snap_s"),
        "full_ratio": ratio("theirs_full_s", "ours_full_s"),
        "snapshot_ratio": ratio("theirs_snap_s", "ours_snap_s"),
        "trials": trials,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stream", required=True, type=Path)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--snapshot-every", type=int, default=100_000)
    p.add_argument("--dir", default=None, help="scratch parent (default: $TMPDIR)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if min(args.repeat, args.batch, args.snapshot_every) < 1:
        p.error("--repeat, --batch and --snapshot-every must be positive")
    stream = Stream.load(args.stream)
    scratch = Path(tempfile.mkdtemp(prefix="recovery-bench-", dir=args.dir))
    try:
        out = measure(stream, scratch, args.repeat, args.batch, args.snapshot_every)
    except AssertionError as exc:
        print(f"recovery worker: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"full replay: ours {out['ours_full_s']['median']} s, matching-engine "
            f"{out['theirs_full_s']['median']} s; snapshot + tail: ours "
            f"{out['ours_snapshot_s']['median']} s, matching-engine "
            f"{out['theirs_snapshot_s']['median']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
