"""Enumerations shared by Titan's commands, orders and events, and the order-type classes.

Every enumeration is a ``StrEnum``: members compare equal to their names, so events
serialise to readable, machine-readable strings (JSON, msgpack) without a lookup table.

The order-type classes are defined here and nowhere else (the engine, the state
codec, the invariant checks and the venue all import them):

- ``MARKET_TYPES`` take no limit price (price 0) and never rest; GTX is refused for them.
- ``CONDITIONAL_TYPES`` carry a stop price and wait in the trigger book until it fires.
- ``LIMIT_TYPES`` carry a limit price (they rest, or become a resting LIMIT order when
  triggered); every order type is in exactly one of ``MARKET_TYPES`` and ``LIMIT_TYPES``.
- ``MAX_VALUE`` bounds every id, account, price and quantity Titan accepts.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """Order side."""

    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    """Order types (Binance USDⓈ-M names).

    STOP and TAKE_PROFIT become LIMIT orders when triggered; STOP_MARKET and
    TAKE_PROFIT_MARKET become MARKET orders.
    """

    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP = "STOP"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"


class TimeInForce(StrEnum):
    """Time in force. GTX is post-only: the order expires instead of taking liquidity."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"


class StpMode(StrEnum):
    """Self-trade prevention mode; the taker's mode decides what happens."""

    NONE = "NONE"
    EXPIRE_TAKER = "EXPIRE_TAKER"
    EXPIRE_MAKER = "EXPIRE_MAKER"
    EXPIRE_BOTH = "EXPIRE_BOTH"


class WorkingType(StrEnum):
    """Which price releases a conditional order: the last trade or the mark price."""

    CONTRACT_PRICE = "CONTRACT_PRICE"
    MARK_PRICE = "MARK_PRICE"


class Request(StrEnum):
    """The kind of command a rejection answers."""

    NEW = "NEW"
    CANCEL = "CANCEL"
    CANCEL_ALL = "CANCEL_ALL"
    AMEND = "AMEND"
    MARK_PRICE = "MARK_PRICE"


class RejectReason(StrEnum):
    """Why a command was rejected. A rejected command never changes state."""

    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_SIDE = "INVALID_SIDE"
    INVALID_ORDER_TYPE = "INVALID_ORDER_TYPE"
    INVALID_TIME_IN_FORCE = "INVALID_TIME_IN_FORCE"
    INVALID_STP_MODE = "INVALID_STP_MODE"
    INVALID_WORKING_TYPE = "INVALID_WORKING_TYPE"
    INVALID_ACCOUNT = "INVALID_ACCOUNT"
    INVALID_ORDER_ID = "INVALID_ORDER_ID"
    INVALID_CLIENT_ORDER_ID = "INVALID_CLIENT_ORDER_ID"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    QTY_OFF_LOT_GRID = "QTY_OFF_LOT_GRID"
    QTY_ABOVE_MAX = "QTY_ABOVE_MAX"
    INVALID_PRICE = "INVALID_PRICE"
    PRICE_OFF_TICK_GRID = "PRICE_OFF_TICK_GRID"
    INVALID_STOP_PRICE = "INVALID_STOP_PRICE"
    STOP_PRICE_OFF_TICK_GRID = "STOP_PRICE_OFF_TICK_GRID"
    NOTIONAL_BELOW_MIN = "NOTIONAL_BELOW_MIN"
    PRICE_OUTSIDE_BAND = "PRICE_OUTSIDE_BAND"
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
    DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
    WOULD_IMMEDIATELY_TRIGGER = "WOULD_IMMEDIATELY_TRIGGER"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    FOREIGN_ORDER = "FOREIGN_ORDER"
    ORDER_NOT_AMENDABLE = "ORDER_NOT_AMENDABLE"
    AMEND_NO_CHANGE = "AMEND_NO_CHANGE"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"


class ExpireReason(StrEnum):
    """Why an accepted order (or its remainder) left the book without a user cancel."""

    IOC_REMAINDER = "IOC_REMAINDER"
    MARKET_REMAINDER = "MARKET_REMAINDER"
    FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    STP_EXPIRE_TAKER = "STP_EXPIRE_TAKER"
    STP_EXPIRE_MAKER = "STP_EXPIRE_MAKER"
    STP_EXPIRE_BOTH = "STP_EXPIRE_BOTH"
    REDUCE_ONLY = "REDUCE_ONLY"  # a reduce-only order would take the position beyond zero


class CancelReason(StrEnum):
    """Why an order was cancelled."""

    USER = "USER"
    CANCEL_ALL = "CANCEL_ALL"


MARKET_TYPES = frozenset({OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET})
CONDITIONAL_TYPES = frozenset(
    {OrderType.STOP, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET}
)
LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT})

# Largest id, account, price or quantity accepted: every integer in state must fit the
# journal's and the state hash's msgpack encoding (signed 64-bit).
MAX_VALUE = (1 << 63) - 1
