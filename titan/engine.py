"""Titan: a multi-symbol, price-time-priority matching engine with no I/O.

``Engine.apply(command) -> list[event]`` is the whole interface: the caller stamps each
command with ``seq`` and ``ts``; the engine reads no clock, draws no random numbers, and
keeps prices, quantities and notionals as integers (see :mod:`titan.symbols`).

Rules
-----
- Validate fully, then change state: a rejected command emits one ``Rejected`` event and
  leaves every book, index and counter as it was (there is no rollback to get wrong).
- Price-time priority: an incoming order trades against the best opposite level, oldest
  order first, at the maker's price, until it is filled or the next level is beyond its
  limit. What remains rests (GTC), or expires (IOC, MARKET; FOK never partially fills;
  GTX expires instead of taking at all).
- Self-trade prevention is decided by the taker's mode when the next maker in priority
  belongs to the taker's account: EXPIRE_TAKER stops matching and expires the taker's
  remainder; EXPIRE_MAKER expires that maker and goes on; EXPIRE_BOTH does both.
- Conditional orders wait in the :class:`~titan.triggers.TriggerBook` and are released
  (``Triggered``) when the last trade price or the mark price reaches their stop; a
  release that trades can release further orders in the same command.
- Amend: a quantity decrease at the same price keeps priority; anything else re-queues
  the order at the back of its (new) price, where a crossing price trades at once.
- Conservation: each symbol keeps ``open_qty``, moved only where events are emitted
  (Accepted +qty, Trade -2*qty, Cancelled/Expired -qty, Amended +/-delta). It must always
  equal the open quantity found in the book and the trigger book.

Modules
-------
The engine owns its symbols (:class:`~titan.symbol_state.SymbolState`), its indexes of
open orders and its counters. The rule checks (:mod:`titan.validation`), the state codec
(:mod:`titan.state`) and the invariant checks (:mod:`titan.invariants`) never import the
engine: it imports them and hands each exactly the parts it needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from titan.book import Depth, DepthLevel, Order, OrderBook, OrderView, open_order
from titan.commands import Amend, Cancel, CancelAll, Command, NewOrder, SetMarkPrice
from titan.enums import (
    CONDITIONAL_TYPES,
    MARKET_TYPES,
    MAX_VALUE,
    CancelReason,
    ExpireReason,
    OrderType,
    RejectReason,
    Request,
    Side,
    StpMode,
    TimeInForce,
    WorkingType,
)
from titan.events import (
    Accepted,
    Amended,
    Cancelled,
    Event,
    Expired,
    Rejected,
    Trade,
    Triggered,
)
from titan.invariants import engine_errors
from titan.state import (
    build_state,
    encode_state,
    load_symbol,
    read_counters,
    read_specs,
    refuse_broken,
)
from titan.symbol_state import SymbolState
from titan.symbols import SymbolSpec
from titan.validation import validate_amend, validate_new

_tuple_new = tuple.__new__

# Lookup tables that validate and normalise enum fields in one step: a plain "BUY" and
# Side.BUY both map to the member Side.BUY, anything else to None.
_SIDE = {m.value: m for m in Side}
_TYPE = {m.value: m for m in OrderType}
_TIF = {m.value: m for m in TimeInForce}
_STP = {m.value: m for m in StpMode}
_WORKING = {m.value: m for m in WorkingType}

BUY, SELL = Side.BUY, Side.SELL
LIMIT = OrderType.LIMIT
GTC, FOK, GTX = TimeInForce.GTC, TimeInForce.FOK, TimeInForce.GTX
STP_NONE = StpMode.NONE
CONTRACT, MARK = WorkingType.CONTRACT_PRICE, WorkingType.MARK_PRICE
_STP_EXPIRE = {
    StpMode.EXPIRE_TAKER: ExpireReason.STP_EXPIRE_TAKER,
    StpMode.EXPIRE_MAKER: ExpireReason.STP_EXPIRE_MAKER,
    StpMode.EXPIRE_BOTH: ExpireReason.STP_EXPIRE_BOTH,
}
_NO_LIMIT = -(1 << 127)  # a key below every level key: market orders cross everything

R = RejectReason


class Engine:
    """The matching engine. Deterministic: equal command streams give equal events."""

    def __init__(self, symbols: Iterable[SymbolSpec]) -> None:
        self._symbols: dict[str, SymbolState] = {}
        for spec in symbols:
            if spec.symbol in self._symbols:
                raise ValueError(f"symbol {spec.symbol!r} configured twice")
            self._symbols[spec.symbol] = SymbolState(spec)
        self._orders: dict[int, Order] = {}  # every open order (resting or pending)
        self._by_account: dict[int, dict[int, Order]] = {}
        self._client_ids: dict[tuple[int, str], Order] = {}
        self._trade_id = 0
        self._priority = 0
        # Reduce-only enforcement is off unless a position keeper installs this hook:
        # (account, symbol, side, events so far in this command) -> the quantity an order
        # of that side may still trade without taking the position beyond zero.
        self.reduce_only_cap: Callable[[int, str, Side, list[Event]], int] | None = None
        self._handlers: dict[type, Callable[[Any], list[Event]]] = {
            NewOrder: self._new_order,
            Cancel: self._cancel,
            CancelAll: self._cancel_all,
            Amend: self._amend,
            SetMarkPrice: self._set_mark_price,
        }

    # -- public interface ---------------------------------------------------------

    def apply(self, command: Command) -> list[Event]:
        """Execute one command and return the events it produced, in order."""
        try:
            handler = self._handlers[type(command)]
        except KeyError:
            raise TypeError(f"not a Titan command: {type(command).__name__}") from None
        return handler(command)

    @property
    def symbols(self) -> list[str]:
        """Configured symbols, in configuration order."""
        return list(self._symbols)

    def spec(self, symbol: str) -> SymbolSpec:
        """The trading rules of ``symbol`` (KeyError if unknown)."""
        return self._symbols[symbol].spec

    def book(self, symbol: str) -> OrderBook:
        """The live order book of ``symbol`` (read it, never mutate it)."""
        return self._symbols[symbol].book

    def best_bid(self, symbol: str) -> DepthLevel | None:
        """Best bid (price, qty, count) or None."""
        return self._symbols[symbol].book.best_bid()

    def best_ask(self, symbol: str) -> DepthLevel | None:
        """Best ask (price, qty, count) or None."""
        return self._symbols[symbol].book.best_ask()

    def depth(self, symbol: str, n: int = 10) -> Depth:
        """L2 depth: the best ``n`` price levels per side, best first."""
        return self._symbols[symbol].book.depth(n)

    def l3(self, symbol: str) -> dict[str, list[OrderView]]:
        """L3: every resting order per side, best level first, queue order within a level."""
        book = self._symbols[symbol].book
        return {
            "bids": [o.view() for o in book.orders(BUY)],
            "asks": [o.view() for o in book.orders(SELL)],
        }

    def pending_triggers(self, symbol: str) -> list[OrderView]:
        """Conditional orders of ``symbol`` waiting for their trigger, in firing order."""
        return [o.view() for o in self._symbols[symbol].triggers.pending()]

    def open_orders(self, account: int, symbol: str | None = None) -> list[OrderView]:
        """Open orders (resting and pending) of ``account``, by order id."""
        orders = self._by_account.get(account, {})
        return [
            orders[oid].view()
            for oid in sorted(orders)
            if symbol is None or orders[oid].symbol == symbol
        ]

    def order(self, order_id: int) -> OrderView | None:
        """The open order ``order_id``, or None if it is not open."""
        o = self._orders.get(order_id)
        return None if o is None else o.view()

    def last_price(self, symbol: str) -> int:
        """Last trade price of ``symbol`` (0 before the first trade)."""
        return self._symbols[symbol].last_price

    def mark_price(self, symbol: str) -> int:
        """Last mark price fed for ``symbol`` (0 before the first)."""
        return self._symbols[symbol].mark_price

    def export_state(self) -> dict[str, Any]:
        """The full state as plain data (see :mod:`titan.state`); ``restore`` inverts it."""
        return build_state(self._symbols.values(), trade_id=self._trade_id, priority=self._priority)

    @classmethod
    def restore(cls, state: dict[str, Any]) -> Engine:
        """Rebuild an engine from :meth:`export_state` output.

        Raises ValueError naming the first problem if the state is malformed or breaks an
        invariant (so a corrupted snapshot is never silently loaded; see :mod:`titan.state`).
        """
        engine = cls(read_specs(state))
        engine._load(state)
        return engine

    def _load(self, state: dict[str, Any]) -> None:
        """Fill this fresh engine (built from the state's specs) with ``state``."""
        max_priority = 0
        for raw, ss in zip(state["symbols"], self._symbols.values(), strict=True):
            top = load_symbol(
                raw, ss, orders=self._orders, client_ids=self._client_ids, index=self._index
            )
            max_priority = max(max_priority, top)
        self._trade_id, self._priority = read_counters(state, max_priority)
        refuse_broken(self.check_invariants())

    def state_hash(self) -> str:
        """SHA-256 (hex) of the canonical encoding of the whole state."""
        return hashlib.sha256(encode_state(self.export_state())).hexdigest()

    def check_invariants(self) -> list[str]:
        """Every violated invariant, empty when sound (see :mod:`titan.invariants`)."""
        return engine_errors(
            symbols=self._symbols,
            orders=self._orders,
            by_account=self._by_account,
            client_ids=self._client_ids,
        )

    # -- index maintenance ------------------------------------------------------------

    # An account's dict stays (empty) once created: accounts are few and long-lived, and
    # re-creating the dict for every order of a one-order account costs more than it saves.

    def _index(self, o: Order) -> None:
        self._orders[o.order_id] = o
        acct = self._by_account.get(o.account)
        if acct is None:
            self._by_account[o.account] = {o.order_id: o}
        else:
            acct[o.order_id] = o
        if o.client_order_id:
            self._client_ids[(o.account, o.client_order_id)] = o

    def _deindex(self, o: Order) -> None:
        del self._orders[o.order_id]
        del self._by_account[o.account][o.order_id]
        if o.client_order_id:
            del self._client_ids[(o.account, o.client_order_id)]

    # -- new orders -------------------------------------------------------------------

    def _reject(self, cmd: Any, request: Request, reason: RejectReason) -> list[Event]:
        """One Rejected event. Identifying fields are echoed only when well-typed, so an
        event never carries a float, None or a container from a malformed command."""
        symbol = cmd.symbol
        order_id = getattr(cmd, "order_id", 0)
        account = getattr(cmd, "account", 0)
        coid = getattr(cmd, "client_order_id", "")
        return [
            _tuple_new(
                Rejected,
                (
                    cmd.seq,
                    cmd.ts,
                    symbol if type(symbol) is str else "",
                    request,
                    order_id if type(order_id) is int else 0,
                    account if type(account) is int else 0,
                    coid if type(coid) is str else "",
                    reason,
                ),
            )
        ]

    def _new_order(self, cmd: NewOrder) -> list[Event]:
        (seq, ts, symbol, account, oid, side, qty, price, otype, tif, stop, working,
         reduce_only, coid, stp) = cmd  # fmt: skip
        ss = self._symbols.get(symbol) if type(symbol) is str else None
        # Fast path: a plain GTC limit order (the bulk of any flow) that certainly passes
        # every rule of validate_new and does not cross rests at once. Anything else, or
        # any doubt, takes the full path below, which decides and words the rejection.
        if (
            otype is LIMIT and tif is GTC and stp is STP_NONE and working is CONTRACT
            and ss is not None and stop == 0 and type(stop) is int and coid == ""
            and type(coid) is str and reduce_only is False
            and type(qty) is int and type(price) is int and type(oid) is int
            and type(account) is int and 0 < qty <= MAX_VALUE and 0 < price <= MAX_VALUE
            and 0 < oid <= MAX_VALUE and 0 <= account <= MAX_VALUE
            and oid not in self._orders
        ):  # fmt: skip
            spec = ss.spec
            book = ss.book
            if side is BUY:
                keys = book.ask_keys
                crosses = keys and keys[-1] >= -price
            elif side is SELL:
                keys = book.bid_keys
                crosses = keys and keys[-1] >= price
            else:
                crosses = True
            if (
                not crosses and not qty % spec.lot and not price % spec.tick
                and not (spec.max_qty and qty > spec.max_qty)
                and not (spec.min_notional and price * qty < spec.min_notional)
                and not spec.band_bps
            ):  # fmt: skip
                o = open_order(  # a plain GTC limit order: every other field is the default
                    order_id=oid, account=account, symbol=symbol, side=side, price=price, qty=qty
                )
                ss.open_qty += qty
                self._priority += 1
                o.priority = self._priority
                book.append(o)
                self._index(o)
                return [
                    _tuple_new(
                        Accepted,
                        (seq, ts, symbol, oid, account, side, LIMIT, GTC, price, qty, 0, ""),
                    )
                ]
        if ss is None:
            return self._reject(cmd, Request.NEW, R.UNKNOWN_SYMBOL)
        # Normalise enum fields to their members; the identity tests are the fast path
        # for commands built with members, the tables catch plain strings and garbage.
        side_ = (
            side
            if side is BUY or side is SELL
            else _SIDE.get(side)
            if isinstance(side, str)
            else None
        )
        if side_ is None:
            return self._reject(cmd, Request.NEW, R.INVALID_SIDE)
        type_ = otype if otype is LIMIT else _TYPE.get(otype) if isinstance(otype, str) else None
        if type_ is None:
            return self._reject(cmd, Request.NEW, R.INVALID_ORDER_TYPE)
        tif_ = tif if tif is GTC else _TIF.get(tif) if isinstance(tif, str) else None
        if tif_ is None:
            return self._reject(cmd, Request.NEW, R.INVALID_TIME_IN_FORCE)
        stp_ = stp if stp is STP_NONE else _STP.get(stp) if isinstance(stp, str) else None
        if stp_ is None:
            return self._reject(cmd, Request.NEW, R.INVALID_STP_MODE)
        working_ = (
            working
            if working is CONTRACT
            else _WORKING.get(working)
            if isinstance(working, str)
            else None
        )
        if working_ is None:
            return self._reject(cmd, Request.NEW, R.INVALID_WORKING_TYPE)
        if type(account) is not int or not 0 <= account <= MAX_VALUE:
            return self._reject(cmd, Request.NEW, R.INVALID_ACCOUNT)
        side, otype, tif, stp, working = side_, type_, tif_, stp_, working_
        reason = validate_new(
            cmd, ss, side, otype, tif, orders=self._orders, client_ids=self._client_ids
        )
        if reason is not None:
            return self._reject(cmd, Request.NEW, reason)

        o = open_order(
            order_id=oid,
            account=account,
            symbol=symbol,
            side=side,
            price=price,
            qty=qty,
            type=otype,
            tif=tif,
            stop_price=stop,
            working_type=working,
            reduce_only=bool(reduce_only),
            client_order_id=coid,
            stp=stp,
        )
        events: list[Event] = [
            _tuple_new(
                Accepted,
                (seq, ts, symbol, oid, account, side, otype, tif, price, qty, stop, coid),
            )
        ]
        ss.open_qty += qty
        if otype in CONDITIONAL_TYPES:
            self._priority += 1
            o.priority = self._priority
            ss.triggers.add(o)
            self._index(o)
            return events
        if self._execute(ss, o, events, seq, ts) and ss.triggers.orders:
            self._fire_triggers(ss, events, seq, ts)
        return events

    def _execute(self, ss: SymbolState, o: Order, events: list[Event], seq: int, ts: int) -> bool:
        """Run an unindexed executable order: match, then rest or expire the remainder.

        Returns True if anything traded (the last price may have moved).
        """
        book = ss.book
        tif = o.tif
        market = o.type in MARKET_TYPES
        if o.side is BUY:
            keys = book.ask_keys
            limit_key = _NO_LIMIT if market else -o.price
        else:
            keys = book.bid_keys
            limit_key = _NO_LIMIT if market else o.price
        before = o.qty
        stp_reason: ExpireReason | None = None
        if keys and keys[-1] >= limit_key:  # the order crosses
            if tif is GTX:
                self._expire(ss, o, ExpireReason.POST_ONLY_WOULD_TAKE, events, seq, ts)
                return False
            if tif is FOK and not self._fillable(book, o, limit_key):
                self._expire(ss, o, ExpireReason.FOK_NOT_FILLABLE, events, seq, ts)
                return False
            if o.reduce_only and self.reduce_only_cap is not None:
                cap = self.reduce_only_cap(o.account, o.symbol, o.side, events)
                if cap <= 0:
                    self._expire(ss, o, ExpireReason.REDUCE_ONLY, events, seq, ts)
                    return False
                if cap < o.qty:
                    self._shrink(ss, o, cap, events, seq, ts)
            stp_reason = self._match(ss, o, limit_key, events, seq, ts)
        elif tif is FOK:
            self._expire(ss, o, ExpireReason.FOK_NOT_FILLABLE, events, seq, ts)
            return False
        if o.qty:
            if stp_reason is not None:
                self._expire(ss, o, stp_reason, events, seq, ts)
            elif market:
                self._expire(ss, o, ExpireReason.MARKET_REMAINDER, events, seq, ts)
            elif tif is GTC or tif is GTX:
                self._priority += 1
                o.priority = self._priority
                book.append(o)
                self._index(o)
            else:
                self._expire(ss, o, ExpireReason.IOC_REMAINDER, events, seq, ts)
        return o.qty != before

    def _expire(
        self,
        ss: SymbolState,
        o: Order,
        reason: ExpireReason,
        events: list[Event],
        seq: int,
        ts: int,
    ) -> None:
        """Expire the open quantity of an order that is not resting and not indexed."""
        events.append(
            _tuple_new(Expired, (seq, ts, o.symbol, o.order_id, o.account, o.qty, reason))
        )
        ss.open_qty -= o.qty

    def _fillable(self, book: OrderBook, o: Order, limit_key: int) -> bool:
        """Whether a FOK taker can fill completely, honouring its STP mode. O(levels)."""
        if o.side is BUY:
            keys, levels = book.ask_keys, book.asks
        else:
            keys, levels = book.bid_keys, book.bids
        need = o.qty
        stp = o.stp
        for key in reversed(keys):
            if key < limit_key:
                break
            level = levels[key]
            if stp is STP_NONE:
                need -= level.qty
                if need <= 0:
                    return True
                continue
            for maker in level.orders():
                if maker.account == o.account:
                    if stp is StpMode.EXPIRE_MAKER:
                        continue
                    return False
                need -= maker.qty
                if need <= 0:
                    return True
        return False

    def _match(
        self,
        ss: SymbolState,
        taker: Order,
        limit_key: int,
        events: list[Event],
        seq: int,
        ts: int,
    ) -> ExpireReason | None:
        """Trade ``taker`` against the opposite side while it crosses ``limit_key``.

        Reduces ``taker.qty``; returns the STP expire reason if self-trade prevention
        stopped the taker, else None. The maker at the head of a level is always the
        next to trade: everything in front of it has been filled or expired.
        """
        book = ss.book
        if taker.side is BUY:
            keys, levels = book.ask_keys, book.asks
        else:
            keys, levels = book.bid_keys, book.bids
        symbol = ss.spec.symbol
        remaining = taker.qty
        tacct = taker.account
        toid = taker.order_id
        tside = taker.side
        stp = taker.stp
        check_stp = stp is not STP_NONE
        cap_hook = self.reduce_only_cap
        append = events.append
        tid = self._trade_id
        traded = 0
        last = 0  # price of the last fill; a level where STP only expired makers has none
        stp_reason: ExpireReason | None = None
        while keys:
            key = keys[-1]
            if key < limit_key:
                break
            level = levels[key]
            price = level.price
            o = level.head
            while o is not None:
                nxt = o.next
                if check_stp and o.account == tacct:
                    if stp is StpMode.EXPIRE_TAKER:
                        stp_reason = ExpireReason.STP_EXPIRE_TAKER
                        break
                    reason = _STP_EXPIRE[stp]
                    level.pop_head()  # the level itself is dropped below once empty
                    self._deindex(o)
                    append(
                        _tuple_new(Expired, (seq, ts, symbol, o.order_id, o.account, o.qty, reason))
                    )
                    ss.open_qty -= o.qty
                    if stp is StpMode.EXPIRE_BOTH:
                        stp_reason = reason
                        break
                    o = nxt
                    continue
                if o.reduce_only and cap_hook is not None:
                    cap = cap_hook(o.account, symbol, o.side, events)
                    if cap <= 0:
                        level.pop_head()  # the level itself is dropped below once empty
                        self._deindex(o)
                        append(
                            _tuple_new(
                                Expired,
                                (
                                    seq,
                                    ts,
                                    symbol,
                                    o.order_id,
                                    o.account,
                                    o.qty,
                                    ExpireReason.REDUCE_ONLY,
                                ),
                            )  # fmt: skip
                        )
                        ss.open_qty -= o.qty
                        o = nxt
                        continue
                    if cap < o.qty:
                        self._shrink(ss, o, cap, events, seq, ts)
                q = o.qty
                if q <= remaining:
                    fill = q
                    remaining -= q
                    level.pop_head()
                    o.qty = 0
                    o.filled += q
                    self._deindex(o)
                else:
                    fill = remaining
                    o.qty = q - remaining
                    o.filled += remaining
                    level.qty -= remaining
                    remaining = 0
                tid += 1
                traded += fill
                last = price
                append(
                    _tuple_new(
                        Trade,
                        (
                            seq,
                            ts,
                            symbol,
                            tid,
                            price,
                            fill,
                            tside,
                            o.order_id,
                            toid,
                            o.account,
                            tacct,
                            o.qty,
                            remaining,
                        ),
                    )
                )
                if not remaining:
                    break
                o = nxt
            if level.count == 0:
                del levels[key]
                keys.pop()
            if not remaining or stp_reason is not None:
                break
        self._trade_id = tid
        if traded:
            taker.qty = remaining
            taker.filled += traded
            ss.open_qty -= 2 * traded
            ss.last_price = last
        return stp_reason

    def _shrink(
        self, ss: SymbolState, o: Order, qty: int, events: list[Event], seq: int, ts: int
    ) -> None:
        """Cut a reduce-only order down to ``qty`` (its priority kept), as an Amended event."""
        cut = o.qty - qty
        o.qty = qty
        if o.level is not None:
            o.level.qty -= cut
        ss.open_qty -= cut
        events.append(
            _tuple_new(Amended, (seq, ts, o.symbol, o.order_id, o.account, o.price, qty, True))
        )

    def _fire_triggers(self, ss: SymbolState, events: list[Event], seq: int, ts: int) -> None:
        """Release every conditional order the current prices fire, in batches.

        A batch is every pending order that the current last price fires (rising before
        falling, nearest stop first, then time), then every one the current mark price
        fires, each taken out of the trigger book at once with the price that fired it.
        The batch then runs in that order; if its trades moved the last price, the next
        batch is taken at the new price. Each batch empties part of the trigger book and
        nothing is added to it, so the cascade ends.
        """
        triggers = ss.triggers
        while triggers.orders:
            batch: list[tuple[Order, int]] = []
            for working, price in ((CONTRACT, ss.last_price), (MARK, ss.mark_price)):
                if price:
                    o = triggers.pop_fired(working, price)
                    while o is not None:
                        batch.append((o, price))
                        o = triggers.pop_fired(working, price)
            if not batch:
                return
            for o, _ in batch:
                self._deindex(o)
            for o, fired_by in batch:
                events.append(
                    _tuple_new(Triggered, (seq, ts, o.symbol, o.order_id, o.account, fired_by))
                )
                self._execute(ss, o, events, seq, ts)

    # -- cancel, amend, mark price ------------------------------------------------------

    def _owned(self, cmd: Cancel | Amend, o: Order | None, request: Request) -> Order | list[Event]:
        """``o`` if it is an open order of the caller in the command's symbol, else the
        rejection to return (UNKNOWN_ORDER, or FOREIGN_ORDER for another account's)."""
        if o is None or o.symbol != cmd.symbol:
            return self._reject(cmd, request, R.UNKNOWN_ORDER)
        if o.account != cmd.account:
            return self._reject(cmd, request, R.FOREIGN_ORDER)
        return o

    def _remove_open(self, ss: SymbolState, o: Order) -> None:
        """Take an open order out of the book or trigger book and out of every index."""
        if o.level is not None:
            ss.book.unlink(o)
        else:
            ss.triggers.remove(o)
        self._deindex(o)
        ss.open_qty -= o.qty

    def _cancel(self, cmd: Cancel) -> list[Event]:
        seq, ts, symbol, account, oid, coid = cmd
        ss = self._symbols.get(symbol) if type(symbol) is str else None
        if ss is None:
            return self._reject(cmd, Request.CANCEL, R.UNKNOWN_SYMBOL)
        if type(account) is not int:
            return self._reject(cmd, Request.CANCEL, R.INVALID_ACCOUNT)
        if oid:
            o = self._orders.get(oid) if type(oid) is int else None
        elif coid and type(coid) is str:
            o = self._client_ids.get((account, coid))
        else:
            return self._reject(cmd, Request.CANCEL, R.INVALID_ORDER_ID)
        # _owned and _remove_open inlined: cancels are half of real order flow and the
        # two calls cost about 5% of LOBSTER throughput (bench/titan_bench.py).
        if o is None or o.symbol != symbol:
            return self._reject(cmd, Request.CANCEL, R.UNKNOWN_ORDER)
        if o.account != account:
            return self._reject(cmd, Request.CANCEL, R.FOREIGN_ORDER)
        if o.level is not None:
            ss.book.unlink(o)
        else:
            ss.triggers.remove(o)
        self._deindex(o)
        ss.open_qty -= o.qty
        return [
            _tuple_new(Cancelled, (seq, ts, symbol, o.order_id, account, o.qty, CancelReason.USER))
        ]

    def _cancel_all(self, cmd: CancelAll) -> list[Event]:
        ss = self._symbols.get(cmd.symbol) if type(cmd.symbol) is str else None
        if ss is None:
            return self._reject(cmd, Request.CANCEL_ALL, R.UNKNOWN_SYMBOL)
        if type(cmd.account) is not int:
            return self._reject(cmd, Request.CANCEL_ALL, R.INVALID_ACCOUNT)
        mine = self._by_account.get(cmd.account, {})
        targets = sorted(oid for oid, o in mine.items() if o.symbol == cmd.symbol)
        events: list[Event] = []
        for oid in targets:
            o = self._orders[oid]
            self._remove_open(ss, o)
            events.append(
                _tuple_new(
                    Cancelled,
                    (cmd.seq, cmd.ts, o.symbol, oid, o.account, o.qty, CancelReason.CANCEL_ALL),
                )
            )
        return events

    def _amend(self, cmd: Amend) -> list[Event]:
        ss = self._symbols.get(cmd.symbol) if type(cmd.symbol) is str else None
        if ss is None:
            return self._reject(cmd, Request.AMEND, R.UNKNOWN_SYMBOL)
        if type(cmd.account) is not int:
            return self._reject(cmd, Request.AMEND, R.INVALID_ACCOUNT)
        oid = cmd.order_id
        found = self._owned(cmd, self._orders.get(oid) if type(oid) is int else None, Request.AMEND)
        if isinstance(found, list):
            return found
        o = found
        if o.level is None:
            return self._reject(cmd, Request.AMEND, R.ORDER_NOT_AMENDABLE)
        price, qty = cmd.price, cmd.qty
        reason = validate_amend(cmd, ss, o)
        if reason is not None:
            return self._reject(cmd, Request.AMEND, reason)

        seq, ts = cmd.seq, cmd.ts
        keep = price == o.price and qty < o.qty
        events: list[Event] = [
            _tuple_new(Amended, (seq, ts, o.symbol, o.order_id, o.account, price, qty, keep))
        ]
        ss.open_qty += qty - o.qty
        if keep:
            level = o.level
            assert level is not None
            level.qty -= o.qty - qty
            o.qty = qty
            return events
        ss.book.unlink(o)
        self._deindex(o)
        o.price = price
        o.qty = qty
        if self._execute(ss, o, events, seq, ts) and ss.triggers.orders:
            self._fire_triggers(ss, events, seq, ts)
        return events

    def _set_mark_price(self, cmd: SetMarkPrice) -> list[Event]:
        ss = self._symbols.get(cmd.symbol) if type(cmd.symbol) is str else None
        if ss is None:
            return self._reject(cmd, Request.MARK_PRICE, R.UNKNOWN_SYMBOL)
        if type(cmd.price) is not int or not 0 < cmd.price <= MAX_VALUE:
            return self._reject(cmd, Request.MARK_PRICE, R.INVALID_PRICE)
        ss.mark_price = cmd.price
        events: list[Event] = []
        if ss.triggers.orders:
            self._fire_triggers(ss, events, cmd.seq, cmd.ts)
        return events
