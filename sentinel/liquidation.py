"""The liquidation price of one position, solved exactly (Binance USDⓈ-M, one-way mode).

Pure arithmetic on :class:`~fractions.Fraction`: no rounding anywhere (a display rounds
what it shows). Amounts are in quote units and prices in quote per base unit; internally
everything is money (a quote amount times ``MONEY_ONE``; ``k = MONEY_ONE`` makes
``qty x price x k`` money), and :func:`sentinel.margin.crossing` and
:func:`sentinel.margin.bankruptcy` solve the rule of :mod:`sentinel.margin`:

    liquidated when  maintenance margin >= margin balance, so with
    base = W + UPNL1 - C - TMM1,   C = side x qty x entry x k

the liquidation price is where they are equal, and the bankruptcy price is where the
margin balance ``W + UPNL1 + s x m x k - C`` is zero (``base`` without ``TMM1``).

Rules:

- Isolated margin has ``TMM1 = UPNL1 = 0``: ``W`` is the position's margin.
- Bracket choice: the brackets are tried in order; the first whose (floor, cap] holds
  ``qty x`` its own solution is used (Binance's "recompute with that one"). The
  maintenance margin is continuous across bracket edges, so exactly one is consistent.
  A single bracket (an override) is used as given.
- Maintenance and margin ratio are reported at the entry price, with the bracket of
  the entry notional: ``(TMM1 + MM) / (W + UPNL1)``, none when that balance is not
  positive.
- A long whose liquidation price is not positive is never liquidated.

The engine's integer trigger price (:func:`sentinel.margin.threshold`) is this price
rounded toward the liquidation side (tests/sentinel/test_liquidation.py proves they
agree). See docs/sentinel.md, Margin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from sentinel.brackets import Bracket
from sentinel.margin import bankruptcy, crossing, solve
from sentinel.units import MONEY_ONE, RATE_ONE

_K = Fraction(MONEY_ONE)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One bracket tried: its solution (quote price) and whether it holds its own notional."""

    bracket: Bracket
    price: Fraction
    used: bool


@dataclass(frozen=True, slots=True)
class Calculation:
    """The exact result; amounts in quote units, prices in quote per base unit.

    ``margin_ratio`` is ``(TMM1 + MM) / (W + UPNL1)`` at the entry price, None when that
    margin balance is not positive. ``never_liquidated``: a long whose liquidation price is
    not positive (its margin covers maintenance at every price).
    """

    liquidation_price: Fraction
    bankruptcy_price: Fraction
    bracket: Bracket
    attempts: tuple[Attempt, ...]
    maintenance_margin: Fraction
    margin_balance: Fraction
    margin_ratio: Fraction | None
    never_liquidated: bool

    @property
    def liquidatable_at_entry(self) -> bool:
        """Whether maintenance already reaches the margin balance at the entry price."""
        return self.margin_ratio is None or self.margin_ratio >= 1


def calculate(
    *,
    long: bool,
    qty: Fraction,
    entry: Fraction,
    wallet: Fraction,
    brackets: Sequence[Bracket],
    other_maintenance: Fraction = Fraction(0),
    other_upnl: Fraction = Fraction(0),
) -> Calculation:
    """Liquidation and bankruptcy price of one position, exactly.

    Quote amounts (``wallet``, ``other_*``) are in quote units and ``brackets`` in money
    and rate units (:mod:`sentinel.brackets`); ``qty > 0`` and ``entry > 0`` (ValueError
    otherwise, or without brackets). The bracket is the first of ``brackets`` whose
    (floor, cap] holds ``qty x`` its own solution (a single bracket is used as given);
    ``attempts`` lists every bracket tried up to it.
    """
    if qty <= 0 or entry <= 0:
        raise ValueError("qty and entry must be positive")
    if not brackets:
        raise ValueError("at least one bracket is needed")
    side = 1 if long else -1
    cost = side * qty * entry * _K
    wb = (wallet + other_upnl) * _K - cost
    base = wb - other_maintenance * _K
    num, den, used = crossing(long, qty, base, _K, brackets)
    attempts = []
    for b in brackets:
        b_num, b_den = solve(long, qty, base, _K, b)
        attempts.append(Attempt(b, b_num / b_den, b is used))
        if b is used:
            break
    bnum, bden = bankruptcy(long, qty, wb, _K)
    lp = num / den

    # The maintenance margin at the entry price, with the bracket of the entry notional.
    notional = qty * entry * _K
    at_entry = bracket_for_notional(brackets, notional)
    mm = (notional * at_entry.mmr / RATE_ONE - at_entry.cum) / _K
    balance = wallet + other_upnl
    ratio = (other_maintenance + mm) / balance if balance > 0 else None
    return Calculation(
        liquidation_price=lp,
        bankruptcy_price=bnum / bden,
        bracket=used,
        attempts=tuple(attempts),
        maintenance_margin=mm,
        margin_balance=balance,
        margin_ratio=ratio,
        never_liquidated=long and lp <= 0,
    )


def bracket_for_notional(brackets: Sequence[Bracket], notional: Fraction) -> Bracket:
    """The bracket whose (floor, cap] holds ``notional`` (money units); the last beyond.

    Exact for a fractional notional: caps are integers, and for an integer cap
    ``ceil(x) <= cap`` iff ``x <= cap``."""
    whole = math.ceil(notional)
    for b in brackets:
        if whole <= b.cap:
            return b
    return brackets[-1]


__all__ = ["Attempt", "Calculation", "bracket_for_notional", "calculate"]
