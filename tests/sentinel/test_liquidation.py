"""The exact liquidation-price solve (:mod:`sentinel.liquidation`) agrees with Sentinel's
integer trigger price (:func:`sentinel.margin.threshold`), which the engine indexes: at
the exact price maintenance equals the margin balance in the bracket used, and the
integer threshold is that price rounded toward the liquidation side (docs/sentinel.md,
Margin). The published vectors are checked through the CLI in
tests/exchange/cli/test_liquidation_price.py.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.contracts import contract_from_terms
from sentinel.liquidation import bracket_for_notional, calculate
from sentinel.margin import threshold
from sentinel.units import MONEY_ONE, RATE_ONE
from titan.symbols import SymbolSpec

# --- agreement with Sentinel's integer trigger price ---------------------------------

# BTCUSDT with the default (Binance 2023-11) bracket table
BTC = contract_from_terms(
    SymbolSpec.from_decimals("BTCUSDT", "0.10", "0.001", "5", "1000", "5"), {}, "BTCUSDT"
)
PD, QD = BTC.spec.price_decimals, BTC.spec.qty_decimals
TABLE = BTC.brackets


@st.composite
def isolated_positions(draw: st.DrawFn) -> tuple[bool, int, int, int]:
    """``(long, qty units, entry price units, wallet money units)`` of a BTCUSDT position."""
    long = draw(st.booleans())
    qty = draw(st.one_of(st.integers(1, 2_000), st.integers(1, 5_000_000)))
    entry = draw(st.one_of(st.integers(1, 1_000), st.integers(100_000, 2_000_000)))
    notional = qty * entry * BTC.scale  # money units
    leverage = draw(st.integers(1, 150))
    wallet = max(0, notional // leverage + draw(st.integers(-(10**9), 10**9)))
    return long, qty, entry, wallet


def liquidated(long: bool, qty: int, entry: int, wallet: int, mark: int) -> bool:
    """The exact predicate at an integer mark: maintenance margin >= margin balance."""
    side = 1 if long else -1
    maintenance_scaled = TABLE.maintenance_margin_scaled(qty * mark * BTC.scale)
    balance = wallet + side * qty * (mark - entry) * BTC.scale
    return maintenance_scaled >= balance * RATE_ONE


@settings(max_examples=400, deadline=None)
@given(isolated_positions())
def test_calculator_agrees_with_sentinel_threshold(pos: tuple[bool, int, int, int]) -> None:
    long, qty, entry, wallet = pos
    side = 1 if long else -1
    base = wallet - side * qty * entry * BTC.scale
    trigger = threshold(long, qty, base, BTC.scale, TABLE.brackets)

    calc = calculate(
        long=long,
        qty=Fraction(qty, 10**QD),
        entry=Fraction(entry, 10**PD),
        wallet=Fraction(wallet, MONEY_ONE),
        brackets=TABLE.brackets,
    )
    lp_units = calc.liquidation_price * 10**PD
    if long:
        assert trigger == max(math.floor(lp_units), 0)
        if trigger > 0:
            assert liquidated(long, qty, entry, wallet, trigger)
        assert not liquidated(long, qty, entry, wallet, trigger + 1)
    else:
        assert trigger == max(math.ceil(lp_units), 1)
        assert liquidated(long, qty, entry, wallet, trigger)
        if trigger > 1:
            assert not liquidated(long, qty, entry, wallet, trigger - 1)
    assert calc.never_liquidated == (long and calc.liquidation_price <= 0)

    if calc.liquidation_price > 0:
        # At the exact price, maintenance equals the margin balance, in the bracket used.
        lp = calc.liquidation_price
        notional = Fraction(qty, 10**QD) * lp * MONEY_ONE
        assert TABLE.for_notional(math.ceil(notional)) is calc.bracket
        b = calc.bracket
        maintenance = notional * b.mmr / RATE_ONE - b.cum
        balance = wallet + side * Fraction(qty, 10**QD) * (lp - Fraction(entry, 10**PD)) * MONEY_ONE
        assert maintenance == balance


def test_isolated_vector_exactly() -> None:
    """Binance's worked isolated example: long 1 BTC @ 60,000 with 600 of margin is
    liquidated at 59,648.24 (rounded) in bracket 2 (mmr 0.5%), bankrupt at 59,400."""
    calc = calculate(
        long=True,
        qty=Fraction(1),
        entry=Fraction(60_000),
        wallet=Fraction(600),
        brackets=TABLE.brackets,
    )
    assert calc.bracket.number == 2 and calc.bracket.mmr == RATE_ONE // 200
    assert round(calc.liquidation_price * 100) == 5_964_824
    assert calc.bankruptcy_price == 59_400
    assert [a.used for a in calc.attempts] == [False, True]
    assert calc.margin_balance == 600 and not calc.never_liquidated
    assert calc.margin_ratio == calc.maintenance_margin / 600


def test_bracket_for_notional_edges() -> None:
    first, second = TABLE.brackets[0], TABLE.brackets[1]
    assert bracket_for_notional(TABLE.brackets, Fraction(first.cap)) is first
    assert bracket_for_notional(TABLE.brackets, Fraction(first.cap) + Fraction(1, 3)) is second
    assert bracket_for_notional(TABLE.brackets, Fraction(10**30)) is TABLE.brackets[-1]
