"""Command files: JSON lines of human-readable commands, parsed into Titan commands.

Each non-blank line not starting with ``#`` is one JSON object::

    {"cmd": "new", "symbol": "BTCUSDT", "account": 1, "side": "BUY", "qty": "0.010",
     "price": "50000.0", "type": "LIMIT", "tif": "GTC", "client_order_id": "a1"}
    {"cmd": "cancel", "symbol": "BTCUSDT", "account": 1, "order_id": 1}
    {"cmd": "cancel_all", "symbol": "BTCUSDT", "account": 1}
    {"cmd": "amend", "symbol": "BTCUSDT", "account": 1, "order_id": 1,
     "price": "50010.0", "qty": "0.005"}
    {"cmd": "mark", "symbol": "BTCUSDT", "price": "50005.3"}

Prices and quantities are decimal strings (or JSON numbers) converted exactly into the
symbol's integer units. The file acts as a tiny sequencer: command *n* gets ``seq = n``,
``ts`` from an optional integer ``"ts"`` field (default ``n``), and a new order gets
``order_id = seq``. :func:`parse_lines` checks the whole file before anything runs and
raises :class:`CommandFileError` listing every bad line with its field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from titan import (
    Amend,
    Cancel,
    CancelAll,
    Command,
    Event,
    NewOrder,
    OrderType,
    SetMarkPrice,
    Side,
    SpecError,
    StpMode,
    SymbolSpec,
    TimeInForce,
    WorkingType,
    event_to_dict,
)


class CommandFileError(ValueError):
    """One or more lines of a command file are invalid; ``problems`` lists them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class LineError(ValueError):
    """A single line's problem (internal to the parser)."""


_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    # cmd: (required fields, optional fields)
    "new": (
        {"symbol", "account", "side", "qty"},
        {
            "price",
            "type",
            "tif",
            "stop_price",
            "working_type",
            "reduce_only",
            "client_order_id",
            "stp",
            "ts",
        },
    ),
    "cancel": ({"symbol", "account"}, {"order_id", "client_order_id", "ts"}),
    "cancel_all": ({"symbol", "account"}, {"ts"}),
    "amend": ({"symbol", "account", "order_id", "price", "qty"}, {"ts"}),
    "mark": ({"symbol", "price"}, {"ts"}),
}


def _int(obj: dict[str, Any], name: str, default: int | None = None) -> int:
    value = obj.get(name, default)
    if type(value) is not int:
        raise LineError(f"field '{name}': expected an integer, got {value!r}")
    return value


def _str(obj: dict[str, Any], name: str, default: str = "") -> str:
    value = obj.get(name, default)
    if not isinstance(value, str):
        raise LineError(f"field '{name}': expected a string, got {value!r}")
    return value


def _enum(obj: dict[str, Any], name: str, enum: Any, default: Any) -> Any:
    value = obj.get(name, default.value)
    if not isinstance(value, str) or value.upper() not in enum.__members__:
        allowed = ", ".join(enum.__members__)
        raise LineError(f"field '{name}': {value!r} is not one of {allowed}")
    return enum[value.upper()]


def _units(obj: dict[str, Any], name: str, spec: SymbolSpec, price: bool) -> int:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise LineError(f"field '{name}': expected a decimal string, got {value!r}")
    try:
        dec = Decimal(str(value))
    except ArithmeticError:
        raise LineError(f"field '{name}': {value!r} is not a decimal number") from None
    if not dec.is_finite():
        raise LineError(f"field '{name}': {value!r} is not a finite number")
    try:
        return spec.price_units(dec, name) if price else spec.qty_units(dec, name)
    except SpecError:
        places = spec.price_decimals if price else spec.qty_decimals
        raise LineError(
            f"field '{name}': {value} has more decimal places than {spec.symbol} allows "
            f"({places})"
        ) from None


def parse_command(obj: Any, seq: int, specs: dict[str, SymbolSpec]) -> Command:
    """One JSON object -> one Titan command; raises LineError naming the field."""
    if not isinstance(obj, dict):
        raise LineError("expected a JSON object")
    kind = obj.get("cmd")
    if kind not in _FIELDS:
        raise LineError(f"field 'cmd': {kind!r} is not one of {', '.join(_FIELDS)}")
    required, optional = _FIELDS[kind]
    missing = sorted(required - set(obj))
    if missing:
        raise LineError(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(set(obj) - required - optional - {"cmd"})
    if unknown:
        raise LineError(f"unknown field(s): {', '.join(unknown)}")
    symbol = _str(obj, "symbol")
    spec = specs.get(symbol)
    if spec is None:
        raise LineError(f"field 'symbol': unknown symbol {symbol!r}")
    ts = _int(obj, "ts", seq)
    if kind == "mark":
        return SetMarkPrice(seq, ts, symbol, _units(obj, "price", spec, True))
    account = _int(obj, "account")
    if kind == "new":
        reduce_only = obj.get("reduce_only", False)
        if not isinstance(reduce_only, bool):
            raise LineError(f"field 'reduce_only': expected true or false, got {reduce_only!r}")
        return NewOrder(
            seq,
            ts,
            symbol,
            account,
            seq,
            _enum(obj, "side", Side, Side.BUY),
            _units(obj, "qty", spec, False),
            _units(obj, "price", spec, True) if "price" in obj else 0,
            _enum(obj, "type", OrderType, OrderType.LIMIT),
            _enum(obj, "tif", TimeInForce, TimeInForce.GTC),
            _units(obj, "stop_price", spec, True) if "stop_price" in obj else 0,
            _enum(obj, "working_type", WorkingType, WorkingType.CONTRACT_PRICE),
            reduce_only,
            _str(obj, "client_order_id"),
            _enum(obj, "stp", StpMode, StpMode.NONE),
        )
    if kind == "cancel":
        if "order_id" not in obj and "client_order_id" not in obj:
            raise LineError("cancel needs 'order_id' or 'client_order_id'")
        return Cancel(
            seq,
            ts,
            symbol,
            account,
            _int(obj, "order_id", 0),
            _str(obj, "client_order_id"),
        )
    if kind == "cancel_all":
        return CancelAll(seq, ts, symbol, account)
    return Amend(
        seq,
        ts,
        symbol,
        account,
        _int(obj, "order_id"),
        _units(obj, "price", spec, True),
        _units(obj, "qty", spec, False),
    )


def parse_lines(
    lines: Iterable[str], specs: dict[str, SymbolSpec], origin: str = "<input>"
) -> list[Command]:
    """Parse a whole command file; raise CommandFileError listing every bad line."""
    commands: list[Command] = []
    problems: list[str] = []
    seq = 0
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        seq += 1
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{origin}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        try:
            commands.append(parse_command(obj, seq, specs))
        except LineError as exc:
            problems.append(f"{origin}:{lineno}: {exc}")
    if problems:
        raise CommandFileError(problems)
    return commands


_PRICE_FIELDS = ("price", "stop_price", "trigger_price")
_QTY_FIELDS = ("qty", "maker_remaining", "taker_remaining")


def event_to_display(event: Event, spec: SymbolSpec) -> dict[str, Any]:
    """An event as a dict with prices and quantities as decimal strings."""
    out = event_to_dict(event)
    for name in _PRICE_FIELDS:
        if name in out:
            out[name] = str(spec.price_decimal(out[name]))
    for name in _QTY_FIELDS:
        if name in out:
            out[name] = str(spec.qty_decimal(out[name]))
    return out
