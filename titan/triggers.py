"""The trigger book: conditional orders waiting for their trigger price.

Rules (Binance USDⓈ-M): a STOP / STOP_MARKET buy and a TAKE_PROFIT / TAKE_PROFIT_MARKET
sell fire when the watched price *rises* to the stop price (price >= stop); a STOP sell
and a TAKE_PROFIT buy fire when it *falls* to it (price <= stop). The watched price is the
last trade price (CONTRACT_PRICE) or the mark price (MARK_PRICE), per order.

Each (working type, direction) pair keeps a list sorted so that the next order to fire is
at the end: the nearest stop price first, and among equal stops the earliest priority.
Entries are ``(key, -priority, order_id)`` with ``key = -stop`` for rising and
``key = stop`` for falling triggers. Add and remove are bisect + memmove; popping the
next order is O(1).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

from titan.book import Order
from titan.enums import OrderType, Side, WorkingType

_RISES = {
    (Side.BUY, OrderType.STOP): True,
    (Side.BUY, OrderType.STOP_MARKET): True,
    (Side.SELL, OrderType.STOP): False,
    (Side.SELL, OrderType.STOP_MARKET): False,
    (Side.BUY, OrderType.TAKE_PROFIT): False,
    (Side.BUY, OrderType.TAKE_PROFIT_MARKET): False,
    (Side.SELL, OrderType.TAKE_PROFIT): True,
    (Side.SELL, OrderType.TAKE_PROFIT_MARKET): True,
}


def would_fire(side: Side, type_: OrderType, stop: int, price: int) -> bool:
    """Whether a conditional order with ``stop`` fires at ``price``."""
    return price >= stop if _RISES[(side, type_)] else price <= stop


Entry = tuple[int, int, int]


class TriggerBook:
    """Pending conditional orders of one symbol, by working type and direction."""

    __slots__ = ("lists", "orders")

    def __init__(self) -> None:
        # lists[(working_type, rises)] -> sorted entries, next to fire last
        self.lists: dict[tuple[WorkingType, bool], list[Entry]] = {
            (wt, up): [] for wt in WorkingType for up in (True, False)
        }
        self.orders: dict[int, Order] = {}

    def __len__(self) -> int:
        return len(self.orders)

    @staticmethod
    def _entry(order: Order, up: bool) -> Entry:
        key = -order.stop_price if up else order.stop_price
        return (key, -order.priority, order.order_id)

    def add(self, order: Order) -> None:
        """Park ``order`` until its trigger fires."""
        up = _RISES[(order.side, order.type)]
        insort(self.lists[(order.working_type, up)], self._entry(order, up))
        self.orders[order.order_id] = order

    def remove(self, order: Order) -> None:
        """Take a pending ``order`` out (cancel)."""
        up = _RISES[(order.side, order.type)]
        entries = self.lists[(order.working_type, up)]
        entry = self._entry(order, up)
        i = bisect_left(entries, entry)
        assert i < len(entries) and entries[i] == entry, "trigger entry missing"
        del entries[i]
        del self.orders[order.order_id]

    def pop_fired(self, working_type: WorkingType, price: int) -> Order | None:
        """Remove and return the next order that ``price`` fires, or None.

        Rising triggers are served before falling ones; within a direction, the nearest
        stop first, then time priority.
        """
        rising = self.lists[(working_type, True)]
        if rising and price >= -rising[-1][0]:
            return self.orders.pop(rising.pop()[2])
        falling = self.lists[(working_type, False)]
        if falling and price <= falling[-1][0]:
            return self.orders.pop(falling.pop()[2])
        return None

    def pending(self) -> Iterator[Order]:
        """Every pending order in canonical order: working type, direction, firing order."""
        for key in sorted(self.lists, key=lambda k: (k[0].value, not k[1])):
            for entry in reversed(self.lists[key]):
                yield self.orders[entry[2]]

    def check(self) -> list[str]:
        """Every violated invariant: lists sorted, entries match orders one to one."""
        errors: list[str] = []
        seen: list[int] = []
        for (wt, up), entries in self.lists.items():
            if entries != sorted(entries):
                errors.append(f"trigger list {wt}/{'up' if up else 'down'} not sorted")
            for entry in entries:
                order = self.orders.get(entry[2])
                if order is None:
                    errors.append(f"trigger entry for unknown order {entry[2]}")
                    continue
                if order.working_type is not wt or _RISES[(order.side, order.type)] != up:
                    errors.append(f"order {order.order_id} filed under the wrong trigger list")
                if entry != self._entry(order, up):
                    errors.append(f"order {order.order_id} has a stale trigger entry")
                if order.level is not None:
                    errors.append(f"pending order {order.order_id} also rests in the book")
                seen.append(entry[2])
        if sorted(seen) != sorted(self.orders):
            errors.append("trigger lists and pending orders disagree")
        return errors
