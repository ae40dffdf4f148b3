"""Translate a LOBSTER message file into Titan commands (``build_commands``).

Theory of operation
-------------------
The translation is *static*: it never looks at a running engine, so the same command
list feeds ``exchange lobster`` and benchmarks. To word its commands it keeps its own
model of the book it is building (:class:`_Model`), which follows Titan's rules:
price-time queues, an Amend that lowers the quantity keeps its place, one that raises
it goes to the back, an IOC takes the oldest order of the best level first.

Queue priority. NASDAQ ranks the orders of a price level by order reference number,
which it assigns in time order. LOBSTER re-announces the pre-market orders that enter
the book in the minutes after the opening cross as submissions (type 1) carrying their
old, low ids, and NASDAQ executes them before younger orders: so an order joins its
level at the place its id gives it. Titan appends; where the id belongs further ahead,
the younger orders behind it are re-queued (Cancel, then NewOrder with the same id and
quantity), which leaves Titan's queue in id order.

Starting book (``seed``). The first orderbook row shows the book after message 1,
per price level; the seed is that row with message 1 undone. An order id that the file
names (partial cancel, delete, visible execution) before ever submitting it is
*unknown*; the pre-scan gives its side, price and quantity (the sum of the sizes named).
Ids grow with time, so an unknown id below the file's first submitted id was resting
at the start; a larger one was placed later, while outside the file's level range:

- an old unknown order is carved out of its row-1 level if the level has room left,
  or seeded as a level of its own beyond the deepest level row 1 shows (a full side
  only shows its best N levels). What a row-1 level holds beyond its named orders is
  one *residual* order under a synthetic id, queued behind them: orders the file
  never names;
- a young unknown order enters the book just before the first submission with a larger
  id (its place in time) or, at the latest, just before the first message naming it;
- an unknown order that fits neither (its entry would cross the book, or its level in
  row 1 has no room) enters just before the first message naming it, or is skipped and
  its messages counted in ``unknown`` if even that would cross.

Without an orderbook file nothing is seeded and every message naming an unknown id is
skipped and counted. Only row 1 of the orderbook file steers the translation: the
other rows are the answer key.

Messages. Orders from the file rest on account 1; the synthetic aggressors trade on
account 2 (self-trade prevention NONE). Types 5 (hidden execution), 6 (cross trade)
and 7 (halt) change no visible order and give no command.

====  ======================  ========================================================
type  LOBSTER                 Titan
====  ======================  ========================================================
1     submit                  NewOrder LIMIT GTC under the LOBSTER id
2     partial cancel of s     Amend to open qty - s at the same price (keeps priority);
                              Cancel if nothing would remain
3     delete                  Cancel
4     visible execution of s  NewOrder LIMIT IOC from the other side, s at the price;
                              Titan's price-time priority must hit the named order
====  ======================  ========================================================

Repair after a queue jump. Now and then NASDAQ executes an order while an older one at
the same price waits (the order it skips stays untouched). The IOC then hits the older
order in Titan: the replay counts that execution as a FIFO miss, and the translation
puts the book back to what LOBSTER says: each order the IOC hit in error gets its
quantity back (Amend up, or NewOrder with its id if it was filled), which sends it to
the back of its level, as NASDAQ evidently treated it; the named order is lowered by
an Amend. The model predicts Titan's fills, so ``Check.predicted_hit`` says whether
the IOC should hit the named order; the replay compares that with Titan's trades.

Synthetic ids (residual orders, aggressors) start at a power of ten above every id in
the file, so they never collide with LOBSTER ids.
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

from exchange.errors import UserError
from exchange.lobster.parse import (
    DELETE,
    EMPTY_ASK,
    EXECUTE,
    PARTIAL_CANCEL,
    SUBMIT,
    Message,
    parse_messages,
    parse_orderbook,
    row_levels,
)
from titan import Amend, Cancel, Command, NewOrder, OrderType, Side, SymbolSpec, TimeInForce

LOBSTER_ACCOUNT = 1  # every order taken from the file, seeded or submitted
AGGRESSOR_ACCOUNT = 2  # the synthetic IOC orders that drive visible executions

_SIDES = {1: Side.BUY, -1: Side.SELL}
_OPPOSITE = {1: Side.SELL, -1: Side.BUY}
_NAMED = (PARTIAL_CANCEL, DELETE, EXECUTE)

Prio = tuple[int, int]  # queue rank within a level: (id or id clock, tie-break)


@dataclass(frozen=True, slots=True)
class Check:
    """A visible execution to verify: its IOC must fill ``size`` against ``order_id``
    alone. ``unknown``: the order was not submitted inside the file."""

    message: int  # 0-based index of the type-4 message
    order_id: int
    size: int
    unknown: bool
    predicted_hit: bool  # the translator's model expects Titan to hit only order_id


@dataclass(slots=True)
class LobsterFlow:
    """A LOBSTER file as Titan commands (see the module docstring).

    ``seed`` builds the starting book, ``commands`` replays the messages: message
    ``i`` (0-based) gives ``commands[ends[i - 1]:ends[i]]`` (from 0 for the first
    message; none for types 5, 6, 7). ``checks`` maps the index of each command that
    drives a visible execution to what it must hit. ``first_row`` is orderbook row 1
    (empty without an orderbook file).
    """

    spec: SymbolSpec
    seed: list[Command]
    commands: list[Command]
    messages: list[Message]
    ends: list[int] = field(default_factory=list)
    checks: dict[int, Check] = field(default_factory=dict)
    first_row: tuple[int, ...] = ()
    seeded_unknown: int = 0  # unknown orders in the seed under their own id
    residual_orders: int = 0  # seed orders for row-1 quantity no message names
    late_unknown: int = 0  # unknown orders entered during the replay
    requeued: int = 0  # orders re-queued to keep a level in id order
    repairs: int = 0  # executions whose IOC the model saw hit another order
    unknown: dict[int, int] = field(default_factory=dict)  # skipped messages by type
    anomalies: list[str] = field(default_factory=list)  # inconsistencies in the file


class _Model:
    """The translator's picture of the Titan book it builds, emitting the commands.

    ``orders``: id -> [direction, price, open qty]; ``prio``: id -> rank; ``queues``: (direction,
    price) -> sorted [(prio, id)] (Titan's queue order); ``prices``: direction ->
    ascending prices of non-empty levels. Queues are short, so list inserts are cheap.
    """

    def __init__(self, symbol: str, out: list[Command]) -> None:
        self.symbol = symbol
        self.out = out
        self.seq = 0
        self.ts = 0
        self.orders: dict[int, list[int]] = {}
        self.prio: dict[int, Prio] = {}
        self.queues: dict[tuple[int, int], list[tuple[Prio, int]]] = {}
        self.prices: dict[int, list[int]] = {1: [], -1: []}
        self.requeued = 0
        self.clock = 0  # largest order id submitted so far (NASDAQ ids grow with time)
        self.tick = 0  # tie-break of ranks handed out by now()

    def _emit(self, cmd_type: type, *fields: object) -> None:
        self.seq += 1
        self.out.append(cmd_type(self.seq, self.ts, self.symbol, *fields))

    def crosses(self, direction: int, price: int) -> bool:
        """Whether a limit order at ``price`` on ``direction`` would trade at once."""
        opposite = self.prices[-direction]
        if not opposite:
            return False
        return opposite[0] <= price if direction == 1 else opposite[-1] >= price

    def _link(self, oid: int, direction: int, price: int, qty: int, prio: Prio) -> int:
        """Put an order into the model at its priority; return its queue position."""
        key = (direction, price)
        q = self.queues.get(key)
        if q is None:
            q = self.queues[key] = []
            insort(self.prices[direction], price)
        entry = (prio, oid)
        pos = bisect_left(q, entry)
        q.insert(pos, entry)
        self.orders[oid] = [direction, price, qty]
        self.prio[oid] = prio
        return pos

    def _unlink(self, oid: int) -> None:
        direction, price, _ = self.orders.pop(oid)
        key = (direction, price)
        q = self.queues[key]
        del q[bisect_left(q, (self.prio.pop(oid), oid))]
        if not q:
            del self.queues[key]
            prices = self.prices[direction]
            del prices[bisect_left(prices, price)]

    def enter(self, oid: int, direction: int, price: int, qty: int, prio: Prio) -> None:
        """A new resting order at ``prio``: NewOrder (Titan appends it), then re-queue
        every order that ranks behind it so that Titan's queue stays in prio order."""
        pos = self._link(oid, direction, price, qty, prio)
        self._emit(NewOrder, LOBSTER_ACCOUNT, oid, _SIDES[direction], qty, price)
        self._requeue_behind(direction, price, pos)

    def _requeue_behind(self, direction: int, price: int, pos: int) -> None:
        side = _SIDES[direction]
        for _, f in self.queues[(direction, price)][pos + 1 :]:
            self._emit(Cancel, LOBSTER_ACCOUNT, f)
            self._emit(NewOrder, LOBSTER_ACCOUNT, f, side, self.orders[f][2], price)
            self.requeued += 1

    def reduce(self, oid: int, qty: int) -> None:
        """Lower an order's open quantity (keeps priority), or cancel it at 0."""
        o = self.orders[oid]
        if qty > 0:
            o[2] = qty
            self._emit(Amend, LOBSTER_ACCOUNT, oid, o[1], qty)
        else:
            self._unlink(oid)
            self._emit(Cancel, LOBSTER_ACCOUNT, oid)

    def match(self, direction: int, limit: int, qty: int) -> list[tuple[int, int, int, int]]:
        """Consume resting ``direction`` orders as Titan would for an incoming order of
        ``qty`` limited at ``limit``: best level first, queue order within it. Returns
        (id, price, fill, open qty before) per maker hit."""
        hits: list[tuple[int, int, int, int]] = []
        prices = self.prices[direction]
        while qty and prices:
            price = prices[0] if direction == -1 else prices[-1]
            if (price > limit) if direction == -1 else (price < limit):
                break
            q = self.queues[(direction, price)]
            while qty:
                oid = q[0][1]
                o = self.orders[oid]
                had = o[2]
                fill = min(qty, had)
                hits.append((oid, price, fill, had))
                qty -= fill
                if fill < had:
                    o[2] = had - fill
                else:
                    last = len(q) == 1
                    self._unlink(oid)  # drops the level when it empties
                    if last:
                        break
        return hits

    def clear_crossing(self, direction: int, price: int) -> None:
        """Cancel every opposite order that a limit order at ``price`` would trade with."""
        while self.crosses(direction, price):
            opposite = self.prices[-direction]
            best = opposite[0] if direction == 1 else opposite[-1]
            self.reduce(self.queues[(-direction, best)][0][1], 0)

    def now(self) -> Prio:
        """The rank of an order (re-)entering a queue now: behind every id seen so far."""
        self.tick += 1
        return (self.clock, self.tick)

    def execute(self, oid: int, size: int, price: int, aggressor_id: int) -> bool:
        """Visible execution of ``size`` from resting ``oid`` at ``price``: emit the IOC,
        then repair what it did to other orders (see the module docstring). Returns
        whether Titan should hit ``oid`` alone, for the full size."""
        direction, _, before = self.orders[oid]
        hits = self.match(direction, price, size)
        self._emit(
            NewOrder,
            AGGRESSOR_ACCOUNT,
            aggressor_id,
            _OPPOSITE[direction],
            size,
            price,
            OrderType.LIMIT,
            TimeInForce.IOC,
        )
        if len(hits) == 1 and hits[0][0] == oid and hits[0][2] == size:
            return True
        side = _SIDES[direction]
        for hit, at, _, had in hits:
            if hit == oid:
                continue
            # Give the order back its quantity; in Titan either way puts it at the back.
            if hit in self.orders:
                self._unlink(hit)
                self._emit(Amend, LOBSTER_ACCOUNT, hit, at, had)
            else:
                self._emit(NewOrder, LOBSTER_ACCOUNT, hit, side, had, at)
            pos = self._link(hit, direction, at, had, self.now())
            self._requeue_behind(direction, at, pos)
        left = before - size
        o = self.orders.get(oid)
        if o is not None and o[2] != left:
            self.reduce(oid, left)
        return False


def _symbol_from_name(path: Path) -> str:
    """``AAPL_2012-06-21_..._message.csv`` -> ``AAPL`` (``LOBSTER`` if no ticker)."""
    head = path.name.split("_", 1)[0]
    return head if re.fullmatch(r"[A-Za-z][A-Za-z0-9.]{0,15}", head) else "LOBSTER"


def make_spec(symbol: str, messages: list[Message], row: tuple[int, ...] = ()) -> SymbolSpec:
    """Prices are dollars x 10000 (price_decimals 4), sizes whole shares; the tick is a
    cent unless a book price in the file (or in orderbook ``row``) is finer, then the
    largest step that fits them all."""
    tick = 100
    for m in messages:
        if m.type <= EXECUTE and m.price % tick:
            tick = gcd(tick, m.price)
    for price in row[::2]:
        if price % tick and abs(price) != EMPTY_ASK:
            tick = gcd(tick, price)
    return SymbolSpec(symbol=symbol, price_decimals=4, qty_decimals=0, tick=tick, lot=1)


def _row1_levels(
    row: tuple[int, ...], first: Message, where: str
) -> tuple[dict[tuple[int, int], int], dict[int, int | None]]:
    """Orderbook row 1 with message 1 undone: {(direction, price): size}, and per
    direction the deepest price the row covers (None: the row shows the whole side)."""
    asks, bids = row_levels(row, where)
    n = len(row) // 4
    levels = {(-1, p): s for p, s in asks}
    levels.update({(1, p): s for p, s in bids})
    covered: dict[int, int | None] = {
        -1: asks[-1][0] if len(asks) == n else None,
        1: bids[-1][0] if len(bids) == n else None,
    }
    key = (first.direction, first.price)
    if first.type == SUBMIT:
        left = levels.get(key, 0) - first.size
        if left < 0 and _covers(covered, key):
            raise UserError(
                f"{where}: does not hold message 1's order ({first.size} at {first.price}): "
                "the orderbook file does not belong to this message file"
            )
        if left > 0:
            levels[key] = left
        else:
            levels.pop(key, None)
    elif first.type in _NAMED:
        levels[key] = levels.get(key, 0) + first.size
    best_bid = max((p for d, p in levels if d == 1), default=None)
    best_ask = min((p for d, p in levels if d == -1), default=None)
    if best_bid is not None and best_ask is not None and best_bid >= best_ask:
        raise UserError(f"{where}: crossed book (bid {best_bid} >= ask {best_ask})")
    return levels, covered


def _covers(covered: dict[int, int | None], key: tuple[int, int]) -> bool:
    """Whether orderbook row 1 shows every level at ``key`` = (direction, price)."""
    direction, price = key
    deepest = covered[direction]
    if deepest is None:
        return True
    return price >= deepest if direction == 1 else price <= deepest


def build_commands(
    message_path: str | Path, orderbook_path: str | Path | None = None
) -> LobsterFlow:
    """Translate a LOBSTER message file (and row 1 of its orderbook file) into Titan
    commands; see the module docstring for the rules. Static: running the result
    needs no feedback from the engine. Raises UserError for unreadable, malformed or
    mismatched files.
    """
    messages = parse_messages(message_path)
    book = None if orderbook_path is None else parse_orderbook(orderbook_path)
    return translate(message_path, messages, orderbook_path, book)


def translate(
    message_path: str | Path,
    messages: list[Message],
    orderbook_path: str | Path | None = None,
    book: tuple[list[tuple[int, ...]], list[int]] | None = None,
) -> LobsterFlow:
    """:func:`build_commands` on files already parsed: ``messages`` from
    :func:`parse_messages`, ``book`` = (rows, line numbers) from :func:`parse_orderbook`.
    """
    message_path = Path(message_path)
    spec = make_spec(_symbol_from_name(message_path), messages, book[0][0] if book else ())
    flow = LobsterFlow(spec, [], [], messages)
    model = _Model(spec.symbol, flow.seed)
    model.ts = messages[0].ts
    next_id = 10 ** max(12, len(str(max(m.order_id for m in messages))))
    first_id = next((m.order_id for m in messages if m.type == SUBMIT), next_id)
    model.clock = first_id
    anomalies = flow.anomalies

    # Pre-scan: ids named before they are submitted -> [direction, price, total size].
    unknown: dict[int, list[int]] = {}
    submitted: set[int] = set()
    for m in messages:
        if m.type == SUBMIT:
            submitted.add(m.order_id)
        elif m.type in _NAMED and m.order_id not in submitted:
            u = unknown.get(m.order_id)
            if u is None:
                unknown[m.order_id] = [m.direction, m.price, m.size]
            else:
                u[2] += m.size

    pending: set[int] = set()  # unknown orders to enter during the replay
    young: list[int] = []  # ... of which those placed after the start, by id
    if book is not None:
        rows, lines = book
        if len(rows) != len(messages):
            raise UserError(
                f"{orderbook_path}: {len(rows)} rows for {len(messages)} messages in "
                f"{message_path}: the orderbook file does not belong to this message file"
            )
        flow.first_row = rows[0]
        levels, covered = _row1_levels(rows[0], messages[0], f"{orderbook_path}:{lines[0]}")
        last_named: dict[tuple[int, int], int] = {}
        for oid in sorted(unknown):
            direction, price, qty = unknown[oid]
            key = (direction, price)
            room = levels.get(key)
            if oid >= first_id:
                young.append(oid)
            elif room is not None and room >= qty:
                levels[key] = room - qty
                last_named[key] = oid
                model.enter(oid, direction, price, qty, (oid, 0))
                flow.seeded_unknown += 1
                continue
            elif room is None and not _covers(covered, key):
                model.enter(oid, direction, price, qty, (oid, 0))
                flow.seeded_unknown += 1
                continue
            pending.add(oid)
        for key, room in sorted(levels.items()):
            if room:
                model.enter(next_id, key[0], key[1], room, (last_named.get(key, 0), 1))
                next_id += 1
                flow.residual_orders += 1

    model.out = flow.commands
    ends, checks, skipped = flow.ends, flow.checks, flow.unknown
    in_file: set[int] = set()  # open orders submitted inside the file
    j = 0
    for i, m in enumerate(messages):
        model.ts = m.ts
        mtype, oid = m.type, m.order_id
        if mtype == SUBMIT:
            while j < len(young) and young[j] < oid:
                uid = young[j]
                direction, price, qty = unknown[uid]
                if uid in pending and not model.crosses(direction, price):
                    model.enter(uid, direction, price, qty, (uid, 0))
                    pending.discard(uid)
                    flow.late_unknown += 1
                j += 1
            if oid > model.clock:
                model.clock = oid
            if oid in model.orders:
                anomalies.append(f"line {m.line}: order {oid} submitted while open")
            else:
                if model.crosses(m.direction, m.price):
                    # LOBSTER's submissions never trade: what it would hit is stale.
                    anomalies.append(f"line {m.line}: order {oid} would cross the book")
                    model.clear_crossing(m.direction, m.price)
                model.enter(oid, m.direction, m.price, m.size, (oid, 0))
                in_file.add(oid)
        elif mtype in _NAMED:
            if oid in pending:
                pending.discard(oid)
                direction, price, qty = unknown[oid]
                if model.crosses(direction, price):
                    anomalies.append(f"line {m.line}: unknown order {oid} would cross the book")
                else:
                    model.enter(oid, direction, price, qty, (oid, 0))
                    flow.late_unknown += 1
            o = model.orders.get(oid)
            if o is None:
                skipped[mtype] = skipped.get(mtype, 0) + 1
            else:
                if o[0] != m.direction or o[1] != m.price:
                    anomalies.append(f"line {m.line}: order {oid} named at another side/price")
                left = o[2] - m.size
                if left < 0 or (mtype == DELETE and left):
                    anomalies.append(
                        f"line {m.line}: type {mtype} of {m.size} for order {oid} "
                        f"with {o[2]} open"
                    )
                if mtype == EXECUTE:
                    at = len(model.out)
                    hit = model.execute(oid, m.size, m.price, next_id)
                    next_id += 1
                    checks[at] = Check(i, oid, m.size, oid not in in_file, hit)
                    flow.repairs += not hit
                else:
                    model.reduce(oid, 0 if mtype == DELETE else left)
                if oid not in model.orders:
                    in_file.discard(oid)
        ends.append(len(model.out))
    flow.requeued = model.requeued
    return flow
