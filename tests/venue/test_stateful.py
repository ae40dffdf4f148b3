"""Model-based stateful test of the venue (Titan + Sentinel), checked after every step.

A Hypothesis ``RuleBasedStateMachine`` drives a venue with two USDT-margined contracts
(BTCUSDT and ETHUSDT, so cross accounts span two symbols) and a handful of accounts with
deposits, withdrawals, leverage and margin-type changes, limit / market / IOC / FOK /
post-only / reduce-only / stop and take-profit orders, sweeps, cancels, cancel-alls,
amends, mark prices (small moves, large jumps, exact liquidation boundaries, index band
edges) and funding times (ts past the 8-hour funding time with a non-zero rate), with a
minority of invalid commands, and state export/restore. It proves that:

- ``venue.check_invariants()`` is empty after every step (conservation of money per
  asset, sizes summing to zero, the order mirror equal to Titan, no crossed unit left,
  the index exact), and an independent brute-force scan of the exported state
  (:mod:`helpers.venue`) finds no crossed unit either;
- every event carries its command's seq and ts, and every integer in it fits int64;
- a refused command (``Refused``, or Titan's ``Rejected`` as the only event) changes
  nothing: ``state_hash()`` is unchanged;
- the events alone rebuild the state: a ledger fed only with BalanceChanged, FundChanged,
  PositionChanged and IsolatedMarginChanged (each amount consistent with the previous
  value) equals every wallet, fund and position of the venue after every command;
- funding is settled exactly when a mark price reaches the funding time, each position's
  amount follows the published rounding (payers round up, receivers down);
- a liquidation starts only for a unit that is crossed (its reported maintenance and
  margin balance recomputed from the event ledger); its IOC orders are limited at the
  bankruptcy price (recomputed independently: where the position's share of the unit's
  margin balance, by notional at the marks, is used up, on the tick grid in the
  account's favour), moved into the price band only ever to the account's advantage,
  never above the position or the maximum quantity; takeovers and ADL happen at the
  bankruptcy price; it accounts for every unit it closes (filled + taken over +
  deleveraged), leaves the unit flat, and charges the clearance fee (liquidation fee x
  notional at the bankruptcy price, at most the margin left); ADL only ever reduces a
  counterparty, never flips it, in rank order;
- a reduce-only order (a user's or Sentinel's own) never opens, grows or flips a
  position;
- reducing an isolated position keeps the rest at least as healthy: its margin balance
  per unit of size, valued at the fill price, does not drop (what was realized belongs to
  the part that was closed);
- a user wallet below zero always backs cross positions (no debt that nothing collects),
  and every integer of the exported state fits int64;
- ``Venue.restore(export_state())`` through msgpack gives the same state hash and the
  machine carries on with the restored venue.

The tests at the end are minimal reproductions of what the machine checks.
"""

from __future__ import annotations

from typing import Any

from helpers.venue import (
    BTC,
    ETH,
    MID,
    SPECS,
    SYMBOLS,
    T0,
    Harness,
    boundary_mark,
    bracket_tables,
    crossed_units,
    maintenance_scaled,
    make_contracts,
    open_market,
    unit_health,
    unit_symbols,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType, Withdraw
from sentinel.events import (
    AutoDeleveraged,
    BalanceChanged,
    FundChanged,
    FundingPaid,
    FundingSettled,
    InsuranceTakeover,
    IsolatedMarginChanged,
    LiquidationFinished,
    LiquidationOrder,
    LiquidationStarted,
    MarginTypeSet,
    PositionChanged,
    Refused,
)
from sentinel.ledger import FUND, INTERNAL_ORDER_ID
from sentinel.units import MAX_VALUE, MONEY_ONE, RATE_ONE, ceil_div, money
from titan.commands import Amend, Cancel, CancelAll, NewOrder
from titan.enums import OrderType, Side, TimeInForce, WorkingType
from titan.events import Rejected, Trade
from venue.state import decode_venue_state, encode_venue_state
from venue.venue import MAX_FUNDING_RATE, Venue

ACCOUNTS = (1, 2, 3, 4)
INTERVAL = 8 * 3600 * 1000
INT64 = (-(1 << 63), (1 << 63) - 1)
CONDITIONAL = (
    OrderType.STOP,
    OrderType.STOP_MARKET,
    OrderType.TAKE_PROFIT,
    OrderType.TAKE_PROFIT_MARKET,
)
MARKET = (OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)
DEPOSITS = [money("10"), money("1000"), money("100000"), 1, 0, -money("1"), MAX_VALUE]
ORDER_TYPES = [OrderType.LIMIT] * 5 + [OrderType.MARKET] * 2 + list(CONDITIONAL)
TIFS = [TimeInForce.GTC] * 3 + [TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTX]
SCALE = {sym: 10 ** (8 - s.price_decimals - s.qty_decimals) for sym, s in SPECS.items()}
TICK = {sym: s.tick for sym, s in SPECS.items()}
# lots: from the minimum notional up to ~2 BTC / ~30 ETH (100k USDT)
LOTS = {
    "BTCUSDT": st.one_of(st.integers(1, 50), st.sampled_from([100, 300, 1_000, 2_000])),
    "ETHUSDT": st.one_of(st.integers(2, 500), st.sampled_from([1_000, 5_000, 30_000])),
}


def ints(value: Any) -> list[int]:
    """Every integer inside an event or a state (bools are flags, not integers)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, tuple | list):
        return [i for v in value for i in ints(v)]
    if isinstance(value, dict):
        return [i for v in value.values() for i in ints(v)]
    return []


def sign(x: int) -> int:
    return (x > 0) - (x < 0)


class Liquidation:
    """The liquidation in progress: its unit, the sizes it started with, the bankruptcy
    price of each position (fixed when its turn comes) and the margin it left."""

    def __init__(self, account: int, unit: str, sizes: dict[str, int]) -> None:
        self.account = account
        self.unit = unit
        self.sizes = sizes
        self.bp: dict[str, int] = {}
        self.rank = 0
        self.left_margin = 0
        self.queue: dict[str, list[int]] = {}  # ADL order per symbol, as it was at the start


class Ledger:
    """Wallets, the fund and positions rebuilt from the events only, with the checks that
    need the state as it was at each event (liquidations, ADL, reduce-only fills)."""

    def __init__(self, venue: Venue) -> None:
        state = venue.export_state()
        self.tables = bracket_tables(state)
        self.liq_fee = {
            c["spec"]["symbol"]: c["liquidation_fee"] for c in state["sentinel"]["contracts"]
        }
        self.liq: Liquidation | None = None
        self.pending_fills: list[tuple[int, bool]] = []
        self.wallets: dict[tuple[int, str], int] = {}
        self.fund: dict[str, int] = {"USDT": 0}
        self.positions: dict[tuple[int, str], list[int]] = {}  # size, cost, margin
        self.isolated: dict[tuple[int, str], bool] = {}  # margin type, from events
        self.marks: dict[str, int] = {}
        self.reduce_only: set[int] = set()
        self.last_change: dict[tuple[int, str], tuple[int, int]] = {}  # size before/after

    # -- helpers ------------------------------------------------------------------------

    def pos(self, account: int, symbol: str) -> list[int]:
        return self.positions.get((account, symbol), [0, 0, 0])

    def upnl(self, account: int, symbol: str) -> int:
        size, cost, _ = self.pos(account, symbol)
        return size * self.marks[symbol] * SCALE[symbol] - cost

    def cross_symbols(self, account: int) -> list[str]:
        return [
            sym
            for (a, sym), p in sorted(self.positions.items())
            if a == account and p[0] and not self.isolated.get((a, sym), False)
        ]

    def health(self, account: int, symbol: str) -> tuple[int, int]:
        """(margin balance, maintenance x RATE_ONE) of a unit, from the ledger."""
        syms = [symbol] if symbol else self.cross_symbols(account)
        balance = self.pos(account, symbol)[2] if symbol else self.wallets.get((account, "USDT"), 0)
        mm = 0
        for sym in syms:
            size = self.pos(account, sym)[0]
            balance += self.upnl(account, sym)
            mm += maintenance_scaled(self.tables[sym][1], abs(size) * self.marks[sym] * SCALE[sym])
        return balance, mm

    def bankruptcy_price(self, account: int, unit_symbol: str, symbol: str) -> int:
        """Isolated: where the position's margin balance is zero. Cross: where the
        position's share of the unit's margin balance, by notional at the marks among the
        unit's open positions, is used up: mark x (notional - side x balance) / notional.
        On the tick grid in the account's favour; below one tick, the mark instead."""
        size, cost, margin = self.pos(account, symbol)
        tick = TICK[symbol]
        if unit_symbol:
            unit = abs(size) * SCALE[symbol]
            num, den = (cost - margin, unit) if size > 0 else (margin - cost, unit)
        else:
            syms = self.cross_symbols(account)
            equity = self.wallets.get((account, "USDT"), 0)
            equity += sum(self.upnl(account, s) for s in syms)
            den = sum(abs(self.pos(account, s)[0]) * self.marks[s] * SCALE[s] for s in syms)
            num = self.marks[symbol] * (den - equity if size > 0 else den + equity)
        if size > 0:
            price = ceil_div(ceil_div(num, den), tick) * tick
        else:
            price = (num // den) // tick * tick
        if price < tick:  # no bankruptcy price: the mark, on the grid in the account's favour
            mark = self.marks[symbol]
            price = max(ceil_div(mark, tick) * tick if size > 0 else mark // tick * tick, tick)
        return price

    # -- feeding ------------------------------------------------------------------------

    def apply(self, cmd: Any, events: list[Any]) -> None:
        """Feed one command's events, checking each against the ledger as it stands."""
        self.liq: Liquidation | None = None
        self.pending_fills: list[tuple[int, bool]] = []
        funding: list[int] = []
        for e in events:
            kind = type(e)
            if kind is MarginTypeSet:
                self.isolated[(e.account, e.symbol)] = e.isolated
            elif kind is BalanceChanged:
                before = self.wallets.get((e.account, e.asset), 0)
                assert before + e.amount == e.balance, f"{e} does not follow {before}"
                self.wallets[(e.account, e.asset)] = e.balance
                if e.reason == "LIQUIDATION":
                    assert self.liq is not None and self.liq.account == e.account
                    self.liq.left_margin = -e.amount
            elif kind is FundChanged:
                assert self.fund[e.asset] + e.amount == e.balance, f"{e}"
                self.fund[e.asset] = e.balance
            elif kind is IsolatedMarginChanged:
                p = self.positions[(e.account, e.symbol)]
                assert p[2] + e.amount == e.margin, f"{e} does not follow margin {p[2]}"
                p[2] = e.margin
                if e.reason == "LIQUIDATION":
                    assert self.liq is not None and self.liq.account == e.account
                    self.liq.left_margin = -e.amount
            elif kind is Trade:
                for oid, account in (
                    (e.maker_order_id, e.maker_account),
                    (e.taker_order_id, e.taker_account),
                ):
                    internal = oid >= INTERNAL_ORDER_ID
                    self.pending_fills.append((account, oid in self.reduce_only or internal))
            elif kind is PositionChanged:
                self.position_changed(e)
            elif kind is FundingPaid:
                size = self.pos(e.account, e.symbol)[0]
                exact = size * cmd.price * SCALE[e.symbol] * cmd.funding_rate
                want = -ceil_div(exact, RATE_ONE) if exact > 0 else (-exact) // RATE_ONE
                assert e.amount == want, f"{e}: expected {want} for size {size}"
                funding.append(e.amount)
            elif kind is FundingSettled:
                assert (e.mark, e.rate, e.positions) == (cmd.price, cmd.funding_rate, len(funding))
                assert e.paid == -sum(a for a in funding if a < 0)
                assert e.received == sum(a for a in funding if a > 0)
                held = [a for (a, s), p in self.positions.items() if s == e.symbol and p[0]]
                assert e.positions == len(held), "funding skipped an open position"
            elif kind is LiquidationStarted:
                assert self.liq is None, "liquidations do not nest"
                balance, mm = self.health(e.account, e.symbol)
                assert mm >= balance * RATE_ONE, f"{e}: the unit is not crossed"
                assert (e.balance, e.maintenance) == (balance, ceil_div(mm, RATE_ONE))
                syms = [e.symbol] if e.symbol else self.cross_symbols(e.account)
                sizes = {s: self.pos(e.account, s)[0] for s in syms}
                assert sizes and all(sizes.values())
                self.liq = Liquidation(e.account, e.symbol, sizes)
            elif kind is LiquidationOrder:
                liq = self.liq
                assert liq is not None and e.account == liq.account and e.symbol in liq.sizes
                size = self.pos(e.account, e.symbol)[0]
                spec = SPECS[e.symbol]
                assert e.side == ("SELL" if size > 0 else "BUY") and e.order_id >= INTERNAL_ORDER_ID
                assert 0 < e.qty <= min(abs(size), spec.max_qty), f"{e}: position {size}"
                bp = self.bankruptcy(e.account, e.symbol)
                mark, tick, band = self.marks[e.symbol], spec.tick, spec.band_bps
                low = ceil_div(ceil_div(mark * (10_000 - band), 10_000), tick) * tick
                high = mark * (10_000 + band) // 10_000 // tick * tick
                want = max(bp, low) if size > 0 else min(bp, high)  # into the band, never worse
                assert e.bankruptcy_price == want, f"{e}: bankruptcy price {bp}, limit {want}"
                assert low <= want <= high
            elif kind is InsuranceTakeover:
                assert self.liq is not None and e.price == self.liq.bp[e.symbol]
                before, after = self.last_change[(FUND, e.symbol)]
                assert after - before == e.qty
            elif kind is AutoDeleveraged:
                liq = self.liq
                assert liq is not None and e.price == liq.bp[e.symbol]
                before, after = self.last_change[(e.counterparty, e.symbol)]
                assert before and abs(after) == abs(before) - e.qty, f"{e}: {before} -> {after}"
                assert sign(after) in (0, sign(before)), f"{e}: flipped {before} -> {after}"
                liq.rank += 1
                assert e.rank == liq.rank
                queue = liq.queue[e.symbol]
                assert e.counterparty == queue[e.rank - 1], f"{e}: the ADL queue is {queue}"
                if e.rank > 1:  # every earlier counterparty was closed completely
                    assert not self.pos(queue[e.rank - 2], e.symbol)[0]
            elif kind is LiquidationFinished:
                liq = self.liq
                assert liq is not None and (liq.account, liq.unit) == (e.account, e.symbol)
                total = sum(abs(s) for s in liq.sizes.values())
                assert e.filled + e.taken_over + e.deleveraged == total
                for sym in liq.sizes:
                    assert not self.pos(e.account, sym)[0], f"{e}: {sym} still open"
                if not e.symbol:
                    assert not self.cross_symbols(e.account)
                fee_due = sum(
                    ceil_div(abs(size) * liq.bp[sym] * SCALE[sym] * self.liq_fee[sym], RATE_ONE)
                    for sym, size in liq.sizes.items()
                )
                assert e.fee == min(fee_due, max(liq.left_margin, 0)), f"{e}: fee due {fee_due}"
                assert e.fee + e.remainder == liq.left_margin
                self.liq = None
        assert self.liq is None and not self.pending_fills
        for key, p in list(self.positions.items()):
            if not p[0]:
                assert not p[2], f"closed position {key} keeps margin {p[2]}"
                del self.positions[key]

    def bankruptcy(self, account: int, symbol: str) -> int:
        """The bankruptcy price of the position being liquidated, computed when its turn
        comes (the unit's earlier positions already closed)."""
        liq = self.liq
        assert liq is not None
        if symbol not in liq.bp:
            liq.bp[symbol] = self.bankruptcy_price(account, liq.unit, symbol)
            liq.rank = 0
        return liq.bp[symbol]

    def adl_queue(self, symbol: str, long_side: bool, exclude: int) -> list[int]:
        """Accounts holding ``symbol`` on ``long_side`` in ADL order: PnL% (max(0, upnl)
        / max(1 USDT, wallet)) x margin ratio (maintenance / margin balance, 0 unless the
        balance is positive), of the position's unit, as an integer x 10**18 (floored);
        highest first, then by account id."""
        ranked = []
        for (account, sym), (size, _, _) in self.positions.items():
            if sym != symbol or account in (exclude, FUND) or not size or (size > 0) != long_side:
                continue
            unit = symbol if self.isolated.get((account, sym)) else ""
            balance, mm = self.health(account, unit)
            syms = [unit] if unit else self.cross_symbols(account)
            upnl = sum(self.upnl(account, q) for q in syms)
            wallet = self.pos(account, unit)[2] if unit else self.wallets.get((account, "USDT"), 0)
            score = 0
            if balance > 0 and upnl > 0:
                score = upnl * mm * 10**18 // (max(MONEY_ONE, wallet) * balance * RATE_ONE)
            ranked.append((-score, account))
        return [account for _, account in sorted(ranked)]

    def position_changed(self, e: PositionChanged) -> None:
        key = (e.account, e.symbol)
        liq = self.liq
        under_liquidation = liq is not None and liq.account == e.account
        if under_liquidation and e.symbol in liq.sizes:
            bp = self.bankruptcy(e.account, e.symbol)
            if not e.trade_id:  # taken over or deleveraged: at the bankruptcy price
                assert e.price == bp, f"{e}: bankruptcy price {bp}"
        if (
            liq is not None
            and not e.trade_id
            and e.account not in (liq.account, FUND)
            and e.symbol not in liq.queue
        ):  # the first ADL of this position: the queue as it stands before it
            long = liq.sizes[e.symbol] > 0
            liq.queue[e.symbol] = self.adl_queue(e.symbol, not long, liq.account)
        size0, cost0, margin0 = self.pos(*key)
        assert size0 + e.qty == e.size, f"{e} does not follow size {size0}"
        if not size0:
            self.isolated.setdefault(key, False)
            if e.account == FUND:
                self.isolated[key] = False
        self.positions[key] = [e.size, e.cost, e.margin]
        self.last_change[key] = (size0, e.size)
        if e.trade_id:
            account, reduce_only = self.pending_fills.pop(0)
            assert account == e.account
            if reduce_only:
                self.check_reduce_only_fill(e, size0)
        if (
            self.isolated.get(key)
            and e.account != FUND
            and not under_liquidation
            and 0 < abs(e.size) < abs(size0)
            and sign(e.size) == sign(size0)
        ):
            self.check_isolated_reduce(e, size0, cost0, margin0)

    def check_reduce_only_fill(self, e: PositionChanged, size0: int) -> None:
        """A reduce-only order's fill only reduces the position."""
        assert size0 and abs(e.size) < abs(size0) and sign(e.size) in (0, sign(size0)), (
            f"a reduce-only order moved the position of {e.account} in {e.symbol} "
            f"from {size0} to {e.size}"
        )

    def check_isolated_reduce(
        self, e: PositionChanged, size0: int, cost0: int, margin0: int
    ) -> None:
        """Reducing an isolated position does not lower its margin balance per unit of
        size, valued at the fill price (up to one money unit of rounding per unit), unless
        that fill price is beyond the position's bankruptcy price: then the margin absorbs
        the closed part's loss (the wallet is never charged for it), so the whole margin
        balance is kept instead."""
        k = SCALE[e.symbol]
        before = margin0 + size0 * e.price * k - cost0
        after = e.margin + e.size * e.price * k - e.cost
        if before < 0:
            assert after == before, f"{e}: a bankrupt reduce changed the balance {before}"
            return
        assert after * abs(size0) >= before * abs(e.size) - abs(size0), (
            f"reducing isolated {(e.account, e.symbol)} from {size0} to {e.size} at {e.price} "
            f"lowered its margin balance per unit at that price: {before} for {abs(size0)} "
            f"before, {after} for {abs(e.size)} after (margin {margin0} -> {e.margin}, "
            f"realized {e.realized_pnl})"
        )

    def check(self, venue: Venue) -> None:
        """The ledger equals the venue's wallets, fund and positions."""
        s = venue.ledger
        for (account, asset), w in s.wallets.items():
            want = self.fund[asset] if account == FUND else self.wallets.get((account, asset), 0)
            assert w.balance == want, f"wallet {account}/{asset}: {w.balance}, events say {want}"
        got = {
            (p.account, sym): [p.size, p.cost, p.margin]
            for sym, holders in s.holders.items()
            for p in holders.values()
        }
        assert got == self.positions, f"positions {got}, events say {self.positions}"
        for sym, holders in s.holders.items():
            for account, p in holders.items():
                assert p.isolated == self.isolated.get((account, sym), False)


class SentinelMachine(RuleBasedStateMachine):
    """Drives one venue; every command goes through :meth:`submit`."""

    def __init__(self) -> None:
        super().__init__()
        self.venue = Venue(make_contracts())
        self.ledger = Ledger(self.venue)
        self.seq = 0
        self.ts = T0
        self.next_oid = 0
        self.due: dict[str, int] = {}

    # -- the one place commands are applied -------------------------------------------

    def submit(self, cls: type, *args: Any, dt: int = 1_000, **kwargs: Any) -> list[Any]:
        self.seq += 1
        self.ts += dt
        cmd = cls(self.seq, self.ts, *args, **kwargs)
        before = self.venue.state_hash()
        if cls is MarkPrice:
            prior_marks = dict(self.ledger.marks)
        events = self.venue.apply(cmd)
        for e in events:
            assert (e.seq, e.ts) == (cmd.seq, cmd.ts), f"{e} does not carry {cmd}'s seq/ts"
            for i in ints(tuple(e)):
                assert INT64[0] <= i <= INT64[1], f"{e} holds {i}, beyond int64"
        refused = [e for e in events if type(e) is Refused]
        if refused or (len(events) == 1 and type(events[0]) is Rejected):
            assert len(events) == 1, f"a refusal came with other events: {events}"
            assert self.venue.state_hash() == before, f"refused {cmd} changed the state"
        if cls is MarkPrice and not refused:
            self.ledger.marks[cmd.symbol] = cmd.price
            due = self.due.get(cmd.symbol)
            settled = [e for e in events if type(e) is FundingSettled]
            assert len(settled) == (
                due is not None and cmd.ts >= due
            ), f"funding due at {due}, mark at {cmd.ts}: settled {len(settled)} times"
            if due is None or cmd.ts >= due:
                self.due[cmd.symbol] = (cmd.ts // INTERVAL + 1) * INTERVAL
        elif cls is MarkPrice:
            assert self.ledger.marks == prior_marks
        if cls is NewOrder and any(
            type(e).__name__ == "Accepted" and e.order_id == cmd.order_id for e in events
        ):  # order ids are unique among open orders only: a reused id is a new order
            if cmd.reduce_only:
                self.ledger.reduce_only.add(cmd.order_id)
            else:
                self.ledger.reduce_only.discard(cmd.order_id)
        self.ledger.apply(cmd, events)
        return events

    # -- drawing inputs -----------------------------------------------------------------

    def account(self, data: st.DataObject) -> Any:
        """A user account, rarely the fund's (reserved) or an invalid one."""
        return data.draw(
            st.integers(0, 19).flatmap(
                lambda n: st.sampled_from([FUND, -1, "x"]) if n == 19 else st.sampled_from(ACCOUNTS)
            ),
            label="account",
        )

    def symbol(self, data: st.DataObject) -> Any:
        return data.draw(
            st.integers(0, 19).flatmap(
                lambda n: st.just("DOGEUSDT") if n == 19 else st.sampled_from(SYMBOLS)
            ),
            label="symbol",
        )

    def mark(self, symbol: str) -> int:
        return self.ledger.marks.get(symbol, MID[symbol])

    def price_near(self, data: st.DataObject, symbol: str, bps: int) -> int:
        m = self.mark(symbol)
        off = data.draw(st.integers(-bps, bps), label="bps")
        return max(m * (10_000 + off) // 10_000 // TICK[symbol] * TICK[symbol], TICK[symbol])

    def order_ids(self) -> list[tuple[int, str, int]]:
        """(order id, symbol, account) of every open order in Titan."""
        return sorted(
            (v.order_id, sym, v.account)
            for sym in SYMBOLS
            for v in self.venue.titan.l3(sym)["bids"]
            + self.venue.titan.l3(sym)["asks"]
            + self.venue.titan.pending_triggers(sym)
        )

    # -- rules --------------------------------------------------------------------------

    @initialize(data=st.data())
    def open_venue(self, data: st.DataObject) -> None:
        for sym in SYMBOLS:
            self.submit(MarkPrice, sym, MID[sym])
        for account in ACCOUNTS:
            usdt = data.draw(st.sampled_from(["300", "3000", "30000", "300000"]), label="dep")
            self.submit(Deposit, account, "USDT", money(usdt))
        for sym in SYMBOLS:
            self._quotes(data, sym, data.draw(st.integers(0, 8), label="book"))

    def _quotes(self, data: st.DataObject, symbol: str, n: int) -> None:
        """``n`` GTC (now and then post-only) limit orders within 0.8% of the mark, buys
        below it and sells above it, from any account: a book that later orders cross."""
        m, tick, lot = self.mark(symbol), TICK[symbol], SPECS[symbol].lot
        for _ in range(n):
            buy = data.draw(st.booleans(), label="buy")
            bps = data.draw(st.integers(1, 80), label="bps")
            price = m * (10_000 - bps if buy else 10_000 + bps) // 10_000 // tick * tick
            self._order(
                data,
                symbol,
                account=data.draw(st.sampled_from(ACCOUNTS), label="account"),
                side=Side.BUY if buy else Side.SELL,
                qty=data.draw(LOTS[symbol], label="lots") * lot,
                price=max(price, tick),
                tif=data.draw(st.sampled_from([TimeInForce.GTC] * 4 + [TimeInForce.GTX])),
            )

    @rule(data=st.data())
    def quote(self, data: st.DataObject) -> None:
        """One to four resting limit orders."""
        symbol = data.draw(st.sampled_from(SYMBOLS), label="symbol")
        self._quotes(data, symbol, data.draw(st.integers(1, 4), label="n"))

    @rule(data=st.data())
    def deposit(self, data: st.DataObject) -> None:
        amount = data.draw(st.sampled_from(DEPOSITS), label="amount")
        asset = data.draw(st.sampled_from(["USDT"] * 9 + ["BTC"]), label="asset")
        self.submit(Deposit, self.account(data), asset, amount)

    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        account = self.account(data)
        s = self.venue.ledger
        w = s.wallets.get((account, "USDT")) if type(account) is int else None
        choices = [money("100"), 0, MAX_VALUE]
        if w is not None:
            free = s.available(w, for_withdrawal=True)
            choices += [w.balance, w.balance // 2, free, free + 1, max(free // 3, 1)]
        self.submit(Withdraw, account, "USDT", data.draw(st.sampled_from(choices), label="amt"))

    @rule(data=st.data())
    def set_leverage(self, data: st.DataObject) -> None:
        lev = data.draw(st.sampled_from([1, 2, 5, 10, 20, 20, 50, 100, 125, 0, 126]), label="lev")
        self.submit(SetLeverage, self.account(data), self.symbol(data), lev)

    @rule(data=st.data())
    def set_margin_type(self, data: st.DataObject) -> None:
        isolated = data.draw(st.sampled_from([True, False, True, False, 1]), label="isolated")
        self.submit(SetMarginType, self.account(data), self.symbol(data), isolated)

    def _order(self, data: st.DataObject, symbol: Any, **kw: Any) -> list[Any]:
        oid = self.next_oid + 1
        pick = data.draw(st.integers(0, 19), label="order id kind")
        if pick == 19:
            oid = data.draw(st.sampled_from([INTERNAL_ORDER_ID, INTERNAL_ORDER_ID + 5]))
        elif pick == 18 and self.next_oid:
            oid = self.next_oid  # a duplicate (rejected by Titan if still open)
        else:
            self.next_oid = oid
        return self.submit(NewOrder, symbol, kw.pop("account"), oid, **kw)

    @rule(data=st.data())
    def new_order(self, data: st.DataObject) -> None:
        """Any order type and time in force, near the mark (rarely outside the band)."""
        symbol = self.symbol(data)
        grid = symbol if symbol in SPECS else "BTCUSDT"
        otype = data.draw(st.sampled_from(ORDER_TYPES), label="type")
        market = otype in MARKET
        tifs = [t for t in TIFS if not (market and t is TimeInForce.GTX)]
        wide = data.draw(st.integers(0, 9), label="wide") == 9
        kw: dict[str, Any] = {
            "account": self.account(data),
            "side": data.draw(st.sampled_from([Side.BUY, Side.SELL]), label="side"),
            "qty": data.draw(LOTS[grid], label="lots") * SPECS[grid].lot,
            "price": 0 if market else self.price_near(data, grid, 700 if wide else 150),
            "type": otype,
            "tif": data.draw(st.sampled_from(tifs), label="tif"),
            "reduce_only": data.draw(st.integers(0, 3), label="ro") == 3,
        }
        if otype in CONDITIONAL:
            kw["stop_price"] = self.price_near(data, grid, 300)
            kw["working_type"] = data.draw(
                st.sampled_from([WorkingType.CONTRACT_PRICE, WorkingType.MARK_PRICE])
            )
        self._order(data, symbol, **kw)

    @rule(data=st.data())
    def isolated_position(self, data: st.DataObject) -> None:
        """An account clears its orders in a symbol, switches it to isolated margin at
        some leverage if it is flat there, and takes liquidity from the book."""
        account = data.draw(st.sampled_from(ACCOUNTS), label="account")
        symbol = data.draw(st.sampled_from(SYMBOLS), label="symbol")
        self.submit(CancelAll, symbol, account)
        if self.venue.ledger.position(account, symbol) is None:
            self.submit(SetMarginType, account, symbol, True)
            lev = data.draw(st.sampled_from([2, 5, 10, 20, 50]), label="lev")
            self.submit(SetLeverage, account, symbol, lev)
        buy = data.draw(st.booleans(), label="buy")
        m = self.mark(symbol)
        price = m * (10_000 + (100 if buy else -100)) // 10_000 // TICK[symbol] * TICK[symbol]
        self._order(
            data,
            symbol,
            account=account,
            side=Side.BUY if buy else Side.SELL,
            qty=data.draw(LOTS[symbol], label="lots") * SPECS[symbol].lot,
            price=price,
            tif=TimeInForce.IOC,
        )

    @rule(data=st.data())
    def reduce_only_order(self, data: st.DataObject) -> None:
        """A reduce-only limit order against an open position, at most its size."""
        held = sorted(
            (a, sym, p.size)
            for sym, holders in self.venue.ledger.holders.items()
            for a, p in holders.items()
            if a != FUND
        )
        if not held:
            return
        account, symbol, size = data.draw(st.sampled_from(held), label="position")
        lot = SPECS[symbol].lot
        qty = data.draw(st.integers(1, max(abs(size) // lot, 1)), label="lots") * lot
        self._order(
            data,
            symbol,
            account=account,
            side=Side.SELL if size > 0 else Side.BUY,
            qty=qty,
            price=self.price_near(data, symbol, 100),
            tif=data.draw(st.sampled_from(TIFS), label="tif"),
            reduce_only=True,
        )

    @rule(data=st.data())
    def sweep(self, data: st.DataObject) -> None:
        """A large marketable order through several levels."""
        symbol = data.draw(st.sampled_from(SYMBOLS), label="symbol")
        side = data.draw(st.sampled_from([Side.BUY, Side.SELL]), label="side")
        m = self.mark(symbol)
        price = m * (10_000 + (200 if side is Side.BUY else -200)) // 10_000
        market = data.draw(st.booleans(), label="market")
        self._order(
            data,
            symbol,
            account=data.draw(st.sampled_from(ACCOUNTS), label="account"),
            side=side,
            qty=data.draw(st.sampled_from([2_000, 10_000, 30_000]), label="qty")
            * SPECS[symbol].lot
            // (10 if symbol == "BTCUSDT" else 1),
            price=0 if market else price // TICK[symbol] * TICK[symbol],
            type=OrderType.MARKET if market else OrderType.LIMIT,
            tif=TimeInForce.IOC,
            reduce_only=data.draw(st.integers(0, 4), label="ro") == 4,
        )

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        live = self.order_ids()
        how = data.draw(st.integers(0, 5), label="how")
        if how == 5 or not live:
            self.submit(CancelAll, self.symbol(data), self.account(data))
            return
        oid, symbol, account = data.draw(st.sampled_from(live), label="order")
        if how == 4:  # someone else's, or a reserved id
            account = self.account(data)
            oid = data.draw(st.sampled_from([oid, INTERNAL_ORDER_ID]), label="oid")
        self.submit(Cancel, symbol, account, oid)

    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        live = [o for o in self.order_ids() if o[0] < INTERNAL_ORDER_ID]
        if not live:
            return
        oid, symbol, account = data.draw(st.sampled_from(live), label="order")
        view = self.venue.titan.order(oid)
        assert view is not None
        lot = SPECS[symbol].lot
        qty = data.draw(
            st.sampled_from([view.qty, view.qty + lot, max(view.qty - lot, lot), 10 * view.qty])
        )
        move = data.draw(st.booleans(), label="new price")
        price = self.price_near(data, symbol, 150) if move else view.price
        self.submit(Amend, symbol, account, oid, price, qty)

    @rule(data=st.data())
    def mark_price(self, data: st.DataObject) -> None:
        """A new mark: a small or medium move, a large jump, or exactly at (or one unit
        off) a unit's liquidation boundary or an index entry; rarely an invalid one."""
        symbol = self.symbol(data)
        grid = symbol if symbol in SPECS else "BTCUSDT"
        m = self.mark(grid)
        kind = data.draw(
            st.sampled_from(["small", "medium", "jump", "boundary", "band", "invalid"]),
            label="kind",
        )
        delta = data.draw(st.integers(-1, 1), label="delta")
        price: Any = m
        if kind in ("small", "medium", "jump"):
            bps = {"small": 30, "medium": 300, "jump": 2_500}[kind]
            price = m * (10_000 + data.draw(st.integers(-bps, bps), label="bps")) // 10_000
        elif kind == "boundary":
            state = self.venue.export_state()
            units = sorted(
                (key, size)
                for key in unit_health(state)
                for sym, size in unit_symbols(state, key).items()
                if sym == grid and key[0] != FUND
            )
            if units:
                key, size = data.draw(st.sampled_from(units), label="unit")
                edge = boundary_mark(state, key, grid, size > 0)
                price = m if edge is None else edge + delta
        elif kind == "band":
            entries = sorted(self.venue.ledger.index_entries(grid))
            if entries:
                price = data.draw(st.sampled_from(entries), label="entry")[1] + delta
        else:
            price = data.draw(st.sampled_from([0, -5, str(m), MAX_VALUE + 1]), label="bad")
        if type(price) is int and kind != "invalid":
            price = min(max(price, MID[grid] // 4), MID[grid] * 4)
        rate = data.draw(
            st.sampled_from([0, 0, 10_000, -10_000, MAX_FUNDING_RATE, MAX_FUNDING_RATE + 1]),
            label="rate",
        )
        self.submit(MarkPrice, symbol, price, rate, dt=data.draw(st.integers(1, 60_000)))

    @rule(data=st.data())
    def push_to_liquidation(self, data: st.DataObject) -> None:
        """The mark of one symbol moves exactly to where a unit holding it is crossed (or
        one unit short of it); with a book, its liquidation orders may trade."""
        symbol = data.draw(st.sampled_from(SYMBOLS), label="symbol")
        state = self.venue.export_state()
        units = sorted(
            (key, size)
            for key in unit_health(state)
            for sym, size in unit_symbols(state, key).items()
            if sym == symbol
        )
        if not units:
            return
        key, size = data.draw(st.sampled_from(units), label="unit")
        edge = boundary_mark(state, key, symbol, size > 0)
        if edge is None:
            return
        short_of = data.draw(st.integers(0, 3), label="short of") == 3
        price = edge + (0 if not short_of else 1 if size > 0 else -1)
        price = min(max(price, MID[symbol] // 4), MID[symbol] * 4)
        events = self.submit(MarkPrice, symbol, price)
        if price == edge + (short_of and (1 if size > 0 else -1)) and not any(
            type(e) is Trade for e in events
        ):  # nothing but the mark changed before the unit was evaluated
            started = [
                (e.account, e.asset, e.symbol) for e in events if type(e) is LiquidationStarted
            ]
            assert (key in started) != short_of, f"{key} at {price}, boundary {edge}: {events}"

    @rule(data=st.data())
    def funding_time(self, data: st.DataObject) -> None:
        """Time passes beyond the next funding time; the mark carries a funding rate."""
        symbol = data.draw(st.sampled_from(SYMBOLS), label="symbol")
        due = self.due[symbol]
        later = data.draw(st.sampled_from([0, 1, 3_600_000, INTERVAL + 5]), label="later")
        rate = data.draw(
            st.sampled_from([1, -1, 10_000, -37_500, MAX_FUNDING_RATE, -MAX_FUNDING_RATE])
        )
        m = self.mark(symbol)
        price = m * (10_000 + data.draw(st.integers(-100, 100), label="bps")) // 10_000
        events = self.submit(MarkPrice, symbol, price, rate, dt=max(due + later - self.ts, 0))
        assert any(type(e) is FundingSettled for e in events)

    @rule()
    def restore_round_trip(self) -> None:
        digest = self.venue.state_hash()
        blob = encode_venue_state(self.venue.export_state())
        restored = Venue.restore(decode_venue_state(blob))
        assert restored.state_hash() == digest
        self.venue = restored

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def venue_invariants_hold(self) -> None:
        problems = self.venue.check_invariants()
        assert not problems, problems

    @invariant()
    def marks_agree(self) -> None:
        """Titan's mark (which releases MARK_PRICE stops) is Sentinel's (which values)."""
        for sym in SYMBOLS:
            assert self.venue.titan.mark_price(sym) == self.venue.ledger.marks[sym]
            assert self.venue.ledger.marks[sym] == self.ledger.marks[sym]

    @invariant()
    def brute_force_finds_no_crossed_unit(self) -> None:
        crossed = crossed_units(self.venue.export_state())
        assert not crossed, f"crossed after the command: {crossed}"

    @invariant()
    def no_wallet_in_debt_without_cross_positions(self) -> None:
        """A user wallet below zero must back cross positions (a cross loss realized
        while the other positions' profit covers it); with none left nothing would ever
        collect the debt, and any isolated position it paid for is funded by it."""
        s = self.venue.ledger
        for (account, asset), w in sorted(s.wallets.items()):
            if account == FUND or w.balance >= 0:
                continue
            cross = [p.symbol for p in w.positions.values() if not p.isolated]
            assert cross, (
                f"wallet {account}/{asset} is {w.balance} with no cross position; "
                f"isolated positions: {sorted(w.positions)}"
            )

    @invariant()
    def state_fits_int64(self) -> None:
        """Every integer of the state fits its canonical encoding (signed 64-bit)."""
        state = self.venue.export_state()
        bad = [i for i in ints(state) if not INT64[0] <= i <= INT64[1]]
        assert not bad, f"state holds integers beyond int64: {bad}"

    @invariant()
    def events_rebuild_the_state(self) -> None:
        self.ledger.check(self.venue)


SentinelMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    report_multiple_bugs=False,
)
test_sentinel_state_machine = SentinelMachine.TestCase


# -- minimal reproductions of what the machine checks ------------------------------------


def test_reduce_only_order_never_opens_a_position() -> None:
    """Account 7 is long 1 BTC with a plain sell of 1 BTC at 50,000 and a reduce-only
    sell of 1 BTC at 50,001 resting. A buy of 2 BTC takes both: the plain sell closes the
    long, so the reduce-only sell may not fill (it must be cancelled or expire); filling
    it opens a 1 BTC short that no margin check ever saw."""
    h = Harness()
    open_market(h)
    h(Deposit, 7, "USDT", money("100000"))
    one = BTC.qty_units("1")
    h.trade("BTCUSDT", 7, True, one, MID["BTCUSDT"])
    h.order("BTCUSDT", 7, Side.SELL, one, MID["BTCUSDT"])
    h.order("BTCUSDT", 7, Side.SELL, one, MID["BTCUSDT"] + 10, reduce_only=True)
    h.order("BTCUSDT", 1, Side.BUY, 2 * one, MID["BTCUSDT"] + 10)
    p = h.venue.ledger.position(7, "BTCUSDT")
    assert p is None or p.size >= 0, f"the reduce-only order opened a short of {p.size}"


def test_partial_close_keeps_an_isolated_position_as_healthy() -> None:
    """Account 7 holds an isolated 2x long of 2 BTC from 50,000 (margin 50,000). At a
    mark of 30,000 it is healthy: margin balance 10,000, maintenance 240. It sells 1 BTC
    at 30,000: the closed half lost 20,000 of its 25,000 margin, so 5,000 comes back and
    the other half keeps 25,000 (margin balance 5,000 at the mark), still healthy.
    Spreading the realized loss over the whole margin instead keeps 15,000 for the rest,
    which is then under water (-5,000) and liquidated at once: the account walks away with
    15,000 and the fund or an ADL counterparty pays the 5,000 deficit."""
    h = Harness()
    open_market(h)
    h(Deposit, 7, "USDT", money("50100"))
    h(SetMarginType, 7, "BTCUSDT", True)
    h(SetLeverage, 7, "BTCUSDT", 2)
    h.trade("BTCUSDT", 7, True, BTC.qty_units("2"), MID["BTCUSDT"])
    for mark in ("47000", "44000", "41000", "38000", "35000", "32000", "30000"):
        events = h(MarkPrice, "BTCUSDT", BTC.price_units(mark))
        assert not [e for e in events if type(e) is LiquidationStarted]
    h.order("BTCUSDT", 1, Side.BUY, BTC.qty_units("1"), BTC.price_units("30000"))
    events = h.order(
        "BTCUSDT", 7, Side.SELL, BTC.qty_units("1"), BTC.price_units("30000"), reduce_only=True
    )
    assert not [e for e in events if type(e) is LiquidationStarted], "the rest was liquidated"
    p = h.venue.ledger.position(7, "BTCUSDT")
    assert p is not None and p.size == BTC.qty_units("1") and p.margin >= money("25000")


def test_an_isolated_fill_does_not_leave_the_wallet_in_debt() -> None:
    """Account 7 deposits 2,500 USDT and buys 1 BTC at 50,000, isolated at 20x: the
    pre-trade check lets the whole 2,500 go into the isolated margin, then the 25 USDT
    taker fee takes the wallet to -25 with no cross position behind it. Should the
    position be liquidated, nothing ever collects that debt (the exchange booked a fee it
    never got). The fee belongs in the check, or the order must be refused."""
    h = Harness()
    open_market(h)
    h(Deposit, 7, "USDT", money("2500"))
    h(SetMarginType, 7, "BTCUSDT", True)
    h.trade("BTCUSDT", 7, True, BTC.qty_units("1"), MID["BTCUSDT"])
    w = h.venue.ledger.wallets[(7, "USDT")]
    assert w.balance >= 0, f"wallet {w.balance} after an isolated fill"


def test_cross_liquidation_leaves_no_order_on_the_emptied_wallet() -> None:
    """Account 8: cross long 1 BTC and an isolated ETH bid whose initial margin the cross
    wallet reserves. The cross liquidation takes the whole wallet, so the bid must go
    too: if it stayed and filled, its isolated margin would come out of an empty wallet."""
    h = Harness()
    open_market(h)
    h(Deposit, 8, "USDT", money("5000"))
    h(SetMarginType, 8, "ETHUSDT", True)
    h.trade("BTCUSDT", 8, True, BTC.qty_units("1"), MID["BTCUSDT"])
    h.order("ETHUSDT", 8, Side.BUY, ETH.qty_units("5"), MID["ETHUSDT"] - 100)
    events = h(MarkPrice, "BTCUSDT", BTC.price_units("45000"))
    assert (8, "USDT", "") in [(e.account, e.asset, e.symbol) for e in events
                               if type(e) is LiquidationStarted]  # fmt: skip
    h.order("ETHUSDT", 1, Side.SELL, ETH.qty_units("5"), MID["ETHUSDT"] - 100)
    assert h.venue.ledger.wallets[(8, "USDT")].balance >= 0
    assert h.venue.ledger.position(8, "ETHUSDT") is None
