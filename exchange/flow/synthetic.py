"""A seeded, deterministic synthetic order flow for Titan.

:class:`OrderFlow` draws Titan commands (``NewOrder``, ``Cancel``, ``Amend`` and
``SetMarkPrice``) over one or more symbols from ``random.Random(seed)``. It never runs
the engine: it keeps its own *estimate* of which of its orders are still open.

Rules
-----
- Determinism: equal arguments give equal command streams, in every process and under
  every PYTHONHASHSEED (no set iteration, no clock, no ``id()``). Floats are used only to
  *draw*; every emitted value is an integer in the symbol's units.
- Stamping: commands carry ``seq`` 1, 2, 3, ... and ``ts`` from a synthetic integer
  nanosecond clock that starts at ``start_ts`` and advances by a random gap (>= 1 ns)
  per command. A new order's ``order_id`` is its ``seq``, so ids never collide.
- Opening phase: the stream starts with one ``SetMarkPrice`` per symbol at its start mid
  (the mark anchors Titan's price band, so the flow knows the band's reference price),
  then, in deep mode, ``deep_orders`` resting orders on each of ``deep_levels`` price
  levels per symbol (alternately the bid and the ask nearest the mid, moving outwards).
  :meth:`OrderFlow.opening` hands that phase out on its own (e.g. to apply it untimed).
- Mixed flow: per command a symbol is drawn uniformly and its mid price takes one step
  of a mean-reverting random walk (an endless run stays near the start price). Then one
  of: a passive limit order near the mid (GTC, 10% GTX post-only), a crossing limit
  (IOC, FOK or GTC), a market order, a cancel or an amend of one of the flow's own
  open orders (weights: :class:`Mix`). A mark price (the rounded mid) is sent every
  ``mark_every`` commands, and whenever the mid strays a quarter of the band from the
  last mark.
- Validity: prices are on the tick grid and inside the band around the last mark sent,
  quantities on the lot grid, at most ``max_qty``, and ``price * qty >= min_notional``
  (market orders are sized against the mark, Titan's reference price). Amends always
  change something, and post-only orders are only re-priced away from the book. The
  only rejections the default flow can meet are cancels and amends of orders the flow
  wrongly believes open (``UNKNOWN_ORDER``); ``invalid_fraction`` adds deliberately
  invalid commands (off by default).
- Open-order estimate: the flow keeps a *shadow* of its orders: per symbol and side a
  heap in price-then-arrival order, with each order's open quantity. Every order it
  emits that can trade (crossing, market, an amend to a crossing price, a passive order
  that the drifting mid made marketable) consumes the shadow's opposite side as price-
  time priority would, FOK only when the crossing quantity suffices, GTX never. The
  shadow does not model self-trade prevention (the flow uses none) or anything the flow
  did not emit, so it is an estimate: it is exact only while the flow is the engine's
  sole input, and then cancels and amends always find their order.
- Bounded book: the flow tracks at most ``max_live`` open orders per symbol (plus the
  deep seed); at the cap a new passive order is replaced by a cancel, and below half
  the cap (plus the deep seed) cancels are damped (probability ``(n / target)**2``), so
  the book settles near that target. Every resting order is tracked until the flow
  cancels it or deems it filled, and stale shadow entries are compacted, so an endless
  run keeps Titan's book and the flow's own memory bounded.
- Deep mode also sends ``deep_share`` of the passive orders to the deep levels of their
  side, so those queues are replenished as the flow trades against and cancels them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from heapq import heapify, heappop, heappush
from typing import NamedTuple

from titan import (
    Amend,
    Cancel,
    Command,
    NewOrder,
    OrderType,
    SetMarkPrice,
    Side,
    SymbolSpec,
    TimeInForce,
)

#: Start mid prices (decimal strings) of the embedded default symbols.
DEFAULT_MIDS: dict[str, str] = {"BTCUSDT": "30000", "ETHUSDT": "2000"}

#: Synthetic clock origin: 2024-01-01T00:00:00Z in nanoseconds.
START_TS = 1_704_067_200_000_000_000

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK, GTX = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTX
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
_NO_LIMIT = 1 << 126  # a heap key above every price key: a market order crosses all


class Mix(NamedTuple):
    """Relative weights of the mixed flow's command kinds (they need not sum to 1)."""

    passive: float = 0.52
    crossing: float = 0.05
    market: float = 0.03
    cancel: float = 0.32
    amend: float = 0.08


#: The default command mix.
DEFAULT_MIX = Mix()


class _Tracked:
    """The flow's view of one of its open orders. ``prio`` validates its heap entry."""

    __slots__ = ("account", "price", "prio", "qty", "side", "tif")

    def __init__(
        self, account: int, side: Side, price: int, qty: int, tif: TimeInForce, prio: int
    ) -> None:
        self.account = account
        self.side = side
        self.price = price
        self.qty = qty
        self.tif = tif
        self.prio = prio


class _Symbol:
    """Per-symbol generator state: spec-derived limits, the walk, the shadow book.

    Shadow heaps hold ``(key, prio, order_id)``; the key is ``price`` for asks and
    ``-price`` for bids, so the best order of each side is ``heap[0]``. An entry whose
    ``prio`` differs from the tracked order's (cancelled, re-queued) is stale and skipped.
    """

    __slots__ = (
        "anchor",
        "asks",
        "band_bps",
        "bids",
        "cap",
        "deep",
        "hi",
        "info",
        "live",
        "lo",
        "lot",
        "mark",
        "max_lots",
        "mean_offset",
        "mid",
        "min_notional",
        "pos",
        "spec",
        "symbol",
        "target",
        "tick",
        "vol",
    )

    def __init__(self, spec: SymbolSpec, mid_units: int, vol_bps: float, offset_bps: float) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.tick = spec.tick
        self.lot = spec.lot
        self.min_notional = spec.min_notional
        self.band_bps = spec.band_bps
        self.max_lots = spec.max_qty // spec.lot if spec.max_qty else 1 << 62
        mid_ticks = max(1, (mid_units + spec.tick // 2) // spec.tick)
        self.anchor = float(mid_ticks)  # the walk reverts to the start mid, in ticks
        self.mid = float(mid_ticks)  # current mid, in ticks
        self.mark = mid_ticks * spec.tick  # last mark price sent, in price units
        self.vol = vol_bps * mid_ticks / 10_000  # walk step sd, in ticks
        self.mean_offset = max(offset_bps * mid_ticks / 10_000, 1.0)  # in ticks
        self.live: list[int] = []  # ids of open orders, for uniform picks (swap-remove)
        self.pos: dict[int, int] = {}  # order id -> index in live
        self.info: dict[int, _Tracked] = {}
        self.bids: list[tuple[int, int, int]] = []
        self.asks: list[tuple[int, int, int]] = []
        self.cap = self.target = 0
        self.deep: tuple[list[int], list[int]] = ([], [])  # deep bid / ask prices
        self.lo = self.hi = 0
        self.set_mark(self.mark)
        if self.min_lots(self.lo * self.tick) > self.max_lots:
            raise ValueError(
                f"{spec.symbol}: no quantity satisfies min_notional and max_qty near mid "
                f"{spec.price_decimal(mid_units)}"
            )

    def min_lots(self, price: int) -> int:
        """Fewest lots whose notional at ``price`` reaches min_notional (>= 1)."""
        if not self.min_notional or price <= 0:
            return 1
        return max(1, -(-self.min_notional // (price * self.lot)))

    def set_mark(self, mark: int) -> None:
        """Record the mark sent and the band it implies: ``lo``..``hi`` in ticks."""
        self.mark = mark
        if not self.band_bps:
            self.lo, self.hi = 1, 1 << 62
            return
        lo = -(-mark * (10_000 - self.band_bps) // 10_000)  # ceil
        self.lo = max(1, -(-lo // self.tick))
        self.hi = mark * (10_000 + self.band_bps) // 10_000 // self.tick


class OrderFlow:
    """A deterministic stream of Titan commands; see the module docstring for the rules.

    ``specs``: the symbols to trade. ``seed``: the RNG seed. ``mids``: start mid price
    per symbol as a decimal in quote units (default :data:`DEFAULT_MIDS`, else 10,000
    ticks). ``deep_levels``/``deep_orders``: deep-book mode, ``deep_orders`` resting
    orders on each of ``deep_levels`` levels per symbol in the opening phase;
    ``deep_share`` of the later passive orders replenish those levels. ``accounts``:
    trading accounts (ids 1..accounts). ``max_live``: open orders tracked per symbol
    beyond the deep seed. ``invalid_fraction``: share of deliberately invalid
    commands. ``mark_every``: commands between periodic mark prices (0: only when the
    mid strays). ``vol_bps``: sd of one walk step; ``offset_bps``: mean distance of a
    passive order from the mid; ``mean_gap_ns``: mean clock advance per command.
    """

    def __init__(
        self,
        specs: Iterable[SymbolSpec],
        seed: int = 1,
        *,
        mids: Mapping[str, Decimal | str | int] | None = None,
        deep_levels: int = 0,
        deep_orders: int = 10_000,
        deep_share: float = 0.5,
        accounts: int = 16,
        max_live: int = 2_000,
        invalid_fraction: float = 0.0,
        mark_every: int = 1_000,
        mix: Mix = DEFAULT_MIX,
        vol_bps: float = 0.05,
        offset_bps: float = 0.5,
        mean_gap_ns: int = 50_000,
        start_ts: int = START_TS,
    ) -> None:
        if accounts < 1:
            raise ValueError("accounts must be at least 1")
        if deep_levels < 0 or deep_orders < 0 or max_live < 1:
            raise ValueError("deep_levels and deep_orders must be >= 0, max_live >= 1")
        if not 0.0 <= invalid_fraction <= 1.0 or not 0.0 <= deep_share <= 1.0:
            raise ValueError("invalid_fraction and deep_share must lie in [0, 1]")
        if vol_bps < 0 or offset_bps < 0:
            raise ValueError("vol_bps and offset_bps must be non-negative")
        if min(mix) < 0 or sum(mix) <= 0:
            raise ValueError("mix weights must be non-negative and not all zero")
        self.seed = seed
        self._rng = random.Random(seed)
        mid_of = dict(DEFAULT_MIDS if mids is None else mids)
        self._symbols: list[_Symbol] = []
        for spec in specs:
            if any(s.symbol == spec.symbol for s in self._symbols):
                raise ValueError(f"symbol {spec.symbol!r} given twice")
            if spec.symbol in mid_of:
                mid_units = spec.price_units(Decimal(str(mid_of[spec.symbol])), "mid")
            else:
                mid_units = 10_000 * spec.tick
            if mid_units <= 0:
                raise ValueError(f"{spec.symbol}: the start mid must be positive")
            self._symbols.append(_Symbol(spec, mid_units, vol_bps, offset_bps))
        if not self._symbols:
            raise ValueError("at least one symbol is required")
        self._accounts = accounts
        self._max_live = max_live
        self._invalid = invalid_fraction
        self._mark_every = mark_every
        self._deep_share = deep_share
        total = sum(mix)
        cum = 0.0
        self._thresholds: list[float] = []
        for weight in mix:
            cum += weight / total
            self._thresholds.append(cum)
        self._gap_rate = 1.0 / max(1, mean_gap_ns)
        self._seq = 0
        self._ts = start_ts
        self._since_mark = 0
        self._pending: list[Command] = self._build_opening(deep_levels, deep_orders)
        self._pending.reverse()  # pop() from the end hands them out in order

    # -- public interface -------------------------------------------------------------

    @property
    def specs(self) -> list[SymbolSpec]:
        """The symbols of this flow, in the order given."""
        return [s.spec for s in self._symbols]

    @property
    def emitted(self) -> int:
        """Number of commands handed out so far (the seq of the last one)."""
        return self._seq - len(self._pending)

    def opening(self) -> list[Command]:
        """The opening-phase commands not yet handed out (marks, deep seed), in order."""
        out = self._pending[::-1]
        self._pending.clear()
        return out

    def take(self, n: int) -> list[Command]:
        """The next ``n`` commands (what is left of the opening phase first)."""
        out: list[Command] = []
        pending = self._pending
        while pending and len(out) < n:
            out.append(pending.pop())
        step = self._step
        for _ in range(n - len(out)):
            out.append(step())
        return out

    def __iter__(self) -> Iterator[Command]:
        return self

    def __next__(self) -> Command:
        if self._pending:
            return self._pending.pop()
        return self._step()

    def open_estimate(self, symbol: str | None = None) -> int:
        """How many orders the flow believes open (in ``symbol``, or in all symbols)."""
        return sum(len(s.live) for s in self._symbols if symbol is None or s.symbol == symbol)

    def mid(self, symbol: str) -> int:
        """The flow's current mid price of ``symbol``, in price units (on the tick grid)."""
        for s in self._symbols:
            if s.symbol == symbol:
                return max(1, round(s.mid)) * s.tick
        raise KeyError(symbol)

    # -- stamping and the shadow book --------------------------------------------------

    def _stamp(self) -> tuple[int, int]:
        self._seq += 1
        self._ts += 1 + int(self._rng.expovariate(self._gap_rate))
        return self._seq, self._ts

    def _rest(self, s: _Symbol, oid: int, t: _Tracked) -> None:
        """Track ``t`` as resting at the back of its price (its prio is the newest)."""
        if oid not in s.info:
            s.pos[oid] = len(s.live)
            s.live.append(oid)
            s.info[oid] = t
        if t.side is BUY:
            heappush(s.bids, (-t.price, t.prio, oid))
        else:
            heappush(s.asks, (t.price, t.prio, oid))

    def _untrack(self, s: _Symbol, oid: int) -> None:
        live, pos = s.live, s.pos
        i = pos.pop(oid)
        last = live.pop()
        if last != oid:
            live[i] = last
            pos[last] = i
        del s.info[oid]
        # drop stale heap entries now and then so an endless run stays bounded
        for heap in (s.bids, s.asks):
            if len(heap) > 2 * len(live) + 1_024:
                info = s.info
                heap[:] = [e for e in heap if (t := info.get(e[2])) is not None and t.prio == e[1]]
                heapify(heap)

    def _take(self, s: _Symbol, side: Side, price: int, qty: int, tif: TimeInForce) -> int:
        """Match an incoming order against the shadow; return its unfilled quantity.

        ``price`` 0 means a market order. GTX never takes (the caller checks first).
        """
        if side is BUY:
            heap, limit = s.asks, price or _NO_LIMIT
        else:
            heap, limit = s.bids, -price if price else _NO_LIMIT
        info = s.info
        if tif is FOK:
            # crossing quantity: walk the heap tree, pruning subtrees beyond the limit
            have = 0
            stack = [0]
            size = len(heap)
            while stack and have < qty:
                i = stack.pop()
                if i >= size or heap[i][0] > limit:
                    continue
                _, prio, oid = heap[i]
                t = info.get(oid)
                if t is not None and t.prio == prio:
                    have += t.qty
                stack.append(2 * i + 1)
                stack.append(2 * i + 2)
            if have < qty:
                return qty
        while qty and heap:
            key, prio, oid = heap[0]
            if key > limit:
                break
            t = info.get(oid)
            if t is None or t.prio != prio:
                heappop(heap)
            elif t.qty <= qty:
                qty -= t.qty
                heappop(heap)
                self._untrack(s, oid)
            else:
                t.qty -= qty
                qty = 0
        return qty

    def _crosses(self, s: _Symbol, side: Side, price: int) -> bool:
        """Whether a limit order at ``price`` would take liquidity in the shadow."""
        heap, info = (s.asks, s.info) if side is BUY else (s.bids, s.info)
        while heap:
            key, prio, oid = heap[0]
            t = info.get(oid)
            if t is None or t.prio != prio:
                heappop(heap)
                continue
            return key <= price if side is BUY else key <= -price
        return False

    # -- building blocks ----------------------------------------------------------------

    def _lots(self, s: _Symbol, price: int, mean: float) -> int:
        """A lot count for an order at ``price``: the notional minimum plus a tail."""
        base = s.min_lots(price)
        lots = base + int(self._rng.expovariate(1.0 / (mean * base)))
        return min(lots, s.max_lots)

    def _clamp(self, s: _Symbol, ticks: int) -> int:
        return s.lo if ticks < s.lo else s.hi if ticks > s.hi else ticks

    def _mark_cmd(self, s: _Symbol) -> SetMarkPrice:
        seq, ts = self._stamp()
        s.set_mark(max(1, round(s.mid)) * s.tick)
        self._since_mark = 0
        return SetMarkPrice(seq, ts, s.symbol, s.mark)

    def _build_opening(self, deep_levels: int, deep_orders: int) -> list[Command]:
        out: list[Command] = [self._mark_cmd(s) for s in self._symbols]
        rng = self._rng
        for s in self._symbols:
            s.cap = self._max_live
            s.target = max(1, self._max_live // 2)
            if not deep_levels or not deep_orders:
                continue
            mid = round(s.mid)
            for level in range(deep_levels):
                side = BUY if level % 2 == 0 else SELL
                dist = level // 2 + 1
                price = self._clamp(s, mid - dist if side is BUY else mid + dist) * s.tick
                s.deep[0 if side is BUY else 1].append(price)
                base = s.min_lots(price)
                for _ in range(deep_orders):
                    seq, ts = self._stamp()
                    account = int(rng.random() * self._accounts) + 1
                    qty = min(base * (1 + int(rng.random() * 4)), s.max_lots) * s.lot
                    out.append(NewOrder(seq, ts, s.symbol, account, seq, side, qty, price))
                    left = self._take(s, side, price, qty, GTC)  # a band 1 tick wide
                    if left:
                        self._rest(s, seq, _Tracked(account, side, price, left, GTC, seq))
            s.cap += len(s.live)
            s.target += len(s.live)
        return out

    # -- the mixed flow ---------------------------------------------------------------

    def _step(self) -> Command:
        rng = self._rng
        symbols = self._symbols
        s = symbols[int(rng.random() * len(symbols))] if len(symbols) > 1 else symbols[0]
        # one step of a mean-reverting walk of the mid, in ticks
        s.mid += rng.gauss(0.0, s.vol) + 0.0005 * (s.anchor - s.mid)
        if s.mid < 1.0:
            s.mid = 1.0
        self._since_mark += 1
        if (self._mark_every and self._since_mark >= self._mark_every) or (
            s.band_bps and abs(s.mid * s.tick - s.mark) * 40_000 > s.mark * s.band_bps
        ):
            return self._mark_cmd(s)
        if self._invalid and rng.random() < self._invalid:
            return self._invalid_cmd(s)
        r = rng.random()
        th = self._thresholds
        if r < th[0]:
            if len(s.live) >= s.cap:
                return self._cancel(s)
            return self._passive(s)
        if r < th[1]:
            return self._crossing(s)
        if r < th[2]:
            return self._market(s)
        if r < th[3]:
            # cancel less while the book is below its target size: p = (n / target)**2
            n, target = len(s.live), s.target
            if n < target and rng.random() * target * target > n * n:
                return self._passive(s)
            return self._cancel(s)
        return self._amend(s)

    def _passive(self, s: _Symbol) -> Command:
        rng = self._rng
        seq, ts = self._stamp()
        side = BUY if rng.random() < 0.5 else SELL
        deep = s.deep[0 if side is BUY else 1]
        if deep and rng.random() < self._deep_share:
            # deep mode: replenish one of the deep levels of this side
            price = self._clamp(s, deep[int(rng.random() * len(deep))] // s.tick) * s.tick
        else:
            offset = 1 + int(rng.expovariate(1.0 / s.mean_offset))
            mid = round(s.mid)
            price = self._clamp(s, mid - offset if side is BUY else mid + offset) * s.tick
        qty = self._lots(s, price, 8.0) * s.lot
        tif = GTX if rng.random() < 0.1 else GTC
        account = int(rng.random() * self._accounts) + 1
        if tif is GTX:
            if not self._crosses(s, side, price):  # else Titan expires it: nothing rests
                self._rest(s, seq, _Tracked(account, side, price, qty, tif, seq))
        else:
            left = self._take(s, side, price, qty, tif)
            if left:
                self._rest(s, seq, _Tracked(account, side, price, left, tif, seq))
        return NewOrder(seq, ts, s.symbol, account, seq, side, qty, price, LIMIT, tif)

    def _crossing(self, s: _Symbol) -> Command:
        rng = self._rng
        seq, ts = self._stamp()
        side = BUY if rng.random() < 0.5 else SELL
        through = 1 + int(rng.expovariate(4.0 / s.mean_offset))
        mid = round(s.mid)
        price = self._clamp(s, mid + through if side is BUY else mid - through) * s.tick
        qty = self._lots(s, price, 16.0) * s.lot
        r = rng.random()
        tif = IOC if r < 0.5 else FOK if r < 0.6 else GTC
        account = int(rng.random() * self._accounts) + 1
        left = self._take(s, side, price, qty, tif)
        if left and tif is GTC:
            self._rest(s, seq, _Tracked(account, side, price, left, tif, seq))
        return NewOrder(seq, ts, s.symbol, account, seq, side, qty, price, LIMIT, tif)

    def _market(self, s: _Symbol) -> Command:
        rng = self._rng
        seq, ts = self._stamp()
        side = BUY if rng.random() < 0.5 else SELL
        qty = self._lots(s, s.mark, 8.0) * s.lot
        account = int(rng.random() * self._accounts) + 1
        self._take(s, side, 0, qty, GTC)
        return NewOrder(seq, ts, s.symbol, account, seq, side, qty, 0, MARKET, GTC)

    def _cancel(self, s: _Symbol) -> Command:
        if not s.live:
            return self._passive(s)
        oid = s.live[int(self._rng.random() * len(s.live))]
        account = s.info[oid].account
        self._untrack(s, oid)
        seq, ts = self._stamp()
        return Cancel(seq, ts, s.symbol, account, oid)

    def _amend(self, s: _Symbol) -> Command:
        """Amend a tracked order: a quantity decrease (keeps priority) or a re-price.

        Where no other price is possible (a band one tick wide, a post-only order that
        would take), the quantity grows instead (the order re-queues at its price); if
        that is impossible too, the order is cancelled.
        """
        if not s.live:
            return self._passive(s)
        rng = self._rng
        oid = s.live[int(rng.random() * len(s.live))]
        t = s.info[oid]
        seq, ts = self._stamp()
        lots = t.qty // s.lot
        floor = s.min_lots(t.price)
        if lots > floor and rng.random() < 0.5:
            t.qty = (lots - 1 - int(rng.random() * (lots - floor))) * s.lot
            return Amend(seq, ts, s.symbol, t.account, oid, t.price, t.qty)
        # re-price by 1..3 ticks; post-only orders only move away from the book
        move = 1 + int(rng.random() * 3)
        away = t.tif is GTX or rng.random() < 0.5
        ticks = t.price // s.tick
        ticks = self._clamp(s, ticks - move if (t.side is BUY) == away else ticks + move)
        if ticks * s.tick == t.price:  # pinned at a band edge: step inwards
            ticks = ticks - 1 if ticks > s.lo else ticks + 1 if ticks < s.hi else ticks
        price = ticks * s.tick
        if price == t.price or (t.tif is GTX and self._crosses(s, t.side, price)):
            more = min(lots + 1 + int(rng.random() * 3), s.max_lots)
            if more > lots:
                t.qty, t.prio = more * s.lot, seq
                self._rest(s, oid, t)  # same price: it cannot cross
                return Amend(seq, ts, s.symbol, t.account, oid, t.price, t.qty)
            self._untrack(s, oid)
            return Cancel(seq, ts, s.symbol, t.account, oid)
        qty = max(lots, s.min_lots(price)) * s.lot
        # Titan re-queues the order at the back of its new price, where it may trade
        t.price, t.prio = price, seq
        left = self._take(s, t.side, price, qty, GTC)
        if left:
            t.qty = left
            self._rest(s, oid, t)
        else:
            self._untrack(s, oid)
        return Amend(seq, ts, s.symbol, t.account, oid, price, qty)

    def _invalid_cmd(self, s: _Symbol) -> Command:
        """A command that Titan must reject (the kind is drawn among those possible)."""
        rng = self._rng
        seq, ts = self._stamp()
        mid = max(1, round(s.mid)) * s.tick
        account = int(rng.random() * self._accounts) + 1
        good = s.min_lots(mid) * s.lot
        kinds = ["zero_qty", "zero_price", "unknown_symbol", "unknown_order"]
        if s.band_bps:
            kinds.append("outside_band")
        if s.tick > 1:
            kinds.append("off_tick")
        if s.lot > 1:
            kinds.append("off_lot")
        if s.min_lots(mid) > 1:
            kinds.append("small_notional")
        kind = kinds[int(rng.random() * len(kinds))]
        symbol, price, qty = s.symbol, mid, good
        if kind == "unknown_order":
            return Cancel(seq, ts, symbol, account, seq)  # a seq is never an open order
        if kind == "zero_qty":
            qty = 0
        elif kind == "zero_price":
            price = 0
        elif kind == "unknown_symbol":
            symbol = s.symbol + "?"
        elif kind == "outside_band":
            price = (s.hi + 1 + int(rng.random() * 10)) * s.tick
        elif kind == "off_tick":
            price = mid + 1
        elif kind == "off_lot":
            qty = good + 1
        else:
            qty = (s.min_lots(mid) - 1) * s.lot
        side = BUY if rng.random() < 0.5 else SELL
        return NewOrder(seq, ts, symbol, account, seq, side, qty, price)


__all__ = ["DEFAULT_MIDS", "DEFAULT_MIX", "START_TS", "Mix", "OrderFlow"]
