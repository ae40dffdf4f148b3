"""Pre-trade checks: what Sentinel asks of an order before Titan sees it.

Rules (checked in this order; the first broken one is the refusal):

1. Account 0 is the insurance fund's and order ids from 2**62 up are Sentinel's own:
   a user may use neither (RESERVED_ACCOUNT, RESERVED_ORDER_ID).
2. The symbol needs a mark price (NO_MARK_PRICE): margin is valued at the mark.
3. A reduce-only order must be opposite to the position, and all reduce-only orders on
   that side together may not exceed the position (REDUCE_ONLY_REJECTED). It needs no
   margin.
4. An order that can grow the position may not take it beyond the largest notional the
   account's leverage allows in the bracket table (NOTIONAL_ABOVE_LEVERAGE_LIMIT).
5. If the order raises the initial margin held by the account's open orders, the
   available balance after it must stay >= 0 (INSUFFICIENT_MARGIN). Open orders count
   (see :meth:`Sentinel.order_margin`); a market order is valued at the mark, a
   conditional order at its limit (or stop) price, at placement (pending conditional
   orders hold no margin, as on Binance; they are not re-checked when triggered).

Orders whose fields Titan would reject (bad side, quantity, price, type) are passed on
unchecked, so that Titan's own, more precise rejection is what the user sees.
"""

from __future__ import annotations

from sentinel.events import Refusal
from sentinel.ledger import FUND, INTERNAL_ORDER_ID, Exposure, Sentinel
from titan.commands import Amend, NewOrder
from titan.enums import OrderType, Side

_BUY = {Side.BUY.value: True, Side.SELL.value: False}
_MARGIN_PRICE = {
    OrderType.LIMIT.value: "price",
    OrderType.MARKET.value: "mark",
    OrderType.STOP.value: "price",
    OrderType.TAKE_PROFIT.value: "price",
    OrderType.STOP_MARKET.value: "stop_price",
    OrderType.TAKE_PROFIT_MARKET.value: "stop_price",
}


def check_identity(account: object, order_id: object) -> Refusal | None:
    """Rule 1 for any order command."""
    if type(account) is int and account == FUND:
        return Refusal.RESERVED_ACCOUNT
    if type(order_id) is int and order_id >= INTERNAL_ORDER_ID:
        return Refusal.RESERVED_ORDER_ID
    return None


def _with(ex: Exposure | None, buy: bool, qty: int, notional: int) -> Exposure:
    """A copy of ``ex`` with one more working order."""
    new = Exposure()
    if ex is not None:
        for name in Exposure.__slots__:
            setattr(new, name, getattr(ex, name))
    if buy:
        new.buy_qty += qty
        new.buy_notional += notional
    else:
        new.sell_qty += qty
        new.sell_notional += notional
    return new


def _margin_reason(
    s: Sentinel,
    account: int,
    symbol: str,
    buy: bool,
    qty: int,
    price: int,
    drop: tuple[bool, int, int] | None,
) -> Refusal | None:
    """Rules 4 and 5 for ``qty`` more at ``price`` (``drop``: an order being replaced)."""
    c = s.contracts[symbol]
    w = s.wallets.get((account, c.quote))
    size = 0
    ex = None
    if w is not None:
        p = w.positions.get(symbol)
        size = p.size if p is not None else 0
        ex = w.exposed(symbol)
    lev = s.settings(w, symbol)[0] if w is not None else c.default_leverage
    grows = size + qty if buy else size - qty
    if abs(grows) > abs(size) and abs(grows) * price * c.scale > c.brackets.max_notional(lev):
        return Refusal.NOTIONAL_ABOVE_LEVERAGE_LIMIT
    if w is None:  # no wallet, nothing available: any order that needs margin fails
        return Refusal.INSUFFICIENT_MARGIN
    new = _with(ex, buy, qty, qty * price)
    if drop is not None:
        d_buy, d_qty, d_notional = drop
        new = _with(new, d_buy, -d_qty, -d_notional)
    before = s.order_margin(w, symbol)
    after = s.order_margin(w, symbol, new)
    if after > before and s.available(w) + before - after < 0:
        return Refusal.INSUFFICIENT_MARGIN
    return None


def check_new(s: Sentinel, cmd: NewOrder) -> Refusal | None:
    """The refusal of a new order, or None (rules 1-5)."""
    reason = check_identity(cmd.account, cmd.order_id)
    if reason is not None:
        return reason
    symbol = cmd.symbol
    c = s.contracts.get(symbol) if type(symbol) is str else None
    buy = _BUY.get(cmd.side) if isinstance(cmd.side, str) else None
    field = _MARGIN_PRICE.get(cmd.type) if isinstance(cmd.type, str) else None
    qty = cmd.qty
    if (
        c is None
        or buy is None
        or field is None
        or type(cmd.account) is not int
        or type(qty) is not int
        or qty <= 0
        or type(cmd.price) is not int
        or type(cmd.stop_price) is not int
    ):
        return None  # Titan rejects it with the precise reason
    mark = s.marks.get(symbol)
    if mark is None:
        return Refusal.NO_MARK_PRICE
    if cmd.reduce_only:
        p = s.position(cmd.account, symbol)
        size = p.size if p is not None else 0
        if size == 0 or (size > 0) == buy:
            return Refusal.REDUCE_ONLY_REJECTED
        w = s.wallets[(cmd.account, c.quote)]
        ex = w.exposed(symbol)
        pending = (ex.ro_buy if buy else ex.ro_sell) if ex is not None else 0
        if pending + qty > abs(size):
            return Refusal.REDUCE_ONLY_REJECTED
        return None
    price = mark if field == "mark" else getattr(cmd, field) or cmd.price or mark
    if price <= 0:
        return None
    return _margin_reason(s, cmd.account, symbol, buy, qty, price, None)


def check_amend(s: Sentinel, cmd: Amend) -> Refusal | None:
    """The refusal of an amend, or None: a reduce-only order stays within the position,
    any other may not raise the order margin beyond what is available."""
    o = s.orders.get(cmd.order_id) if type(cmd.order_id) is int else None
    if (
        o is None
        or o.account != cmd.account
        or o.symbol != cmd.symbol
        or type(cmd.qty) is not int
        or type(cmd.price) is not int
        or cmd.qty <= 0
        or cmd.price <= 0
    ):
        return None  # Titan rejects it with the precise reason
    if o.reduce_only:
        p = s.position(o.account, o.symbol)
        size = abs(p.size) if p is not None else 0
        ex = s.wallets[(o.account, s.contracts[o.symbol].quote)].exposed(o.symbol)
        pending = (ex.ro_buy if o.buy else ex.ro_sell) if ex is not None else 0
        return Refusal.REDUCE_ONLY_REJECTED if pending - o.qty + cmd.qty > size else None
    drop = (o.buy, o.qty, o.qty * o.price) if o.working and o.limit else None
    return _margin_reason(s, o.account, o.symbol, o.buy, cmd.qty, cmd.price, drop)
