"""Replay NASDAQ LOBSTER data through Titan and prove it (``exchange lobster``).

:func:`replay` translates the message file with :func:`build_commands` (the rules are in
:mod:`exchange.lobster.translate`), applies the seed, then the commands message by message.
After message i (i >= 2) it compares the engine's top levels with orderbook row i (row
1 is where the seed came from, so it proves nothing); for every visible execution it
checks that Titan's trades hit exactly the order LOBSTER names, for the full size.
The replay loop alone is timed (``time.perf_counter``) for messages per second.

Layout: :mod:`exchange.lobster.parse` reads the files, :mod:`exchange.lobster.translate`
translates them, this module replays and reports; :mod:`exchange.cli.lobster` is the
command line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange.errors import UserError
from exchange.lobster.parse import (
    EMPTY_ASK,
    EMPTY_BID,
    Message,
    parse_messages,
    parse_orderbook,
)
from exchange.lobster.translate import Check, LobsterFlow, build_commands, translate
from exchange.runtime.recorder import Recorder, journaled_apply
from titan import Engine, Rejected, Trade
from titan.commands import Command
from titan.events import Event
from titan.symbols import SymbolSpec

__all__ = [
    "Check",
    "LobsterFlow",
    "LobsterReport",
    "book_row",
    "build_commands",
    "format_report",
    "replay",
]


@dataclass(slots=True)
class LobsterReport:
    """What :func:`replay` measured (see :meth:`to_dict` for the JSON form)."""

    message_file: str
    orderbook_file: str | None
    messages: int
    commands: int
    seed_orders: int
    levels: int
    rows_compared: int = 0
    rows_identical: int = 0
    mismatched_rows: list[int] = field(default_factory=list)  # 1-based row numbers
    first_mismatch: dict[str, Any] | None = None
    executions_checked: int = 0  # visible executions of orders submitted in the file
    executions_fifo_match: int = 0
    fifo_miss_rows: list[int] = field(default_factory=list)  # 1-based message numbers
    executions_unknown: int = 0  # visible executions of unknown orders replayed
    executions_unknown_fifo_match: int = 0
    model_disagreements: int = 0  # executions where Titan and the translator differ
    rejected_commands: int = 0
    replay_seconds: float = 0.0
    invariants: list[str] = field(default_factory=list)
    state_hash: str = ""
    flow: dict[str, Any] = field(default_factory=dict)  # translation statistics

    @property
    def messages_per_second(self) -> float:
        """Messages replayed per second of the replay loop."""
        return self.messages / self.replay_seconds if self.replay_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary; the row lists are cut to their first 20 entries."""
        return {
            "message_file": self.message_file,
            "orderbook_file": self.orderbook_file,
            "messages": self.messages,
            "commands": self.commands,
            "seed_orders": self.seed_orders,
            "levels": self.levels,
            "rows_compared": self.rows_compared,
            "rows_identical": self.rows_identical,
            "rows_identical_pct": _pct(self.rows_identical, self.rows_compared),
            "mismatched_rows": len(self.mismatched_rows),
            "mismatched_rows_first": self.mismatched_rows[:20],
            "first_mismatch": self.first_mismatch,
            "executions_checked": self.executions_checked,
            "executions_fifo_match": self.executions_fifo_match,
            "executions_fifo_match_pct": _pct(self.executions_fifo_match, self.executions_checked),
            "fifo_miss_rows_first": self.fifo_miss_rows[:20],
            "executions_unknown": self.executions_unknown,
            "executions_unknown_fifo_match": self.executions_unknown_fifo_match,
            "model_disagreements": self.model_disagreements,
            "rejected_commands": self.rejected_commands,
            "replay_seconds": round(self.replay_seconds, 6),
            "messages_per_second": round(self.messages_per_second, 1),
            "invariants": self.invariants,
            "state_hash": self.state_hash,
            "translation": self.flow,
        }


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 4) if whole else None


def book_row(engine: Engine, symbol: str, levels: int) -> tuple[int, ...]:
    """The engine's top ``levels`` in LOBSTER orderbook-row layout, dummies included."""
    book = engine.book(symbol)
    out: list[int] = []
    ak, bk = book.ask_keys, book.bid_keys
    asks, bids = book.asks, book.bids
    na, nb = len(ak), len(bk)
    for k in range(1, levels + 1):
        if k <= na:
            lv = asks[ak[-k]]
            out += (lv.price, lv.qty)
        else:
            out += (EMPTY_ASK, 0)
        if k <= nb:
            lv = bids[bk[-k]]
            out += (lv.price, lv.qty)
        else:
            out += (EMPTY_BID, 0)
    return tuple(out)


def _flow_stats(flow: LobsterFlow) -> dict[str, Any]:
    return {
        "seeded_unknown_orders": flow.seeded_unknown,
        "residual_orders": flow.residual_orders,
        "late_unknown_orders": flow.late_unknown,
        "requeued_orders": flow.requeued,
        "repaired_executions": flow.repairs,
        "skipped_unknown_messages": {str(k): v for k, v in sorted(flow.unknown.items())},
        "file_anomalies": len(flow.anomalies),
        "file_anomalies_first": flow.anomalies[:10],
    }


def replay(
    message_path: str | Path,
    orderbook_path: str | Path | None = None,
    levels: int | None = None,
    recorder: Callable[[SymbolSpec, Engine], Recorder] | None = None,
) -> LobsterReport:
    """Replay a message file through Titan; compare with the orderbook file if given.

    Compares the top ``levels`` levels (default: all the file has) after every message
    but the first, and checks the maker of every visible execution. Raises UserError
    for unreadable, malformed or mismatched files. With ``recorder`` (called once with
    the symbol and the fresh engine), every command is journaled with its events.
    """
    messages = parse_messages(message_path)
    book = None if orderbook_path is None else parse_orderbook(orderbook_path)
    rows: list[tuple[int, ...]] = [] if book is None else book[0]
    if rows:
        width = len(rows[0]) // 4
        if levels is None:
            levels = width
        elif levels > width:
            raise UserError(f"{orderbook_path}: has {width} levels, --levels asks for {levels}")
    flow = translate(message_path, messages, orderbook_path, book)
    n_levels = levels if rows and levels else 0
    ncols = 4 * n_levels
    sym = flow.spec.symbol
    engine = Engine([flow.spec])
    report = LobsterReport(
        str(message_path),
        None if orderbook_path is None else str(orderbook_path),
        len(flow.messages),
        len(flow.commands),
        len(flow.seed),
        n_levels,
        flow=_flow_stats(flow),
    )
    apply: Callable[[Command], list[Event]] = engine.apply
    rec = None if recorder is None else recorder(flow.spec, engine)
    if rec is not None:
        apply = journaled_apply(engine, rec)
    rejected = 0
    for c in flow.seed:
        rejected += type(apply(c)[0]) is Rejected

    commands, ends, checks = flow.commands, flow.ends, flow.checks
    mismatched = report.mismatched_rows
    fifo_miss = report.fifo_miss_rows
    identical = checked = matched = unknown = unknown_matched = disagree = 0
    start = 0
    t0 = time.perf_counter()
    for i, end in enumerate(ends):
        for ci in range(start, end):
            events = apply(commands[ci])
            chk: Check | None = checks.get(ci)
            if chk is None:
                rejected += type(events[0]) is Rejected
                continue
            filled = 0
            hit = True
            for ev in events:
                if type(ev) is Trade:
                    filled += ev.qty
                    hit = hit and ev.maker_order_id == chk.order_id
                elif type(ev) is Rejected:
                    rejected += 1
            hit = hit and filled == chk.size
            disagree += hit != chk.predicted_hit
            if chk.unknown:
                unknown += 1
                unknown_matched += hit
            else:
                checked += 1
                matched += hit
                if not hit:
                    fifo_miss.append(i + 1)
        start = end
        if ncols and i:
            ours = book_row(engine, sym, n_levels)
            theirs = rows[i]
            if len(theirs) != ncols:
                theirs = theirs[:ncols]
            if ours == theirs:
                identical += 1
            else:
                if not mismatched:
                    report.first_mismatch = _describe(messages[i], i + 1, theirs, ours)
                mismatched.append(i + 1)
    if rec is not None:
        rec.close()
    report.replay_seconds = time.perf_counter() - t0
    report.rows_compared = len(ends) - 1 if ncols else 0
    report.rows_identical = identical
    report.executions_checked, report.executions_fifo_match = checked, matched
    report.executions_unknown, report.executions_unknown_fifo_match = unknown, unknown_matched
    report.model_disagreements = disagree
    report.rejected_commands = rejected
    report.invariants = engine.check_invariants()
    report.state_hash = engine.state_hash()
    return report


def _describe(
    m: Message, row: int, theirs: tuple[int, ...], ours: tuple[int, ...]
) -> dict[str, Any]:
    """The first mismatching row: the message before it and the first differing level."""
    k = next(j for j in range(len(theirs)) if theirs[j] != ours[j])
    lo = k - k % 4
    return {
        "row": row,
        "message_line": m.line,
        "message": [m.ts, m.type, m.order_id, m.size, m.price, m.direction],
        "level": lo // 4 + 1,
        "expected": list(theirs[lo : lo + 4]),
        "actual": list(ours[lo : lo + 4]),
    }


def format_report(r: LobsterReport) -> str:
    """The human-readable report."""
    f = r.flow
    lines = [
        f"LOBSTER replay of {r.message_file}",
        f"  messages            {r.messages:,} -> {r.commands:,} Titan commands "
        f"after {r.seed_orders:,} seed orders",
    ]
    if r.orderbook_file is None:
        lines.append("  orderbook           none: replay only, nothing compared")
    else:
        lines += [
            f"  orderbook           {r.orderbook_file}",
            f"  rows identical      {r.rows_identical:,} of {r.rows_compared:,} "
            f"({_pct(r.rows_identical, r.rows_compared)}%), top {r.levels} level(s)",
        ]
        if r.first_mismatch is not None:
            m = r.first_mismatch
            lines.append(
                f"  first mismatch      row {m['row']} (message line {m['message_line']}), "
                f"level {m['level']}: expected {m['expected']}, got {m['actual']}"
            )
    lines += [
        f"  FIFO                {r.executions_fifo_match:,} of {r.executions_checked:,} "
        f"visible executions of in-file orders hit the named order "
        f"({_pct(r.executions_fifo_match, r.executions_checked)}%)",
        f"  unknown orders      {r.executions_unknown_fifo_match:,} of "
        f"{r.executions_unknown:,} executions hit; {f['seeded_unknown_orders']:,} seeded, "
        f"{f['late_unknown_orders']:,} entered late, skipped messages by type: "
        f"{f['skipped_unknown_messages'] or 'none'}",
        f"  translation         {f['residual_orders']:,} residual seed orders, "
        f"{f['requeued_orders']:,} re-queued, {f['repaired_executions']:,} repaired, "
        f"{f['file_anomalies']:,} file anomalies",
        f"  model disagreements {r.model_disagreements:,}; rejected commands "
        f"{r.rejected_commands:,}",
        f"  speed               {r.messages_per_second:,.0f} messages/s "
        f"({r.replay_seconds:.3f} s replay loop)",
        f"  invariants          {'ok' if not r.invariants else '; '.join(r.invariants)}",
        f"  state hash          {r.state_hash}",
    ]
    return "\n".join(lines)
