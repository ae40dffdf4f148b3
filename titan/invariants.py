"""Whole-engine invariant checks (the books' own checks live in book.py / triggers.py).

An engine is sound when: every book and trigger book passes its structural check; every
open order is filed exactly once, under its own symbol, with a positive quantity, and
obeys the new-order rules; no pending order is fireable at the current prices; the
order, account and client-order-id indexes hold exactly the open orders; and each
symbol's conservation ledger equals the open quantity found in its books.

The checks read the engine's parts as explicit arguments (``Engine.check_invariants``
passes them) and never change them.
"""

from __future__ import annotations

from collections.abc import Mapping

from titan.book import Order
from titan.enums import (
    CONDITIONAL_TYPES,
    MARKET_TYPES,
    MAX_VALUE,
    Side,
    TimeInForce,
    WorkingType,
)
from titan.symbol_state import SymbolState
from titan.symbols import SymbolSpec
from titan.triggers import would_fire


def order_errors(o: Order, spec: SymbolSpec) -> list[str]:
    """Every rule of a new order that the open order ``o`` breaks (it never should)."""
    errors: list[str] = []
    where = f"order {o.order_id}"
    if not 0 < o.order_id <= MAX_VALUE or not 0 <= o.account <= MAX_VALUE:
        errors.append(f"{where}: order id or account out of range")
    if not 0 < o.qty <= MAX_VALUE or o.qty % spec.lot or o.filled < 0:
        errors.append(f"{where}: qty {o.qty} / filled {o.filled} off the lot grid or range")
    if o.type in MARKET_TYPES:
        if o.price != 0 or o.tif is TimeInForce.GTX:
            errors.append(f"{where}: {o.type} with price {o.price} / tif {o.tif}")
    elif not 0 < o.price <= MAX_VALUE or o.price % spec.tick:
        errors.append(f"{where}: price {o.price} off the tick grid or range")
    if o.type in CONDITIONAL_TYPES:
        if not 0 < o.stop_price <= MAX_VALUE or o.stop_price % spec.tick:
            errors.append(f"{where}: stop price {o.stop_price} off the tick grid or range")
    elif o.stop_price != 0:
        errors.append(f"{where}: {o.type} order with stop price {o.stop_price}")
    if type(o.reduce_only) is not bool:
        errors.append(f"{where}: reduce_only is not a bool")
    return errors


def engine_errors(
    *,
    symbols: Mapping[str, SymbolState],
    orders: Mapping[int, Order],
    by_account: Mapping[int, Mapping[int, Order]],
    client_ids: Mapping[tuple[int, str], Order],
) -> list[str]:
    """Every violated invariant of an engine's parts; empty when sound. O(open orders).

    ``symbols`` maps each symbol to its state; ``orders``, ``by_account`` and
    ``client_ids`` are the engine's indexes of open orders (by order id, by account then
    order id, and by (account, client order id)).
    """
    errors: list[str] = []
    seen: dict[int, Order] = {}
    for symbol, ss in symbols.items():
        errors += ss.book.check()
        errors += ss.triggers.check()
        mine = [o for side in (Side.BUY, Side.SELL) for o in ss.book.orders(side)]
        mine += ss.triggers.orders.values()
        open_qty = 0
        for o in mine:
            open_qty += o.qty
            if o.order_id in seen:
                errors.append(f"order {o.order_id} is open twice")
            seen[o.order_id] = o
            if o.symbol != symbol:
                errors.append(f"order {o.order_id} of {o.symbol} filed under {symbol}")
            errors += order_errors(o, ss.spec)
        if ss.last_price < 0 or ss.mark_price < 0:
            errors.append(f"{symbol}: negative last or mark price")
        for o in ss.triggers.orders.values():
            if o.type not in CONDITIONAL_TYPES:
                errors.append(f"pending order {o.order_id} is a {o.type} order")
                continue
            watched = ss.mark_price if o.working_type is WorkingType.MARK_PRICE else ss.last_price
            if watched and would_fire(o.side, o.type, o.stop_price, watched):
                errors.append(f"pending order {o.order_id} should have fired at {watched}")
        if open_qty != ss.open_qty:
            errors.append(
                f"{symbol}: quantity not conserved: ledger {ss.open_qty}, books {open_qty}"
            )
    if seen.keys() != orders.keys() or any(orders[k] is not v for k, v in seen.items()):
        errors.append("order index disagrees with the books")
    filed = {a: sorted(ids) for a, ids in by_account.items() if ids}
    expected: dict[int, list[int]] = {}
    for o in orders.values():
        expected.setdefault(o.account, []).append(o.order_id)
    if filed != {a: sorted(ids) for a, ids in expected.items()}:
        errors.append("account index disagrees with the books")
    for acct, acct_orders in by_account.items():
        for oid, o in acct_orders.items():
            if o.account != acct or orders.get(oid) is not o:
                errors.append(f"account index files order {oid} under account {acct}")
    clients = {k: o.order_id for k, o in client_ids.items()}
    expected_clients = {
        (o.account, o.client_order_id): o.order_id for o in orders.values() if o.client_order_id
    }
    if clients != expected_clients:
        errors.append("client order id index disagrees with the books")
    return errors
