"""Titan: a pure, deterministic price-time-priority matching engine.

``Engine(specs).apply(command) -> list[event]``. No I/O, no clock, no randomness:
prices and quantities are integers in each symbol's units (:class:`SymbolSpec`).
"""

from titan.book import Depth, DepthLevel, OrderView
from titan.commands import Amend, Cancel, CancelAll, Command, NewOrder, SetMarkPrice
from titan.engine import Engine
from titan.enums import (
    CancelReason,
    ExpireReason,
    OrderType,
    RejectReason,
    Request,
    Side,
    StpMode,
    TimeInForce,
    WorkingType,
)
from titan.events import (
    Accepted,
    Amended,
    Cancelled,
    Event,
    Expired,
    Rejected,
    Trade,
    Triggered,
    event_from_dict,
    event_to_dict,
)
from titan.symbols import SpecError, SymbolSpec

__all__ = [
    "Accepted",
    "Amend",
    "Amended",
    "Cancel",
    "CancelAll",
    "CancelReason",
    "Cancelled",
    "Command",
    "Depth",
    "DepthLevel",
    "Engine",
    "Event",
    "ExpireReason",
    "Expired",
    "NewOrder",
    "OrderType",
    "OrderView",
    "RejectReason",
    "Rejected",
    "Request",
    "SetMarkPrice",
    "Side",
    "SpecError",
    "StpMode",
    "SymbolSpec",
    "TimeInForce",
    "Trade",
    "Triggered",
    "WorkingType",
    "event_from_dict",
    "event_to_dict",
]
