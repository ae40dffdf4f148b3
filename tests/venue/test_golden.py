"""Golden scenarios for Sentinel through the venue, with every figure derived by hand.

BTCUSDT: tick 0.10 (price units of 0.1), lot 0.001 (quantity units of 0.001), so a price
unit times a quantity unit is 10**-4 USDT = 10**4 money units. Fees 0.02% maker, 0.05%
taker, liquidation clearance fee 0.5%, the 2023 BTCUSDT bracket table. The venue's
invariants (conservation, index exactness, no crossed unit left) are checked after
every command.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType, Withdraw
from sentinel.contracts import contract_from_terms
from sentinel.events import (
    AutoDeleveraged,
    BalanceChanged,
    FundChanged,
    FundingPaid,
    FundingSettled,
    FundReason,
    InsuranceTakeover,
    LiquidationFinished,
    LiquidationOrder,
    LiquidationStarted,
    PositionChanged,
    ReduceOnlyCancelled,
    Refusal,
    Refused,
)
from sentinel.ledger import FUND
from sentinel.units import money
from titan.commands import NewOrder
from titan.enums import ExpireReason, OrderType, Side, TimeInForce
from titan.events import Amended, Cancelled, Expired, Trade
from titan.symbols import SymbolSpec
from venue.venue import Venue

SPEC = SymbolSpec.from_decimals("BTCUSDT", "0.10", "0.001", "5", "1000", "0")
HOUR = 3600 * 1000


def P(text: str) -> int:
    return SPEC.price_units(text)


def Q(text: str) -> int:
    return SPEC.qty_units(text)


def M(text: str) -> int:
    return money(Decimal(text))


class Run:
    """A venue driven command by command, with invariants checked after each."""

    def __init__(self, **terms: Any) -> None:
        self.venue = Venue([contract_from_terms(SPEC, terms, "BTCUSDT")])
        self.seq = 0
        self.ts = 1_000

    def __call__(self, cls: type, *args: Any, **kw: Any) -> list[Any]:
        self.seq += 1
        events = self.venue.apply(cls(self.seq, self.ts, *args, **kw))
        assert self.venue.check_invariants() == []
        return events

    def order(
        self, account: int, oid: int, side: str, qty: str, price: str = "0", **kw: Any
    ) -> list[Any]:
        return self(
            NewOrder,
            "BTCUSDT",
            account,
            oid,
            Side(side),
            Q(qty),
            P(price) if price != "0" else 0,
            **kw,
        )

    def mark(self, price: str, rate: int = 0) -> list[Any]:
        return self(MarkPrice, "BTCUSDT", P(price), rate)

    def balance(self, account: int) -> int:
        return self.venue.ledger.wallets[(account, "USDT")].balance

    def position(self, account: int) -> tuple[int, int, int]:
        p = self.venue.ledger.position(account, "BTCUSDT")
        return (0, 0, 0) if p is None else (p.size, p.cost, p.margin)

    def fund(self) -> int:
        return self.venue.ledger.fund_balance("USDT")


def of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if type(e) is kind]


def fill_of(events: list[Any], account: int) -> Any:
    """The first PositionChanged of ``account``."""
    return next(e for e in of(events, PositionChanged) if e.account == account)


def long_one(r: Run) -> list[Any]:
    """Mark 50,000; accounts 1 and 2 hold 100,000 each; account 2 buys 1 BTC at market
    from account 1's ask at 50,000 (cross, 20x). Returns the buy's events."""
    r.mark("50000")
    r(Deposit, 1, "USDT", M("100000"))
    r(Deposit, 2, "USDT", M("100000"))
    r.order(1, 1, "SELL", "1", "50000")
    return r.order(2, 2, "BUY", "1", type=OrderType.MARKET)


def test_fees_and_flip_from_long_to_short() -> None:
    r = Run()
    ev = long_one(r)
    fills = of(ev, PositionChanged)
    assert [(f.account, f.fee) for f in fills] == [(1, M("10")), (2, M("25"))]  # 0.02% / 0.05%
    # account 2 flips: sells 3 at 51,000 into account 1's bid
    r.order(1, 3, "BUY", "3", "51000")
    ev = r.order(2, 4, "SELL", "3", "51000")
    taker = fill_of(ev, 2)
    assert taker.realized_pnl == M("1000")  # (51,000 - 50,000) x 1 on the closed long
    assert taker.size == -Q("2") and taker.cost == -M("102000")  # short 2 at 51,000
    assert taker.fee == M("76.5")  # 153,000 x 0.05%
    maker = fill_of(ev, 1)
    assert maker.realized_pnl == -M("1000") and maker.size == Q("2") and maker.fee == M("30.6")
    assert r.balance(2) == M("100000") - M("25") + M("1000") - M("76.5")
    assert r.balance(1) == M("100000") - M("10") - M("1000") - M("30.6")
    assert r.venue.ledger.fees["USDT"] == M("142.1")
    kinds = [(e.reason, e.amount) for e in of(ev, BalanceChanged) if e.account == 2]
    assert [str(k) for k, _ in kinds] == ["REALIZED_PNL", "FEE"]


def test_partial_cost_split_conserves_exactly() -> None:
    """Closing a third of a position splits an entry cost that does not divide evenly:
    the remainder stays on the open part, and closing the rest realizes exactly the
    difference of notionals."""
    r = Run(maker_fee="0", taker_fee="0")
    r.mark("50000")
    r(Deposit, 1, "USDT", M("100000"))
    r(Deposit, 2, "USDT", M("100000"))
    r.order(1, 1, "SELL", "0.001", "50000.1")
    r.order(1, 2, "SELL", "0.002", "50000")
    r.order(2, 3, "BUY", "0.003", type=OrderType.MARKET)
    size, cost, _ = r.position(2)
    assert size == 3 and cost == M("150.0001")  # 0.002 x 50,000 + 0.001 x 50,000.1
    r.order(1, 4, "BUY", "0.001", "50000")
    ev = r.order(2, 5, "SELL", "0.001", type=OrderType.MARKET)
    first = fill_of(ev, 2)
    assert first.realized_pnl == M("50") - M("150.0001") // 3  # a third of the cost, floored
    r.order(1, 6, "BUY", "0.002", "50000")
    ev = r.order(2, 7, "SELL", "0.002", type=OrderType.MARKET)
    second = fill_of(ev, 2)
    assert first.realized_pnl + second.realized_pnl == M("150") - M("150.0001")
    assert r.position(2) == (0, 0, 0)


def _isolated_long(r: Run, account: int, leverage: int, qty: str, price: str) -> None:
    r(SetMarginType, account, "BTCUSDT", True)
    r(SetLeverage, account, "BTCUSDT", leverage)
    r.order(1, 100 + account, "SELL", qty, price)
    r.order(account, 200 + account, "BUY", qty, type=OrderType.MARKET)


def isolated_long_ten(r: Run) -> None:
    """Mark 50,000; account 1 (the maker, 1,000,000) and 3 (a bidder, 100,000); account 10
    (10,000) is isolated long 1 BTC at 50,000, 10x: margin 5,000, bankrupt at 45,000,
    liquidated at 45,180.72..."""
    r.mark("50000")
    r(Deposit, 1, "USDT", M("1000000"))
    r(Deposit, 3, "USDT", M("100000"))
    r(Deposit, 10, "USDT", M("10000"))
    _isolated_long(r, 10, 10, "1", "50000")


def test_isolated_liquidation_price_matches_the_bracket_vector() -> None:
    """Binance's worked example: isolated long 1 BTC @ 60,000 with 600 margin liquidates at
    59,648.24 (bracket 2 after bracket 1's 59,638.55 fell outside it); the short at
    60,348.26."""
    r = Run()
    r.mark("60000")
    r(Deposit, 1, "USDT", M("1000000"))
    r(Deposit, 2, "USDT", M("1000"))
    r(Deposit, 3, "USDT", M("1000"))
    _isolated_long(r, 2, 100, "1", "60000")  # 60,000 / 100 = 600 of isolated margin
    assert r.position(2)[2] == M("600")
    r(SetMarginType, 3, "BTCUSDT", True)
    r(SetLeverage, 3, "BTCUSDT", 100)
    r.order(1, 50, "BUY", "1", "60000")
    r.order(3, 51, "SELL", "1", type=OrderType.MARKET)
    entries = {key[0]: (long, t) for long, t, key in r.venue.ledger.index_entries("BTCUSDT")}
    assert entries[2] == (True, P("59648.2"))  # floor(59,648.2412 / 0.1)
    assert entries[3] == (False, P("60348.3"))  # ceil(60,348.2587 / 0.1)
    assert not of(r.mark("59648.3"), LiquidationStarted)
    assert not of(r.mark("60348.2"), LiquidationStarted)
    started = of(r.mark("59648.2"), LiquidationStarted)
    assert [(e.account, e.symbol) for e in started] == [(2, "BTCUSDT")]
    started = of(r.mark("60348.3"), LiquidationStarted)
    assert [(e.account, e.symbol) for e in started] == [(3, "BTCUSDT")]


def test_liquidation_partly_filled_rest_taken_over_by_the_fund() -> None:
    r = Run()
    isolated_long_ten(r)
    assert r.position(10) == (Q("1"), M("50000"), M("5000"))
    assert r.balance(10) == M("10000") - M("25") - M("5000")
    r.order(3, 30, "BUY", "0.4", "45100")
    # LP = (5,000 - 50,000) / (0.004 - 1) = 45,180.72...: 45,180.8 is safe, 45,180.7 is not
    assert not of(r.mark("45180.8"), LiquidationStarted)
    ev = r.mark("45180.7")
    (started,) = of(ev, LiquidationStarted)
    assert started.balance == M("180.7")  # 5,000 + (45,180.7 - 50,000)
    assert started.maintenance == M("180.7228")  # 45,180.7 x 0.4%
    (order,) = of(ev, LiquidationOrder)
    assert (order.side, order.qty, order.bankruptcy_price) == ("SELL", Q("1"), P("45000"))
    (trade,) = of(ev, Trade)
    assert (trade.price, trade.qty, trade.maker_account) == (P("45100"), Q("0.4"), 3)
    liq_fill = [f for f in of(ev, PositionChanged) if f.account == 10 and f.trade_id]
    assert liq_fill[0].fee == 0 and liq_fill[0].realized_pnl == -M("1960")
    (takeover,) = of(ev, InsuranceTakeover)
    assert (takeover.qty, takeover.price) == (Q("0.6"), P("45000"))
    (done,) = of(ev, LiquidationFinished)
    # margin left: 5,000 - 1,960 - 3,000 = 40; the 225 clearance fee is capped at it
    assert (done.filled, done.taken_over, done.deleveraged) == (Q("0.4"), Q("0.6"), 0)
    assert (done.fee, done.remainder) == (M("40"), 0)
    assert r.fund() == M("40")
    assert r.position(FUND) == (Q("0.6"), M("27000"), 0)
    assert r.position(10) == (0, 0, 0)
    assert r.balance(10) == M("4975")  # the wallet outside the isolated margin is untouched


def test_fill_better_than_bankruptcy_adds_to_the_fund() -> None:
    r = Run()
    isolated_long_ten(r)
    r.order(3, 30, "BUY", "1", "45150")
    ev = r.mark("45180")
    (done,) = of(ev, LiquidationFinished)
    # filled at 45,150: margin left 5,000 - 4,850 = 150 = fee 150 (capped; 0.5% is 225)
    assert (done.filled, done.fee, done.remainder) == (Q("1"), M("150"), 0)
    reasons = [(f.reason, f.amount) for f in of(ev, FundChanged)]
    assert reasons == [(FundReason.LIQUIDATION_FEE, M("150"))]


def test_adl_when_the_fund_cannot_cover_a_gap() -> None:
    """The mark gaps far below the bankruptcy price with an empty book: the fund (empty)
    cannot take a position at a loss, so the most profitable, most leveraged shorts are
    deleveraged at the bankruptcy price, with no fee."""
    r = Run()
    r.mark("50000")
    r(Deposit, 1, "USDT", M("100000"))  # short 1 against account 10, cross, low leverage
    r(Deposit, 4, "USDT", M("5000"))  # short 0.5, cross, high leverage
    r(Deposit, 5, "USDT", M("100000"))  # long 0.5 against account 4
    r(Deposit, 10, "USDT", M("10000"))
    _isolated_long(r, 10, 10, "1", "50000")
    r.order(4, 40, "SELL", "0.5", "50000")
    r.order(5, 50, "BUY", "0.5", type=OrderType.MARKET)
    ev = r.mark("40000")
    (started,) = of(ev, LiquidationStarted)
    assert started.account == 10
    assert not of(ev, Trade) and not of(ev, InsuranceTakeover)
    adl = [(e.counterparty, e.qty, e.price, e.rank) for e in of(ev, AutoDeleveraged)]
    # LeveragePnL at 40,000: account 4: 5,000/4,995 x 80/9,995 ~ 0.0080;
    # account 1: 10,000/99,990 x 160/109,990 ~ 0.00015 -> account 4 first
    assert adl == [(4, Q("0.5"), P("45000"), 1), (1, Q("0.5"), P("45000"), 2)]
    cp = {f.account: f for f in of(ev, PositionChanged) if f.account in (1, 4)}
    assert cp[4].realized_pnl == M("2500") and cp[4].fee == 0 and cp[4].size == 0
    assert cp[1].realized_pnl == M("2500") and cp[1].size == -Q("0.5")
    (done,) = of(ev, LiquidationFinished)
    assert (done.deleveraged, done.fee, done.remainder) == (Q("1"), 0, 0)
    assert r.fund() == 0


def test_fund_takes_over_at_a_loss_it_can_cover() -> None:
    r = Run()
    r.mark("50000")
    r(Deposit, 1, "USDT", M("1000000"))
    r(Deposit, 3, "USDT", M("100000"))
    r(Deposit, 10, "USDT", M("10000"))
    r(Deposit, 11, "USDT", M("10000"))
    _isolated_long(r, 10, 10, "1", "50000")
    _isolated_long(r, 11, 5, "0.1", "50000")  # margin 1,000: bankrupt at 40,000
    r.order(3, 30, "BUY", "1", "45900")  # account 10 is filled well: a surplus for the fund
    ev = r.mark("45180")
    surplus = sum(e.amount for e in of(ev, FundChanged))
    assert surplus == M("5000") - M("4100")  # margin left after selling 1 at 45,900
    assert r.fund() == M("900")
    # account 11 gaps to 39,000 with an empty book: the fund takes 0.1 at 40,000 while
    # the mark is 39,000, a loss of 100 that its 900 covers
    ev = r.mark("39000")
    (takeover,) = of(ev, InsuranceTakeover)
    assert (takeover.account, takeover.qty, takeover.price) == (11, Q("0.1"), P("40000"))
    assert not of(ev, AutoDeleveraged)


def test_funding_exchanges_payments_with_rounding_to_the_fund() -> None:
    r = Run()
    long_one(r)
    before = r.balance(1), r.balance(2)
    r.ts = 8 * HOUR - 1
    assert not of(r.mark("50000.1", 12345), FundingSettled)
    r.ts = 8 * HOUR
    ev = r.mark("50000.1", 12345)  # 0.012345% of 50,000.1 = 6.17251234 5
    (settled,) = of(ev, FundingSettled)
    assert (settled.paid, settled.received) == (617251235, 617251234)
    assert {e.account: e.amount for e in of(ev, FundingPaid)} == {1: 617251234, 2: -617251235}
    assert r.balance(2) == before[1] - 617251235  # the long pays (rate > 0), rounded up
    assert r.balance(1) == before[0] + 617251234  # the short receives, rounded down
    assert [(f.reason, f.amount) for f in of(ev, FundChanged)] == [(FundReason.FUNDING_ROUNDING, 1)]
    r.ts = 8 * HOUR + 1000
    assert not of(r.mark("50000.1", 12345), FundingSettled)  # next one is at 16 h


def test_refusals_change_nothing() -> None:
    r = Run()
    r(Deposit, 2, "USDT", M("1000"))
    h = r.venue.state_hash()
    assert of(r.order(2, 1, "BUY", "0.01", "50000"), Refused)[0].reason is Refusal.NO_MARK_PRICE
    r.mark("50000")
    h = r.venue.state_hash()
    cases = [
        (r.order(2, 2, "BUY", "1", "50000"), Refusal.INSUFFICIENT_MARGIN),  # 2,500 > 1,000
        (r.order(2, 3, "SELL", "0.01", "50000", reduce_only=True), Refusal.REDUCE_ONLY_REJECTED),
        (r.order(0, 4, "BUY", "0.01", "50000"), Refusal.RESERVED_ACCOUNT),
        (r.order(2, 1 << 62, "BUY", "0.01", "50000"), Refusal.RESERVED_ORDER_ID),
        (r(Withdraw, 2, "USDT", M("1000.00000001")), Refusal.INSUFFICIENT_BALANCE),
        (r(Deposit, 2, "USDC", M("1")), Refusal.UNKNOWN_ASSET),
        (r(Deposit, 2, "USDT", 0), Refusal.INVALID_AMOUNT),
        (r(SetLeverage, 2, "BTCUSDT", 126), Refusal.INVALID_LEVERAGE),
    ]
    for events, reason in cases:
        assert [type(e) for e in events] == [Refused] and events[0].reason is reason
    assert r.venue.state_hash() == h
    # a withdrawal that would breach initial margin: 0.3 BTC at 20x holds 750
    r(Deposit, 1, "USDT", M("100000"))
    r.order(1, 10, "SELL", "0.3", "50000")
    r.order(2, 11, "BUY", "0.3", type=OrderType.MARKET)
    h = r.venue.state_hash()
    left = r.balance(2) - M("750")  # wallet - position margin (upnl is 0 at the mark)
    (refused,) = r(Withdraw, 2, "USDT", left + 1)
    assert refused.reason is Refusal.WITHDRAW_BREACHES_MARGIN
    assert r.venue.state_hash() == h
    assert of(r(Withdraw, 2, "USDT", left), BalanceChanged)[0].balance == M("750")


def test_reduce_only_order_is_cancelled_when_the_position_closes() -> None:
    r = Run()
    long_one(r)
    r.order(2, 3, "SELL", "1", "52000", reduce_only=True)
    r.order(1, 4, "BUY", "1", "49000")
    ev = r.order(2, 5, "SELL", "1", type=OrderType.MARKET)
    assert [(e.order_id) for e in of(ev, ReduceOnlyCancelled)] == [3]
    assert [(e.order_id, e.qty) for e in of(ev, Cancelled)] == [(3, Q("1"))]
    assert r.venue.titan.open_orders(2) == []


def test_cross_liquidation_cancels_orders_and_takes_the_wallet() -> None:
    r = Run()
    r.mark("50000")
    r(Deposit, 1, "USDT", M("1000000"))
    r(Deposit, 20, "USDT", M("2600"))
    r.order(1, 1, "SELL", "1", "50000")
    r.order(20, 2, "BUY", "1", type=OrderType.MARKET)  # 20x: 2,500 of margin, fee 25
    r.order(20, 3, "BUY", "0.001", "40000")  # an open order that liquidation cancels
    # cross, one position: LP = (2,575 - 50,000) / (0.004 - 1) -> 47,615.46...
    assert not of(r.mark("47615.5"), LiquidationStarted)
    ev = r.mark("47615.4")
    (started,) = of(ev, LiquidationStarted)
    assert (started.account, started.symbol) == (20, "")
    assert [e.order_id for e in of(ev, Cancelled)] == [3]
    (order,) = of(ev, LiquidationOrder)
    assert order.bankruptcy_price == P("47425")  # 50,000 - 2,575, on the tick grid
    (done,) = of(ev, LiquidationFinished)
    assert done.taken_over == Q("1") and done.fee == 0 and done.remainder == 0
    assert r.balance(20) == 0


@pytest.mark.parametrize("leverage", [1, 20, 125])
def test_leverage_limits_notional(leverage: int) -> None:
    r = Run()
    r.mark("50000")
    r(Deposit, 2, "USDT", M("100000000"))
    r(SetLeverage, 2, "BTCUSDT", leverage)
    cap = {1: "500000000", 20: "20000000", 125: "50000"}[leverage]
    too_big = (Decimal(cap) / 50000 + Decimal("0.001")).quantize(Decimal("0.001"))
    (refused,) = r.order(2, 1, "BUY", str(too_big), "50000")
    assert refused.reason is Refusal.NOTIONAL_ABOVE_LEVERAGE_LIMIT
    ok = r.order(2, 2, "BUY", str(min(Decimal(cap) / 50000, Decimal(1000))), "50000")
    assert not of(ok, Refused)


def test_ioc_liquidation_order_pays_no_trading_fee_but_maker_does() -> None:
    r = Run()
    isolated_long_ten(r)
    r.order(3, 30, "BUY", "1", "45100", tif=TimeInForce.GTC)
    ev = r.mark("45180")
    fills = {f.account: f.fee for f in of(ev, PositionChanged) if f.trade_id}
    assert fills == {3: M("9.02"), 10: 0}  # 45,100 x 0.02% for the maker


@pytest.mark.parametrize("restored", [False, True])
@pytest.mark.parametrize("ordinary", ["1", "0.5"])
def test_reduce_only_maker_never_takes_the_position_past_zero(
    ordinary: str, restored: bool
) -> None:
    """A taker sweeps an ordinary sell and then a reduce-only sell (1 BTC) of the same
    account, long 1 BTC. Once the ordinary sell has closed the position, Titan's
    reduce-only hook expires the reduce-only order; once it has closed half, the hook
    cuts the order to the half that is left (Amended, priority kept), which then fills.
    The same holds for a venue restored from a snapshot just before the sweep (the hook
    is installed on the restored engine too)."""
    r = Run()
    r.mark("50000")
    r(Deposit, 1, "USDT", M("1000000"))
    r(Deposit, 7, "USDT", M("100000"))
    r.order(1, 1, "SELL", "1", "50000")
    r.order(7, 2, "BUY", "1", type=OrderType.MARKET)
    r.order(7, 3, "SELL", ordinary, "50000")
    r.order(7, 4, "SELL", "1", "50000.1", reduce_only=True)
    if restored:
        r.venue = Venue.restore(r.venue.export_state())
    ev = r.order(1, 5, "BUY", "2", "50000.1")
    left = Q("1") - Q(ordinary)
    trades = [(t.maker_order_id, t.qty) for t in of(ev, Trade)]
    if left:
        (cut,) = of(ev, Amended)
        assert (cut.order_id, cut.qty, cut.priority_kept) == (4, left, True)
        assert trades == [(3, Q(ordinary)), (4, left)]
    else:
        (expired,) = [e for e in ev if type(e) is Expired and e.order_id == 4]
        assert (expired.reason, expired.qty) == (ExpireReason.REDUCE_ONLY, Q("1"))
        assert trades == [(3, Q("1"))]
    assert r.position(7) == (0, 0, 0)


def test_isolated_loss_never_reaches_the_wallet() -> None:
    """Account 10 (isolated long 1 @ 50,000, margin 5,000, bankrupt at 45,000) sells into
    a far bid at 44,000: the 6,000 loss exceeds its margin; the margin absorbs 5,000, the
    fund pays the 1,000 deficit, and the wallet pays only the taker fee."""
    r = Run()
    isolated_long_ten(r)
    r.order(3, 30, "BUY", "1", "44000")
    ev = r.order(10, 31, "SELL", "1", type=OrderType.MARKET)
    assert [(e.reason, e.amount) for e in of(ev, FundChanged)] == [
        (FundReason.ISOLATED_DEFICIT, -M("1000"))
    ]
    assert r.position(10) == (0, 0, 0)
    assert r.balance(10) == M("4975") - M("22")  # only the fee: 44,000 x 0.05%
    assert r.fund() == -M("1000")


ETH_SPEC = SymbolSpec.from_decimals("ETHUSDT", "0.01", "0.001", "5", "1000", "0")


def two_symbols() -> Run:
    """A venue over BTCUSDT (marked 50,000) and ETHUSDT (marked 2,000), default terms."""
    r = Run()
    r.venue = Venue(
        [contract_from_terms(SPEC, {}, "BTCUSDT"), contract_from_terms(ETH_SPEC, {}, "ETHUSDT")]
    )
    r.mark("50000")
    r(MarkPrice, "ETHUSDT", ETH_SPEC.price_units("2000"), 0)
    return r


def test_cross_deficit_is_shared_by_notional_not_dumped_on_one_symbol() -> None:
    """A cross unit already under water: account 10 (cross, 20x, 2,004.1 USDT) rests
    sells of 0.01 BTC at 50,000 and 10 ETH at 2,000, which account 1 buys at market (10
    pays 0.1 + 4 of maker fee: wallet 2,000). ETH gaps to 2,450 with an empty book and an
    empty fund: the unit's margin balance is 2,000 - 10 x 450 = -2,500 on a notional of
    0.01 x 50,000 + 10 x 2,450 = 25,000, so every position is bankrupt 10% beyond its mark:
    BTC at 45,000 (its mark never moved), ETH at 2,205, and at those prices the unit is
    worth exactly zero. (Putting the whole -2,500 on BTC, closed first, would need BTC at
    50,000 - 2,500 / 0.01 < 0: it was clamped to one tick, 0.1, and account 1 sold its
    0.01 BTC at 0.1 while the mark was 50,000.) The liquidation orders find no ask, the
    fund cannot take a short below the mark, so account 1 is deleveraged in both."""
    r = two_symbols()
    eth_p, eth_q = ETH_SPEC.price_units, ETH_SPEC.qty_units
    r(Deposit, 1, "USDT", M("1000000"))
    r(Deposit, 10, "USDT", M("2004.1"))
    r.order(10, 1, "SELL", "0.01", "50000")
    r.order(1, 2, "BUY", "0.01", type=OrderType.MARKET)
    r(NewOrder, "ETHUSDT", 10, 3, Side.SELL, eth_q("10"), eth_p("2000"))
    r(NewOrder, "ETHUSDT", 1, 4, Side.BUY, eth_q("10"), 0, OrderType.MARKET)
    assert r.balance(10) == M("2000")
    ev = r(MarkPrice, "ETHUSDT", eth_p("2450"), 0)
    (started,) = of(ev, LiquidationStarted)
    assert (started.account, started.symbol, started.balance) == (10, "", -M("2500"))
    orders = [(o.symbol, o.side, o.bankruptcy_price) for o in of(ev, LiquidationOrder)]
    assert orders == [("BTCUSDT", "BUY", P("45000")), ("ETHUSDT", "BUY", eth_p("2205"))]
    assert not of(ev, Trade) and not of(ev, InsuranceTakeover)
    adl = [(e.symbol, e.counterparty, e.qty, e.price) for e in of(ev, AutoDeleveraged)]
    assert adl == [
        ("BTCUSDT", 1, Q("0.01"), P("45000")),
        ("ETHUSDT", 1, eth_q("10"), eth_p("2205")),
    ]
    pnl = [(f.symbol, f.realized_pnl) for f in of(ev, PositionChanged) if f.account == 1]
    assert pnl == [("BTCUSDT", -M("50")), ("ETHUSDT", M("2050"))]  # 10% of each notional
    (done,) = of(ev, LiquidationFinished)
    assert (done.deleveraged, done.fee, done.remainder) == (Q("0.01") + eth_q("10"), 0, 0)
    assert r.balance(10) == 0 and r.fund() == 0


def test_short_whose_share_exceeds_its_notional_closes_at_the_mark() -> None:
    """Account 10 (cross, 2,511 USDT, BTC at 125x) buys 1 BTC at 50,000 and sells 2.5 ETH
    at 2,000 as a maker (fees 10 + 1: wallet 2,500). BTC gaps to 20,000: the unit's
    margin balance is 2,500 - 30,000 = -27,500 on a notional of 20,000 + 5,000 = 25,000,
    110% of it. BTC, closed first, carries its share: 20,000 x 2.1 = 42,000 (account 1,
    the only short, is deleveraged there: +8,000 on its 50,000 sale). ETH's share, 5,500,
    is more than its 5,000 notional: no price of at least one tick exists, so it closes
    at the mark, 2,000 (not at one tick, 0.01), where the empty fund takes it over at no
    loss; the 5,500 the position could not carry is the deficit the fund pays."""
    r = two_symbols()
    eth_p, eth_q = ETH_SPEC.price_units, ETH_SPEC.qty_units
    r(Deposit, 1, "USDT", M("1000000"))
    r(Deposit, 10, "USDT", M("2511"))
    r(SetLeverage, 10, "BTCUSDT", 125)
    r.order(10, 1, "BUY", "1", "50000")
    r.order(1, 2, "SELL", "1", type=OrderType.MARKET)
    r(NewOrder, "ETHUSDT", 10, 3, Side.SELL, eth_q("2.5"), eth_p("2000"))
    r(NewOrder, "ETHUSDT", 1, 4, Side.BUY, eth_q("2.5"), 0, OrderType.MARKET)
    assert r.balance(10) == M("2500")
    ev = r.mark("20000")
    (started,) = of(ev, LiquidationStarted)
    assert (started.account, started.balance) == (10, -M("27500"))
    orders = [(o.symbol, o.side, o.bankruptcy_price) for o in of(ev, LiquidationOrder)]
    assert orders == [("BTCUSDT", "SELL", P("42000")), ("ETHUSDT", "BUY", eth_p("2000"))]
    adl = [(e.symbol, e.counterparty, e.qty, e.price) for e in of(ev, AutoDeleveraged)]
    assert adl == [("BTCUSDT", 1, Q("1"), P("42000"))]
    assert fill_of(ev, 1).realized_pnl == M("8000")
    (takeover,) = of(ev, InsuranceTakeover)
    assert (takeover.symbol, takeover.qty, takeover.price) == (
        "ETHUSDT",
        -eth_q("2.5"),
        eth_p("2000"),
    )
    (done,) = of(ev, LiquidationFinished)
    assert (done.deleveraged, done.taken_over, done.fee, done.remainder) == (
        Q("1"),
        eth_q("2.5"),
        0,
        -M("5500"),
    )
    assert r.fund() == -M("5500") and r.balance(10) == 0
