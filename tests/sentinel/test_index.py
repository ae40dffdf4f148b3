"""The liquidation index finds exactly the crossed units: a brute-force scan agrees.

Sentinel never scans every account on a mark price: it pops the index entries beyond the
new mark and evaluates only those units (:mod:`sentinel.ledger`). This module proves the
property the issue demands: *after every random tick, the set of liquidated accounts
equals a brute-force scan of every account*.

The brute force is independent of Sentinel's code: it reads the plain exported state
(``export_state()``: wallets, positions, contracts) and applies only the published
formulas (docs/sentinel.md, Margin): maintenance = notional x mmr - cum from the bracket table
(cum derived here from the raw rows), margin balance = wallet (or isolated margin) +
unrealized PnL, and a unit is crossed when maintenance >= margin balance, compared
exactly (both sides times RATE_ONE, no rounding).

Scenarios hold many accounts with positions (isolated, single-symbol cross, two-symbol
cross and accounts mixing both) opened against a market maker, then an *empty book*, so
a liquidation order never fills and a liquidated unit goes to the insurance fund (seeded
with a large surplus from a liquidation that filled far above its bankruptcy price) or,
when the fund cannot cover the loss, to ADL.

Can a liquidation change which *other* units are crossed (and so break the equality)?
With an empty book a liquidated position goes to the insurance fund (never in the index)
or, by ADL, to opposite positions at the bankruptcy price. The claim to check is that ADL
only makes counterparties healthier. Relative to the current marks it is false: ADL only
happens when the fund cannot cover taking the position over, that is when the mark is
already beyond the bankruptcy price, so the counterparty closes at a price worse than the
mark. What holds is narrower:

- ADL in the *ticked* symbol. The liquidated unit was not crossed at the old mark (the
  venue's invariant), so its bankruptcy price lies strictly between the old and the new
  mark (at least maintenance / size, >= 0.4% of the price, from the old one: far more
  than the tick rounding). The counterparty, on the side the move favoured, closes part
  at a price better than the old mark and gains on the rest, with less maintenance. So it
  ends the tick healthier than it started it (a cross unit keeps more headroom; an
  isolated one more margin balance per unit of size, provided what the closed part
  realized stays with the closed part): not crossed before, not crossed after. It was
  not crossed at the new mark either (the move was in its favour). The equality holds,
  and ``check_adl_counterparties`` checks the claim for every ADL.
- ADL in the *other* symbol of a two-symbol cross unit. Each position's bankruptcy price
  is where its share of the unit's balance (by notional at the mark) is used up: the
  same fraction of the mark in every symbol. With the unit under water, the unticked
  symbol's position closes at a price beyond its unchanged mark, and ADL hands that
  share of the loss to its counterparties, which can cross them: a legitimate cascade,
  liquidated within the same command
  (``test_adl_in_the_other_symbol_can_cross_a_counterparty``). The scenarios that run
  without a seeded fund (and so reach ADL) therefore hold no two-symbol cross units;
  with the fund seeded (no ADL, which the test asserts) they do.

Funding and fills would also change other units within the tick, which is why the ticks
stay inside one funding interval and the book stays empty.

The two-symbol cross band logic is tested explicitly: a unit crossed only when both marks
move, and a unit that leaves a band, is re-evaluated and re-banded without being crossed.
"""

from __future__ import annotations

import pytest
from helpers.venue import (
    BTC,
    ETH,
    MID,
    MM,
    SPECS,
    SYMBOLS,
    Harness,
    UnitKey,
    boundary_mark,
    crossed_units,
    open_market,
    started_units,
    unit_health,
    unit_symbols,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType
from sentinel.events import (
    AutoDeleveraged,
    InsuranceTakeover,
    LiquidationFinished,
    LiquidationStarted,
)
from sentinel.ledger import FUND
from sentinel.units import RATE_ONE, ceil_div, money
from titan.enums import Side

SEEDER = 2  # the account whose liquidation seeds the insurance fund


def seed_fund(h: Harness) -> None:
    """An isolated 10x long of 500 BTC is liquidated 10% lower into a bid at its entry
    price: its 2.5M margin, less nothing, goes to the fund as fee and surplus."""
    h(Deposit, SEEDER, "USDT", money("3000000"))
    h(SetMarginType, SEEDER, "BTCUSDT", True)
    h(SetLeverage, SEEDER, "BTCUSDT", 10)
    qty, price = BTC.qty_units("500"), MID["BTCUSDT"]
    h.trade("BTCUSDT", SEEDER, True, qty, price)
    h.order("BTCUSDT", MM, Side.BUY, qty, price)
    events = h(MarkPrice, "BTCUSDT", BTC.price_units("45000"))
    assert started_units(events) == [(SEEDER, "USDT", "BTCUSDT")]
    h(MarkPrice, "BTCUSDT", MID["BTCUSDT"])
    assert h.venue.ledger.fund_balance("USDT") > money("2000000")
    assert not h.venue.titan.open_orders(MM)


# -- scenarios --------------------------------------------------------------------------

LEVERAGES = (2, 3, 5, 10, 20, 50)
KINDS = ("isolated", "cross", "cross2", "mixed")
# Without a seeded fund ADL happens: no two-symbol cross units then (module docstring).
ADL_KINDS = ("isolated", "cross", "mixed")


@st.composite
def account_specs(
    draw: st.DrawFn, kinds: tuple[str, ...] = KINDS
) -> tuple[str, list[tuple[str, bool, bool, int, int]], int, int]:
    """(kind, legs (symbol, isolated, long, lots, entry offset in bps), leverage,
    cushion in % of the initial margin)."""
    kind = draw(st.sampled_from(kinds))
    if kind in ("isolated", "cross"):
        syms = [draw(st.sampled_from(SYMBOLS))]
    else:
        syms = list(SYMBOLS)
    legs = []
    for i, sym in enumerate(syms):
        isolated = kind == "isolated" or (kind == "mixed" and i == 0)
        lots = draw(st.integers(1, 2_000 if sym == "BTCUSDT" else 30_000), label="lots")
        legs.append((sym, isolated, draw(st.booleans()), lots, draw(st.integers(-150, 150))))
    return kind, legs, draw(st.sampled_from(LEVERAGES)), draw(st.integers(100, 400))


def open_accounts(h: Harness, specs: list) -> None:
    """One account per spec, its positions opened against the market maker."""
    for n, (_kind, legs, lev, cushion) in enumerate(specs):
        account = 100 + n
        deposit = 0
        for sym, isolated, _long, lots, offset in legs:
            spec = SPECS[sym]
            price = MID[sym] * (10_000 + offset) // 10_000 // spec.tick * spec.tick
            notional = lots * spec.lot * price * 10 ** (8 - spec.price_decimals - spec.qty_decimals)
            deposit += ceil_div(notional * cushion, 100 * lev) + notional // 1000 + 1
            if isolated:
                h(SetMarginType, account, sym, True)
            h(SetLeverage, account, sym, lev)
        h(Deposit, account, "USDT", deposit)
        for sym, _isolated, long, lots, offset in legs:
            spec = SPECS[sym]
            price = MID[sym] * (10_000 + offset) // 10_000 // spec.tick * spec.tick
            h.trade(sym, account, long, lots * spec.lot, price)
    assert not any(h.venue.titan.open_orders(a) for a in (MM, *range(100, 100 + len(specs))))


def pick_mark(h: Harness, state: dict, symbol: str, kind: str, r: int, delta: int) -> int:
    """The next mark of ``symbol`` for a tick of the given kind (see ``ticks``)."""
    m = h.venue.ledger.marks[symbol]
    if kind in ("small", "medium", "jump"):
        bps = {"small": 50, "medium": 300, "jump": 3_000}[kind]
        width = m * bps // 10_000
        new = m + r % (2 * width + 1) - width
    elif kind == "boundary":  # exactly at (or one unit off) a unit's crossing mark
        choices = sorted(
            (key, size)
            for key in unit_health(state)
            for sym, size in unit_symbols(state, key).items()
            if sym == symbol
        )
        target = None
        if choices:
            key, size = choices[r % len(choices)]
            target = boundary_mark(state, key, symbol, size > 0)
        new = m if target is None else target + delta
    else:  # "band": at (or one unit off) a live index entry
        entries = sorted(h.venue.ledger.index_entries(symbol))
        new = m if not entries else entries[r % len(entries)][1] + delta
    return min(max(new, MID[symbol] // 4), MID[symbol] * 4)


def tick_and_compare(h: Harness, symbol: str, mark: int) -> list:
    """Apply one mark and compare the liquidated units with the brute-force scan."""
    before = h.venue.export_state()
    health = unit_health(before, {symbol: mark})
    expected = {k for k, (balance, mm) in health.items() if mm >= balance}
    old_health = unit_health(before)
    assert not {k for k, (b, mm) in old_health.items() if mm >= b}, "crossed before the tick"
    events = h(MarkPrice, symbol, mark)
    got = started_units(events)
    assert len(got) == len(set(got)), f"a unit was liquidated twice: {got}"
    assert set(got) == expected, (
        f"tick {symbol} -> {mark}: liquidated {sorted(got)}, "
        f"brute force says {sorted(expected)} "
        f"(missed {sorted(expected - set(got))}, extra {sorted(set(got) - expected)})"
    )
    for e in events:
        if type(e) is LiquidationStarted:
            balance, mm = health[(e.account, e.asset, e.symbol)]
            assert (e.balance, e.maintenance) == (balance // RATE_ONE, ceil_div(mm, RATE_ONE))
        if type(e) is LiquidationFinished:
            assert e.filled == 0, "the book is empty: a liquidation order cannot fill"
    for e in events:
        if type(e) is LiquidationFinished:
            sizes = unit_symbols(before, (e.account, e.asset, e.symbol))
            assert e.taken_over + e.deleveraged == sum(abs(q) for q in sizes.values())
    check_adl_counterparties(before, h.venue.export_state(), events)
    assert not h.venue.titan.open_orders(FUND), "the fund's orders never rest"
    assert all(not h.venue.titan.depth(s, 1).bids for s in SYMBOLS)
    assert all(not h.venue.titan.depth(s, 1).asks for s in SYMBOLS)
    return events


def check_adl_counterparties(before: dict, after: dict, events: list) -> None:
    """The claim: an ADL counterparty ends the tick at least as healthy as it started it
    (see the module docstring). A cross counterparty keeps at least its headroom (margin
    balance - maintenance). An isolated one has its margin released proportionally as it
    shrinks, so what it keeps is its margin balance per unit of size."""
    old, new = unit_health(before), unit_health(after)
    sizes = [
        {
            (account, sym): size
            for account, _a, _b, _s, positions in state["sentinel"]["wallets"]
            for sym, size, _c, _i, _m in positions
        }
        for state in (before, after)
    ]
    isolated = {
        (account, sym): iso
        for account, _a, _b, _s, positions in before["sentinel"]["wallets"]
        for sym, _size, _c, iso, _m in positions
    }
    for e in events:
        if type(e) is not AutoDeleveraged:
            continue
        key = (e.counterparty, "USDT", e.symbol if isolated[(e.counterparty, e.symbol)] else "")
        assert key in old, f"ADL counterparty {key} had no position"
        if key not in new:
            continue
        (b0, mm0), (b1, mm1) = old[key], new[key]
        if key[2]:
            a0, a1 = (abs(s[(e.counterparty, e.symbol)]) for s in sizes)
            assert b1 * a0 >= b0 * a1, (
                f"ADL left isolated {key} less margin balance per unit of size: "
                f"{b0 // RATE_ONE} for {a0} before the tick, {b1 // RATE_ONE} for {a1} after"
            )
        else:
            assert b1 - mm1 >= b0 - mm0, f"ADL cut the headroom of cross unit {key}"


def run_scenario(specs: list, fund: bool, ticks: list[tuple[str, str, int, int]]) -> list:
    """Open the accounts, then tick; with a seeded fund no tick may need ADL."""
    assert fund or all(kind in ADL_KINDS for kind, *_ in specs)
    h = Harness()
    open_market(h)
    if fund:
        seed_fund(h)
    open_accounts(h, specs)
    out: list = []
    for symbol, kind, r, delta in ticks:
        state = h.venue.export_state()
        out += tick_and_compare(h, symbol, pick_mark(h, state, symbol, kind, r, delta))
        if fund:
            assert not any(type(e) is AutoDeleveraged for e in out), "the fund ran short"
    return out


ticks = st.lists(
    st.tuples(
        st.sampled_from(SYMBOLS),
        st.sampled_from(["small", "medium", "jump", "boundary", "boundary", "band", "band"]),
        st.integers(0, 10**9),
        st.integers(-1, 1),
    ),
    min_size=1,
    max_size=40,
)


SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(specs=st.lists(account_specs(), min_size=8, max_size=40), ticks=ticks)
def test_liquidated_units_equal_brute_force_scan(specs: list, ticks: list) -> None:
    """Every kind of unit; the fund takes every liquidated position over."""
    run_scenario(specs, True, ticks)


@SETTINGS
@given(specs=st.lists(account_specs(ADL_KINDS), min_size=8, max_size=40), ticks=ticks)
def test_liquidated_units_equal_brute_force_scan_with_adl(specs: list, ticks: list) -> None:
    """No fund: a tick beyond a bankruptcy price goes to ADL."""
    run_scenario(specs, False, ticks)


def _fixed_specs(n: int, seed: int, kinds: tuple[str, ...]) -> list:
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.choice(kinds)
        syms = [rng.choice(SYMBOLS)] if kind in ("isolated", "cross") else list(SYMBOLS)
        legs = [
            (
                sym,
                kind == "isolated" or (kind == "mixed" and i == 0),
                rng.random() < 0.5,
                rng.randint(1, 2_000 if sym == "BTCUSDT" else 30_000),
                rng.randint(-150, 150),
            )
            for i, sym in enumerate(syms)
        ]
        out.append((kind, legs, rng.choice(LEVERAGES), rng.randint(100, 400)))
    return out


def _fixed_ticks(n: int, seed: int) -> list:
    import random

    rng = random.Random(seed)
    kinds = ["small", "medium", "jump", "boundary", "band"]
    return [
        (rng.choice(SYMBOLS), rng.choice(kinds), rng.randrange(10**9), rng.randint(-1, 1))
        for _ in range(n)
    ]


@pytest.mark.parametrize("fund", [True, False], ids=["fund", "no-fund"])
def test_many_accounts_many_ticks(fund: bool) -> None:
    """A fixed larger scenario (80 accounts, 60 ticks) that certainly liquidates through
    the fund and, without a seeded fund, through ADL too."""
    events = run_scenario(
        _fixed_specs(80, 7, KINDS if fund else ADL_KINDS), fund, _fixed_ticks(60, 11)
    )
    kinds = {type(e) for e in events}
    assert LiquidationStarted in kinds and InsuranceTakeover in kinds
    if not fund:
        assert AutoDeleveraged in kinds, "the scenario was meant to reach ADL"
    started = started_units(events)
    assert any(k[2] for k in started) and any(not k[2] for k in started)


# -- the two-symbol cross band, explicitly ------------------------------------------------

X = 500


def two_symbol_account(wallet: str, eth_long: bool) -> Harness:
    """Account X, cross, 20x: long 1 BTC at 50,000 and 10 ETH at 3,000 (long or short),
    ``wallet`` USDT deposited (fees 40 USDT)."""
    h = Harness()
    open_market(h)
    h(Deposit, X, "USDT", money(wallet))
    h.trade("BTCUSDT", X, True, BTC.qty_units("1"), MID["BTCUSDT"])
    h.trade("ETHUSDT", X, eth_long, ETH.qty_units("10"), MID["ETHUSDT"])
    sizes = unit_symbols(h.venue.export_state(), (X, "USDT", ""))
    assert sizes == {"BTCUSDT": 1000, "ETHUSDT": 10_000 if eth_long else -10_000}
    return h


def entries(h: Harness, key: UnitKey) -> dict[str, list[tuple[bool, int]]]:
    return {
        sym: sorted((long, t) for long, t, k in h.venue.ledger.index_entries(sym) if k == key)
        for sym in SYMBOLS
    }


def test_two_symbol_cross_unit_crosses_only_when_both_marks_move() -> None:
    h = two_symbol_account("4540", eth_long=True)
    key = (X, "USDT", "")
    btc, eth = BTC.price_units("47000"), ETH.price_units("2800")
    state = h.venue.export_state()
    assert key not in crossed_units(state, {"BTCUSDT": btc})
    assert key not in crossed_units(state, {"ETHUSDT": eth})
    assert key in crossed_units(state, {"BTCUSDT": btc, "ETHUSDT": eth})

    only_eth = h.clone()
    assert started_units(tick_and_compare(only_eth, "ETHUSDT", eth)) == []

    ((long_btc, band_btc),) = entries(h, key)["BTCUSDT"]
    assert long_btc and band_btc >= btc, "the BTC move should leave the BTC band"
    assert started_units(tick_and_compare(h, "BTCUSDT", btc)) == []
    assert entries(h, key)["BTCUSDT"] != [(True, band_btc)], "not re-banded"
    assert started_units(tick_and_compare(h, "ETHUSDT", eth)) == [key]
    assert key not in unit_health(h.venue.export_state())


@pytest.mark.parametrize("eth_long", [True, False], ids=["long-long", "long-short"])
def test_band_exit_is_re_evaluated_not_liquidated(eth_long: bool) -> None:
    h = two_symbol_account("20040", eth_long)
    key = (X, "USDT", "")
    before = entries(h, key)
    ((_, band_btc),) = before["BTCUSDT"]
    ((_, band_eth),) = before["ETHUSDT"]
    # both marks just inside their bands at once: the unit is not crossed (the bands are
    # sound), and it is not even looked at (its entries stay as they are)
    inside_eth = band_eth - 1 if eth_long is False else band_eth + 1
    assert key not in crossed_units(
        h.venue.export_state(), {"BTCUSDT": band_btc + 1, "ETHUSDT": inside_eth}
    )
    assert started_units(tick_and_compare(h, "BTCUSDT", band_btc + 1)) == []
    assert started_units(tick_and_compare(h, "ETHUSDT", inside_eth)) == []
    assert entries(h, key) == before
    # on the band's edge the entry pops: the unit is evaluated, is healthy, and gets fresh
    # bands in both symbols for the headroom that is left
    assert started_units(tick_and_compare(h, "BTCUSDT", band_btc)) == []
    assert key not in crossed_units(h.venue.export_state())
    after = entries(h, key)
    ((_, new_btc),) = after["BTCUSDT"]
    ((_, new_eth),) = after["ETHUSDT"]
    # fresh bands for the headroom that is left, beyond the current marks
    assert new_btc < band_btc and new_eth != band_eth
    if eth_long:
        assert new_eth < inside_eth
    else:
        assert new_eth > inside_eth
    # and the unit is still liquidated exactly where the brute force says
    state = h.venue.export_state()
    edge = boundary_mark(state, key, "BTCUSDT", True)
    assert edge is not None
    assert started_units(tick_and_compare(h, "BTCUSDT", edge + 1)) == []
    assert started_units(tick_and_compare(h, "BTCUSDT", edge)) == [key]


def test_adl_in_the_other_symbol_can_cross_a_counterparty() -> None:
    """Unit 20 (cross: long 10 ETH, long 0.1 BTC, 1,800 USDT less 17.5 of fees) is under
    water when ETH falls to 2,700: balance 1,782.5 - 3,000 = -1,217.5 on a notional of
    27,000 + 5,000 = 32,000, so each position goes bankrupt 1,217.5 / 32,000 beyond its
    mark; BTC (mark unchanged at 50,000) at 51,902.34375, 51,902.4 on the tick grid. The
    empty fund cannot take that, so ADL buys it from unit 30 (short 0.5 BTC at 125x, 215
    USDT less 12.5 of fee), the only BTC short, costing 30 0.1 x 1,902.4 = 190.24 USDT: 30
    is left with 12.26 against 80 of maintenance on its 0.4 BTC, crossed though neither
    the tick nor the brute-force scan touched it, and is liquidated in the same command.
    The equality of the property test cannot hold here, which is why its ADL scenarios
    have no two-symbol cross units."""
    h = Harness()
    open_market(h)
    u, v = 20, 30
    h(Deposit, u, "USDT", money("1800"))
    h(Deposit, v, "USDT", money("215"))
    h(SetLeverage, v, "BTCUSDT", 125)
    h.trade("ETHUSDT", u, True, ETH.qty_units("10"), MID["ETHUSDT"])
    h.trade("BTCUSDT", u, True, BTC.qty_units("0.1"), MID["BTCUSDT"])
    h.trade("BTCUSDT", v, False, BTC.qty_units("0.5"), MID["BTCUSDT"])
    tick = ETH.price_units("2700")
    assert crossed_units(h.venue.export_state(), {"ETHUSDT": tick}) == {(u, "USDT", "")}
    events = h(MarkPrice, "ETHUSDT", tick)
    assert started_units(events) == [(u, "USDT", ""), (v, "USDT", "")]
    adl = [e for e in events if type(e) is AutoDeleveraged]
    assert (adl[0].symbol, adl[0].account, adl[0].counterparty) == ("BTCUSDT", u, v)
    assert (adl[0].qty, adl[0].price) == (BTC.qty_units("0.1"), BTC.price_units("51902.4"))
    v_start = next(e for e in events if type(e) is LiquidationStarted and e.account == v)
    assert (v_start.balance, v_start.maintenance) == (money("12.26"), money("80"))
    assert events.index(adl[0]) < [type(e) for e in events].index(LiquidationStarted, 1)
    assert set(unit_health(h.venue.export_state())) <= {(MM, "USDT", "")}
