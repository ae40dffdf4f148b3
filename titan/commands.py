"""Commands: the only inputs Titan accepts.

Every command is stamped by the caller (the sequencer) with ``seq`` and ``ts``; Titan
reads no clock and copies both onto every event the command produces. Prices are
integers in the symbol's price units and quantities integers in its quantity units
(see :class:`titan.symbols.SymbolSpec`); the engine checks them against the tick and
lot grids.
"""

from __future__ import annotations

from typing import NamedTuple

from titan.enums import OrderType, Side, StpMode, TimeInForce, WorkingType


class NewOrder(NamedTuple):
    """Place an order.

    ``price`` is the limit price (0 for market types); ``stop_price`` the trigger
    price of STOP / STOP_MARKET / TAKE_PROFIT / TAKE_PROFIT_MARKET (0 otherwise).
    ``order_id`` is assigned by the sequencer and must not collide with an open order.
    """

    seq: int
    ts: int
    symbol: str
    account: int
    order_id: int
    side: Side
    qty: int
    price: int = 0
    type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    stop_price: int = 0
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    reduce_only: bool = False
    client_order_id: str = ""
    stp: StpMode = StpMode.NONE


class Cancel(NamedTuple):
    """Cancel one open order, by ``order_id`` or (when it is 0) by ``client_order_id``."""

    seq: int
    ts: int
    symbol: str
    account: int
    order_id: int = 0
    client_order_id: str = ""


class CancelAll(NamedTuple):
    """Cancel every open order (resting and conditional) of ``account`` in ``symbol``."""

    seq: int
    ts: int
    symbol: str
    account: int


class Amend(NamedTuple):
    """Change a resting limit order's price and open quantity.

    ``qty`` is the new *open* (unfilled) quantity. A quantity decrease at the same price
    keeps queue priority; a price change or a quantity increase moves the order to the
    back of the queue at its (new) price, and a new price that crosses trades at once.
    """

    seq: int
    ts: int
    symbol: str
    account: int
    order_id: int
    price: int
    qty: int


class SetMarkPrice(NamedTuple):
    """Feed a mark price; it releases MARK_PRICE conditional orders and anchors the band."""

    seq: int
    ts: int
    symbol: str
    price: int


Command = NewOrder | Cancel | CancelAll | Amend | SetMarkPrice

__all__ = ["Amend", "Cancel", "CancelAll", "Command", "NewOrder", "SetMarkPrice"]
