"""``exchange journal info|verify|audit|replay|show DIR``: look into an Oracle journal.

``info``: head, size, snapshots, genesis; ``verify``: keys, gaps, hash chain, decoding,
head, anchor and snapshots; ``audit``: re-execute every input and compare events and
state hashes (``--from-snapshot``: from the oldest snapshot); ``replay``: the books at a
seq or time; ``show``: the records as JSON lines, as ``exchange inspect --json`` prints
them (:mod:`exchange.audit.records`).

Rules
-----
- The journal is opened read-only. ``--json`` prints one JSON object instead of text.
- Exit status: 0 when every check passed, 1 when the journal is damaged (the message
  names the seq where one can be named; RocksDB refusing its own files names none) or
  an audit found a divergence, 2 for usage errors (no journal there, journal in use,
  bad flags). A traceback is never shown.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from exchange.audit.records import decode_record, journal_wire, record_json
from exchange.cli.args import nonneg_int, positive_int
from exchange.errors import UserError
from exchange.runtime.machines import TitanMachine, VenueMachine, factory_for, parse_genesis
from oracle import Journal, JournalCorrupt
from oracle.replay import audit, rebuild, rebuild_at_time

NAME = "journal"


def register(sub: Any) -> None:
    """Add ``journal`` and its verbs to the CLI's subparsers."""
    jp = sub.add_parser(NAME, help="inspect, verify, audit or replay an Oracle journal")
    verbs = jp.add_subparsers(dest="verb", metavar="VERB", parser_class=type(jp), required=True)
    info = verbs.add_parser("info", help="head, size, snapshots, genesis")
    verify = verbs.add_parser(
        "verify", help="check keys, gaps, hash chain, decoding, head, anchor and snapshots"
    )
    aud = verbs.add_parser(
        "audit", help="re-execute every input and compare events and state hashes"
    )
    aud.add_argument(
        "--from-snapshot", action="store_true", help="start at the oldest snapshot (partial)"
    )
    rep = verbs.add_parser("replay", help="rebuild the state at a seq or time and show it")
    at = rep.add_mutually_exclusive_group()
    at.add_argument("--seq", type=nonneg_int, help="state after this record (default: last)")
    at.add_argument("--time", type=int, help="state at this timestamp (ns)")
    rep.add_argument("--no-snapshots", action="store_true", help="replay from record 1")
    rep.add_argument("--depth", type=positive_int, default=5, help="levels to show")
    show = verbs.add_parser("show", help="print records as JSON lines")
    show.add_argument("--from", dest="start", type=positive_int, default=1, help="first seq")
    show.add_argument("--to", dest="stop", type=positive_int, default=None, help="last seq")
    for p in (info, verify, aud, rep, show):
        p.add_argument("dir", help="journal directory")
        if p is not show:
            p.add_argument("--json", action="store_true", help="print one JSON object")


def _out(args: argparse.Namespace, data: dict[str, Any], text: list[str]) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        sys.stdout.write("\n".join(text) + "\n")


def _head_dict(journal: Journal) -> dict[str, Any]:
    h = journal.head
    return {"last_seq": h.seq, "last_ts": h.ts, "chain_head": h.chain.hex()}


def _info(args: argparse.Namespace, journal: Journal) -> int:
    machine, specs = parse_genesis(journal.genesis)
    snaps = journal.snapshots()
    data = {
        **_head_dict(journal),
        "machine": machine,
        "symbols": [s.symbol for s in specs],
        "disk_bytes": journal.disk_bytes(),
        "snapshots": [{"seq": s.seq, "state_hash": s.state_hash, "bytes": s.size} for s in snaps],
    }
    text = [
        f"journal {args.dir}: {machine} over {', '.join(data['symbols'])}",
        f"  records 1..{journal.last_seq}, last ts {journal.head.ts}"
        if journal.last_seq
        else "  no records yet",
        f"  chain head {journal.head.chain.hex()}",
        f"  {data['disk_bytes']:,} bytes on disk",
        f"  snapshots: {', '.join(str(s.seq) for s in snaps) or 'none'}",
    ]
    _out(args, data, text)
    return 0


def _verify(args: argparse.Namespace, journal: Journal) -> int:
    r = journal.verify()
    data = {
        **_head_dict(journal),
        "ok": r.ok,
        "records": r.records,
        "snapshots": r.snapshots,
        "checkpoints": r.checkpoints,
        "seconds": round(r.seconds, 3),
        "records_per_second": round(r.records_per_second),
        "error": None if r.error is None else str(r.error),
        "bad_seq": None if r.error is None else r.error.seq,
    }
    if r.ok:
        text = [
            f"journal {args.dir}: OK: {r.records:,} records, {r.checkpoints:,} checkpoints "
            f"and {r.snapshots} snapshots verified in {r.seconds:.2f} s "
            f"({r.records_per_second:,.0f} records/s)",
            f"  chain head {journal.head.chain.hex()}",
        ]
    else:
        text = [f"journal {args.dir}: FAILED: {r.error}"]
    _out(args, data, text)
    return 0 if r.ok else 1


def _audit(args: argparse.Namespace, journal: Journal) -> int:
    r = audit(journal, factory_for(journal.genesis), from_snapshot=args.from_snapshot)
    d = r.divergence
    data = {
        **_head_dict(journal),
        "ok": r.ok,
        "start_seq": r.start_seq,
        "records": r.records,
        "events": r.events,
        "checkpoints": r.checkpoints,
        "snapshots": r.snapshots,
        "seconds": round(r.seconds, 3),
        "records_per_second": round(r.records_per_second),
        "state_hash": r.state_hash,
        "divergence": None if d is None else {"seq": d.seq, "what": d.what, "detail": d.describe()},
    }
    if d is None:
        text = [
            f"journal {args.dir}: audit OK: re-executed {r.records:,} records from seq "
            f"{r.start_seq}; {r.events:,} events, {r.checkpoints} checkpoints and "
            f"{r.snapshots} snapshots matched in {r.seconds:.2f} s "
            f"({r.records_per_second:,.0f} records/s)",
            f"  state hash {r.state_hash}",
        ]
    else:
        text = [f"journal {args.dir}: audit FAILED at {d.describe()}"]
    _out(args, data, text)
    return 0 if d is None else 1


def _replay(args: argparse.Namespace, journal: Journal) -> int:
    factory = factory_for(journal.genesis)
    use = not args.no_snapshots
    if args.time is not None:
        built = rebuild_at_time(journal, factory, args.time, use_snapshots=use)
    else:
        if args.seq is not None and args.seq > journal.last_seq:
            raise UserError(f"--seq {args.seq}: the journal holds records 1..{journal.last_seq}")
        built = rebuild(journal, factory, args.seq, use_snapshots=use)
    machine = built.machine
    if isinstance(machine, VenueMachine):
        engine = machine.venue.titan  # the books (exchange replay shows positions and balances)
    else:
        assert isinstance(machine, TitanMachine)
        engine = machine.engine
    books: dict[str, Any] = {}
    text = [
        f"journal {args.dir}: state after seq {built.seq} "
        f"(snapshot {built.snapshot_seq or 'none'} + {built.replayed:,} records, "
        f"{built.seconds:.2f} s)",
        f"  state hash {machine.state_hash()}",
    ]
    text += [f"  skipped bad snapshot: {why}" for why in built.skipped]
    for symbol in engine.symbols:
        spec = engine.spec(symbol)
        depth = engine.depth(symbol, args.depth)
        books[symbol] = {
            "bids": [
                [str(spec.price_decimal(r.price)), str(spec.qty_decimal(r.qty))] for r in depth.bids
            ],
            "asks": [
                [str(spec.price_decimal(r.price)), str(spec.qty_decimal(r.qty))] for r in depth.asks
            ],
        }
        text.append(f"  {symbol}:")
        text += [f"    ask {p} {q}" for p, q in reversed(books[symbol]["asks"])]
        text += [f"    bid {p} {q}" for p, q in books[symbol]["bids"]]
    data = {
        "seq": built.seq,
        "snapshot_seq": built.snapshot_seq,
        "replayed": built.replayed,
        "seconds": round(built.seconds, 3),
        "state_hash": machine.state_hash(),
        "skipped_snapshots": built.skipped,
        "books": books,
    }
    _out(args, data, text)
    return 0


def _show(args: argparse.Namespace, journal: Journal) -> int:
    """The records as JSON lines, as ``exchange inspect --json`` prints them."""
    wire = journal_wire(journal)
    out = sys.stdout
    for rec in journal.records(args.start, args.stop):
        out.write(json.dumps(record_json(rec, decode_record(rec, wire), wire)) + "\n")
    return 0


_VERBS = {"info": _info, "verify": _verify, "audit": _audit, "replay": _replay, "show": _show}


def run(args: argparse.Namespace) -> int:
    """Dispatch ``exchange journal VERB DIR``; the journal is opened read-only."""
    try:
        journal = Journal.open(args.dir, read_only=True)
    except JournalCorrupt as exc:
        if args.verb == "verify":
            _out(
                args,
                {"ok": False, "error": str(exc), "bad_seq": exc.seq},
                [f"journal {args.dir}: FAILED: {exc}"],
            )
            return 1
        raise
    try:
        return _VERBS[args.verb](args, journal)
    finally:
        journal.close()


__all__ = ["NAME", "register", "run"]
