"""One symbol's limit order book: price levels of FIFO queues, plus its queries.

Theory of operation
-------------------
Each side maps a *key* to a :class:`Level`. The key orders levels so that the best level
has the largest key: bids use ``price`` and asks use ``-price``. ``bid_keys`` and
``ask_keys`` hold the keys of non-empty levels in ascending order, so the best level is
always ``keys[-1]``: reading it is O(1), removing it is ``list.pop()`` (O(1)), and
adding or removing another level is a ``bisect`` plus a memmove (O(log L + L) for L
levels, a few hundred nanoseconds at realistic depths).

A level is an intrusive doubly linked list of :class:`Order` objects in time priority
(``priority`` strictly increases from head to tail). Appending, unlinking any order and
popping the head are O(1) and stay flat however deep the queue gets (a dict used as a
queue does not: finding its first entry skips every slot deleted before it; see
docs/titan.md, "Data structures and complexity"). Each level caches its total open
quantity and order count; :meth:`OrderBook.check` proves every cache against the lists.

Orders are built by :func:`open_order`, with keyword arguments only.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from typing import NamedTuple

from titan.enums import OrderType, Side, StpMode, TimeInForce, WorkingType
from titan.symbols import SymbolSpec


class Order:
    """An open order. ``qty`` is the open quantity; ``filled`` what has traded so far.

    ``level`` is the level the order rests in, or ``None`` while it waits in the trigger
    book (or is being matched as a taker). ``priority`` orders the queue: it is assigned
    from the engine's counter whenever the order (re)joins the back of a level.

    Build one with :func:`open_order` (the class itself takes no arguments).
    """

    __slots__ = (
        "account",
        "client_order_id",
        "filled",
        "level",
        "next",
        "order_id",
        "prev",
        "price",
        "priority",
        "qty",
        "reduce_only",
        "side",
        "stop_price",
        "stp",
        "symbol",
        "tif",
        "type",
        "working_type",
    )

    order_id: int
    account: int
    symbol: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    filled: int
    stop_price: int
    working_type: WorkingType
    reduce_only: bool
    client_order_id: str
    stp: StpMode
    priority: int
    prev: Order | None
    next: Order | None
    level: Level | None

    def view(self) -> OrderView:
        """An immutable snapshot of this order for queries."""
        return OrderView(
            self.order_id,
            self.symbol,
            self.account,
            self.side,
            self.type,
            self.tif,
            self.price,
            self.qty,
            self.filled,
            self.stop_price,
            self.working_type,
            self.reduce_only,
            self.client_order_id,
            self.stp,
            self.level is None,
        )


_object_new = object.__new__


def open_order(
    *,
    order_id: int,
    account: int,
    symbol: str,
    side: Side,
    price: int,
    qty: int,
    type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
    stop_price: int = 0,
    working_type: WorkingType = WorkingType.CONTRACT_PRICE,
    reduce_only: bool = False,
    client_order_id: str = "",
    stp: StpMode = StpMode.NONE,
) -> Order:
    """A new open order: nothing filled, no priority yet, linked nowhere.

    The defaults describe a plain GTC limit order. This is a function rather than
    ``Order.__init__`` because calling a class with keyword arguments packs them into a
    dict first: on the engine's new-order path that costs about 4% of throughput, while
    a function call with keywords costs almost nothing.
    """
    o: Order = _object_new(Order)
    o.order_id = order_id
    o.account = account
    o.symbol = symbol
    o.side = side
    o.type = type
    o.tif = tif
    o.price = price
    o.qty = qty
    o.filled = 0
    o.stop_price = stop_price
    o.working_type = working_type
    o.reduce_only = reduce_only
    o.client_order_id = client_order_id
    o.stp = stp
    o.priority = 0
    o.prev = None
    o.next = None
    o.level = None
    return o


class OrderView(NamedTuple):
    """Read-only view of an open order; ``pending_trigger`` marks a conditional order."""

    order_id: int
    symbol: str
    account: int
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    filled: int
    stop_price: int
    working_type: WorkingType
    reduce_only: bool
    client_order_id: str
    stp: StpMode
    pending_trigger: bool


class Level:
    """A price level: a FIFO linked list of orders with cached total quantity and count."""

    __slots__ = ("count", "head", "price", "qty", "tail")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        self.count = 0
        self.head: Order | None = None
        self.tail: Order | None = None

    def pop_head(self) -> Order:
        """Unlink and return the first order (the level may be left empty). O(1)."""
        o = self.head
        assert o is not None, "pop_head of an empty level"
        nxt = o.next
        self.head = nxt
        if nxt is None:
            self.tail = None
        else:
            nxt.prev = None
        self.count -= 1
        self.qty -= o.qty
        o.level = o.next = None
        return o

    def orders(self) -> Iterator[Order]:
        """Orders in queue (time-priority) order. O(n)."""
        o = self.head
        while o is not None:
            yield o
            o = o.next


class DepthLevel(NamedTuple):
    """One row of L2 depth."""

    price: int
    qty: int
    orders: int


class Depth(NamedTuple):
    """L2 depth: the best ``n`` levels per side, best first."""

    bids: list[DepthLevel]
    asks: list[DepthLevel]


class OrderBook:
    """The resting limit orders of one symbol. Holds structure only; no matching policy."""

    __slots__ = ("ask_keys", "asks", "bid_keys", "bids", "spec")

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_keys: list[int] = []
        self.ask_keys: list[int] = []

    # -- mutation ---------------------------------------------------------------

    def append(self, order: Order) -> None:
        """Put ``order`` at the back of the queue at its price. O(1) for an existing level."""
        if order.side is Side.BUY:
            key = order.price
            levels, keys = self.bids, self.bid_keys
        else:
            key = -order.price
            levels, keys = self.asks, self.ask_keys
        level = levels.get(key)
        if level is None:
            level = levels[key] = Level(order.price)
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        tail = level.tail
        order.prev = tail
        order.next = None
        if tail is None:
            level.head = order
        else:
            tail.next = order
        level.tail = order
        level.qty += order.qty
        level.count += 1
        order.level = level

    def unlink(self, order: Order) -> None:
        """Remove a resting ``order`` from its level, dropping the level if it empties. O(1)
        for the best level, O(log L + L) memmove otherwise."""
        level = order.level
        assert level is not None, "unlink of an order that is not resting"
        prev, nxt = order.prev, order.next
        if prev is None:
            level.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            level.tail = prev
        else:
            nxt.prev = prev
        order.prev = order.next = None
        order.level = None
        level.qty -= order.qty
        level.count -= 1
        if level.count == 0:
            self.drop_level(order.side, level.price)

    def drop_level(self, side: Side, price: int) -> None:
        """Forget the (empty) level at ``price``."""
        if side is Side.BUY:
            key, levels, keys = price, self.bids, self.bid_keys
        else:
            key, levels, keys = -price, self.asks, self.ask_keys
        del levels[key]
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]

    # -- queries ----------------------------------------------------------------

    def best_bid(self) -> DepthLevel | None:
        """Best bid: price, open quantity and number of orders, or None. O(1)."""
        if not self.bid_keys:
            return None
        level = self.bids[self.bid_keys[-1]]
        return DepthLevel(level.price, level.qty, level.count)

    def best_ask(self) -> DepthLevel | None:
        """Best ask price, its open quantity and order count, or None. O(1)."""
        if not self.ask_keys:
            return None
        level = self.asks[self.ask_keys[-1]]
        return DepthLevel(level.price, level.qty, level.count)

    def levels(self, side: Side) -> Iterator[Level]:
        """Levels of one side, best first."""
        levels, keys = (
            (self.bids, self.bid_keys) if side is Side.BUY else (self.asks, self.ask_keys)
        )
        for key in reversed(keys):
            yield levels[key]

    def depth(self, n: int) -> Depth:
        """L2: the best ``n`` levels of each side, best first. O(n)."""
        out = []
        for levels, keys in ((self.bids, self.bid_keys), (self.asks, self.ask_keys)):
            rows = []
            for key in keys[: -n - 1 : -1] if n > 0 else ():
                lv = levels[key]
                rows.append(DepthLevel(lv.price, lv.qty, lv.count))
            out.append(rows)
        return Depth(out[0], out[1])

    def orders(self, side: Side) -> Iterator[Order]:
        """L3: every resting order of one side, best level first, queue order within it."""
        for level in self.levels(side):
            yield from level.orders()

    # -- invariants -------------------------------------------------------------

    def check(self) -> list[str]:
        """Return every violated structural invariant (empty when the book is sound).

        Checks: keys sorted, unique and equal to the level maps; every level non-empty,
        on the tick grid, with consistent links, count and total quantity; FIFO
        (priorities strictly increasing head to tail); every order positive, on the lot
        grid, on its level's side and price; and the book not crossed.
        """
        errors: list[str] = []
        spec = self.spec
        for side, levels, keys, sign in (
            (Side.BUY, self.bids, self.bid_keys, 1),
            (Side.SELL, self.asks, self.ask_keys, -1),
        ):
            if keys != sorted(set(keys)):
                errors.append(f"{side} keys not strictly ascending")
            if set(keys) != set(levels):
                errors.append(f"{side} keys disagree with levels")
            for key, level in levels.items():
                where = f"{spec.symbol} {side} level {level.price}"
                if key != sign * level.price:
                    errors.append(f"{where}: stored under key {key}")
                if level.price <= 0 or level.price % spec.tick:
                    errors.append(f"{where}: price off the tick grid")
                count = total = 0
                prev: Order | None = None
                last_priority = -1
                o = level.head
                while o is not None:
                    count += 1
                    total += o.qty
                    if o.prev is not prev:
                        errors.append(f"{where}: order {o.order_id} has a wrong prev link")
                    if o.level is not level:
                        errors.append(f"{where}: order {o.order_id} points at another level")
                    if o.side is not side or o.price != level.price:
                        errors.append(
                            f"{where}: order {o.order_id} has side/price " f"{o.side}/{o.price}"
                        )
                    if o.qty <= 0 or o.qty % spec.lot:
                        errors.append(f"{where}: order {o.order_id} has qty {o.qty}")
                    if o.priority <= last_priority:
                        errors.append(f"{where}: FIFO broken at order {o.order_id}")
                    last_priority = o.priority
                    prev = o
                    o = o.next
                    if count > level.count + 1:
                        errors.append(f"{where}: list longer than its count (cycle?)")
                        break
                if level.tail is not prev:
                    errors.append(f"{where}: tail is not the last order")
                if count == 0:
                    errors.append(f"{where}: empty level kept")
                if count != level.count:
                    errors.append(f"{where}: count {level.count} but {count} orders")
                if total != level.qty:
                    errors.append(f"{where}: qty {level.qty} but orders sum to {total}")
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and ask is not None and bid.price >= ask.price:
            errors.append(f"{spec.symbol}: crossed book, bid {bid.price} >= ask {ask.price}")
        return errors
