"""Whole-engine invariant checks (the books' own checks live in book.py / triggers.py).

An engine is sound when: every book and trigger book passes its structural check; every
open order is filed exactly once, under its own symbol, with a positive quantity; the
order, account and client-order-id indexes hold exactly the open orders; and each
symbol's conservation ledger equals the open quantity found in its books.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from titan.book import Order
from titan.enums import Side

if TYPE_CHECKING:
    from titan.engine import Engine


def check_engine(engine: Engine) -> list[str]:
    """Every violated invariant of ``engine``; empty when sound. O(open orders)."""
    errors: list[str] = []
    seen: dict[int, Order] = {}
    for symbol, ss in engine._symbols.items():
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
            if o.qty <= 0:
                errors.append(f"open order {o.order_id} has qty {o.qty}")
        if open_qty != ss.open_qty:
            errors.append(
                f"{symbol}: quantity not conserved: ledger {ss.open_qty}, books {open_qty}"
            )
    orders = engine._orders
    if seen.keys() != orders.keys() or any(orders[k] is not v for k, v in seen.items()):
        errors.append("order index disagrees with the books")
    by_account = {a: sorted(ids) for a, ids in engine._by_account.items() if ids}
    expected: dict[int, list[int]] = {}
    for o in orders.values():
        expected.setdefault(o.account, []).append(o.order_id)
    if by_account != {a: sorted(ids) for a, ids in expected.items()}:
        errors.append("account index disagrees with the books")
    for acct, acct_orders in engine._by_account.items():
        for oid, o in acct_orders.items():
            if o.account != acct or orders.get(oid) is not o:
                errors.append(f"account index files order {oid} under account {acct}")
    clients = {k: o.order_id for k, o in engine._client_ids.items()}
    expected_clients = {
        (o.account, o.client_order_id): o.order_id for o in orders.values() if o.client_order_id
    }
    if clients != expected_clients:
        errors.append("client order id index disagrees with the books")
    return errors
