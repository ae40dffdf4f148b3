"""``exchange replay | hash | inspect``: audit a journal from the command line.

These read a *venue* journal (genesis machine ``"venue"``: inputs are venue commands on
the wire, ``ts`` is milliseconds since the Unix epoch); a Titan journal works too, except
that its timestamps have no defined unit, so ``--to-time`` is refused and no ISO time is
shown for it. Journals are opened read-only, so they can be audited while the platform
writes them (a reader sees the journal as it was when opened).

``exchange replay DIR [--to-seq N | --to-time ISO8601] [--verify] [--json]``
    Rebuilds the state after record N (default: the last record), or at a time (the state
    after the last record with ``ts`` <= that time; before the first record it is the
    genesis state, seq 0), from the newest valid snapshot plus the tail. It shows the
    state hash, the positions (account 0 is the insurance fund), the wallet balances that
    hold money or back a position, the open orders (resting and pending), the insurance
    fund, the last mark prices, the journaled inputs per kind in records 1..N and the
    liquidations (``LiquidationStarted`` events) among them.

    ``--verify`` checks the integrity of the *whole* journal (``Journal.verify``: keys,
    gaps, hash chain, decoding, time order, head, anchor, snapshots), then re-executes
    every input of records 1..N from genesis and compares every event, checkpoint and
    snapshot hash (``oracle.replay.audit``), and finally checks that the state rebuilt
    from the snapshot equals the re-executed one. With ``--to-seq``/``--to-time`` the
    re-execution stops at the state shown (that state is what is proven); damage anywhere
    in the journal still fails the verification. A progress line is drawn on stderr when
    stderr is a terminal, or when the run lasts more than a couple of seconds.

    JSON (``--json``): ``verified`` is true only when ``--verify`` ran and everything
    passed (false without ``--verify``); ``records`` is the number of records in the
    journal and ``last_seq`` the seq the state is after; ``first_divergence`` is the seq
    of the first problem found (null when none was found or none was looked for) and
    ``divergence`` its detail ``{seq, what, detail, ...}`` (``what``: ``integrity`` for
    journal damage, ``events``/``checkpoint``/``snapshot``/``input`` from the
    re-execution, ``journal`` when the re-execution hit damage, ``rebuild`` when the
    snapshot-built state differs); ``inputs_by_kind`` counts the inputs of records
    1..``last_seq`` by kind (:data:`INPUT_KINDS`, plus ``other``). Amounts are decimal
    strings: prices and sizes in the symbol's decimals, money in the quote asset.
    Exit status: 0; with ``--verify`` 0 only if verified, else 1.

``exchange hash DIR [--at SEQ] [--json]``
    The state hash after record SEQ (default: the last; 0 is the genesis state), rebuilt
    from a snapshot plus the tail. When that record carries a checkpoint the two are
    compared; a mismatch exits with status 1.

``exchange inspect DIR [--from SEQ] [--limit N] [--kind K]... [--account A] [--json]``
    The audit trail from record SEQ on: one line per record (seq, ISO time, the input in
    words with decimals, ``->`` its events), or with ``--json`` one JSON object per
    record: ``{seq, ts, time, input: {command, fields...}, events: [{event, fields...}],
    checkpoint}`` (the seq and ts of inputs and events are the record's and are left
    out). ``--kind`` (repeatable; a record matching any is kept) takes the input kinds of
    ``inputs_by_kind`` and the event kinds ``trades`` (a Trade), ``liquidations`` (a
    LiquidationStarted), ``rejections`` (Rejected or Refused) and ``funding``
    (FundingSettled). ``--account`` keeps the records whose input or any event names
    the account (fields ``account``, ``maker_account``, ``taker_account``,
    ``counterparty``). ``--limit`` stops after N printed records.

Errors (no journal there, a directory that is not a journal, a journal in use or
damaged, bad flags, a seq beyond the end) are one line on stderr and a non-zero exit
status (see :func:`exchange.cli.main.main`: 2 for usage, 1 for damage); never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, NamedTuple, TextIO

from exchange.cli.journal import _nonneg_int, _pos_int
from exchange.errors import UserError
from exchange.runtime.machines import TitanMachine, VenueMachine, factory_for, parse_genesis
from oracle import Journal, JournalCorrupt, Record, SnapshotError, VerifyReport
from oracle.replay import AuditReport, Machine, MachineFactory, Rebuilt, audit, rebuild
from sentinel.ledger import FUND
from sentinel.units import MONEY_DECIMALS, money_decimal, rate_decimal
from titan.engine import Engine
from titan.events import event_to_dict
from titan.symbols import SymbolSpec
from titan.wire import command_from_wire as titan_command_from_wire
from titan.wire import event_from_wire as titan_event_from_wire
from venue.wire import command_from_wire as venue_command_from_wire
from venue.wire import event_from_wire as venue_event_from_wire

# -- kinds ------------------------------------------------------------------------------

INPUT_KINDS: tuple[str, ...] = (
    "orders",
    "cancels",
    "amends",
    "mark_prices",
    "deposits",
    "withdrawals",
    "leverage",
    "margin_type",
)
KIND_OF_INPUT: dict[str, str] = {
    "NewOrder": "orders",
    "Cancel": "cancels",
    "CancelAll": "cancels",
    "Amend": "amends",
    "MarkPrice": "mark_prices",
    "SetMarkPrice": "mark_prices",  # a Titan journal's mark price
    "Deposit": "deposits",
    "Withdraw": "withdrawals",
    "SetLeverage": "leverage",
    "SetMarginType": "margin_type",
}
EVENT_KINDS: dict[str, frozenset[str]] = {
    "trades": frozenset({"Trade"}),
    "liquidations": frozenset({"LiquidationStarted"}),
    "rejections": frozenset({"Rejected", "Refused"}),
    "funding": frozenset({"FundingSettled"}),
}
ACCOUNT_FIELDS = ("account", "maker_account", "taker_account", "counterparty")
PROGRESS_EVERY = 1024  # records between progress callbacks

# -- time -------------------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def parse_time(text: str) -> int:
    """ISO 8601 time or date -> milliseconds since the Unix epoch (floored).

    ``2026-11-21T10:00:00Z``, ``2026-11-21T12:00:00.5+02:00``, ``2026-11-21`` (its
    midnight); a time without an offset is UTC. ArgumentTypeError otherwise.
    """
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-21T10:00:00Z or 2026-11-21)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - EPOCH) // _MS


def iso_time(ts: int) -> str | None:
    """Epoch milliseconds -> ``2026-11-21T10:00:00.123Z`` (None outside years 1..9999)."""
    try:
        dt = EPOCH + timedelta(milliseconds=ts)
    except OverflowError:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# -- display ----------------------------------------------------------------------------

_PRICE_FIELDS = frozenset({"price", "stop_price", "trigger_price", "bankruptcy_price", "mark"})
_QTY_FIELDS = frozenset(
    {"qty", "maker_remaining", "taker_remaining", "size", "filled", "taken_over", "deleveraged"}
)
_MONEY_FIELDS = frozenset(
    {
        "amount",
        "balance",
        "cost",
        "realized_pnl",
        "fee",
        "margin",
        "maintenance",
        "paid",
        "received",
        "remainder",
    }
)
_RATE_FIELDS = frozenset({"funding_rate", "rate"})


def plain(value: Decimal) -> str:
    """A Decimal as a plain decimal string (never exponent form: 1E-8 -> 0.00000001)."""
    return format(value, "f")


def money_text(units: int) -> str:
    """Money units -> decimal string of the quote asset."""
    return plain(money_decimal(units))


def item_display(item: Any, specs: dict[str, SymbolSpec]) -> tuple[str, dict[str, Any]]:
    """(type name, fields) of a command or event, amounts as decimal strings.

    Prices and sizes use the decimals of the item's symbol (left as integers when the
    symbol is unknown, or empty as in a cross liquidation's summed quantities), money
    the quote asset's 8 decimals, rates 8 decimals; ``seq`` and ``ts`` are left out.
    """
    fields = event_to_dict(item)
    name = fields.pop("event")
    fields.pop("seq", None)
    fields.pop("ts", None)
    symbol = fields.get("symbol")
    spec = specs.get(symbol) if isinstance(symbol, str) else None
    for key, value in fields.items():
        if type(value) is not int:
            continue
        if key in _MONEY_FIELDS:
            fields[key] = money_text(value)
        elif key in _RATE_FIELDS:
            fields[key] = plain(rate_decimal(value))
        elif spec is not None and key in _PRICE_FIELDS:
            fields[key] = plain(spec.price_decimal(value))
        elif spec is not None and key in _QTY_FIELDS:
            fields[key] = plain(spec.qty_decimal(value))
    return name, fields


_TEXT: dict[str, str] = {
    # commands
    "Cancel": "Cancel {symbol} acct {account} #{order_id}",
    "CancelAll": "CancelAll {symbol} acct {account}",
    "Amend": "Amend {symbol} acct {account} #{order_id} to {qty} @ {price}",
    "MarkPrice": "MarkPrice {symbol} {price} funding {funding_rate}",
    "SetMarkPrice": "SetMarkPrice {symbol} {price}",
    "Deposit": "Deposit acct {account} {amount} {asset}",
    "Withdraw": "Withdraw acct {account} {amount} {asset}",
    "SetLeverage": "SetLeverage {symbol} acct {account} {leverage}x",
    "SetMarginType": "SetMarginType {symbol} acct {account} {mode}",
    # events
    "Accepted": "Accepted #{order_id}",
    "Rejected": "Rejected {request} #{order_id} {reason}",
    "Trade": "Trade {qty} @ {price} (maker {maker_account} #{maker_order_id}, "
    "taker {taker_account} #{taker_order_id})",
    "Cancelled": "Cancelled #{order_id} {qty} {reason}",
    "Expired": "Expired #{order_id} {qty} {reason}",
    "Amended": "Amended #{order_id} {qty} @ {price}",
    "Triggered": "Triggered #{order_id} at {trigger_price}",
    "Refused": "Refused {request} {reason}",
    "BalanceChanged": "Balance acct {account} {amount} {asset} {reason} -> {balance}",
    "PositionChanged": "Position acct {account} {symbol} {qty} @ {price} -> {size} "
    "(pnl {realized_pnl}, fee {fee})",
    "IsolatedMarginChanged": "IsolatedMargin acct {account} {symbol} {amount} {reason} "
    "-> {margin}",
    "FundChanged": "Fund {amount} {asset} {reason} -> {balance}",
    "LeverageSet": "LeverageSet {symbol} acct {account} {leverage}x",
    "MarginTypeSet": "MarginTypeSet {symbol} acct {account} {mode}",
    "FundingSettled": "FundingSettled {symbol} at {mark} rate {rate}: {positions} positions, "
    "paid {paid}, received {received}",
    "FundingPaid": "Funding acct {account} {symbol} {amount}",
    "LiquidationStarted": "LIQUIDATION acct {account} {unit}: maintenance {maintenance} "
    ">= balance {balance}",
    "LiquidationOrder": "LiquidationOrder #{order_id} acct {account} {symbol} {side} {qty} "
    "@ {bankruptcy_price}",
    "InsuranceTakeover": "InsuranceTakeover acct {account} {symbol} {qty} @ {price}",
    "AutoDeleveraged": "ADL {symbol} acct {account} vs {counterparty} {qty} @ {price} "
    "(rank {rank})",
    "LiquidationFinished": "LiquidationFinished acct {account}: filled {filled}, taken over "
    "{taken_over}, deleveraged {deleveraged}, fee {fee}, remainder {remainder}",
    "ReduceOnlyCancelled": "ReduceOnlyCancelled #{order_id} acct {account} {symbol}",
}


def _new_order_text(f: dict[str, Any]) -> str:
    text = f"NewOrder {f['symbol']} acct {f['account']} #{f['order_id']} {f['side']} {f['type']}"
    text += f" {f['qty']}"
    if Decimal(str(f["price"])) != 0:
        text += f" @ {f['price']}"
    text += f" {f['tif']}"
    if Decimal(str(f["stop_price"])) != 0:
        text += f" stop {f['stop_price']} ({f['working_type']})"
    if f["reduce_only"]:
        text += " reduce-only"
    if f["client_order_id"]:
        text += f" client {f['client_order_id']!r}"
    if f["stp"] != "NONE":
        text += f" stp {f['stp']}"
    return text


def describe(name: str, fields: dict[str, Any]) -> str:
    """One command or event (as :func:`item_display` gives it) in words."""
    try:
        if name == "NewOrder":
            return _new_order_text(fields)
        template = _TEXT.get(name)
        if template is not None:
            extra = {
                "mode": "ISOLATED" if fields.get("isolated") else "CROSS",
                "unit": fields.get("symbol") or f"cross {fields.get('asset')}",
            }
            return template.format(**fields, **extra)
    except (KeyError, ValueError, ArithmeticError):
        pass  # a field of an unexpected type: fall back to the plain form
    return " ".join([name, *(f"{k}={v}" for k, v in fields.items())])


class _Wire(NamedTuple):
    """How a journal's records decode: its machine's wire form and symbols."""

    machine: str
    specs: dict[str, SymbolSpec]
    command: Callable[[Any], Any]
    event: Callable[[Any], Any]

    @classmethod
    def of(cls, journal: Journal) -> _Wire:
        machine, specs = parse_genesis(journal.genesis)
        by_symbol = {s.symbol: s for s in specs}
        if machine == "venue":
            return cls(machine, by_symbol, venue_command_from_wire, venue_event_from_wire)
        return cls(machine, by_symbol, titan_command_from_wire, titan_event_from_wire)

    def time(self, ts: int) -> str | None:
        """ISO time of a record's ts (venue journals only: their ts is epoch ms)."""
        return iso_time(ts) if self.machine == "venue" else None


class Shown(NamedTuple):
    """One record decoded for display."""

    input: tuple[str, dict[str, Any]]
    events: list[tuple[str, dict[str, Any]]]


def decode_record(rec: Record, wire: _Wire) -> Shown:
    """The record's input and events for display (JournalCorrupt if they do not decode)."""
    try:
        cmd = wire.command(rec.input)
        events = [wire.event(e) for e in rec.events]
    except (ValueError, TypeError) as exc:
        raise JournalCorrupt(
            rec.seq, f"the record does not decode as a {wire.machine} record: {exc}"
        ) from None
    return Shown(item_display(cmd, wire.specs), [item_display(e, wire.specs) for e in events])


def record_json(rec: Record, shown: Shown, wire: _Wire) -> dict[str, Any]:
    """The JSON object of one record (see the module docstring)."""
    name, fields = shown.input
    return {
        "seq": rec.seq,
        "ts": rec.ts,
        "time": wire.time(rec.ts),
        "input": {"command": name, **fields},
        "events": [{"event": n, **f} for n, f in shown.events],
        "checkpoint": rec.checkpoint,
    }


def record_text(rec: Record, shown: Shown, wire: _Wire) -> str:
    """One line: ``seq 42 2026-11-21T10:00:00.123Z  NewOrder ... -> Accepted #42; ...``."""
    when = wire.time(rec.ts) or f"ts {rec.ts}"
    text = f"seq {rec.seq} {when}  {describe(*shown.input)}"
    if shown.events:
        text += " -> " + "; ".join(describe(n, f) for n, f in shown.events)
    if rec.checkpoint is not None:
        text += f"  [checkpoint {rec.checkpoint[:16]}]"
    return text


def journal_wire(journal: Journal) -> _Wire:
    """How ``journal``'s records decode (GenesisError if its genesis names no machine)."""
    return _Wire.of(journal)


# -- progress ---------------------------------------------------------------------------


class Progress:
    """A ``\\r`` progress line on stderr for long runs.

    Drawn only when the stream is a terminal (after ``tty_after`` seconds, so quick runs
    do not flicker) or once a run has lasted ``after`` seconds; redrawn at most every
    ``interval`` seconds. :meth:`close` clears it on a terminal, ends it with a newline
    elsewhere.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        after: float = 2.0,
        tty_after: float = 0.3,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty = tty
        self.clock = clock
        self.interval = interval
        self.started = clock()
        self.after = tty_after if tty else after
        self.label = ""
        self.total = 0
        self.width = 0
        self.last_draw = -1.0

    def phase(self, label: str, total: int) -> Callable[[int], None]:
        """Start a phase of ``total`` records (0: no count, just the label); returns the
        callback that reports the seq reached."""
        self.label, self.total = label, total
        self.last_draw = -1.0  # a new phase draws at once (when visible)
        self(0)
        return self

    def __call__(self, done: int) -> None:
        now = self.clock()
        if now - self.started < self.after or now - self.last_draw < self.interval:
            return
        self.last_draw = now
        line = self.label
        if self.total:
            line += f": {done:,}/{self.total:,} records ({100 * done / self.total:.0f}%)"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(line))

    def close(self) -> None:
        """Clear (terminal) or end (elsewhere) the line, if one was drawn."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r" if self.tty else "\n")
            self.stream.flush()
            self.width = 0


# -- state ------------------------------------------------------------------------------


def _entry_price(cost: int, size: int, scale: int, spec: SymbolSpec) -> str:
    """cost / size as a price, rounded half-even to 8 decimals, at least the tick's."""
    price = (Decimal(cost) / Decimal(size * scale)).scaleb(-spec.price_decimals)
    text = plain(price.quantize(Decimal(1).scaleb(-MONEY_DECIMALS), rounding=ROUND_HALF_EVEN))
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(spec.price_decimals, "0")
    return f"{whole}.{frac}" if frac else whole


def _open_orders(engine: Engine) -> dict[str, int]:
    out = {}
    for symbol in engine.symbols:
        l3 = engine.l3(symbol)
        out[symbol] = len(l3["bids"]) + len(l3["asks"]) + len(engine.pending_triggers(symbol))
    return out


def state_view(machine: Machine) -> dict[str, Any]:
    """What replay shows of a machine's state: positions, balances, orders, fund, marks.

    Positions: every open position, by symbol then account (account 0 is the insurance
    fund); balances: the wallets (the fund's excepted) that hold money or back a
    position, by account and asset.
    """
    if isinstance(machine, VenueMachine):
        engine = machine.venue.titan
        s = machine.venue.sentinel
        positions = []
        for symbol, contract in s.contracts.items():
            spec = contract.spec
            for account, p in sorted(s.holders[symbol].items()):
                if not p.size:
                    continue
                settings = s.account_settings.get((account, symbol))
                leverage = settings[0] if settings else contract.default_leverage
                positions.append(
                    {
                        "account": account,
                        "symbol": symbol,
                        "size": plain(spec.qty_decimal(p.size)),
                        "entry_price": _entry_price(p.cost, p.size, contract.scale, spec),
                        "mark_price": plain(spec.price_decimal(s.marks[symbol])),
                        "unrealized_pnl": money_text(s.upnl(p)),
                        "margin_type": "isolated" if p.isolated else "cross",
                        "isolated_margin": money_text(p.margin) if p.isolated else None,
                        "leverage": leverage,
                    }
                )
        balances = [
            {"account": account, "asset": asset, "balance": money_text(w.balance)}
            for (account, asset), w in sorted(s.wallets.items())
            if account != FUND and (w.balance or w.positions)
        ]
        fund = {asset: money_text(s.fund_balance(asset)) for asset in s.assets}
        marks = {
            symbol: {
                "price": plain(s.contracts[symbol].spec.price_decimal(s.marks[symbol])),
                "funding_rate": plain(rate_decimal(s.funding_rate.get(symbol, 0))),
            }
            for symbol in s.contracts
            if s.marks.get(symbol)
        }
    else:
        assert isinstance(machine, TitanMachine)
        engine = machine.engine
        positions, balances, fund = [], [], {}
        marks = {
            symbol: {"price": plain(engine.spec(symbol).price_decimal(engine.mark_price(symbol)))}
            for symbol in engine.symbols
            if engine.mark_price(symbol)
        }
    orders = _open_orders(engine)
    return {
        "positions": positions,
        "balances": balances,
        "open_orders": sum(orders.values()),
        "open_orders_by_symbol": orders,
        "insurance_fund": fund,
        "marks": marks,
    }


class Counts(NamedTuple):
    """Inputs per kind and LiquidationStarted events in records 1..seq; ``ts`` is the
    last record's (None at seq 0)."""

    inputs_by_kind: dict[str, int]
    liquidations: int
    ts: int | None


def count_records(
    journal: Journal, stop: int, progress: Callable[[int], None] | None = None
) -> Counts:
    """Count the journaled inputs by kind and the liquidations in records 1..stop."""
    counts = dict.fromkeys((*INPUT_KINDS, "other"), 0)
    liquidations = 0
    ts = None
    for rec in journal.records(1, stop):
        wire = rec.input
        tag = wire[0] if isinstance(wire, list | tuple) and wire else None
        counts[KIND_OF_INPUT.get(tag, "other") if isinstance(tag, str) else "other"] += 1
        for event in rec.events if isinstance(rec.events, list | tuple) else ():
            if isinstance(event, list | tuple) and event and event[0] == "LiquidationStarted":
                liquidations += 1
        ts = rec.ts
        if progress is not None and rec.seq % PROGRESS_EVERY == 0:
            progress(rec.seq)
    return Counts(counts, liquidations, ts)


# -- verification -----------------------------------------------------------------------


class Verification(NamedTuple):
    """What ``--verify`` found. ``divergence`` is the first problem (None: verified)."""

    integrity: VerifyReport
    audit: AuditReport | None
    audited_to: int
    divergence: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.divergence is None

    def to_json(self) -> dict[str, Any]:
        i, a = self.integrity, self.audit
        return {
            "integrity": {
                "ok": i.ok,
                "records": i.records,
                "checkpoints": i.checkpoints,
                "snapshots": i.snapshots,
                "seconds": round(i.seconds, 3),
                "error": None if i.error is None else str(i.error),
            },
            "audit": None
            if a is None
            else {
                "ok": a.ok,
                "records": a.records,
                "events": a.events,
                "checkpoints": a.checkpoints,
                "snapshots": a.snapshots,
                "seconds": round(a.seconds, 3),
                "state_hash": a.state_hash or None,
            },
            "audited_to": self.audited_to,
        }


def _first(problems: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    found = [p for p in problems if p is not None]
    if not found:
        return None
    return min(found, key=lambda p: (p["seq"] is None, p["seq"] or 0))


def verify(
    journal: Journal, factory: MachineFactory, target: int, progress: Progress
) -> Verification:
    """Integrity of the whole journal, then re-execution of records 1..``target``."""
    progress.phase(f"checking the integrity of {journal.last_seq:,} records", 0)
    integrity = journal.verify()
    problem = None
    stop = target
    if integrity.error is not None:
        bad = integrity.error.seq
        problem = {"seq": bad, "what": "integrity", "detail": str(integrity.error)}
        if bad is not None:
            stop = min(stop, bad - 1)  # re-execute what precedes the damage
    report: AuditReport | None = None
    found = None
    try:
        report = audit(
            journal,
            factory,
            stop=stop,
            progress=progress.phase("re-executing", stop),
            progress_every=PROGRESS_EVERY,
        )
    except (JournalCorrupt, SnapshotError) as exc:
        found = {"seq": exc.seq, "what": "journal", "detail": str(exc)}
    if report is not None and report.divergence is not None:
        d = report.divergence
        found = {
            "seq": d.seq,
            "what": d.what,
            "event": d.event,
            "detail": d.describe(),
            "expected": d.expected,
            "actual": d.actual,
        }
    return Verification(integrity, report, stop, _first([problem, found]))


# -- commands ---------------------------------------------------------------------------


def add_audit_parsers(sub: Any) -> None:
    """The ``replay``, ``hash`` and ``inspect`` subcommands."""
    rep = sub.add_parser(
        "replay",
        help="rebuild the state at a seq or time (positions, balances, fund) and verify it",
        description="Rebuild a journal's state at a point (snapshot + tail) and show it; "
        "--verify re-executes every input and checks the journal's integrity.",
    )
    rep.add_argument("dir", help="journal directory")
    at = rep.add_mutually_exclusive_group()
    at.add_argument(
        "--to-seq", type=_nonneg_int, metavar="N", help="state after record N (default: last)"
    )
    at.add_argument(
        "--to-time",
        type=parse_time,
        metavar="ISO8601",
        help="state at this time (e.g. 2026-11-21T10:00:00Z; no offset = UTC)",
    )
    rep.add_argument(
        "--verify",
        action="store_true",
        help="check integrity, re-execute records 1..N and compare every event and checkpoint",
    )
    rep.add_argument("--json", action="store_true", help="print one JSON object")

    hsh = sub.add_parser(
        "hash",
        help="the state hash after a seq, compared with the record's checkpoint",
        description="Print the state hash after record SEQ (snapshot + tail) and compare it "
        "with the checkpoint that record carries, if any (a mismatch exits 1).",
    )
    hsh.add_argument("dir", help="journal directory")
    hsh.add_argument(
        "--at", type=_nonneg_int, metavar="SEQ", help="after record SEQ (default: last)"
    )
    hsh.add_argument("--json", action="store_true", help="print one JSON object")

    ins = sub.add_parser(
        "inspect",
        help="the audit trail: records in words (or JSON lines), filtered",
        description="Print records with their inputs and events in words, decimals "
        "included; --json prints one JSON object per record.",
    )
    ins.add_argument("dir", help="journal directory")
    ins.add_argument(
        "--from", dest="start", type=_pos_int, metavar="SEQ", help="first seq (default 1)"
    )
    ins.add_argument("--limit", type=_pos_int, metavar="N", help="print at most N records")
    ins.add_argument(
        "--kind",
        action="append",
        choices=[*INPUT_KINDS, *EVENT_KINDS],
        metavar="KIND",
        help=f"keep records of this kind (repeatable): {', '.join([*INPUT_KINDS, *EVENT_KINDS])}",
    )
    ins.add_argument(
        "--account", type=int, metavar="A", help="keep records whose input or events name A"
    )
    ins.add_argument("--json", action="store_true", help="one JSON object per record")


def _check_seq(flag: str, seq: int, journal: Journal) -> None:
    if seq > journal.last_seq:
        holds = f"records 1..{journal.last_seq}" if journal.last_seq else "no records"
        raise UserError(f"{flag} {seq}: the journal holds {holds}")


def _dumps(data: Any) -> str:
    return json.dumps(data, default=repr)


def _rebuilt(
    journal: Journal, factory: MachineFactory, seq: int, progress: Progress | None
) -> Rebuilt:
    callback = None if progress is None else progress.phase("replaying", seq)
    return rebuild(journal, factory, seq, progress=callback, progress_every=PROGRESS_EVERY)


def run_replay(args: argparse.Namespace) -> int:
    """``exchange replay`` (see the module docstring)."""
    with Journal.open(args.dir, read_only=True) as journal:
        wire = _Wire.of(journal)
        factory = factory_for(journal.genesis)
        if args.to_time is not None:
            if wire.machine != "venue":
                raise UserError(
                    f"--to-time: the journal records a {wire.machine} machine, whose "
                    "timestamps are not epoch milliseconds (use --to-seq, or "
                    "exchange journal replay --time)"
                )
            target = journal.seq_at_time(args.to_time)
        elif args.to_seq is not None:
            _check_seq("--to-seq", args.to_seq, journal)
            target = args.to_seq
        else:
            target = journal.last_seq
        progress = Progress()
        checked: Verification | None = None
        built: Rebuilt | None = None
        counts: Counts | None = None
        errors: list[str] = []
        try:
            if args.verify:
                checked = verify(journal, factory, target, progress)
            try:
                built = _rebuilt(journal, factory, target, progress)
                counts = count_records(journal, target, progress.phase("counting", target))
            except (JournalCorrupt, SnapshotError) as exc:
                if checked is None:
                    raise
                errors.append(str(exc))
        finally:
            progress.close()
        divergence = checked.divergence if checked is not None else None
        if (
            checked is not None
            and checked.ok
            and built is not None
            and checked.audit is not None
            and checked.audited_to == target
            and checked.audit.state_hash != built.machine.state_hash()
        ):
            divergence = {
                "seq": target,
                "what": "rebuild",
                "detail": f"seq {target}: the state rebuilt from snapshot "
                f"{built.snapshot_seq} hashes to {built.machine.state_hash()}, "
                f"re-execution gives {checked.audit.state_hash}",
            }
        verified = checked is not None and divergence is None and not errors
        data = _replay_data(args, journal, wire, target, built, counts, checked, divergence)
        data["verified"] = verified
        data["error"] = errors[0] if errors else None
        if args.json:
            sys.stdout.write(_dumps(data) + "\n")
        else:
            sys.stdout.write("\n".join(_replay_text(data, built, checked)) + "\n")
        if checked is None:
            return 0
        return 0 if verified else 1


def _replay_data(
    args: argparse.Namespace,
    journal: Journal,
    wire: _Wire,
    target: int,
    built: Rebuilt | None,
    counts: Counts | None,
    checked: Verification | None,
    divergence: dict[str, Any] | None,
) -> dict[str, Any]:
    state = state_view(built.machine) if built is not None else None
    ts = counts.ts if counts is not None else None
    return {
        "journal": args.dir,
        "machine": wire.machine,
        "symbols": list(wire.specs),
        "verified": False,
        "records": journal.last_seq,
        "last_seq": target,
        "ts": ts,
        "time": None if ts is None else wire.time(ts),
        "state_hash": None if built is None else built.machine.state_hash(),
        "snapshot_seq": None if built is None else built.snapshot_seq,
        "replayed": None if built is None else built.replayed,
        "skipped_snapshots": [] if built is None else built.skipped,
        "first_divergence": None if divergence is None else divergence["seq"],
        "divergence": divergence,
        "verification": None if checked is None else checked.to_json(),
        "inputs_by_kind": None if counts is None else counts.inputs_by_kind,
        "liquidations": None if counts is None else counts.liquidations,
        **(
            state
            if state is not None
            else dict.fromkeys(
                (
                    "positions",
                    "balances",
                    "open_orders",
                    "open_orders_by_symbol",
                    "insurance_fund",
                    "marks",
                )
            )
        ),
    }


def _table(rows: list[list[str]], indent: str = "    ") -> list[str]:
    """Rows as aligned columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(indent + "  ".join(cells))
    return lines


def _replay_text(
    data: dict[str, Any], built: Rebuilt | None, checked: Verification | None
) -> list[str]:
    when = f" ({data['time']})" if data["time"] else ""
    lines = [
        f"journal {data['journal']}: {data['machine']} over {', '.join(data['symbols'])}; "
        f"state after seq {data['last_seq']} of {data['records']}{when}"
    ]
    if built is not None:
        start = f"snapshot {built.snapshot_seq}" if built.snapshot_seq else "genesis"
        lines.append(
            f"  rebuilt from {start} + {built.replayed:,} records in {built.seconds:.2f} s"
        )
        lines += [f"  skipped bad snapshot: {why}" for why in built.skipped]
        lines.append(f"  state hash {data['state_hash']}")
    if data["error"]:
        lines.append(f"  state not available: {data['error']}")
    kinds = data["inputs_by_kind"]
    if kinds is not None:
        parts = [f"{n:,} {k.replace('_', ' ')}" for k, n in kinds.items() if n or k != "other"]
        lines.append(f"  inputs: {', '.join(parts)}; {data['liquidations']:,} liquidations")
    if data["open_orders"] is not None:
        per = ", ".join(f"{s} {n:,}" for s, n in data["open_orders_by_symbol"].items())
        lines.append(f"  open orders: {data['open_orders']:,} ({per})")
        marks = [
            f"{s} {m['price']}" + (f" (funding {m['funding_rate']})" if "funding_rate" in m else "")
            for s, m in data["marks"].items()
        ]
        lines.append(f"  marks: {', '.join(marks) or 'none'}")
        if data["insurance_fund"]:
            fund = ", ".join(f"{v} {a}" for a, v in data["insurance_fund"].items())
            lines.append(f"  insurance fund: {fund}")
        if data["positions"]:
            lines.append(f"  positions ({len(data['positions'])}):")
            head = ["account", "symbol", "size", "entry", "mark", "unrealized PnL", "margin", "lev"]
            rows = [
                [
                    "fund" if p["account"] == FUND else str(p["account"]),
                    p["symbol"],
                    p["size"],
                    p["entry_price"],
                    p["mark_price"],
                    p["unrealized_pnl"],
                    p["margin_type"]
                    + (f" {p['isolated_margin']}" if p["isolated_margin"] is not None else ""),
                    f"{p['leverage']}x",
                ]
                for p in data["positions"]
            ]
            lines += _table([head, *rows])
        elif data["machine"] == "venue":
            lines.append("  positions: none")
        if data["balances"]:
            lines.append(f"  balances ({len(data['balances'])}):")
            rows = [[str(b["account"]), b["asset"], b["balance"]] for b in data["balances"]]
            lines += _table([["account", "asset", "balance"], *rows])
    if checked is not None:
        lines += _verification_text(data, checked)
    return lines


def _verification_text(data: dict[str, Any], checked: Verification) -> list[str]:
    i, a = checked.integrity, checked.audit
    d = data["divergence"]
    lines = []
    if data["verified"]:
        assert a is not None
        lines.append(
            f"  verified: OK: integrity of {i.records:,} records, {i.checkpoints:,} checkpoints "
            f"and {i.snapshots} snapshots; records 1..{checked.audited_to:,} re-executed, "
            f"{a.events:,} events, {a.checkpoints:,} checkpoints and {a.snapshots} snapshots "
            f"matched in {i.seconds + a.seconds:.2f} s"
        )
    elif d is not None:
        lines.append(f"  verification FAILED: first divergence at seq {d['seq']}: {d['detail']}")
    else:
        lines.append(f"  verification FAILED: {data['error']}")
    return lines


def run_hash(args: argparse.Namespace) -> int:
    """``exchange hash`` (see the module docstring)."""
    with Journal.open(args.dir, read_only=True) as journal:
        factory = factory_for(journal.genesis)  # GenesisError if it names no machine
        seq = journal.last_seq if args.at is None else args.at
        _check_seq("--at", seq, journal)
        progress = Progress()
        try:
            built = _rebuilt(journal, factory, seq, progress)
        finally:
            progress.close()
        state_hash = built.machine.state_hash()
        checkpoint = journal.read(seq).checkpoint if seq else None
        matches = None if checkpoint is None else checkpoint == state_hash
        data = {
            "seq": seq,
            "state_hash": state_hash,
            "checkpoint": checkpoint,
            "checkpoint_matches": matches,
            "snapshot_seq": built.snapshot_seq,
            "replayed": built.replayed,
        }
        if args.json:
            sys.stdout.write(_dumps(data) + "\n")
        else:
            lines = [f"seq {seq}: state hash {state_hash}"]
            if checkpoint is None:
                lines.append(f"  no checkpoint in record {seq}" if seq else "  genesis state")
            elif matches:
                lines.append(f"  matches the checkpoint in record {seq}")
            else:
                lines.append(f"  MISMATCH: record {seq}'s checkpoint is {checkpoint}")
            sys.stdout.write("\n".join(lines) + "\n")
        return 1 if matches is False else 0


def _raw_kinds(rec: Record) -> set[str]:
    """The kinds (input and event kinds) a record's wire tags name, without decoding it."""
    kinds: set[str] = set()
    tag = rec.input[0] if isinstance(rec.input, list | tuple) and rec.input else None
    if isinstance(tag, str) and tag in KIND_OF_INPUT:
        kinds.add(KIND_OF_INPUT[tag])
    events = rec.events if isinstance(rec.events, list | tuple) else ()
    names = {e[0] for e in events if isinstance(e, list | tuple) and e and isinstance(e[0], str)}
    kinds |= {k for k, tags in EVENT_KINDS.items() if tags & names}
    return kinds


def _kept(shown: Shown, args: argparse.Namespace) -> bool:
    if args.kind:
        wanted = set(args.kind)
        kinds = {KIND_OF_INPUT.get(shown.input[0])}
        names = {n for n, _ in shown.events}
        kinds |= {k for k, tags in EVENT_KINDS.items() if tags & names}
        if not wanted & kinds:
            return False
    if args.account is not None:
        items = [shown.input[1], *(f for _, f in shown.events)]
        account = args.account
        if not any(
            type(f.get(name)) is int and f[name] == account
            for f in items
            for name in ACCOUNT_FIELDS
        ):
            return False
    return True


def run_inspect(args: argparse.Namespace) -> int:
    """``exchange inspect`` (see the module docstring)."""
    with Journal.open(args.dir, read_only=True) as journal:
        wire = _Wire.of(journal)
        if args.start is not None:
            _check_seq("--from", args.start, journal)
        out = sys.stdout
        printed = 0
        wanted = set(args.kind) if args.kind else None
        for rec in journal.records(args.start or 1):
            if wanted is not None and not wanted & _raw_kinds(rec):
                continue  # decided on the wire tags, before the costly display decoding
            shown = decode_record(rec, wire)
            if not _kept(shown, args):
                continue
            if args.json:
                out.write(_dumps(record_json(rec, shown, wire)) + "\n")
            else:
                out.write(record_text(rec, shown, wire) + "\n")
            printed += 1
            if printed == args.limit:
                break
        return 0


__all__ = [
    "EVENT_KINDS",
    "INPUT_KINDS",
    "KIND_OF_INPUT",
    "Progress",
    "add_audit_parsers",
    "count_records",
    "decode_record",
    "describe",
    "iso_time",
    "item_display",
    "journal_wire",
    "parse_time",
    "run_hash",
    "run_inspect",
    "run_replay",
    "state_view",
    "verify",
]
