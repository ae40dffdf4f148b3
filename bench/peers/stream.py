"""The neutral command stream every matching engine of the comparison is fed.

The peers do not share a vocabulary: ``lightmatchingengine`` and ``pyorderbook`` know
only "add a limit order" and "cancel"; ``matching-engine`` adds IOC/FOK, market and
post-only orders but has no amend; none has stops, take-profits or mark prices. The
common subset is therefore two operations, and every engine gets exactly the same list:

- ``(NEW, symbol, order_id, side, price, qty, account)``: a good-till-cancelled limit
  order (side 0 buy, 1 sell; integer price and quantity units; ids 1, 2, 3, ... in
  stream order, as ``lightmatchingengine`` numbers its own orders);
- ``(CANCEL, symbol, order_id, account)``: cancel an order that is resting at that
  moment (``account`` is its owner's, for the engines that check ownership).

Derivation, from a Titan flow (seed and timed commands), with a reference Titan engine
running beside it (permissive symbol rules: tick 1, lot 1, no notional minimum, no price
band; self-trade prevention off, as the peers have none), so every choice follows the
book the stream itself builds:

- a GTC limit order becomes a NEW (an order Titan rejects is dropped);
- a market, IOC or FOK order runs on the reference engine as it is; what it filled
  becomes a NEW limit at its worst fill price for exactly the filled quantity (nothing
  when it filled nothing), so it sweeps the same queues and leaves nothing resting;
- a post-only (GTX) order becomes a NEW when it rested, nothing when it expired;
- an amend becomes CANCEL + NEW at the new price and quantity (the peers have no amend,
  so priority is lost even for a quantity decrease, identically in every engine);
- a cancel of a resting order becomes a CANCEL; cancel-all becomes one CANCEL per
  resting order of that account and symbol, oldest id first;
- stop and take-profit orders and mark prices are dropped.

:func:`verify` then replays the finished stream on a fresh Titan and demands: no
rejection, every CANCEL hits a resting order, and the same full L2 book (every level)
as the reference; the workers check every engine's final book against that L2.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, NamedTuple

from titan import (
    Amend,
    Cancel,
    CancelAll,
    Cancelled,
    Command,
    Engine,
    NewOrder,
    OrderType,
    Rejected,
    Side,
    StpMode,
    SymbolSpec,
    TimeInForce,
    Trade,
)
from titan.enums import CONDITIONAL_TYPES

NEW = 0
CANCEL = 1
BUY = 0
SELL = 1

Op = tuple[int, ...]
Book = tuple[list[tuple[int, int]], list[tuple[int, int]]]  # bids, asks: (price, qty) best first


class Stream(NamedTuple):
    """A flow in the neutral vocabulary, with the book it must end in."""

    name: str
    symbols: list[tuple[str, int, int]]  # (symbol, price_decimals, qty_decimals)
    seed: list[Op]  # applied untimed on every fresh engine
    commands: list[Op]  # the timed part
    books: dict[str, Book]  # full L2 after seed + commands, by symbol
    source: dict[str, Any]  # what the stream was derived from, and what was dropped

    def save(self, path: Path) -> None:
        """Write the stream (pickle of plain ints, strings, lists and dicts)."""
        with path.open("wb") as f:
            pickle.dump(tuple(self), f, protocol=4)

    @classmethod
    def load(cls, path: Path) -> Stream:
        with path.open("rb") as f:
            return cls(*pickle.load(f))


def permissive_specs(symbols: list[tuple[str, int, int]]) -> list[SymbolSpec]:
    """Titan's rules for the comparison: any positive integer price and quantity."""
    return [SymbolSpec(s, pd, qd) for s, pd, qd in symbols]


def full_depth(engine: Engine, symbol: str) -> Book:
    """Every L2 level of ``symbol`` as (price, qty), best first per side."""
    depth = engine.depth(symbol, 1 << 40)
    return [(lv.price, lv.qty) for lv in depth.bids], [(lv.price, lv.qty) for lv in depth.asks]


class _Deriver:
    """Turns Titan commands into neutral ops, steered by a reference engine."""

    def __init__(self, specs: list[SymbolSpec]) -> None:
        self.engine = Engine(specs)
        self.sym = {s.symbol: i for i, s in enumerate(specs)}
        self.ids: dict[int, int] = {}  # source order id -> neutral id of its resting order
        self.next_id = 1
        self.seq = 0
        self.dropped: dict[str, int] = {}

    def _drop(self, why: str) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + 1

    def _apply(self, cmd: Command) -> list[Any]:
        self.seq += 1
        return self.engine.apply(cmd._replace(seq=self.seq, ts=self.seq))

    def _resting(self, neutral_id: int) -> bool:
        return self.engine.order(neutral_id) is not None  # no conditional order ever rests

    def _place(self, c: NewOrder, **changes: Any) -> tuple[int, list[Any]]:
        """Apply ``c`` on the reference under the next neutral id, as the peers would
        take it (no reduce-only, client id or self-trade prevention); (id, events)."""
        oid = self.next_id
        events = self._apply(
            c._replace(order_id=oid, reduce_only=False, client_order_id="", stp=StpMode.NONE,
                       **changes)
        )  # fmt: skip
        return oid, events

    def _emit(self, out: list[Op], c: NewOrder, oid: int, price: int, qty: int) -> None:
        """Record the NEW that ``oid`` became, and consume the id."""
        self.next_id += 1
        side = BUY if c.side is Side.BUY else SELL
        out.append((NEW, self.sym[c.symbol], oid, side, price, qty, c.account))
        if self._resting(oid):
            self.ids[c.order_id] = oid

    def _new(self, out: list[Op], c: NewOrder) -> None:
        """A GTC limit order: a NEW unless the reference rejects it."""
        oid, events = self._place(c, type=OrderType.LIMIT, tif=TimeInForce.GTC)
        if events and type(events[0]) is Rejected:
            self._drop(f"rejected {events[0].reason}")
        else:
            self._emit(out, c, oid, c.price, c.qty)

    def _cancel(self, out: list[Op], symbol: str, account: int, neutral_id: int) -> None:
        events = self._apply(Cancel(0, 0, symbol, account, neutral_id))
        if not events or type(events[0]) is not Cancelled:
            raise AssertionError(f"reference cancel of {neutral_id} failed: {events}")
        out.append((CANCEL, self.sym[symbol], neutral_id, account))

    def add(self, out: list[Op], c: Command) -> None:
        """Append the neutral ops of ``c``. ``ids`` may keep entries of orders that have
        since filled or been cancelled: every use looks the order up on the reference."""
        if type(c) is NewOrder:
            self._add_new(out, c)
        elif type(c) is Cancel:
            nid = self.ids.pop(c.order_id, 0)
            view = self.engine.order(nid) if nid else None
            if view is None:
                self._drop("cancel of an order not resting")
            else:
                self._cancel(out, c.symbol, view.account, nid)
        elif type(c) is Amend:
            nid = self.ids.pop(c.order_id, 0)
            view = self.engine.order(nid) if nid else None
            if view is None:
                self._drop("amend of an order not resting")
                return
            self._cancel(out, c.symbol, view.account, nid)
            self._new(out, NewOrder(0, 0, c.symbol, view.account, c.order_id, view.side,
                                    c.qty, c.price))  # fmt: skip
        elif type(c) is CancelAll:
            for view in self.engine.open_orders(c.account, c.symbol):  # by order id
                self._cancel(out, c.symbol, c.account, view.order_id)
        else:
            self._drop(type(c).__name__)

    def _add_new(self, out: list[Op], c: NewOrder) -> None:
        if c.type in CONDITIONAL_TYPES:
            self._drop(f"{c.type} order")
        elif c.type is OrderType.MARKET or c.tif in (TimeInForce.IOC, TimeInForce.FOK):
            # Run as it is on the reference: an IOC/FOK or market order leaves nothing
            # resting, so its fills alone are its effect.
            oid, events = self._place(c)
            trades = [e for e in events if type(e) is Trade]
            if trades:
                self._emit(out, c, oid, trades[-1].price, sum(t.qty for t in trades))
            else:
                self._drop("aggressive order that filled nothing")
        elif c.tif is TimeInForce.GTX:
            oid, events = self._place(c)
            if self._resting(oid):
                self._emit(out, c, oid, c.price, c.qty)
            else:
                self._drop(f"post-only order that did not rest ({type(events[-1]).__name__})")
        else:
            self._new(out, c)


def derive(
    name: str, specs: list[SymbolSpec], seed: list[Command], commands: list[Command]
) -> Stream:
    """The neutral stream of a Titan flow (see the module docstring), verified."""
    symbols = [(s.symbol, s.price_decimals, s.qty_decimals) for s in specs]
    d = _Deriver(permissive_specs(symbols))
    seed_ops: list[Op] = []
    for c in seed:
        d.add(seed_ops, c)
    ops: list[Op] = []
    for c in commands:
        d.add(ops, c)
    books = {s: full_depth(d.engine, s) for s, _, _ in symbols}
    source = {
        "seed_commands": len(seed),
        "commands": len(commands),
        "dropped": dict(sorted(d.dropped.items())),
    }
    stream = Stream(name, symbols, seed_ops, ops, books, source)
    verify(stream)
    return stream


def titan_commands(stream: Stream, ops: list[Op], first_seq: int) -> list[Command]:
    """The ops as Titan commands, seq (and ts) numbered from ``first_seq``."""
    names = [s for s, _, _ in stream.symbols]
    sides = (Side.BUY, Side.SELL)
    out: list[Command] = []
    seq = first_seq
    for op in ops:
        if op[0] == NEW:
            _, sym, oid, side, price, qty, account = op
            out.append(NewOrder(seq, seq, names[sym], account, oid, sides[side], qty, price))
        else:
            out.append(Cancel(seq, seq, names[op[1]], op[3], op[2]))
        seq += 1
    return out


def verify(stream: Stream) -> None:
    """Replay the stream on a fresh Titan: no rejection, every CANCEL cancels, the same
    final L2 as recorded. Raises AssertionError naming the first difference."""
    engine = Engine(permissive_specs(stream.symbols))
    seed = titan_commands(stream, stream.seed, 1)
    cmds = titan_commands(stream, stream.commands, len(seed) + 1)
    for i, cmd in enumerate(seed + cmds):
        events = engine.apply(cmd)
        if events and type(events[0]) is Rejected:
            raise AssertionError(f"{stream.name}: op {i} rejected: {events[0]}")
        if type(cmd) is Cancel and type(events[0]) is not Cancelled:
            raise AssertionError(f"{stream.name}: op {i} did not cancel: {events}")
    for symbol, _, _ in stream.symbols:
        got = full_depth(engine, symbol)
        if got != stream.books[symbol]:
            raise AssertionError(f"{stream.name}: {symbol} L2 differs from the recorded book")
