"""Events: everything Titan reports. Each carries the seq and ts of its command.

Events are ``NamedTuple`` subclasses: immutable, cheap, and positional, so the engine
builds them with ``tuple.__new__`` on the hot path. :func:`event_to_dict` gives the
canonical, JSON-ready form used by golden files and the journal.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from titan.enums import (
    CancelReason,
    ExpireReason,
    OrderType,
    RejectReason,
    Request,
    Side,
    TimeInForce,
)


class Accepted(NamedTuple):
    """An order passed validation and entered the engine (book, matching or trigger book)."""

    seq: int
    ts: int
    symbol: str
    order_id: int
    account: int
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    stop_price: int
    client_order_id: str


class Rejected(NamedTuple):
    """A command failed validation; nothing changed."""

    seq: int
    ts: int
    symbol: str
    request: Request
    order_id: int
    account: int
    client_order_id: str
    reason: RejectReason


class Trade(NamedTuple):
    """A fill between a resting maker and an incoming taker, at the maker's price.

    ``maker_remaining`` and ``taker_remaining`` are the open quantities after this fill.
    """

    seq: int
    ts: int
    symbol: str
    trade_id: int
    price: int
    qty: int
    aggressor: Side
    maker_order_id: int
    taker_order_id: int
    maker_account: int
    taker_account: int
    maker_remaining: int
    taker_remaining: int


class Cancelled(NamedTuple):
    """An open order was cancelled; ``qty`` is the open quantity removed."""

    seq: int
    ts: int
    symbol: str
    order_id: int
    account: int
    qty: int
    reason: CancelReason


class Expired(NamedTuple):
    """An order (or its unfilled remainder) expired; ``qty`` is the quantity removed."""

    seq: int
    ts: int
    symbol: str
    order_id: int
    account: int
    qty: int
    reason: ExpireReason


class Amended(NamedTuple):
    """A resting order's price or open quantity changed."""

    seq: int
    ts: int
    symbol: str
    order_id: int
    account: int
    price: int
    qty: int
    priority_kept: bool


class Triggered(NamedTuple):
    """A conditional order was released by ``trigger_price`` and now works as LIMIT/MARKET."""

    seq: int
    ts: int
    symbol: str
    order_id: int
    account: int
    trigger_price: int


Event = Accepted | Rejected | Trade | Cancelled | Expired | Amended | Triggered

EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (Accepted, Rejected, Trade, Cancelled, Expired, Amended, Triggered)
}


def event_to_dict(event: Event) -> dict[str, Any]:
    """Return ``{"event": <class name>, <field>: <value>, ...}`` with enums as plain strings."""
    out: dict[str, Any] = {"event": type(event).__name__}
    for name, value in zip(event._fields, event, strict=True):
        out[name] = str(value) if isinstance(value, str) else value
    return out


def event_from_dict(data: dict[str, Any]) -> Event:
    """Inverse of :func:`event_to_dict`. Raises ``ValueError`` naming what is wrong."""
    kind = data.get("event")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event type {kind!r}")
    missing = [f for f in cls._fields if f not in data]
    if missing:
        raise ValueError(f"{kind} event lacks field(s): {', '.join(missing)}")
    event: Event = cls(*(data[f] for f in cls._fields))
    return event


__all__ = [
    "EVENT_TYPES",
    "Accepted",
    "Amended",
    "CancelReason",
    "Cancelled",
    "Event",
    "ExpireReason",
    "Expired",
    "Rejected",
    "Trade",
    "Triggered",
    "event_from_dict",
    "event_to_dict",
]
