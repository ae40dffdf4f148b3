"""Pre-trade checks: what Sentinel asks of an order before Titan sees it.

Rules (checked in this order; the first broken one is the refusal):

1. Account 0 is the insurance fund's and order ids from 2**62 up are Sentinel's own:
   a user may use neither (RESERVED_ACCOUNT, RESERVED_ORDER_ID). The symbol needs a mark
   price (NO_MARK_PRICE): margin is valued at the mark.
2. Size bounds that keep every amount within 64 bits (NOTIONAL_TOO_LARGE): one order's
   notional at most 10**9 of the quote, and the symbol's open quantity (both sides) with
   this order filled, valued at the order's price or the mark, at most 2**59 money units
   (about 5.8 billion of the quote).
3. A reduce-only order must be opposite to the position, and all reduce-only orders on
   that side together may not exceed the position (REDUCE_ONLY_REJECTED). It needs no
   margin.
4. If every open order on the order's side filled (this one included), the position may
   not exceed the largest notional the account's leverage allows in the bracket table
   (NOTIONAL_ABOVE_LEVERAGE_LIMIT).
5. If the order raises the initial margin held by the account's open orders, the
   available balance after it, less the order's open loss and its fee (at the higher of
   the maker and taker rates), must stay >= 0
   (INSUFFICIENT_MARGIN). Open orders count (see :meth:`Ledger.order_margin`). A limit
   order is valued at its price; its open loss is what it would lose at once against the
   mark (a buy above the mark, a sell below). A market order is valued at what it would
   take from the book now, level by level, with the open loss of each level; a market
   order into an empty side holds nothing (it expires). A conditional order is valued at
   its limit (or stop) price at placement; pending conditional orders hold no margin, as
   on Binance, and are not re-checked when triggered.

Orders whose fields Titan would reject (bad side, quantity, price, type) are passed on
unchecked, so that Titan's own, more precise rejection is what the user sees.
"""

from __future__ import annotations

from sentinel.events import Refusal
from sentinel.ledger import FUND, INTERNAL_ORDER_ID, Ledger
from sentinel.units import MAX_OPEN_NOTIONAL, MAX_ORDER_NOTIONAL, MAX_VALUE, RATE_ONE, ceil_div
from titan.commands import Amend, NewOrder
from titan.engine import Engine
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


def _walk(titan: Engine, symbol: str, buy: bool, qty: int, mark: int) -> tuple[int, int, int, int]:
    """What a market order of ``qty`` would take from the book now: (quantity, notional,
    worst price, open loss against the mark), self-trade prevention ignored."""
    n = 16
    while True:
        depth = titan.depth(symbol, n)
        levels = depth.asks if buy else depth.bids
        filled = notional = loss = worst = 0
        for level in levels:
            take = min(qty - filled, level.qty)
            filled += take
            notional += take * level.price
            loss += take * max(0, level.price - mark if buy else mark - level.price)
            worst = level.price
            if filled == qty:
                return filled, notional, worst, loss
        if len(levels) < n:
            return filled, notional, worst, loss
        n *= 4


def _margin_reason(
    s: Ledger,
    account: int,
    symbol: str,
    buy: bool,
    qty: int,
    notional: int,
    loss: int,
    drop: tuple[bool, int, int] | None,
) -> Refusal | None:
    """Rules 5 and 6 for ``qty`` more worth ``notional`` (Titan units) with an open loss
    of ``loss`` (Titan units) against the mark; ``drop`` is an order being replaced."""
    c = s.contracts[symbol]
    w = s.wallets.get((account, c.quote))
    size = 0
    ex = None
    if w is not None:
        p = s.position(account, symbol)
        size = p.size if p is not None else 0
        ex = w.exposed(symbol)
    lev = s.settings(w, symbol)[0] if w is not None else c.default_leverage
    # the exposure with this order (and without the one it replaces), field by field
    if ex is not None:
        bq, bn, sq, sn = ex.buy_qty, ex.buy_notional, ex.sell_qty, ex.sell_notional
        ro_buy, ro_sell = ex.ro_buy, ex.ro_sell
    else:
        bq = bn = sq = sn = ro_buy = ro_sell = 0
    if buy:
        bq += qty
        bn += notional
    else:
        sq += qty
        sn += notional
    if drop is not None:
        d_buy, d_qty, d_notional = drop
        if d_buy:
            bq -= d_qty
            bn -= d_notional
        else:
            sq -= d_qty
            sn -= d_notional
    side_qty, side_notional = (bq, bn) if buy else (sq, sn)
    worst = size + side_qty if buy else size - side_qty
    if abs(worst) > abs(size):
        mark = s.marks[symbol]
        value = abs(size) * mark + (side_notional if abs(worst) > side_qty else 0)
        value = max(value, abs(worst) * mark)
        if value * c.scale > c.brackets.max_notional(lev):
            return Refusal.NOTIONAL_ABOVE_LEVERAGE_LIMIT
    if w is None:  # no wallet, nothing available: any order that needs margin fails
        return Refusal.INSUFFICIENT_MARGIN
    before = s.order_margin(w, symbol)
    after = s.order_margin_of(w, symbol, bq, bn, sq, sn, ro_buy, ro_sell)
    fee = ceil_div(notional * c.scale * max(c.maker_fee, c.taker_fee), RATE_ONE)
    if after > before and s.available(w) + before - after - loss * c.scale - fee < 0:
        return Refusal.INSUFFICIENT_MARGIN
    return None


def _size_reason(s: Ledger, symbol: str, qty: int, price: int) -> Refusal | None:
    """Rule 2: the bounds that keep every amount within 64 bits."""
    c = s.contracts[symbol]
    price = max(price, s.marks[symbol])
    if qty * price * c.scale > MAX_ORDER_NOTIONAL:
        return Refusal.NOTIONAL_TOO_LARGE
    if (s.open_qty[symbol] + 2 * qty) * price * c.scale > MAX_OPEN_NOTIONAL:
        return Refusal.NOTIONAL_TOO_LARGE
    return None


def check_new(s: Ledger, titan: Engine, cmd: NewOrder) -> Refusal | None:
    """The refusal of a new order, or None (the rules in the module docstring)."""
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
        or not 0 < qty <= MAX_VALUE
        or type(cmd.price) is not int
        or type(cmd.stop_price) is not int
        or not 0 <= cmd.price <= MAX_VALUE
        or not 0 <= cmd.stop_price <= MAX_VALUE
    ):
        return None  # Titan rejects it with the precise reason
    mark = s.marks.get(symbol)
    if mark is None:
        return Refusal.NO_MARK_PRICE
    if field == "mark":  # a market order: what it would take from the book now
        filled, notional, worst, loss = _walk(titan, symbol, buy, qty, mark)
        price = worst
    else:
        price = getattr(cmd, field) or cmd.price or mark
        filled, notional = qty, qty * price
        loss = qty * max(0, price - mark if buy else mark - price)
    reason = _size_reason(s, symbol, qty, price)
    if reason is not None:
        return reason
    if cmd.reduce_only:
        p = s.position(cmd.account, symbol)
        size = p.size if p is not None else 0
        if size == 0 or (size > 0) == buy:
            return Refusal.REDUCE_ONLY_REJECTED
        ex = s.wallets[(cmd.account, c.quote)].exposed(symbol)
        pending = (ex.ro_buy if buy else ex.ro_sell) if ex is not None else 0
        if pending + qty > abs(size):
            return Refusal.REDUCE_ONLY_REJECTED
        return None
    if not filled:
        return None  # a market order into an empty side: it expires, holding nothing
    return _margin_reason(s, cmd.account, symbol, buy, filled, notional, loss, None)


def check_amend(s: Ledger, cmd: Amend) -> Refusal | None:
    """The refusal of an amend, or None: a reduce-only order stays within the position,
    any other may not raise the order margin beyond what is available."""
    o = s.orders.get(cmd.order_id) if type(cmd.order_id) is int else None
    if (
        o is None
        or o.account != cmd.account
        or o.symbol != cmd.symbol
        or type(cmd.qty) is not int
        or type(cmd.price) is not int
        or not 0 < cmd.qty <= MAX_VALUE
        or not 0 < cmd.price <= MAX_VALUE
    ):
        return None  # Titan rejects it with the precise reason
    reason = _size_reason(s, o.symbol, max(cmd.qty - o.qty, 0), cmd.price)
    if reason is not None:
        return reason
    if o.reduce_only:
        p = s.position(o.account, o.symbol)
        size = abs(p.size) if p is not None else 0
        ex = s.wallets[(o.account, s.contracts[o.symbol].quote)].exposed(o.symbol)
        pending = (ex.ro_buy if o.buy else ex.ro_sell) if ex is not None else 0
        return Refusal.REDUCE_ONLY_REJECTED if pending - o.qty + cmd.qty > size else None
    drop = (o.buy, o.qty, o.qty * o.price) if o.working and o.limit else None
    mark = s.marks[o.symbol]
    loss = cmd.qty * max(0, cmd.price - mark if o.buy else mark - cmd.price)
    return _margin_reason(s, o.account, o.symbol, o.buy, cmd.qty, cmd.qty * cmd.price, loss, drop)
