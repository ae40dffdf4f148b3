"""One runner per matching engine: the same neutral stream, each engine's own API.

A runner prepares everything untimed (:meth:`Runner.fresh`: a new engine with the
stream's seed applied, and the timed commands built as that engine's own objects), then
:meth:`Runner.run` applies the timed commands, consuming whatever each call returns --
the events, trades or blotters the engine emits -- and returns how many it emitted.
:meth:`Runner.book` reads the full L2 book back (price, qty) best first, so the worker
can demand that every engine ends exactly where the reference did.

The peers are imported only by their own runner: each lives in its own virtual
environment, with Titan beside it (same interpreter) for the ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module, metadata
from typing import Any

from stream import NEW, Book, Op, Stream, full_depth, permissive_specs, titan_commands


class Runner:
    """Base: ``fresh()`` (untimed), ``run() -> events`` (timed), ``book(symbol)``."""

    name = ""
    dist = ""  # the PyPI distribution, for its version

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.names = [s for s, _, _ in stream.symbols]

    @property
    def version(self) -> str:
        return metadata.version(self.dist) if self.dist else "this repository"

    def fresh(self) -> None:
        raise NotImplementedError

    def run(self) -> int:
        raise NotImplementedError

    def book(self, symbol: str) -> Book:
        raise NotImplementedError


class TitanRunner(Runner):
    """Titan: ``Engine.apply(command) -> list[event]``, permissive symbol rules."""

    name = "titan"

    def __init__(self, stream: Stream) -> None:
        super().__init__(stream)
        self.seed = titan_commands(stream, stream.seed, 1)
        self.commands = titan_commands(stream, stream.commands, len(self.seed) + 1)

    def fresh(self) -> None:
        from titan import Engine

        self.engine = Engine(permissive_specs(self.stream.symbols))
        for c in self.seed:
            self.engine.apply(c)

    def run(self) -> int:
        apply = self.engine.apply
        n = 0
        for c in self.commands:
            n += len(apply(c))
        return n

    def book(self, symbol: str) -> Book:
        return full_depth(self.engine, symbol)


class MatchingEngineRunner(Runner):
    """PyPI ``matching-engine``: one ``MatchingEngine`` per market, ``process(
    SequencedCommand) -> list[event]``; seq gap-free per market as it demands;
    self-trade prevention off, as in Titan."""

    name = "matching-engine"
    dist = "matching-engine"

    def __init__(self, stream: Stream) -> None:
        super().__init__(stream)
        me = import_module("matching_engine")
        sides = (me.Side.BUY, me.Side.SELL)
        stp = me.SelfTradePrevention.NONE
        seqs = [0] * len(self.names)

        def build(ops: list[Op]) -> list[tuple[int, Any]]:
            out = []
            for op in ops:
                sym = op[1]
                seqs[sym] += 1
                seq = seqs[sym]
                if op[0] == NEW:
                    _, _, oid, side, price, qty, account = op
                    cmd = me.NewOrder(oid, account, sides[side], price, qty, stp=stp)
                else:
                    cmd = me.CancelOrder(op[2], op[3])
                out.append((sym, me.SequencedCommand(seq, seq, cmd)))
            return out

        self.seed = build(stream.seed)
        self.commands = build(stream.commands)

    def fresh(self) -> None:
        engine_cls = import_module("matching_engine.engine").MatchingEngine
        self.engines = [engine_cls() for _ in self.names]
        for sym, sc in self.seed:
            self.engines[sym].process(sc)
        procs = [e.process for e in self.engines]
        self.bound = [(procs[sym], sc) for sym, sc in self.commands]

    def run(self) -> int:
        n = 0
        for process, sc in self.bound:
            n += len(process(sc))
        return n

    def book(self, symbol: str) -> Book:
        return matching_engine_book(self.engines[self.names.index(symbol)])


def matching_engine_book(engine: Any) -> Book:
    """The full L2 book of one ``matching_engine`` market."""
    depth = engine.book.depth()
    return [(lv.price, lv.qty) for lv in depth.bids], [(lv.price, lv.qty) for lv in depth.asks]


class PyOrderbookRunner(Runner):
    """PyPI ``pyorderbook``: ``Book.match(Order) -> TradeBlotter``, ``Book.cancel(Order)``.

    Its orders are mutable objects with uuid4 ids and Decimal prices, consumed by
    matching, so :meth:`fresh` builds a new set for every pass (untimed); a CANCEL is
    handed the very Order object its NEW created, as its API requires.
    """

    name = "pyorderbook"
    dist = "pyorderbook"

    def fresh(self) -> None:
        po = import_module("pyorderbook")
        order_cls = import_module("pyorderbook.order").Order
        side_cls = import_module("pyorderbook.order").Side
        sides = (side_cls.BID, side_cls.ASK)
        names = self.names
        self.book_obj = po.Book()
        orders: dict[int, Any] = {}

        def build(ops: list[Op]) -> list[tuple[bool, Any]]:
            out = []
            for op in ops:
                if op[0] == NEW:
                    _, sym, oid, side, price, qty, _ = op
                    order = orders[oid] = order_cls(sides[side], names[sym], price, qty)
                    out.append((True, order))
                else:
                    out.append((False, orders.pop(op[2])))
            return out

        match, cancel = self.book_obj.match, self.book_obj.cancel
        for is_new, order in build(self.stream.seed):
            match(order) if is_new else cancel(order)
        self.commands = build(self.stream.commands)

    def run(self) -> int:
        match, cancel = self.book_obj.match, self.book_obj.cancel
        n = 0
        for is_new, order in self.commands:
            if is_new:
                n += len(match(order).trades)
            else:
                cancel(order)
        return n

    def book(self, symbol: str) -> Book:
        side_cls = import_module("pyorderbook.order").Side
        levels = self.book_obj.levels[symbol]

        def side(s: Any, best_first: Callable[[int], int]) -> list[tuple[int, int]]:
            rows = []
            for level in levels[s]:
                qty = sum(o.quantity for o in level.orders.values())
                if qty:  # a cancel leaves an emptied level in the heap
                    rows.append((int(level.price), qty))
            return sorted(rows, key=lambda r: best_first(r[0]))

        return side(side_cls.BID, lambda p: -p), side(side_cls.ASK, lambda p: p)


class LightMatchingEngineRunner(Runner):
    """PyPI ``lightmatchingengine``: ``add_order(instmt, price, qty, side) -> (order,
    trades)`` and ``cancel_order(order_id, instmt)``; it numbers orders itself, 1, 2, 3,
    ... across instruments, which is how the stream numbers them."""

    name = "lightmatchingengine"
    dist = "lightmatchingengine"

    def __init__(self, stream: Stream) -> None:
        super().__init__(stream)
        lme = import_module("lightmatchingengine.lightmatchingengine")
        self.lme = lme
        sides = (lme.Side.BUY, lme.Side.SELL)

        def build(ops: list[Op]) -> list[tuple[bool, tuple[Any, ...]]]:
            out: list[tuple[bool, tuple[Any, ...]]] = []
            for op in ops:
                if op[0] == NEW:
                    _, sym, _, side, price, qty, _ = op
                    out.append((True, (self.names[sym], price, qty, sides[side])))
                else:
                    out.append((False, (op[2], self.names[op[1]])))
            return out

        self.seed = build(stream.seed)
        self.commands = build(stream.commands)

    def fresh(self) -> None:
        self.engine = self.lme.LightMatchingEngine()
        for is_new, args in self.seed:
            if is_new:
                self.engine.add_order(*args)
            elif self.engine.cancel_order(*args) is None:
                raise AssertionError(f"lightmatchingengine refused the seed cancel {args}")

    def run(self) -> int:
        add, cancel = self.engine.add_order, self.engine.cancel_order
        n = 0
        for is_new, args in self.commands:
            if is_new:
                n += len(add(*args)[1])
            else:
                cancel(*args)
        return n

    def book(self, symbol: str) -> Book:
        ob = self.engine.order_books.get(symbol)
        if ob is None:
            return [], []

        def side(levels: dict[Any, list[Any]], reverse: bool) -> list[tuple[int, int]]:
            rows = [(int(p), sum(o.leaves_qty for o in q)) for p, q in levels.items() if q]
            return sorted(rows, reverse=reverse)

        return side(ob.bids, True), side(ob.asks, False)


RUNNERS: dict[str, type[Runner]] = {
    r.name: r
    for r in (TitanRunner, MatchingEngineRunner, PyOrderbookRunner, LightMatchingEngineRunner)
}

__all__ = ["RUNNERS", "Runner", "matching_engine_book"]
