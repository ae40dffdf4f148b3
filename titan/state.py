"""Export, restore and hash Titan's state.

The export is plain data (dicts, lists, ints, strs, bools) in a canonical order: symbols
in configuration order, each book's bids then asks best level first and queue order
within a level, then pending conditional orders in firing order. Dict keys are written
in a fixed order, so ``msgpack`` (which keeps insertion order) yields the same bytes in
every process and under every PYTHONHASHSEED. The state hash is SHA-256 of those bytes.

Restoring refuses (ValueError naming the first problem) any state the engine could not
have produced: a wrong format or field layout, a bad spec, a field of the wrong type, an
order id or (account, client order id) that appears twice, a non-conditional order in
the trigger book, a market, IOC or FOK order or one of the wrong side resting in the
book, a priority counter behind an order's priority, and, last, any broken invariant.
``Engine.restore`` runs the steps in that order: :func:`read_specs`, then
:func:`load_symbol` for each symbol, :func:`read_counters`, and the invariant check.
This module reads and writes the parts it is given and never imports the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgpack

from titan.book import Order, open_order
from titan.enums import (
    CONDITIONAL_TYPES,
    MARKET_TYPES,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
    WorkingType,
)
from titan.symbol_state import SymbolState
from titan.symbols import SpecError, SymbolSpec

FORMAT = "titan-state/1"

ORDER_FIELDS = (
    "order_id",
    "account",
    "side",
    "type",
    "tif",
    "price",
    "qty",
    "filled",
    "stop_price",
    "working_type",
    "reduce_only",
    "client_order_id",
    "stp",
    "priority",
)


def _order_row(o: Order) -> list[Any]:
    return [
        o.order_id,
        o.account,
        o.side.value,
        o.type.value,
        o.tif.value,
        o.price,
        o.qty,
        o.filled,
        o.stop_price,
        o.working_type.value,
        o.reduce_only,
        o.client_order_id,
        o.stp.value,
        o.priority,
    ]


def build_state(symbols: Iterable[SymbolState], *, trade_id: int, priority: int) -> dict[str, Any]:
    """Canonical plain-data state of an engine: its symbols (in configuration order) and
    its trade id and priority counters."""
    rows = []
    for ss in symbols:
        book = ss.book
        rows.append(
            {
                "spec": ss.spec.to_dict(),
                "last_price": ss.last_price,
                "mark_price": ss.mark_price,
                "open_qty": ss.open_qty,
                "bids": [_order_row(o) for o in book.orders(Side.BUY)],
                "asks": [_order_row(o) for o in book.orders(Side.SELL)],
                "pending": [_order_row(o) for o in ss.triggers.pending()],
            }
        )
    return {
        "format": FORMAT,
        "trade_id": trade_id,
        "priority": priority,
        "order_fields": list(ORDER_FIELDS),
        "symbols": rows,
    }


def encode_state(state: dict[str, Any]) -> bytes:
    """Canonical bytes of an exported state (msgpack, insertion-ordered maps)."""
    data: bytes = msgpack.packb(state, use_bin_type=True)
    return data


def decode_state(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode_state`; ValueError on bytes that are not a state map."""
    try:
        state = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ValueError(f"state blob is not valid msgpack: {exc}") from None
    if not isinstance(state, dict):
        raise ValueError("state blob is not a map")
    return state


def _order_from_row(row: Any, symbol: str) -> Order:
    if not isinstance(row, list | tuple) or len(row) != len(ORDER_FIELDS):
        raise ValueError(f"{symbol}: order row must have {len(ORDER_FIELDS)} fields: {row!r}")
    f = dict(zip(ORDER_FIELDS, row, strict=True))
    try:
        o = open_order(
            order_id=f["order_id"],
            account=f["account"],
            symbol=symbol,
            side=Side(f["side"]),
            type=OrderType(f["type"]),
            tif=TimeInForce(f["tif"]),
            price=f["price"],
            qty=f["qty"],
            stop_price=f["stop_price"],
            working_type=WorkingType(f["working_type"]),
            reduce_only=f["reduce_only"],
            client_order_id=f["client_order_id"],
            stp=StpMode(f["stp"]),
        )
    except ValueError as exc:
        raise ValueError(f"{symbol}: order {f['order_id']!r}: {exc}") from None
    for name in ("order_id", "account", "price", "qty", "filled", "stop_price", "priority"):
        if type(f[name]) is not int:
            raise ValueError(f"{symbol}: order {f['order_id']!r}: {name} is not an integer")
    if type(f["reduce_only"]) is not bool:
        raise ValueError(f"{symbol}: order {f['order_id']!r}: reduce_only is not a bool")
    if type(f["client_order_id"]) is not str:
        raise ValueError(f"{symbol}: order {f['order_id']!r}: client_order_id is not a string")
    o.filled = f["filled"]
    o.priority = f["priority"]
    return o


def read_specs(state: dict[str, Any]) -> list[SymbolSpec]:
    """The symbol specs of an exported state, after checking its format and layout."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} state")
    if state.get("order_fields") != list(ORDER_FIELDS):
        raise ValueError("state has an unknown order field layout")
    if not isinstance(state.get("symbols"), list) or not all(
        isinstance(s, dict) for s in state["symbols"]
    ):
        raise ValueError("state symbols is missing or not a list of maps")
    try:
        return [SymbolSpec(**s["spec"]) for s in state["symbols"]]
    except (KeyError, TypeError, SpecError) as exc:
        raise ValueError(f"state has a bad symbol spec: {exc}") from None


def load_symbol(
    raw: dict[str, Any],
    ss: SymbolState,
    *,
    orders: Mapping[int, Order],
    client_ids: Mapping[tuple[int, str], Order],
    index: Callable[[Order], None],
) -> int:
    """Load one exported symbol into the fresh ``ss``; return its highest order priority.

    Every order is filed in ``ss``'s book or trigger book and handed to ``index``, which
    adds it to the engine's indexes ``orders`` and ``client_ids`` (read here to refuse
    an id that appears twice, across all symbols loaded so far).
    """
    symbol = ss.spec.symbol
    for name in ("last_price", "mark_price", "open_qty"):
        if type(raw.get(name)) is not int:
            raise ValueError(f"{symbol}: {name} is not an integer")
    ss.last_price = raw["last_price"]
    ss.mark_price = raw["mark_price"]
    ss.open_qty = raw["open_qty"]
    max_priority = 0
    for part in ("bids", "asks", "pending"):
        rows = raw.get(part)
        if not isinstance(rows, list):
            raise ValueError(f"{symbol}: {part} is missing or not a list")
        for row in rows:
            o = _order_from_row(row, symbol)
            if o.order_id in orders:
                raise ValueError(f"{symbol}: order {o.order_id} appears twice")
            if o.client_order_id and (o.account, o.client_order_id) in client_ids:
                raise ValueError(
                    f"{symbol}: client order id {o.client_order_id!r} of account "
                    f"{o.account} appears twice"
                )
            conditional = o.type in CONDITIONAL_TYPES
            if part == "pending" and not conditional:
                raise ValueError(f"{symbol}: pending order {o.order_id} is a {o.type} order")
            if part != "pending" and o.type in MARKET_TYPES:
                raise ValueError(f"{symbol}: resting order {o.order_id} is a {o.type} order")
            if part != "pending" and o.tif not in (TimeInForce.GTC, TimeInForce.GTX):
                raise ValueError(f"{symbol}: resting order {o.order_id} has tif {o.tif}")
            if part == "bids" and o.side is not Side.BUY:
                raise ValueError(f"{symbol}: order {o.order_id} is a {o.side} among bids")
            if part == "asks" and o.side is not Side.SELL:
                raise ValueError(f"{symbol}: order {o.order_id} is a {o.side} among asks")
            max_priority = max(max_priority, o.priority)
            if part == "pending":
                ss.triggers.add(o)
            else:
                ss.book.append(o)
            index(o)
    return max_priority


def read_counters(state: dict[str, Any], max_priority: int) -> tuple[int, int]:
    """The trade id and priority counters of an exported state, checked against the
    highest priority of its orders (``max_priority``)."""
    for name in ("trade_id", "priority"):
        if type(state.get(name)) is not int:
            raise ValueError(f"state {name} is not an integer")
    if state["priority"] < max_priority:
        raise ValueError(
            f"state priority counter {state['priority']} is behind an order's {max_priority}"
        )
    return state["trade_id"], state["priority"]


def refuse_broken(errors: list[str]) -> None:
    """ValueError listing the first few ``errors`` (invariant violations), if any."""
    if errors:
        shown = "; ".join(errors[:5]) + ("; ..." if len(errors) > 5 else "")
        raise ValueError(f"state breaks {len(errors)} invariant(s): {shown}")
