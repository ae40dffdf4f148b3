"""Oracle's journal against the ``eventsourcing`` package on SQLite and raw rocksdict.

Usage (run by the suite driver inside a virtual environment holding ``eventsourcing==9.5.6``
and the project's runtime dependencies, with PYTHONPATH at the repository root)::

    python bench/peers/store_worker.py --json [--records N] [--batch N] [--repeat N]
                                       [--dir DIR] [--seed N]

Prints exactly one JSON object on stdout (logs go to stderr) and exits 0; exits 1 with a
one-line message on stderr when a check fails, 2 on bad arguments.

Workload (built before any timing, the same records for all three systems)
------------------------------------------------------------------------------
``build_workload`` of ``bench/oracle_bench.py`` (imported by file path): ``--records`` commands
(default 200,000) of the synthetic Titan flow (seed ``--seed``, default 1) executed once,
each turned into an :class:`oracle.Record` ``(seq, ts, input, events, checkpoint)`` as
:mod:`exchange.runtime.recorder` builds it (a state-hash checkpoint every 10,000th record), cut
into batches of ``--batch`` records (default 1024), plus every record's stored bytes
pre-encoded as ``Journal.append`` writes them (the raw ceiling's input). For
eventsourcing, one :class:`MarketRecorded` per record carrying the same content: a frozen
dataclass with ``originator_id`` (one UUID: the market's stream), ``originator_version``
(= seq), ``ts``, ``command`` (the record's input), ``events`` and ``checkpoint``. It is
the leanest domain-event object eventsourcing's Mapper accepts (its ``DomainEvent`` base
adds a mandatory ``timestamp`` datetime: more to encode, so slower for the peer). The
prepared input is then frozen (``gc.freeze``) so the collector never rescans it.

Append (``--repeat`` trials, default 3, interleaved raw, ours, eventsourcing, raw, ...)
------------------------------------------------------------------------------------------
Every trial writes all records into a fresh directory per system under ``--dir`` (default
``$TMPDIR``). Before each system's trial the page cache is written back (``os.sync``,
untimed), so no system's fsyncs pay for the previous system's dirty pages, and
``gc.collect()`` runs. Timed: from the first batch to the return of the last durable
commit; opening, creating tables, closing and deleting are not timed.

- ``raw``: ``run_raw`` of bench/oracle_bench.py: plain rocksdict with the journal's own options,
  one ``WriteBatch`` per batch of the pre-encoded records plus the head, written with
  ``sync=True``. The same bytes as ours, minus our Python: the ceiling.
- ``ours``: ``run_ours(..., Durability.SYNC, ...)``: ``Journal.append`` per batch
  (validation, MessagePack encoding, hash chain, head, fsynced write, anchor).
- ``eventsourcing``: ``SQLiteDatastore`` (file-backed database ``events.sqlite``; its
  connection pool opens the connection and switches the file to WAL journal mode) and
  ``SQLiteAggregateRecorder`` (table ``stored_events``: originator_id, originator_version,
  topic, state, primary key (originator_id, originator_version), WITHOUT ROWID), the
  table created untimed. ``PRAGMA synchronous=FULL`` is set on the pool's connection
  (SQLite's default here is FULL already; the value found is reported) and read back, and
  after the timed span the worker checks that the pool still holds exactly that one
  connection with synchronous FULL: in WAL mode FULL fsyncs the log at every commit.
  Timed: ``EventStore.put`` per batch, which maps each event with ``Mapper.to_stored_event``
  (``JSONTranscoder`` with the UUID, Decimal and datetime transcodings an eventsourcing
  Application registers) and commits the batch with one ``insert_events`` call: one
  transaction, one ``executemany``. The aggregate recorder is the package's fastest SQLite
  recorder (the application recorder inserts row by row for notification ids).

Replay (same trials, right after that trial's appends, same order; warm page cache)
-------------------------------------------------------------------------------------
Timed from opening the store to the last record decoded into an object. Records are
streamed, as a replay consumes them: each decoded object is dropped when the next one
arrives (``drain``: ``deque(enumerate(...), maxlen=1)``, a loop in C, so no per-record
Python code of the benchmark's own is timed), the collector enabled. (Holding all
decoded records in one list instead lets the cyclic collector's full passes dominate: at
200,000 records ours read 40k records/s that way, 239k/s streamed.)

- ``raw``: the trial's *journal* directory (ours), so both read the same files: the
  journal's read-only RocksDB open (``oracle.rocks.open_read_only``), the records
  family's ``values()`` iterator, each value's body (the value minus its 32-byte chain
  hash) decoded by ``oracle.codec.decode_body``: read plus decode, no checks: the
  ceiling. (The raw append directory is not read back: ``run_raw`` closes without
  flushing the column families, so its records sit in the write-ahead log, and a read
  would time RocksDB's log recovery instead of reading SST files.)
- ``ours``: ``Journal.open(path, read_only=True)`` and ``journal.records()`` drained:
  keys, gaps and the hash chain checked, every body decoded to a ``Record``.
- ``eventsourcing``: a new ``SQLiteDatastore`` on the file, ``EventStore.get`` of the
  market's originator id: one ``select_events`` (every stored event ordered by version,
  fetched into a list of StoredEvent objects: the package's own design) mapped back
  lazily with ``Mapper.to_domain_event``.

Checks (any failure: exit 1): every replay returns ``--records`` records, and its last
record (an eventsourcing event as ``Record(originator_version, ts, command, events,
checkpoint)``, after the clock stops) encodes with ``oracle.codec.encode_body`` to the
source's last body, byte for byte (seq, ts, command, events, checkpoint); our replay also
checks every key, gap and chain link itself; the journal's chain head equals the
pre-encoded chain (``run_ours``); eventsourcing wrote through the one connection with
``synchronous`` = 2 (FULL).

Output (JSON)
-------------
Rates are records/s as ``{"median", "min", "max"}`` over the trials; ratios are ours /
peer records/s within one trial (peer seconds / our seconds), also ``{"median", "min",
"max"}``.

- ``append_raw_per_second``, ``append_ours_per_second``,
  ``append_eventsourcing_per_second``, and the same three ``replay_*_per_second``;
- ``append_ours_vs_eventsourcing``, ``append_ours_vs_raw``,
  ``replay_ours_vs_eventsourcing``, ``replay_ours_vs_raw``;
- ``targets``: ``ours_vs_eventsourcing`` (3.0) with ``append_vs_eventsourcing_met`` and
  ``replay_vs_eventsourcing_met``, ``ours_vs_raw_append`` (0.8) with
  ``append_vs_raw_met`` (each judged on the median ratio);
- ``bytes_per_record``: ``raw``, ``ours``, ``eventsourcing``: every file in the last
  trial's append directory after closing, over the records, and ``disk``: those bytes
  split by bench/oracle_bench.py's ``dir_usage`` (``sst``, ``wal`` = RocksDB ``*.log``,
  ``other``, ``files``, ``total``). Ours: memtables flushed at close into LZ4 SST files,
  no compaction; raw: still in the uncompressed write-ahead log (see above); SQLite: the
  database file alone (the last connection's close checkpoints and removes the WAL);
  ``stored_bytes_per_record``: our logical size (key + version byte, body, chain hash);
- ``sqlite``: ``journal_mode``, ``journal_mode_set_by_eventsourcing``,
  ``synchronous_default`` (found on the connection), ``synchronous`` (read back after
  setting FULL; 2 = FULL), ``wal_autocheckpoint`` (pages), ``page_size`` (bytes);
- ``peer``: how eventsourcing was used (recorder, event class, transcoder, originator id);
- ``versions``: python, eventsourcing, rocksdict, msgspec, sqlite (the library's
  ``sqlite3.sqlite_version``);
- ``records``, ``batch``, ``repeat``, ``seed``, ``checkpoint_every``, ``build_seconds``,
  ``total_seconds``;
- ``machine``: bench/oracle_bench.py's ``machine_info`` plus ``loadavg_1m_end``;
- ``trials``: per trial ``append_seconds`` and ``replay_seconds``, each
  ``{"raw", "ours", "eventsourcing"}``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple
from uuid import NAMESPACE_OID, UUID, uuid5

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    EventStore,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteConnection, SQLiteDatastore


def _load_bench_oracle() -> Any:
    """bench/oracle_bench.py as a module (it puts the repository root on sys.path itself)."""
    path = Path(__file__).resolve().parents[1] / "oracle_bench.py"
    spec = importlib.util.spec_from_file_location("bench_oracle", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench_oracle = _load_bench_oracle()

from oracle import Durability, Journal, JournalError, Record  # noqa: E402
from oracle.backend import RECORDS  # noqa: E402
from oracle.chain import HASH_SIZE  # noqa: E402
from oracle.codec import decode_body, encode_body  # noqa: E402
from oracle.rocks import open_read_only  # noqa: E402

RECORDS_DEFAULT = 200_000
CHECKPOINT_EVERY = 10_000  # bench/oracle_bench.py's default
TARGET_VS_EVENTSOURCING = 3.0
TARGET_VS_RAW = bench_oracle.TARGET_SYNC_VS_RAW  # 0.8, as bench/oracle_bench.py judges it
EVENTSOURCING_VERSION = "9.5.6"
SYSTEMS = ("raw", "ours", "eventsourcing")
SQLITE_FILE = "events.sqlite"
SYNCHRONOUS_FULL = 2  # what PRAGMA synchronous reads back for FULL
MARKET_ID = uuid5(NAMESPACE_OID, "exchange-sim/market")
"""The market's stream: the one originator id."""


def _log(msg: str) -> None:
    print(f"store worker: {msg}", file=sys.stderr, flush=True)


class CheckFailed(Exception):
    """A system stored or returned something other than the source records."""


@dataclass(frozen=True)
class MarketRecorded:
    """One journal record as an eventsourcing domain event (version = the record's seq)."""

    originator_id: UUID
    originator_version: int
    ts: int
    command: Any
    events: Any
    checkpoint: str | None


def _mapper() -> Mapper[UUID]:
    """Mapper + JSONTranscoder with the transcodings an eventsourcing Application registers."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


MAPPER = _mapper()


def domain_events(record_batches: Sequence[Sequence[Record]]) -> list[list[MarketRecorded]]:
    """One MarketRecorded per record, in the same batches (built before timing)."""
    return [
        [
            MarketRecorded(MARKET_ID, rec.seq, rec.ts, rec.input, rec.events, rec.checkpoint)
            for rec in batch
        ]
        for batch in record_batches
    ]


# -- eventsourcing on SQLite --------------------------------------------------------


class SqliteSettings(NamedTuple):
    """The pragmas in force on the connection eventsourcing writes through."""

    journal_mode: str
    journal_mode_set_by_eventsourcing: bool
    synchronous_default: int
    synchronous: int
    wal_autocheckpoint: int
    page_size: int


def _pragma(conn: SQLiteConnection, statement: str) -> Any:
    """The first column of the first row of ``PRAGMA statement`` (None if no row)."""
    with conn.cursor() as cur:
        row = cur.execute(f"PRAGMA {statement}").fetchone()
    return None if row is None else row[0]


def _full_sync(datastore: SQLiteDatastore) -> tuple[SQLiteConnection, SqliteSettings]:
    """Set synchronous=FULL on the pool's writer connection; that connection and its pragmas."""
    with datastore.get_connection(commit=True) as conn:
        found = _pragma(conn, "synchronous")
        _pragma(conn, "synchronous=FULL")
        settings = SqliteSettings(
            journal_mode=_pragma(conn, "journal_mode"),
            journal_mode_set_by_eventsourcing=datastore.pool.journal_mode_was_changed_to_wal,
            synchronous_default=found,
            synchronous=_pragma(conn, "synchronous"),
            wal_autocheckpoint=_pragma(conn, "wal_autocheckpoint"),
            page_size=_pragma(conn, "page_size"),
        )
    if settings.synchronous != SYNCHRONOUS_FULL:
        raise CheckFailed(f"SQLite reads back synchronous={settings.synchronous}, not 2 (FULL)")
    return conn, settings


def _check_writer(datastore: SQLiteDatastore, conn: SQLiteConnection) -> None:
    """The pool holds exactly ``conn`` (so every write went through it), still FULL."""
    with datastore.get_connection(commit=True) as got:
        alone = got is conn and datastore.pool.num_in_pool == 0
        if not alone or _pragma(got, "synchronous") != SYNCHRONOUS_FULL:
            raise CheckFailed(
                "eventsourcing's writer connection is not the one set to synchronous=FULL, "
                "or no longer has that setting"
            )


def run_eventsourcing(
    batches: Sequence[Sequence[MarketRecorded]], path: Path
) -> tuple[float, SqliteSettings]:
    """Seconds to put every batch through EventStore (one durable transaction each)."""
    path.mkdir(parents=True)
    datastore = SQLiteDatastore(str(path / SQLITE_FILE))
    try:
        recorder = SQLiteAggregateRecorder(datastore)
        recorder.create_table()
        conn, settings = _full_sync(datastore)
        put = EventStore(MAPPER, recorder).put
        gc.collect()
        t0 = time.perf_counter()
        for batch in batches:
            put(batch)
        elapsed = time.perf_counter() - t0
        _check_writer(datastore, conn)
    finally:
        datastore.close()
    return elapsed, settings


# -- replay -------------------------------------------------------------------------


def drain(items: Iterable[Any]) -> tuple[int, Any]:
    """Consume ``items`` at C speed, holding only the newest: (count, last item or None)."""
    tail = deque(enumerate(items, 1), maxlen=1)
    return tail[0] if tail else (0, None)


class Replayed(NamedTuple):
    """One timed replay: seconds, records read, and the last one as a Record."""

    seconds: float
    records: int
    last: Record | None


def replay_raw(path: Path) -> Replayed:
    """Open the RocksDB read-only and decode every record body (no checks)."""
    gc.collect()
    t0 = time.perf_counter()
    db = open_read_only(path)
    cf = db.get_column_family(RECORDS)
    try:
        decode, view = decode_body, memoryview
        count, last = drain(decode(view(value)[:-HASH_SIZE]) for value in cf.values())
        elapsed = time.perf_counter() - t0
    finally:
        cf.close()
        db.close()
    return Replayed(elapsed, count, last)


def replay_ours(path: Path) -> Replayed:
    """Open the journal read-only and read every record (keys, gaps and chain checked)."""
    gc.collect()
    t0 = time.perf_counter()
    journal = Journal.open(path, read_only=True)
    try:
        count, last = drain(journal.records())
        elapsed = time.perf_counter() - t0
    finally:
        journal.close()
    return Replayed(elapsed, count, last)


def replay_eventsourcing(path: Path) -> Replayed:
    """Open the SQLite file and get every event of the market (the last one turned into
    a Record after the clock stops)."""
    gc.collect()
    t0 = time.perf_counter()
    datastore = SQLiteDatastore(str(path / SQLITE_FILE))
    try:
        store = EventStore(MAPPER, SQLiteAggregateRecorder(datastore))
        count, last = drain(store.get(MARKET_ID))
        elapsed = time.perf_counter() - t0
    finally:
        datastore.close()
    return Replayed(elapsed, count, None if last is None else _as_record(last))


def _as_record(event: Any) -> Record:
    if not isinstance(event, MarketRecorded):
        raise CheckFailed(f"eventsourcing returned a {type(event).__name__}, not MarketRecorded")
    return Record(event.originator_version, event.ts, event.command, event.events, event.checkpoint)


REPLAYS = {"raw": replay_raw, "ours": replay_ours, "eventsourcing": replay_eventsourcing}
REPLAY_SOURCE = {"raw": "ours", "ours": "ours", "eventsourcing": "eventsourcing"}
"""Whose directory each replay reads: raw reads our journal's files (see the docstring)."""


def check_replay(system: str, got: Replayed, records: int, last_body: bytes) -> None:
    """All records came back, and the last one encodes to the source's last body."""
    if got.records != records:
        raise CheckFailed(f"{system} replayed {got.records:,} records, {records:,} were written")
    if got.last is None or encode_body(got.last) != last_body:
        raise CheckFailed(f"{system} replayed a last record with other content: {got.last!r:.200}")


# -- trials -------------------------------------------------------------------------


class Trial(NamedTuple):
    """Seconds of one trial, per system."""

    append: dict[str, float]
    replay: dict[str, float]


def run_trial(
    w: Any, events: Sequence[Sequence[MarketRecorded]], dirs: Any
) -> tuple[Trial, dict[str, dict[str, int]], SqliteSettings]:
    """Appends raw, ours, eventsourcing; their sizes on disk; then the three replays."""
    paths = {name: dirs.new(name) for name in SYSTEMS}
    append: dict[str, float] = {}
    try:
        os.sync()
        append["raw"] = bench_oracle.run_raw(w, paths["raw"], False)
        os.sync()
        append["ours"] = bench_oracle.run_ours(w, paths["ours"], Durability.SYNC, False)
        os.sync()
        append["eventsourcing"], settings = run_eventsourcing(events, paths["eventsourcing"])
        sizes = {name: bench_oracle.dir_usage(paths[name]) for name in SYSTEMS}
        last_body = w.raw_batches[-1][0][-1][1][:-HASH_SIZE]
        replay: dict[str, float] = {}
        for name in SYSTEMS:
            got = REPLAYS[name](paths[REPLAY_SOURCE[name]])
            check_replay(name, got, w.records, last_body)
            replay[name] = got.seconds
    finally:
        for path in paths.values():
            dirs.drop(path)
    return Trial(append, replay), sizes, settings


def _stats(values: Sequence[float], digits: int | None = None) -> dict[str, float]:
    """Median, min and max, rounded to ``digits`` (None: to an int)."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def summarize(trials: Sequence[Trial], n: int) -> dict[str, Any]:
    """Rates and within-trial ratios (median and range) of both phases."""
    out: dict[str, Any] = {}
    for phase in ("append", "replay"):
        rates = {name: [n / getattr(t, phase)[name] for t in trials] for name in SYSTEMS}
        for name in SYSTEMS:
            out[f"{phase}_{name}_per_second"] = _stats(rates[name])
        for peer in ("eventsourcing", "raw"):
            ratios = [o / p for o, p in zip(rates["ours"], rates[peer], strict=True)]
            out[f"{phase}_ours_vs_{peer}"] = _stats(ratios, 3)
    return out


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the workload, run the interleaved trials, return the JSON object."""
    started = time.perf_counter()
    es_version = _version("eventsourcing")
    if es_version != EVENTSOURCING_VERSION:
        _log(f"eventsourcing {es_version} is installed; this comparison is written for 9.5.6")
    _log(f"building {args.records:,} records (flow, engine, encoding) and their events")
    w = bench_oracle.build_workload(args.records, args.batch, CHECKPOINT_EVERY, args.seed)
    events = domain_events(w.record_batches)
    build_seconds = time.perf_counter() - started
    gc.collect()
    gc.freeze()
    dirs = bench_oracle.DirMaker(args.dir, False)
    machine = bench_oracle.machine_info(dirs.root)
    n = w.records
    trials: list[Trial] = []
    try:
        for i in range(args.repeat):
            trial, sizes, settings = run_trial(w, events, dirs)
            trials.append(trial)
            a, r = trial.append, trial.replay
            _log(
                f"trial {i + 1}/{args.repeat}: append raw {n / a['raw']:,.0f}/s, ours "
                f"{n / a['ours']:,.0f}/s, eventsourcing {n / a['eventsourcing']:,.0f}/s; "
                f"replay raw {n / r['raw']:,.0f}/s, ours {n / r['ours']:,.0f}/s, "
                f"eventsourcing {n / r['eventsourcing']:,.0f}/s"
            )
    finally:
        dirs.close()
        gc.unfreeze()
    if hasattr(os, "getloadavg"):
        machine["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    out = summarize(trials, n)
    out["targets"] = {
        "ours_vs_eventsourcing": TARGET_VS_EVENTSOURCING,
        "append_vs_eventsourcing_met": out["append_ours_vs_eventsourcing"]["median"]
        >= TARGET_VS_EVENTSOURCING,
        "replay_vs_eventsourcing_met": out["replay_ours_vs_eventsourcing"]["median"]
        >= TARGET_VS_EVENTSOURCING,
        "ours_vs_raw_append": TARGET_VS_RAW,
        "append_vs_raw_met": out["append_ours_vs_raw"]["median"] >= TARGET_VS_RAW,
    }
    out["bytes_per_record"] = {name: round(sizes[name]["total"] / n, 2) for name in SYSTEMS}
    out["disk"] = sizes
    out["stored_bytes_per_record"] = round(w.value_bytes / n, 2)
    out["sqlite"] = settings._asdict()
    out["peer"] = {
        "recorder": "eventsourcing.sqlite.SQLiteAggregateRecorder (table stored_events)",
        "store": "eventsourcing.persistence.EventStore put (one insert_events per batch) / get",
        "event": "frozen dataclass MarketRecorded(originator_id, originator_version=seq, ts, "
        "command, events, checkpoint)",
        "transcoder": "JSONTranscoder + UUIDAsHex, DecimalAsStr, DatetimeAsISO",
        "originator_id": str(MARKET_ID),
    }
    out["versions"] = {
        "python": platform.python_version(),
        "eventsourcing": es_version,
        "rocksdict": _version("rocksdict"),
        "msgspec": _version("msgspec"),
        "sqlite": sqlite3.sqlite_version,
    }
    out.update(
        records=n,
        batch=args.batch,
        repeat=args.repeat,
        seed=args.seed,
        checkpoint_every=CHECKPOINT_EVERY,
        build_seconds=round(build_seconds, 2),
        total_seconds=round(time.perf_counter() - started, 1),
    )
    out["machine"] = machine
    out["trials"] = [
        {
            "append_seconds": {k: round(v, 4) for k, v in t.append.items()},
            "replay_seconds": {k: round(v, 4) for k, v in t.replay.items()},
        }
        for t in trials
    ]
    return out


def format_summary(out: dict[str, Any]) -> str:
    """Human-readable lines of a results object."""
    lines = [
        f"{out['records']:,} records, batch {out['batch']}, median of {out['repeat']} "
        f"(range); eventsourcing {out['versions']['eventsourcing']} on SQLite "
        f"{out['versions']['sqlite']} journal_mode={out['sqlite']['journal_mode']} "
        f"synchronous={out['sqlite']['synchronous']}"
    ]
    for phase in ("append", "replay"):
        rates = ", ".join(
            f"{name} {s['median']:,.0f}/s ({s['min']:,.0f}-{s['max']:,.0f})"
            for name in SYSTEMS
            for s in [out[f"{phase}_{name}_per_second"]]
        )
        ratios = ", ".join(
            f"ours/{peer} {s['median']}x ({s['min']}-{s['max']})"
            for peer in ("eventsourcing", "raw")
            for s in [out[f"{phase}_ours_vs_{peer}"]]
        )
        lines.append(f"{phase}: {rates}; {ratios}")
    b = out["bytes_per_record"]
    lines.append(
        f"bytes/record on disk: raw {b['raw']}, ours {b['ours']}, "
        f"eventsourcing {b['eventsourcing']}; targets: {out['targets']}"
    )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.add_argument("--records", type=int, default=RECORDS_DEFAULT, help="records (200,000)")
    p.add_argument("--batch", type=int, default=1024, help="records per commit (default 1024)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved trials (default 3)")
    p.add_argument("--dir", default=None, help="scratch parent directory (default: $TMPDIR)")
    p.add_argument("--seed", type=int, default=1, help="synthetic flow seed (default 1)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison; returns the exit status."""
    p = build_parser()
    args = p.parse_args(argv)
    if args.records < 1 or args.batch < 1 or args.repeat < 1:
        p.error("--records, --batch and --repeat must be positive")
    try:
        out = run(args)
    except (CheckFailed, JournalError, RuntimeError) as exc:  # RuntimeError: run_ours' check
        print(f"store worker: check failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out) if args.json else format_summary(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
