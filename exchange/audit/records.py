"""Journal records decoded and shown: kinds, times, amounts in words, filters, counts.

A record's input and events are wire lists; :class:`Wire` says how a journal's records
decode (a *venue* journal: genesis machine ``"venue"``, venue commands on the wire, ``ts``
in milliseconds since the Unix epoch; a *Titan* journal: Titan commands, ``ts`` of no
defined unit, so no ISO time is shown for it).

Rules
-----
- Amounts are decimal strings, never exponent form: prices and sizes in the symbol's
  decimals (left as integers when the symbol is unknown), money in the quote asset's 8
  decimals, rates 8 decimals (:func:`item_display`).
- A record that does not decode raises :class:`oracle.JournalCorrupt` naming its seq.
- The JSON form of a record (:func:`record_json`) is ``{seq, ts, time, input: {command,
  fields...}, events: [{event, fields...}], checkpoint}``; the seq and ts of the input
  and events are the record's and are left out. The text form (:func:`record_text`) is
  one line: seq, ISO time, the input in words, ``->`` its events.
- Kinds: the input kinds of :data:`INPUT_KINDS` (plus ``other`` when counting) and the
  event kinds of :data:`EVENT_KINDS`; filtering by kind looks at the wire tags first, so
  records of other kinds are never decoded for display.
- Pure: nothing here prints; journals are only read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from exchange.runtime.machines import parse_genesis
from oracle import Journal, JournalCorrupt, Record
from sentinel.units import money_decimal, rate_decimal
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


class Wire(NamedTuple):
    """How a journal's records decode: its machine's wire form and symbols."""

    machine: str
    specs: dict[str, SymbolSpec]
    command: Callable[[Any], Any]
    event: Callable[[Any], Any]

    @classmethod
    def of(cls, journal: Journal) -> Wire:
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


def decode_record(rec: Record, wire: Wire) -> Shown:
    """The record's input and events for display (JournalCorrupt if they do not decode)."""
    try:
        cmd = wire.command(rec.input)
        events = [wire.event(e) for e in rec.events]
    except (ValueError, TypeError) as exc:
        raise JournalCorrupt(
            rec.seq, f"the record does not decode as a {wire.machine} record: {exc}"
        ) from None
    return Shown(item_display(cmd, wire.specs), [item_display(e, wire.specs) for e in events])


def record_json(rec: Record, shown: Shown, wire: Wire) -> dict[str, Any]:
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


def record_text(rec: Record, shown: Shown, wire: Wire) -> str:
    """One line: ``seq 42 2026-11-21T10:00:00.123Z  NewOrder ... -> Accepted #42; ...``."""
    when = wire.time(rec.ts) or f"ts {rec.ts}"
    text = f"seq {rec.seq} {when}  {describe(*shown.input)}"
    if shown.events:
        text += " -> " + "; ".join(describe(n, f) for n, f in shown.events)
    if rec.checkpoint is not None:
        text += f"  [checkpoint {rec.checkpoint[:16]}]"
    return text


def journal_wire(journal: Journal) -> Wire:
    """How ``journal``'s records decode (GenesisError if its genesis names no machine)."""
    return Wire.of(journal)


def json_text(data: Any) -> str:
    """``data`` as the audit commands' JSON text (a value JSON cannot hold: its repr)."""
    return json.dumps(data, default=repr)


# -- filters ----------------------------------------------------------------------------


def raw_kinds(rec: Record) -> set[str]:
    """The kinds (input and event kinds) a record's wire tags name, without decoding it."""
    kinds: set[str] = set()
    tag = rec.input[0] if isinstance(rec.input, list | tuple) and rec.input else None
    if isinstance(tag, str) and tag in KIND_OF_INPUT:
        kinds.add(KIND_OF_INPUT[tag])
    events = rec.events if isinstance(rec.events, list | tuple) else ()
    names = {e[0] for e in events if isinstance(e, list | tuple) and e and isinstance(e[0], str)}
    kinds |= {k for k, tags in EVENT_KINDS.items() if tags & names}
    return kinds


def kept(shown: Shown, kinds: Collection[str] | None, account: int | None) -> bool:
    """Whether a decoded record is of one of ``kinds`` (None: any) and names ``account``
    (None: any) in its input or an event (fields :data:`ACCOUNT_FIELDS`)."""
    if kinds:
        wanted = set(kinds)
        found = {KIND_OF_INPUT.get(shown.input[0])}
        names = {n for n, _ in shown.events}
        found |= {k for k, tags in EVENT_KINDS.items() if tags & names}
        if not wanted & found:
            return False
    if account is not None:
        items = [shown.input[1], *(f for _, f in shown.events)]
        if not any(
            type(f.get(name)) is int and f[name] == account
            for f in items
            for name in ACCOUNT_FIELDS
        ):
            return False
    return True


def select_records(
    journal: Journal,
    wire: Wire,
    start: int,
    kinds: Collection[str] | None = None,
    account: int | None = None,
) -> Iterator[tuple[Record, Shown]]:
    """The records from seq ``start`` on that :func:`kept` keeps, decoded, lazily."""
    wanted = set(kinds) if kinds else None
    for rec in journal.records(start):
        if wanted is not None and not wanted & raw_kinds(rec):
            continue  # decided on the wire tags, before the costly display decoding
        shown = decode_record(rec, wire)
        if kept(shown, kinds, account):
            yield rec, shown


# -- counts -----------------------------------------------------------------------------


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


__all__ = [
    "ACCOUNT_FIELDS",
    "EPOCH",
    "EVENT_KINDS",
    "INPUT_KINDS",
    "KIND_OF_INPUT",
    "PROGRESS_EVERY",
    "Counts",
    "Shown",
    "Wire",
    "count_records",
    "decode_record",
    "describe",
    "iso_time",
    "item_display",
    "journal_wire",
    "json_text",
    "kept",
    "money_text",
    "plain",
    "raw_kinds",
    "record_json",
    "record_text",
    "select_records",
]
