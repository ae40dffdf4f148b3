"""Model-based stateful test of Titan: random valid and invalid commands, checked step by step.

A Hypothesis ``RuleBasedStateMachine`` drives new orders of every type, time in force and
STP mode (prices on and off the tick grid, quantities on and off the lot grid and <= 0,
bad enum values, accounts and symbols, duplicate order and client order ids), cancels of
live, closed, unknown and other accounts' orders (by id and by client order id),
cancel-all, amends and mark prices over two symbols and three accounts. It proves that:

- ``engine.check_invariants()`` is empty after every step;
- every event carries its command's seq, ts and symbol; a rejection is the only event
  of its command and leaves ``state_hash()`` unchanged;
- an independent model predicts exactly which commands are rejected and why (the
  validation order documented in ``titan.validation``);
- a ledger built only from the emitted events agrees with ``open_orders``, ``l3``,
  ``pending_triggers``, ``last_price`` and ``mark_price``: per order, accepted quantity
  minus trades, cancels, expiries and amend changes, and the queue order implied by
  price-time priority (price, then the moment the order last joined the back);
- every trade hits the maker at the head of the opposite side, at the maker's price,
  within the taker's limit, for min(maker, taker) quantity; every expiry has its cause
  (IOC / market remainder with nothing left to take, FOK not fillable, post-only would
  take, STP meeting an own maker); only GTC/GTX limit orders ever rest; conditional
  orders fire in the documented order at a price that reaches their stop, and none is
  left pending that the current prices would fire;
- ``Engine.restore(engine.export_state())`` (through the msgpack codec) has the same
  state hash, and the machine carries on with the restored engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpers.strategies import (
    ACCOUNTS,
    CLIENT_IDS,
    CONDITIONAL_TYPES,
    MARKET_TYPES,
    MID,
    SPEC,
    SPECS,
    accounts,
    mark_prices,
    mostly,
    new_order_kwargs,
    prices,
    quantities,
    resting_orders,
    symbols,
    valid_order_kwargs,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from titan import (
    Amend,
    Cancel,
    CancelAll,
    Command,
    Engine,
    Event,
    NewOrder,
    OrderType,
    RejectReason,
    SetMarkPrice,
    Side,
    StpMode,
    TimeInForce,
    WorkingType,
)
from titan.enums import MAX_VALUE
from titan.state import decode_state, encode_state

R = RejectReason
SIDES = {m.value for m in Side}
TYPES = {m.value for m in OrderType}
TIFS = {m.value for m in TimeInForce}
STPS = {m.value for m in StpMode}
WORKING = {m.value for m in WorkingType}
# Binance: a buy STOP and a sell TAKE_PROFIT fire when the price rises to the stop; a sell
# STOP and a buy TAKE_PROFIT when it falls to it (with the *_MARKET variants alike).
RISES = {
    ("BUY", "STOP"): True,
    ("BUY", "STOP_MARKET"): True,
    ("SELL", "TAKE_PROFIT"): True,
    ("SELL", "TAKE_PROFIT_MARKET"): True,
    ("SELL", "STOP"): False,
    ("SELL", "STOP_MARKET"): False,
    ("BUY", "TAKE_PROFIT"): False,
    ("BUY", "TAKE_PROFIT_MARKET"): False,
}


def fires(side: str, type_: str, stop: int, price: int) -> bool:
    return price >= stop if RISES[(side, type_)] else price <= stop


@dataclass
class MOrder:
    """The model's view of one open order, built from events only."""

    oid: int
    symbol: str
    account: int
    side: str
    type: str
    tif: str
    price: int
    qty: int
    stop: int
    working_type: str
    coid: str
    stp: str
    state: str  # "pending" | "working" | "resting"
    stamp: int
    fok_fillable: bool = False
    traded: bool = False

    @property
    def market(self) -> bool:
        return self.type in MARKET_TYPES


class Model:
    """An independent ledger of open orders and prices, fed with Titan's events."""

    def __init__(self) -> None:
        self.orders: dict[int, MOrder] = {}
        self.closed: set[int] = set()
        self.last = {s.symbol: 0 for s in SPECS}
        self.mark = {s.symbol: 0 for s in SPECS}
        self.trade_id = 0
        self.stamp = 0
        self.working: MOrder | None = None
        self.expired_both_maker = False
        self.batch: list[tuple[MOrder, int]] = []  # released but not yet run

    # -- queries ------------------------------------------------------------------

    def resting(self, symbol: str, side: str) -> list[MOrder]:
        """Resting orders of one side in price-time priority."""
        orders = [
            o
            for o in self.orders.values()
            if o.symbol == symbol and o.side == side and o.state == "resting"
        ]
        if side == "BUY":
            orders.sort(key=lambda o: (-o.price, o.stamp))
        else:
            orders.sort(key=lambda o: (o.price, o.stamp))
        return orders

    def head(self, symbol: str, side: str) -> MOrder | None:
        orders = self.resting(symbol, side)
        return orders[0] if orders else None

    @staticmethod
    def crosses(taker: MOrder, maker: MOrder | None) -> bool:
        if maker is None:
            return False
        if taker.market:
            return True
        return maker.price <= taker.price if taker.side == "BUY" else maker.price >= taker.price

    def fillable(self, taker: MOrder) -> bool:
        """Whether a FOK taker can fill completely (own makers: skipped under EXPIRE_MAKER,
        a stop under EXPIRE_TAKER / EXPIRE_BOTH, counted under NONE)."""
        need = taker.qty
        for maker in self.resting(taker.symbol, opposite(taker.side)):
            if not self.crosses(taker, maker):
                break
            if maker.account == taker.account and taker.stp != "NONE":
                if taker.stp == "EXPIRE_MAKER":
                    continue
                return False
            need -= maker.qty
            if need <= 0:
                return True
        return False

    def fire_batch(self, symbol: str) -> list[tuple[MOrder, int]]:
        """The pending orders the current prices fire, in the order the engine must release
        them, each with the price that fires it: last-price triggers before mark
        triggers; rising before falling; nearest stop, then time priority."""
        batch: list[tuple[MOrder, int]] = []
        for wt, price in (
            ("CONTRACT_PRICE", self.last[symbol]),
            ("MARK_PRICE", self.mark[symbol]),
        ):
            if not price:
                continue
            pending = [
                o
                for o in self.orders.values()
                if o.symbol == symbol and o.state == "pending" and o.working_type == wt
            ]
            up = [o for o in pending if RISES[(o.side, o.type)] and price >= o.stop]
            down = [o for o in pending if not RISES[(o.side, o.type)] and price <= o.stop]
            up.sort(key=lambda o: (o.stop, o.stamp))
            down.sort(key=lambda o: (-o.stop, o.stamp))
            batch += [(o, price) for o in up + down]
        return batch

    def reference(self, symbol: str) -> int:
        return self.mark[symbol] or self.last[symbol]

    def outside_band(self, symbol: str, price: int) -> bool:
        spec = SPEC[symbol]
        ref = self.reference(symbol)
        if not spec.band_bps or not ref:
            return False
        return price * 10_000 > ref * (10_000 + spec.band_bps) or price * 10_000 < ref * (
            10_000 - spec.band_bps
        )

    # -- expected outcome of a command --------------------------------------------

    def expect_new(self, c: NewOrder) -> RejectReason | None:
        spec = SPEC.get(c.symbol)
        if spec is None:
            return R.UNKNOWN_SYMBOL
        for value, valid, reason in (
            (c.side, SIDES, R.INVALID_SIDE),
            (c.type, TYPES, R.INVALID_ORDER_TYPE),
            (c.tif, TIFS, R.INVALID_TIME_IN_FORCE),
            (c.stp, STPS, R.INVALID_STP_MODE),
            (c.working_type, WORKING, R.INVALID_WORKING_TYPE),
        ):
            if value not in valid:
                return reason
        if type(c.account) is not int or not 0 <= c.account <= MAX_VALUE:
            return R.INVALID_ACCOUNT
        if type(c.order_id) is not int or not 0 < c.order_id <= MAX_VALUE:
            return R.INVALID_ORDER_ID
        if type(c.qty) is not int or c.qty <= 0:
            return R.INVALID_QUANTITY
        if c.qty % spec.lot:
            return R.QTY_OFF_LOT_GRID
        if spec.max_qty and c.qty > spec.max_qty:
            return R.QTY_ABOVE_MAX
        if type(c.price) is not int or type(c.stop_price) is not int:
            return R.INVALID_PRICE
        market = c.type in MARKET_TYPES
        if market:
            if c.price != 0:
                return R.INVALID_PRICE
            if c.tif == "GTX":
                return R.INVALID_TIME_IN_FORCE
        else:
            if c.price <= 0:
                return R.INVALID_PRICE
            if c.price % spec.tick:
                return R.PRICE_OFF_TICK_GRID
        conditional = c.type in CONDITIONAL_TYPES
        if conditional:
            if c.stop_price <= 0:
                return R.INVALID_STOP_PRICE
            if c.stop_price % spec.tick:
                return R.STOP_PRICE_OFF_TICK_GRID
        elif c.stop_price != 0:
            return R.INVALID_STOP_PRICE
        basis = c.price or c.stop_price or self.reference(c.symbol)
        if spec.min_notional and basis and basis * c.qty < spec.min_notional:
            return R.NOTIONAL_BELOW_MIN
        if not market and self.outside_band(c.symbol, c.price):
            return R.PRICE_OUTSIDE_BAND
        if c.order_id in self.orders:
            return R.DUPLICATE_ORDER_ID
        if type(c.client_order_id) is not str:
            return R.INVALID_CLIENT_ORDER_ID
        if c.client_order_id and self.by_client(c.account, c.client_order_id):
            return R.DUPLICATE_CLIENT_ORDER_ID
        if conditional:
            watched = self.mark[c.symbol] if c.working_type == "MARK_PRICE" else self.last[c.symbol]
            if watched and fires(c.side, c.type, c.stop_price, watched):
                return R.WOULD_IMMEDIATELY_TRIGGER
        return None

    def by_client(self, account: Any, coid: str) -> MOrder | None:
        for o in self.orders.values():
            if o.account == account and o.coid == coid:
                return o
        return None

    def find(self, symbol: str, account: Any, oid: Any) -> MOrder | RejectReason:
        o = self.orders.get(oid) if type(oid) is int else None
        if o is None or o.symbol != symbol:
            return R.UNKNOWN_ORDER
        if o.account != account:
            return R.FOREIGN_ORDER
        return o

    def expect_cancel(self, c: Cancel) -> RejectReason | MOrder:
        if c.symbol not in SPEC:
            return R.UNKNOWN_SYMBOL
        if type(c.account) is not int:
            return R.INVALID_ACCOUNT
        if c.order_id:
            return self.find(c.symbol, c.account, c.order_id)
        if c.client_order_id and type(c.client_order_id) is str:
            o = self.by_client(c.account, c.client_order_id)
            return R.UNKNOWN_ORDER if o is None or o.symbol != c.symbol else o
        return R.INVALID_ORDER_ID

    def expect_amend(self, c: Amend) -> RejectReason | None:
        spec = SPEC.get(c.symbol)
        if spec is None:
            return R.UNKNOWN_SYMBOL
        if type(c.account) is not int:
            return R.INVALID_ACCOUNT
        o = self.find(c.symbol, c.account, c.order_id)
        if not isinstance(o, MOrder):
            return o
        if o.state != "resting":
            return R.ORDER_NOT_AMENDABLE
        price, qty = c.price, c.qty
        if type(qty) is not int or qty <= 0:
            return R.INVALID_QUANTITY
        if qty % spec.lot:
            return R.QTY_OFF_LOT_GRID
        if spec.max_qty and qty > spec.max_qty:
            return R.QTY_ABOVE_MAX
        if type(price) is not int or price <= 0:
            return R.INVALID_PRICE
        if price % spec.tick:
            return R.PRICE_OFF_TICK_GRID
        if price * qty < spec.min_notional:
            return R.NOTIONAL_BELOW_MIN
        if price == o.price and qty == o.qty:
            return R.AMEND_NO_CHANGE
        if price != o.price and self.outside_band(c.symbol, price):
            return R.PRICE_OUTSIDE_BAND
        if price != o.price and o.tif == "GTX":
            other = self.head(c.symbol, opposite(o.side))
            if other is not None and (
                price >= other.price if o.side == "BUY" else price <= other.price
            ):
                return R.POST_ONLY_WOULD_TAKE
        return None

    # -- applying events -----------------------------------------------------------

    def settle(self) -> None:
        """The working taker is done: what is left of it now rests."""
        o = self.working
        self.working = None
        if o is None:
            return
        assert o.qty > 0
        assert not o.market and o.tif in ("GTC", "GTX"), f"{o.type}/{o.tif} order {o.oid} rests"
        assert not self.crosses(
            o, self.head(o.symbol, opposite(o.side))
        ), f"order {o.oid} rests while it still crosses the opposite side"
        o.state = "resting"

    def start_working(self, o: MOrder) -> None:
        self.settle()
        self.stamp += 1
        o.stamp = self.stamp
        o.state = "working"
        o.traded = False
        o.fok_fillable = o.tif == "FOK" and self.fillable(o)
        self.working = o
        self.expired_both_maker = False

    def close(self, o: MOrder) -> None:
        del self.orders[o.oid]
        self.closed.add(o.oid)
        if self.working is o:
            self.working = None

    def apply(self, cmd: Command, e: Event) -> None:
        kind = type(e).__name__
        getattr(self, "on_" + kind)(cmd, e)

    def on_Accepted(self, cmd: Command, e: Any) -> None:
        assert isinstance(cmd, NewOrder) and e.order_id == cmd.order_id
        assert e.order_id not in self.orders
        assert (e.account, e.side, e.type, e.tif, e.price, e.qty, e.stop_price) == (
            cmd.account,
            cmd.side,
            cmd.type,
            cmd.tif,
            cmd.price,
            cmd.qty,
            cmd.stop_price,
        )
        o = MOrder(
            e.order_id,
            e.symbol,
            e.account,
            str(e.side),
            str(e.type),
            str(e.tif),
            e.price,
            e.qty,
            e.stop_price,
            str(cmd.working_type),
            e.client_order_id,
            str(cmd.stp),
            "pending",
            0,
        )
        self.orders[o.oid] = o
        self.closed.discard(o.oid)
        if o.type in CONDITIONAL_TYPES:
            self.settle()
            self.stamp += 1
            o.stamp = self.stamp
        else:
            self.start_working(o)

    def on_Triggered(self, cmd: Command, e: Any) -> None:
        self.settle()
        o = self.orders[e.order_id]
        assert o.state == "pending", f"order {o.oid} triggered while {o.state}"
        # The engine releases a whole batch (everything the prices fire at that moment)
        # before looking at the prices again; a new batch starts when the last one is done.
        if not self.batch:
            self.batch = self.fire_batch(o.symbol)
        expected, price = self.batch.pop(0) if self.batch else (None, 0)
        assert expected is o, f"fired {o.oid}, next to fire is {expected and expected.oid}"
        assert e.trigger_price == price and fires(o.side, o.type, o.stop, e.trigger_price)
        self.start_working(o)

    def on_Trade(self, cmd: Command, e: Any) -> None:
        taker = self.working
        assert taker is not None and taker.oid == e.taker_order_id, "trade without its taker"
        assert taker.tif != "GTX", "a post-only order took liquidity"
        maker = self.head(taker.symbol, opposite(taker.side))
        assert (
            maker is not None and maker.oid == e.maker_order_id
        ), f"trade hit maker {e.maker_order_id}, head of the queue is {maker and maker.oid}"
        assert self.crosses(taker, maker), "trade outside the taker's limit"
        assert e.price == maker.price, "trade not at the maker's price"
        if taker.stp != "NONE":
            assert maker.account != taker.account, "self-trade despite STP"
        assert e.qty == min(maker.qty, taker.qty) > 0
        assert e.trade_id == self.trade_id + 1, "trade ids must be consecutive"
        assert (e.aggressor, e.maker_account, e.taker_account) == (
            taker.side,
            maker.account,
            taker.account,
        )
        self.trade_id = e.trade_id
        maker.qty -= e.qty
        taker.qty -= e.qty
        taker.traded = True
        assert (e.maker_remaining, e.taker_remaining) == (maker.qty, taker.qty)
        self.last[taker.symbol] = e.price
        if not maker.qty:
            self.close(maker)
        if not taker.qty:
            self.close(taker)

    def on_Expired(self, cmd: Command, e: Any) -> None:
        o = self.orders[e.order_id]
        assert e.qty == o.qty and e.account == o.account
        taker = self.working
        reason = str(e.reason)
        if taker is not None and o is not taker:
            # an own maker expired by the taker's STP mode
            assert o.state == "resting" and o is self.head(taker.symbol, opposite(taker.side))
            assert o.account == taker.account and self.crosses(taker, o)
            assert (
                reason
                == {"EXPIRE_MAKER": "STP_EXPIRE_MAKER", "EXPIRE_BOTH": "STP_EXPIRE_BOTH"}[taker.stp]
            )
            self.expired_both_maker = reason == "STP_EXPIRE_BOTH"
            self.close(o)
            return
        assert o is taker, f"order {o.oid} expired without being the taker"
        head = self.head(o.symbol, opposite(o.side))
        if reason == "MARKET_REMAINDER":
            assert o.market and head is None, "market remainder expired with liquidity left"
        elif reason == "IOC_REMAINDER":
            assert o.tif == "IOC" and not o.market and not self.crosses(o, head)
        elif reason == "FOK_NOT_FILLABLE":
            assert o.tif == "FOK" and not o.fok_fillable and not o.traded
        elif reason == "POST_ONLY_WOULD_TAKE":
            assert o.tif == "GTX" and self.crosses(o, head) and not o.traded
        elif reason == "STP_EXPIRE_TAKER":
            assert o.stp == "EXPIRE_TAKER" and head is not None
            assert head.account == o.account and self.crosses(o, head)
        elif reason == "STP_EXPIRE_BOTH":
            assert o.stp == "EXPIRE_BOTH" and self.expired_both_maker
        else:
            raise AssertionError(f"taker expired for {reason}")
        self.close(o)

    def on_Cancelled(self, cmd: Command, e: Any) -> None:
        o = self.orders[e.order_id]
        assert isinstance(cmd, Cancel | CancelAll)
        assert e.qty == o.qty and e.account == o.account == cmd.account
        assert e.reason == ("CANCEL_ALL" if isinstance(cmd, CancelAll) else "USER")
        self.close(o)

    def on_Amended(self, cmd: Command, e: Any) -> None:
        assert isinstance(cmd, Amend)
        o = self.orders[e.order_id]
        assert o.state == "resting" and (e.price, e.qty) == (cmd.price, cmd.qty)
        keep = cmd.price == o.price and cmd.qty < o.qty
        assert e.priority_kept == keep, "priority kept exactly on a same-price decrease"
        o.price, o.qty = e.price, e.qty
        if not keep:
            o.state = "pending"  # leaves the book until start_working
            self.start_working(o)

    def on_Rejected(self, cmd: Command, e: Any) -> None:
        pass


def opposite(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"


class TitanMachine(RuleBasedStateMachine):
    """Drives one engine and one model with the same commands."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(SPECS)
        self.model = Model()
        self.seq = 0
        self.next_oid = 0

    # -- the one place commands are applied ----------------------------------------

    def submit(self, cmd: Command, expect: RejectReason | None) -> list[Event]:
        """Apply ``cmd``; ``expect`` is the model's prediction: the reject reason, or None
        for an accepted command."""
        before = self.engine.state_hash()
        events = self.engine.apply(cmd)
        for e in events:
            assert (e.seq, e.ts, e.symbol) == (
                cmd.seq,
                cmd.ts,
                cmd.symbol,
            ), f"{e} does not carry the seq/ts/symbol of {cmd}"
        rejected = [e for e in events if type(e).__name__ == "Rejected"]
        if rejected:
            assert len(events) == 1, f"a rejection came with other events: {events}"
            assert self.engine.state_hash() == before, f"rejected {cmd} changed the state"
        got = rejected[0].reason if rejected else None  # type: ignore[union-attr]
        assert got == expect, f"{cmd}: expected {expect}, engine said {got}: {events}"
        for e in events:
            self.model.apply(cmd, e)
        self.model.settle()
        return events

    def stamp(self) -> tuple[int, int]:
        self.seq += 1
        return self.seq, 1_700_000_000_000 + 7 * self.seq

    # -- rules -------------------------------------------------------------------------

    def _place(self, data: st.DataObject, kwargs: dict[str, Any]) -> None:
        open_ids = sorted(self.model.orders)
        choices: list[st.SearchStrategy[Any]] = [st.sampled_from([0, -1, "9", True])]
        if open_ids:
            choices.append(st.sampled_from(open_ids))
        if self.model.closed:
            choices.append(st.sampled_from(sorted(self.model.closed)))
        oid = data.draw(mostly(st.just(self.next_oid + 1), *choices), label="order_id")
        if oid == self.next_oid + 1 and type(oid) is int:
            self.next_oid = oid
        cmd = NewOrder(*self.stamp(), order_id=oid, **kwargs)
        self.submit(cmd, self.model.expect_new(cmd))

    @initialize(data=st.data())
    def seed_books(self, data: st.DataObject) -> None:
        """Start from books a few levels deep on both sides of both symbols."""
        for symbol in MID:
            for kwargs in data.draw(resting_orders(symbol), label=f"{symbol} book"):
                self._place(data, kwargs)

    @rule(data=st.data())
    def new_order(self, data: st.DataObject) -> None:
        """Any order: every type, TIF and STP mode, one field broken one time in five."""
        self._place(data, data.draw(new_order_kwargs(), label="order"))

    @rule(data=st.data())
    def new_limit_order(self, data: st.DataObject) -> None:
        """One to four well-formed GTC/GTX limit orders: books that later orders cross."""
        limits = valid_order_kwargs(
            types=[OrderType.LIMIT], tifs=[TimeInForce.GTC] * 5 + [TimeInForce.GTX]
        )
        for kwargs in data.draw(st.lists(limits, min_size=1, max_size=4), label="orders"):
            self._place(data, kwargs)

    @rule(data=st.data())
    def sweep(self, data: st.DataObject) -> None:
        """A large marketable order priced through every near level, any TIF and STP mode:
        multi-level fills, STP at a deeper level, IOC/FOK/market remainders."""
        kwargs = data.draw(
            valid_order_kwargs(types=[OrderType.LIMIT] * 3 + [OrderType.MARKET]), label="order"
        )
        symbol = kwargs["symbol"]
        spec = SPEC[symbol]
        top = min(10, spec.max_qty // spec.lot) if spec.max_qty else 10
        kwargs["qty"] = spec.lot * data.draw(st.integers(top // 2, top), label="lots")
        if kwargs["type"] == OrderType.LIMIT:
            sign = 1 if kwargs["side"] == "BUY" else -1
            kwargs["price"] = MID[symbol] + sign * 3 * spec.tick
        self._place(data, kwargs)

    @rule(data=st.data())
    def new_conditional_order(self, data: st.DataObject) -> None:
        """A stop or take-profit 1..3 ticks on the waiting side of the price it watches,
        so that later trades and marks release it (and cascades happen)."""
        kwargs = data.draw(valid_order_kwargs(types=sorted(CONDITIONAL_TYPES)), label="order")
        symbol = kwargs["symbol"]
        watched = (
            self.model.mark[symbol]
            if kwargs["working_type"] == "MARK_PRICE"
            else self.model.last[symbol]
        ) or MID[symbol]
        tick = SPEC[symbol].tick
        sign = 1 if RISES[(str(kwargs["side"]), str(kwargs["type"]))] else -1
        ticks = data.draw(st.integers(1, 3), label="ticks away")
        kwargs["stop_price"] = (watched // tick + sign * ticks) * tick
        self._place(data, kwargs)

    def _some_order_id(self, data: st.DataObject) -> Any:
        live = sorted(self.model.orders)
        pools: list[st.SearchStrategy[Any]] = [st.sampled_from([10**9, 0, -3, "1"])]
        if self.model.closed:
            pools.append(st.sampled_from(sorted(self.model.closed)))
        if not live:
            return data.draw(st.one_of(*pools), label="order_id")
        return data.draw(mostly(st.sampled_from(live), *pools), label="order_id")

    def _owner_or_other(self, data: st.DataObject, oid: Any) -> Any:
        o = self.model.orders.get(oid) if type(oid) is int else None
        if o is None:
            return data.draw(accounts(), label="account")
        return data.draw(mostly(st.just(o.account), accounts()), label="account")

    def _symbol_of(self, data: st.DataObject, oid: Any) -> Any:
        o = self.model.orders.get(oid) if type(oid) is int else None
        if o is None:
            return data.draw(symbols(), label="symbol")
        return data.draw(mostly(st.just(o.symbol), symbols()), label="symbol")

    def _cancel_all(self, data: st.DataObject) -> None:
        cmd = CancelAll(
            *self.stamp(),
            symbol=data.draw(symbols(), label="symbol"),
            account=data.draw(accounts(), label="account"),
        )
        targets = sorted(
            oid
            for oid, o in self.model.orders.items()
            if o.account == cmd.account and o.symbol == cmd.symbol
        )
        if cmd.symbol not in SPEC:
            expected: RejectReason | None = R.UNKNOWN_SYMBOL
        elif type(cmd.account) is not int:
            expected = R.INVALID_ACCOUNT
        else:
            expected = None
        events = self.submit(cmd, expected)
        if expected is None:
            assert [e.order_id for e in events] == targets  # type: ignore[union-attr]

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        """Cancel by order id (live, closed, unknown, another account's, another symbol's);
        one time in four by client order id instead, one in eight cancel-all."""
        how = data.draw(st.integers(0, 7), label="how")  # shrinks towards a cancel by id
        if how == 7:
            self._cancel_all(data)
            return
        if how < 5:
            oid = self._some_order_id(data)
            cmd = Cancel(
                *self.stamp(),
                symbol=self._symbol_of(data, oid),
                account=self._owner_or_other(data, oid),
                order_id=oid,
            )
        else:
            cmd = Cancel(
                *self.stamp(),
                symbol=data.draw(symbols(), label="symbol"),
                account=data.draw(accounts(), label="account"),
                client_order_id=data.draw(
                    mostly(st.sampled_from(CLIENT_IDS), st.sampled_from(["", 7, None])),
                    label="client_order_id",
                ),
            )
        expected = self.model.expect_cancel(cmd)
        events = self.submit(cmd, expected if isinstance(expected, RejectReason) else None)
        if isinstance(expected, MOrder):
            assert [(type(e).__name__, e.order_id) for e in events] == [  # type: ignore[union-attr]
                ("Cancelled", expected.oid)
            ]

    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        """Amend (mostly one's own live orders): a third of the time to a new price, else a
        quantity decrease, increase or no change."""
        oid = self._some_order_id(data)
        o = self.model.orders.get(oid) if type(oid) is int else None
        symbol = self._symbol_of(data, oid)
        grid = o.symbol if o is not None else symbol
        same = o.price if o is not None else 0
        new_price = prices(grid)
        price = data.draw(
            st.integers(0, 2).flatmap(lambda n: new_price if n == 2 else st.just(same)),
            label="price",
        )
        if o is not None:
            lot = SPEC[o.symbol].lot
            sizes = st.sampled_from([max(o.qty - lot, lot), o.qty + lot, o.qty])
        else:
            sizes = quantities(grid)
        qty = data.draw(mostly(sizes, quantities(grid)), label="qty")
        cmd = Amend(
            *self.stamp(),
            symbol=symbol,
            account=self._owner_or_other(data, oid),
            order_id=oid,
            price=price,
            qty=qty,
        )
        self.submit(cmd, self.model.expect_amend(cmd))

    @rule(data=st.data())
    def mark_price(self, data: st.DataObject) -> None:
        symbol = data.draw(symbols(), label="symbol")
        price = data.draw(mark_prices(symbol), label="mark")
        cmd = SetMarkPrice(*self.stamp(), symbol=symbol, price=price)
        if symbol not in SPEC:
            expect: RejectReason | None = R.UNKNOWN_SYMBOL
        elif type(price) is not int or price <= 0:
            expect = R.INVALID_PRICE
        else:
            expect = None
            self.model.mark[symbol] = price
        self.submit(cmd, expect)

    @rule()
    def restore_round_trip(self) -> None:
        digest = self.engine.state_hash()
        blob = encode_state(self.engine.export_state())
        restored = Engine.restore(decode_state(blob))
        assert restored.state_hash() == digest
        self.engine = restored  # carry on with the restored engine

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def engine_invariants_hold(self) -> None:
        assert self.engine.check_invariants() == []

    @invariant()
    def ledger_agrees_with_engine(self) -> None:
        m, engine = self.model, self.engine
        assert m.working is None
        for spec in SPECS:
            sym = spec.symbol
            l3 = engine.l3(sym)
            for side, key in (("BUY", "bids"), ("SELL", "asks")):
                want = [(o.oid, o.price, o.qty, o.account) for o in m.resting(sym, side)]
                got = [(v.order_id, v.price, v.qty, v.account) for v in l3[key]]
                assert got == want, f"{sym} {key}: engine {got}, ledger {want}"
            want_pending = sorted(
                (o.oid, o.qty)
                for o in m.orders.values()
                if o.symbol == sym and o.state == "pending"
            )
            got_pending = sorted((v.order_id, v.qty) for v in engine.pending_triggers(sym))
            assert got_pending == want_pending
            assert engine.mark_price(sym) == m.mark[sym]
            assert (
                engine.last_price(sym) == m.last[sym]
            ), f"{sym}: engine last price {engine.last_price(sym)}, last trade {m.last[sym]}"
            assert not m.batch, "a released batch was not run to the end"
            assert not m.fire_batch(sym), "a pending order should have fired"
        for account in ACCOUNTS:
            mine = sorted((o.oid, o.qty) for o in m.orders.values() if o.account == account)
            listed = [(v.order_id, v.qty) for v in engine.open_orders(account)]
            assert listed == mine, f"account {account}: engine {listed}, ledger {mine}"
        for oid in sorted(m.closed)[-20:]:
            assert engine.order(oid) is None


TitanMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    report_multiple_bugs=False,
)
test_titan_state_machine = TitanMachine.TestCase
