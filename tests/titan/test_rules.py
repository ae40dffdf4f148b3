"""Targeted rule and query tests for Titan, each checked against hand-computed values.

This module proves: the queries (best bid/ask, top-N depth, L3 queue order, open orders,
single-order lookup, pending triggers) report the book exactly; a 10,000-order level is
filled strictly first in, first out and stays fast; removing a level that is not the best
leaves the others intact and tradable; the price band is measured against the mark price,
else the last trade price, inclusive at its edges, for new orders and amends but not for
market orders; WOULD_IMMEDIATELY_TRIGGER follows the Binance direction table for every
conditional type, side and working type; the conservation ledger (open_qty) moves exactly
as the emitted events say and a broken ledger is detected; and the last trade price is
the price of the last Trade even when self-trade prevention stops a taker at a later level.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from titan import (
    Amend,
    Cancel,
    Engine,
    Event,
    NewOrder,
    OrderType,
    RejectReason,
    SetMarkPrice,
    Side,
    StpMode,
    SymbolSpec,
    Trade,
    WorkingType,
)
from titan.book import DepthLevel

BUY, SELL = Side.BUY, Side.SELL
BTC = SymbolSpec("BTC", 1, 3, tick=5, lot=10)
BANDED = SymbolSpec("BND", 1, 3, tick=5, lot=10, band_bps=500)  # +/- 5%


class Driver:
    """An engine plus a seq counter, so tests read as a list of orders."""

    def __init__(self, *specs: SymbolSpec) -> None:
        self.engine = Engine(specs or (BTC,))
        self.seq = 0

    def _stamp(self) -> tuple[int, int]:
        self.seq += 1
        return self.seq, 1_000 * self.seq

    def new(
        self, account: int, side: Side, qty: int, price: int = 0, symbol: str = "BTC", **kw: Any
    ) -> list[Event]:
        seq, ts = self._stamp()
        oid = kw.pop("order_id", seq)
        return self.engine.apply(NewOrder(seq, ts, symbol, account, oid, side, qty, price, **kw))

    def cancel(self, account: int, oid: int, symbol: str = "BTC") -> list[Event]:
        return self.engine.apply(Cancel(*self._stamp(), symbol, account, oid))

    def amend(
        self, account: int, oid: int, price: int, qty: int, symbol: str = "BTC"
    ) -> list[Event]:
        return self.engine.apply(Amend(*self._stamp(), symbol, account, oid, price, qty))

    def mark(self, price: int, symbol: str = "BTC") -> list[Event]:
        return self.engine.apply(SetMarkPrice(*self._stamp(), symbol, price))


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def reason(events: list[Event]) -> str | None:
    rejected = [e for e in events if type(e).__name__ == "Rejected"]
    return str(rejected[0].reason) if rejected else None  # type: ignore[union-attr]


# -- queries ---------------------------------------------------------------------------


def test_queries_on_an_empty_book() -> None:
    d = Driver()
    e = d.engine
    assert e.best_bid("BTC") is None and e.best_ask("BTC") is None
    assert e.depth("BTC", 5) == ([], [])
    assert e.l3("BTC") == {"bids": [], "asks": []}
    assert e.open_orders(1) == [] and e.pending_triggers("BTC") == []
    assert e.last_price("BTC") == 0 and e.mark_price("BTC") == 0
    assert e.symbols == ["BTC"] and e.spec("BTC") is BTC
    with pytest.raises(KeyError):
        e.best_bid("ETH")


def test_best_bid_ask_and_depth() -> None:
    d = Driver()
    for acct, side, qty, price in [
        (1, BUY, 10, 1000),
        (2, BUY, 20, 1000),
        (1, BUY, 30, 995),
        (3, BUY, 40, 985),
        (2, SELL, 50, 1010),
        (3, SELL, 60, 1015),
        (1, SELL, 70, 1010),
    ]:
        assert kinds(d.new(acct, side, qty, price)) == ["Accepted"]
    e = d.engine
    assert e.best_bid("BTC") == DepthLevel(1000, 30, 2)
    assert e.best_ask("BTC") == DepthLevel(1010, 120, 2)
    depth = e.depth("BTC", 2)
    assert depth.bids == [DepthLevel(1000, 30, 2), DepthLevel(995, 30, 1)]
    assert depth.asks == [DepthLevel(1010, 120, 2), DepthLevel(1015, 60, 1)]
    full = e.depth("BTC", 10)
    assert [lv.price for lv in full.bids] == [1000, 995, 985]
    assert [lv.price for lv in full.asks] == [1010, 1015]
    assert e.depth("BTC", 0) == ([], [])
    assert e.depth("BTC", 1) == ([DepthLevel(1000, 30, 2)], [DepthLevel(1010, 120, 2)])


def test_l3_queue_order_and_partial_fill_keeps_the_head() -> None:
    d = Driver()
    d.new(1, BUY, 10, 995, order_id=11)
    d.new(2, BUY, 20, 1000, order_id=12)
    d.new(3, BUY, 30, 1000, order_id=13)
    d.new(1, BUY, 40, 1000, order_id=14)
    d.new(2, SELL, 50, 1020, order_id=15)
    d.new(3, SELL, 10, 1015, order_id=16)
    l3 = d.engine.l3("BTC")
    assert [(v.order_id, v.price, v.qty) for v in l3["bids"]] == [
        (12, 1000, 20),
        (13, 1000, 30),
        (14, 1000, 40),
        (11, 995, 10),
    ]
    assert [v.order_id for v in l3["asks"]] == [16, 15]
    # a partial fill of the head leaves it at the head with its rest
    events = d.new(9, SELL, 10, 1000, order_id=17)
    trades = [e for e in events if isinstance(e, Trade)]
    assert [(t.maker_order_id, t.qty, t.maker_remaining) for t in trades] == [(12, 10, 10)]
    bids = d.engine.l3("BTC")["bids"]
    assert [(v.order_id, v.qty, v.filled) for v in bids[:2]] == [(12, 10, 10), (13, 30, 0)]
    # cancelling from the middle of the queue keeps the others in order
    assert kinds(d.cancel(3, 13)) == ["Cancelled"]
    assert [v.order_id for v in d.engine.l3("BTC")["bids"]] == [12, 14, 11]


def test_open_orders_order_lookup_and_pending_triggers() -> None:
    d = Driver(BTC, SymbolSpec("ETH", 2, 2))
    d.new(1, BUY, 10, 1000, order_id=7, client_order_id="x", reduce_only=True)
    d.new(1, SELL, 10, order_id=3, type=OrderType.STOP_MARKET, stop_price=990)
    d.new(1, BUY, 5, 500, symbol="ETH", order_id=5)
    d.new(2, SELL, 20, 1010, order_id=4)
    e = d.engine
    assert [v.order_id for v in e.open_orders(1)] == [3, 5, 7]
    assert [v.order_id for v in e.open_orders(1, "BTC")] == [3, 7]
    assert [v.order_id for v in e.open_orders(2)] == [4]
    assert e.open_orders(99) == []
    view = e.order(7)
    assert view is not None
    assert (view.account, view.side, view.price, view.qty, view.client_order_id) == (
        1,
        BUY,
        1000,
        10,
        "x",
    )
    assert view.reduce_only and not view.pending_trigger
    pending = e.order(3)
    assert pending is not None and pending.pending_trigger and pending.stop_price == 990
    assert [v.order_id for v in e.pending_triggers("BTC")] == [3]
    assert "Trade" in kinds(d.new(3, BUY, 20, 1010, order_id=8))  # fills order 4
    assert e.order(4) is None and e.open_orders(2) == []


def test_pending_triggers_are_listed_in_firing_order() -> None:
    d = Driver()
    d.new(1, BUY, 10, order_id=1, type=OrderType.STOP_MARKET, stop_price=1020)
    d.new(1, BUY, 10, order_id=2, type=OrderType.STOP_MARKET, stop_price=1010)
    d.new(1, BUY, 10, order_id=3, type=OrderType.STOP_MARKET, stop_price=1010)
    d.new(1, SELL, 10, order_id=4, type=OrderType.STOP_MARKET, stop_price=980)
    d.new(1, SELL, 10, order_id=5, type=OrderType.STOP_MARKET, stop_price=990)
    ids = [v.order_id for v in d.engine.pending_triggers("BTC")]
    # rising: nearest (lowest) stop first, then time; falling: highest stop first
    assert ids == [2, 3, 1, 5, 4]


# -- deep FIFO and level removal -----------------------------------------------------


def test_ten_thousand_orders_at_one_level_fill_in_arrival_order() -> None:
    d = Driver()
    n = 10_000
    for i in range(n):
        d.new(1 + i % 3, BUY, 10, 1000)
    ids = [v.order_id for v in d.engine.l3("BTC")["bids"]]
    assert ids == list(range(1, n + 1))
    assert d.engine.best_bid("BTC") == DepthLevel(1000, 10 * n, n)
    # cancel every 1000th order from the middle of the queue
    for oid in range(500, n, 1000):
        assert kinds(d.cancel(1 + (oid - 1) % 3, oid)) == ["Cancelled"]
    survivors = [oid for oid in range(1, n + 1) if oid % 1000 != 500]
    start = time.perf_counter()
    events = d.new(9, SELL, 10 * len(survivors) + 10, 1000)
    elapsed = time.perf_counter() - start
    trades = [e for e in events if isinstance(e, Trade)]
    assert [t.maker_order_id for t in trades] == survivors
    assert [t.trade_id for t in trades] == list(range(1, len(survivors) + 1))
    assert all(t.price == 1000 and t.qty == 10 and t.maker_remaining == 0 for t in trades)
    assert trades[-1].taker_remaining == 10
    assert d.engine.best_bid("BTC") is None
    assert d.engine.best_ask("BTC") == DepthLevel(1000, 10, 1)
    assert d.engine.check_invariants() == []
    assert elapsed < 2.0, f"filling {len(survivors)} orders took {elapsed:.2f}s"


@pytest.mark.parametrize("side", [BUY, SELL])
def test_removing_a_level_that_is_not_the_best(side: Side) -> None:
    d = Driver()
    sign = -1 if side is BUY else 1
    prices = [1000 + sign * 5 * k for k in range(4)]  # best first
    for i, price in enumerate(prices):
        d.new(1, side, 10, price, order_id=i + 1)
    # cancel the only order of the second-best level
    assert kinds(d.cancel(1, 2)) == ["Cancelled"]
    book = d.engine.depth("BTC", 10)
    mine = book.bids if side is BUY else book.asks
    assert [lv.price for lv in mine] == [prices[0], prices[2], prices[3]]
    # amend the third level's only order away: that level goes as well
    assert kinds(d.amend(1, 3, prices[3], 10)) == ["Amended"]
    book = d.engine.depth("BTC", 10)
    mine = book.bids if side is BUY else book.asks
    assert mine == [DepthLevel(prices[0], 10, 1), DepthLevel(prices[3], 20, 2)]
    assert d.engine.check_invariants() == []
    # a sweep through the whole side trades only at the remaining levels
    other = SELL if side is BUY else BUY
    events = d.new(2, other, 30, prices[3])
    trades = [e for e in events if isinstance(e, Trade)]
    assert [(t.maker_order_id, t.price) for t in trades] == [
        (1, prices[0]),
        (4, prices[3]),
        (3, prices[3]),
    ]
    assert d.engine.best_bid("BTC") is None and d.engine.best_ask("BTC") is None


# -- price band -------------------------------------------------------------------------


def test_band_against_the_mark_price_is_inclusive() -> None:
    d = Driver(BANDED)
    assert kinds(d.new(1, BUY, 10, 5, symbol="BND")) == ["Accepted"]  # no reference: no band
    d.mark(1000, symbol="BND")
    assert reason(d.new(1, SELL, 10, 1055, symbol="BND")) == "PRICE_OUTSIDE_BAND"
    assert kinds(d.new(1, SELL, 10, 1050, symbol="BND")) == ["Accepted"]
    assert reason(d.new(1, BUY, 10, 945, symbol="BND")) == "PRICE_OUTSIDE_BAND"
    assert kinds(d.new(1, BUY, 10, 950, symbol="BND")) == ["Accepted"]
    # market orders have no price to check
    assert kinds(d.new(1, BUY, 10, symbol="BND", type=OrderType.MARKET))[0] == "Accepted"


def test_band_uses_last_price_without_mark_and_mark_when_both() -> None:
    d = Driver(BANDED)
    d.new(1, SELL, 10, 2000, symbol="BND")
    d.new(2, BUY, 10, 2000, symbol="BND")  # trade: last price 2000
    assert d.engine.last_price("BND") == 2000
    assert reason(d.new(1, SELL, 10, 2105, symbol="BND")) == "PRICE_OUTSIDE_BAND"
    assert kinds(d.new(1, SELL, 10, 2100, symbol="BND", order_id=50)) == ["Accepted"]
    assert kinds(d.new(1, BUY, 10, 1900, symbol="BND", order_id=51)) == ["Accepted"]
    d.mark(1500, symbol="BND")  # the mark now rules: 1425..1575
    assert reason(d.new(1, BUY, 10, 1900, symbol="BND")) == "PRICE_OUTSIDE_BAND"
    assert kinds(d.new(1, BUY, 10, 1575, symbol="BND")) == ["Accepted"]
    # amends: a new price is checked, a quantity-only change of an order now outside is not
    assert reason(d.amend(1, 51, 1580, 10, symbol="BND")) == "PRICE_OUTSIDE_BAND"
    assert kinds(d.amend(1, 51, 1900, 20, symbol="BND")) == ["Amended"]
    assert kinds(d.amend(1, 51, 1570, 20, symbol="BND")) == ["Amended"]


def test_band_disabled_when_zero() -> None:
    d = Driver()
    d.mark(1000)
    assert kinds(d.new(1, BUY, 10, 5)) == ["Accepted"]
    assert kinds(d.new(1, SELL, 10, 100_000)) == ["Accepted"]


# -- WOULD_IMMEDIATELY_TRIGGER ------------------------------------------------------------

# (side, type, fires when the watched price has risen to the stop?)
DIRECTIONS = [
    (BUY, OrderType.STOP, True),
    (BUY, OrderType.STOP_MARKET, True),
    (SELL, OrderType.TAKE_PROFIT, True),
    (SELL, OrderType.TAKE_PROFIT_MARKET, True),
    (SELL, OrderType.STOP, False),
    (SELL, OrderType.STOP_MARKET, False),
    (BUY, OrderType.TAKE_PROFIT, False),
    (BUY, OrderType.TAKE_PROFIT_MARKET, False),
]


@pytest.mark.parametrize("working", list(WorkingType))
@pytest.mark.parametrize(("side", "otype", "rises"), DIRECTIONS)
def test_would_immediately_trigger(
    side: Side, otype: OrderType, rises: bool, working: WorkingType
) -> None:
    d = Driver()

    def place(stop: int) -> list[Event]:
        price = 0 if otype in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET) else 1000
        return d.new(
            1, side, 10, price, type=otype, stop_price=stop, working_type=working, order_id=100
        )

    # before any watched price exists, any stop is accepted
    assert kinds(place(1000)) == ["Accepted"]
    d.cancel(1, 100)
    if working is WorkingType.MARK_PRICE:
        d.mark(1000)
    else:
        d.new(2, SELL, 10, 1000)
        d.new(3, BUY, 10, 1000)
    assert d.engine.last_price("BTC") == (1000 if working is WorkingType.CONTRACT_PRICE else 0)
    before = d.engine.state_hash()
    # a stop exactly at the watched price fires at once
    assert reason(place(1000)) == "WOULD_IMMEDIATELY_TRIGGER"
    # one tick on the side the price has already passed fires too
    assert reason(place(995 if rises else 1005)) == "WOULD_IMMEDIATELY_TRIGGER"
    assert d.engine.state_hash() == before
    # one tick on the far side must wait
    assert kinds(place(1005 if rises else 995)) == ["Accepted"]
    assert [v.order_id for v in d.engine.pending_triggers("BTC")] == [100]


# -- conservation ledger ---------------------------------------------------------------------


def _ledger_from_events(events: list[Event], symbol: str) -> int:
    total = 0
    for e in events:
        if e.symbol != symbol:
            continue
        name = type(e).__name__
        if name == "Accepted":
            total += e.qty  # type: ignore[union-attr]
        elif name == "Trade":
            total -= 2 * e.qty  # type: ignore[union-attr]
        elif name in ("Cancelled", "Expired"):
            total -= e.qty  # type: ignore[union-attr]
    return total


def test_conservation_ledger_moves_exactly_as_the_events_say() -> None:
    d = Driver()
    log: list[Event] = []
    amended: list[tuple[int, int]] = []  # (old open qty, new open qty)

    def step(events: list[Event]) -> None:
        log.extend(events)
        state = d.engine.export_state()["symbols"][0]
        open_now = sum(
            v.qty for v in d.engine.l3("BTC")["bids"] + d.engine.l3("BTC")["asks"]
        ) + sum(v.qty for v in d.engine.pending_triggers("BTC"))
        by_events = _ledger_from_events(log, "BTC") + sum(new - old for old, new in amended)
        assert state["open_qty"] == open_now == by_events

    step(d.new(1, BUY, 30, 1000))
    step(d.new(2, BUY, 20, 995))
    step(d.new(3, SELL, 40, type=OrderType.STOP_MARKET, stop_price=990))
    step(d.new(4, SELL, 40, 1000))  # trades 30, rests 10
    step(d.new(5, BUY, 50, 1005, tif="IOC"))  # trades 10, expires 40
    amended.append((20, 60))
    step(d.amend(2, 2, 995, 60))
    amended.append((60, 30))
    step(d.amend(2, 2, 995, 30))
    step(d.new(6, SELL, 10, 990))  # trades at 995, last 995
    step(d.new(7, SELL, 50, 985))  # trades 20 at 995, last 995; rests 30 at 985
    step(d.new(8, BUY, 10, 985))  # last 985: the stop at 990 fires, market sell 40
    assert "Triggered" in kinds(log)
    assert [(v.order_id, v.qty) for v in d.engine.open_orders(7)] == [(9, 20)]
    step(d.cancel(7, 9))
    assert kinds(log[-1:]) == ["Cancelled"]
    assert d.engine.check_invariants() == []


def test_broken_ledger_is_detected() -> None:
    d = Driver()
    d.new(1, BUY, 30, 1000)
    state = d.engine.export_state()
    state["symbols"][0]["open_qty"] += 10
    with pytest.raises(ValueError, match="not conserved"):
        Engine.restore(state)


# -- last trade price ------------------------------------------------------------------------


@pytest.mark.parametrize("stp", [StpMode.EXPIRE_TAKER, StpMode.EXPIRE_MAKER, StpMode.EXPIRE_BOTH])
def test_last_price_is_the_last_trade_when_stp_stops_at_a_later_level(stp: StpMode) -> None:
    """The taker trades at 1000, then meets its own maker at 1005 and STP acts there.
    Nothing traded at 1005, so the last price must stay 1000 (it drives CONTRACT_PRICE
    stops and the band when there is no mark)."""
    d = Driver()
    d.new(2, SELL, 10, 1000)
    d.new(1, SELL, 10, 1005)
    events = d.new(1, BUY, 20, 1005, stp=stp)
    trades = [e for e in events if isinstance(e, Trade)]
    assert [(t.price, t.qty) for t in trades] == [(1000, 10)]
    assert d.engine.last_price("BTC") == 1000


def test_last_price_follows_the_last_trade_across_levels() -> None:
    d = Driver()
    d.new(2, SELL, 10, 1000)
    d.new(2, SELL, 10, 1005)
    d.new(1, BUY, 20, 1010)
    assert d.engine.last_price("BTC") == 1005
    d.new(3, BUY, 10, 990)
    d.new(4, SELL, 10, 990)
    assert d.engine.last_price("BTC") == 990


# -- misc ----------------------------------------------------------------------------------------


def test_amend_keeps_filled_and_views_report_it() -> None:
    d = Driver()
    d.new(1, BUY, 30, 1000, order_id=1)
    d.new(2, SELL, 10, 1000)
    assert kinds(d.amend(1, 1, 1000, 10)) == ["Amended"]
    view = d.engine.order(1)
    assert view is not None and (view.qty, view.filled) == (10, 10)


def test_non_commands_and_duplicate_symbols_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        Engine([BTC, BTC])
    with pytest.raises(TypeError):
        Engine([BTC]).apply(("not", "a", "command"))  # type: ignore[arg-type]


def test_rejections_carry_request_and_identity() -> None:
    d = Driver()
    (rej,) = d.new(5, BUY, 15, 1000, order_id=77, client_order_id="q")
    assert type(rej).__name__ == "Rejected"
    assert (rej.request, rej.order_id, rej.account, rej.client_order_id, rej.reason) == (  # type: ignore[union-attr]
        "NEW",
        77,
        5,
        "q",
        RejectReason.QTY_OFF_LOT_GRID,
    )


MALFORMED: list[tuple[str, dict[str, Any], RejectReason]] = [
    ("float account", {"account": 1.0}, RejectReason.INVALID_ACCOUNT),
    ("list symbol", {"symbol": ["BTC"]}, RejectReason.UNKNOWN_SYMBOL),
    ("list side", {"side": ["BUY"]}, RejectReason.INVALID_SIDE),
    ("dict type", {"type": {"LIMIT": 1}}, RejectReason.INVALID_ORDER_TYPE),
    ("none tif", {"tif": None}, RejectReason.INVALID_TIME_IN_FORCE),
    ("list stp", {"stp": []}, RejectReason.INVALID_STP_MODE),
    ("int working type", {"working_type": 3}, RejectReason.INVALID_WORKING_TYPE),
    ("float order id", {"order_id": 2.0}, RejectReason.INVALID_ORDER_ID),
    ("none client id", {"client_order_id": None}, RejectReason.INVALID_CLIENT_ORDER_ID),
    ("float qty", {"qty": 10.0}, RejectReason.INVALID_QUANTITY),
    ("str price", {"price": "1000"}, RejectReason.INVALID_PRICE),
]


@pytest.mark.parametrize(("field_values", "expected"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])  # fmt: skip
def test_malformed_new_orders_are_rejected_with_clean_events(
    field_values: dict[str, Any], expected: RejectReason
) -> None:
    engine = Engine([BTC])
    before = engine.state_hash()
    fields: dict[str, Any] = dict(
        seq=1, ts=1, symbol="BTC", account=1, order_id=1, side=BUY, qty=10, price=1000
    )
    fields.update(field_values)
    (rej,) = engine.apply(NewOrder(**fields))
    assert type(rej).__name__ == "Rejected"
    assert rej.reason == expected  # type: ignore[union-attr]
    # identifying fields are echoed only when well-typed: never floats, None or containers
    for value in (rej.symbol, rej.order_id, rej.account, rej.client_order_id):  # type: ignore[union-attr]
        assert type(value) in (str, int)
    assert engine.state_hash() == before


def test_malformed_cancels_and_cancel_all_are_rejected() -> None:
    from titan import CancelAll

    d = Driver()
    d.new(1, BUY, 10, 1000, client_order_id="c1")
    before = d.engine.state_hash()
    (a,) = d.engine.apply(Cancel(10, 10, "BTC", [1], 0, "c1"))  # type: ignore[arg-type]
    (b,) = d.engine.apply(CancelAll(11, 11, "BTC", {"a": 1}))  # type: ignore[arg-type]
    (c,) = d.engine.apply(Cancel(12, 12, ["BTC"], 1, 1))  # type: ignore[arg-type]
    (e,) = d.engine.apply(SetMarkPrice(13, 13, "BTC", 1000.5))  # type: ignore[arg-type]
    assert [x.reason for x in (a, b, c, e)] == [  # type: ignore[union-attr]
        RejectReason.INVALID_ACCOUNT,
        RejectReason.INVALID_ACCOUNT,
        RejectReason.UNKNOWN_SYMBOL,
        RejectReason.INVALID_PRICE,
    ]
    assert d.engine.state_hash() == before


def test_one_trade_releases_every_order_its_price_fires_as_one_batch() -> None:
    """Both stops are reached by the trade at 1000; the first one's own trade moves the
    price to 1050, which would not fire the second, yet it must still be released."""
    d = Driver()
    d.new(1, SELL, 10, 1000)
    d.new(1, SELL, 50, 1050)
    d.new(2, BUY, 10, 0, type=OrderType.STOP_MARKET, stop_price=1000)  # seq 3: rising
    d.new(3, SELL, 10, 0, type=OrderType.STOP_MARKET, stop_price=1000)  # seq 4: falling
    events = d.new(4, BUY, 10, 1000)
    fired = [(e.order_id, e.trigger_price) for e in events if type(e).__name__ == "Triggered"]
    assert fired == [(3, 1000), (4, 1000)]
    trades = [e.price for e in events if isinstance(e, Trade)]
    assert trades == [1000, 1050]
    assert d.engine.pending_triggers("BTC") == []
    assert d.engine.check_invariants() == []


def test_trigger_price_is_the_price_that_fired_the_order() -> None:
    d = Driver()
    d.new(1, SELL, 10, 1000)
    d.new(1, SELL, 10, 1030)
    d.new(1, SELL, 10, 1050)
    d.new(2, BUY, 10, 995)
    d.new(2, SELL, 10, 995)  # trade at 995: last price set, so stops are accepted
    d.new(3, BUY, 10, 0, type=OrderType.STOP_MARKET, stop_price=1000)  # seq 6
    d.new(3, BUY, 10, 0, type=OrderType.STOP_MARKET, stop_price=1040)  # seq 7
    events = d.new(4, BUY, 10, 1000)  # trade at 1000 fires 6; its trade at 1030 ...
    fired = [(e.order_id, e.trigger_price) for e in events if type(e).__name__ == "Triggered"]
    # ... does not reach 1040; order 7 stays pending until a trade at 1050
    assert fired == [(6, 1000)]
    events = d.new(4, BUY, 10, 1050)
    fired = [(e.order_id, e.trigger_price) for e in events if type(e).__name__ == "Triggered"]
    assert fired == [(7, 1050)]


@pytest.mark.parametrize(
    "fields",
    [
        {"price": 2**64},
        {"price": 2**63},
        {"order_id": 2**64},
        {"account": 2**64},
        {"account": -1},
        {"qty": 2**64},
        {"type": OrderType.STOP, "stop_price": 2**64},
    ],
)
def test_integers_beyond_64_bits_are_rejected_so_the_state_stays_hashable(
    fields: dict[str, Any],
) -> None:
    engine = Engine([BTC])
    before = engine.state_hash()
    base: dict[str, Any] = dict(
        seq=1, ts=1, symbol="BTC", account=1, order_id=1, side=SELL, qty=10, price=1000
    )
    base.update(fields)
    (event,) = engine.apply(NewOrder(**base))
    assert type(event).__name__ == "Rejected"
    assert engine.state_hash() == before
    (mark,) = engine.apply(SetMarkPrice(2, 2, "BTC", 2**64))
    assert mark.reason == RejectReason.INVALID_PRICE  # type: ignore[union-attr]
    engine.apply(NewOrder(3, 3, "BTC", 1, 3, SELL, 10, 1000))
    (amend,) = engine.apply(Amend(4, 4, "BTC", 1, 3, 2**64 - 1, 10))
    assert amend.reason == RejectReason.INVALID_PRICE  # type: ignore[union-attr]
    assert len(engine.state_hash()) == 64


def test_amend_refuses_a_non_integer_account() -> None:
    d = Driver()
    d.new(1, BUY, 50, 1000)
    before = d.engine.state_hash()
    for account in (1.0, True, "1"):
        (event,) = d.engine.apply(Amend(9, 9, "BTC", account, 1, 1000, 40))  # type: ignore[arg-type]
        assert event.reason == RejectReason.INVALID_ACCOUNT  # type: ignore[union-attr]
    assert d.engine.state_hash() == before
