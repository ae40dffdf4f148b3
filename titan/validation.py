"""Validation rules for new orders and amends: read state, never write it.

Each function returns the first rule a command breaks (a :class:`RejectReason`) or None.
The checks run in a fixed order, so the reason reported for a command that breaks
several rules is deterministic: identity (order id), quantity (positive, lot grid,
max), price (positive or absent for market types, tick grid), stop price, notional,
price band, uniqueness (order id, client order id), and finally the trigger rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from titan.book import Order
from titan.commands import Amend, NewOrder
from titan.enums import (
    CONDITIONAL_TYPES,
    MARKET_TYPES,
    MAX_VALUE,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from titan.symbol_state import SymbolState
from titan.symbols import SymbolSpec
from titan.triggers import would_fire

R = RejectReason


def outside_band(price: int, ss: SymbolState, band_bps: int) -> bool:
    """Whether ``price`` lies outside +/- ``band_bps`` of the reference price (if any).

    The reference is the mark price when one has been fed, else the last trade price;
    with neither, every price is inside.
    """
    ref = ss.mark_price or ss.last_price
    if not ref:
        return False
    scaled = price * 10_000
    return scaled > ref * (10_000 + band_bps) or scaled < ref * (10_000 - band_bps)


def quantity_reason(qty: int, spec: SymbolSpec) -> RejectReason | None:
    """Why ``qty`` is not an acceptable order quantity for ``spec``, or None."""
    if type(qty) is not int or not 0 < qty <= MAX_VALUE:
        return R.INVALID_QUANTITY
    if qty % spec.lot:
        return R.QTY_OFF_LOT_GRID
    if spec.max_qty and qty > spec.max_qty:
        return R.QTY_ABOVE_MAX
    return None


def validate_new(
    cmd: NewOrder,
    ss: SymbolState,
    side: Side,
    otype: OrderType,
    tif: TimeInForce,
    *,
    orders: Mapping[int, Order],
    client_ids: Mapping[tuple[int, str], Order],
) -> RejectReason | None:
    """The first rule a new order breaks, or None.

    ``side``, ``otype`` and ``tif`` are the command's fields already normalised to enum
    members; ``orders`` and ``client_ids`` are the engine's indexes of open orders (by
    order id, and by (account, client order id)), read only.
    """
    spec = ss.spec
    qty, price, stop = cmd.qty, cmd.price, cmd.stop_price
    if type(cmd.order_id) is not int or not 0 < cmd.order_id <= MAX_VALUE:
        return R.INVALID_ORDER_ID
    reason = quantity_reason(qty, spec)
    if reason is not None:
        return reason
    if type(price) is not int or type(stop) is not int or price > MAX_VALUE:
        return R.INVALID_PRICE
    if stop > MAX_VALUE:
        return R.INVALID_STOP_PRICE
    market = otype in MARKET_TYPES
    if market:
        if price != 0:
            return R.INVALID_PRICE
        if tif is TimeInForce.GTX:
            return R.INVALID_TIME_IN_FORCE
    else:
        if price <= 0:
            return R.INVALID_PRICE
        if price % spec.tick:
            return R.PRICE_OFF_TICK_GRID
    conditional = otype in CONDITIONAL_TYPES
    if conditional:
        if stop <= 0:
            return R.INVALID_STOP_PRICE
        if stop % spec.tick:
            return R.STOP_PRICE_OFF_TICK_GRID
    elif stop != 0:
        return R.INVALID_STOP_PRICE
    if spec.min_notional:
        # market orders are valued at their stop, else the reference price, if known
        basis = price or stop or ss.mark_price or ss.last_price
        if basis and basis * qty < spec.min_notional:
            return R.NOTIONAL_BELOW_MIN
    if spec.band_bps and not market and outside_band(price, ss, spec.band_bps):
        return R.PRICE_OUTSIDE_BAND
    if cmd.order_id in orders:
        return R.DUPLICATE_ORDER_ID
    coid = cmd.client_order_id
    if type(coid) is not str:
        return R.INVALID_CLIENT_ORDER_ID
    if coid and (cmd.account, coid) in client_ids:
        return R.DUPLICATE_CLIENT_ORDER_ID
    if conditional:
        watched = ss.mark_price if cmd.working_type == "MARK_PRICE" else ss.last_price
        if watched and would_fire(side, otype, stop, watched):
            return R.WOULD_IMMEDIATELY_TRIGGER
    return None


def validate_amend(cmd: Amend, ss: SymbolState, o: Order) -> RejectReason | None:
    """The first rule an amend of the resting order ``o`` breaks, or None."""
    spec = ss.spec
    price, qty = cmd.price, cmd.qty
    reason = quantity_reason(qty, spec)
    if reason is not None:
        return reason
    if type(price) is not int or not 0 < price <= MAX_VALUE:
        return R.INVALID_PRICE
    if price % spec.tick:
        return R.PRICE_OFF_TICK_GRID
    if price * qty < spec.min_notional:
        return R.NOTIONAL_BELOW_MIN
    if price == o.price and qty == o.qty:
        return R.AMEND_NO_CHANGE
    if price != o.price:
        if spec.band_bps and outside_band(price, ss, spec.band_bps):
            return R.PRICE_OUTSIDE_BAND
        if o.tif is TimeInForce.GTX:
            best = ss.book.best_ask() if o.side is Side.BUY else ss.book.best_bid()
            if best is not None and (
                price >= best.price if o.side is Side.BUY else price <= best.price
            ):
                return R.POST_ONLY_WOULD_TAKE
    return None
