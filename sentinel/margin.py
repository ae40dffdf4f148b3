"""The margin formulas of Binance USDⓈ-M futures, one-way mode (docs/sentinel.md, Margin).

For one position of signed size ``s`` (``a = |s|``), signed entry cost ``C`` (``s x entry
price``, in money), wallet ``W`` (the isolated margin, or the cross wallet), and for
cross margin the other cross positions' maintenance margin ``TMM1`` and unrealized PnL
``UPNL1``, the account is liquidated at mark price ``m`` when

    maintenance margin >= margin balance
    a*m*k*mmr - cum + TMM1  >=  W + UPNL1 + s*m*k - C

(``k`` converts price x quantity into money). Solving for ``m`` gives Binance's
liquidation price

    LP = (W - TMM1 + UPNL1 + cum - side*a*EP) / (a*MMR - side*a),   side = +1 long, -1 short,

valid when ``LP x a`` lies in the bracket whose (mmr, cum) were used; otherwise the next
bracket is tried (the FAQ's "recompute with that one"). The maintenance margin is
continuous across bracket edges, so exactly one bracket is consistent. The bankruptcy
price is the same formula with MMR = cum = TMM1 = 0: the price where the margin balance
is zero. For a cross unit the venue uses :func:`cross_bankruptcy` instead, which shares
the unit's margin balance among its positions by notional at the mark (for a single
position both give the same price).

:func:`solve` works on ``int`` and ``Fraction`` alike: the engine calls it with integers
(exact, no rounding: the price is returned as a fraction ``num/den``),
:mod:`sentinel.liquidation` with exact fractions (the ``exchange liquidation-price``
calculator).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import TypeVar

from sentinel.brackets import Bracket
from sentinel.units import RATE_ONE, ceil_div

N = TypeVar("N", int, Fraction)

# A bracket with no maintenance margin: solving with it gives the bankruptcy price.
BANKRUPTCY = Bracket(0, 0, 0, 0, 0, 0)


def solve(long: bool, a: N, base: N, k: N, bracket: Bracket) -> tuple[N, N]:
    """The crossing price of one bracket as ``(num, den)``, ``den > 0``.

    ``base`` is ``W + UPNL1 - C - TMM1`` (money); ``a`` the absolute size. For a long the
    account is liquidated at marks ``<= num/den``, for a short at marks ``>= num/den``.
    """
    big_a = (base + bracket.cum) * RATE_ONE
    if long:
        return -big_a, a * k * (RATE_ONE - bracket.mmr)
    return big_a, a * k * (RATE_ONE + bracket.mmr)


def _inside(a: N, k: N, num: N, den: N, bracket: Bracket, first: bool, last: bool) -> bool:
    """Whether the notional ``a*k*num/den`` lies in the bracket's (floor, cap]."""
    n = a * k * num
    return (first or n > bracket.floor * den) and (last or n <= bracket.cap * den)


def crossing(long: bool, a: N, base: N, k: N, brackets: Sequence[Bracket]) -> tuple[N, N, Bracket]:
    """Liquidation price ``(num, den, bracket)``: the first bracket consistent with its
    own solution (Binance's recomputation). A single bracket is used as given."""
    last_i = len(brackets) - 1
    for i, b in enumerate(brackets):
        num, den = solve(long, a, base, k, b)
        if last_i == 0 or _inside(a, k, num, den, b, i == 0, i == last_i):
            return num, den, b
    num, den = solve(long, a, base, k, brackets[-1])  # unreachable for a sound table
    return num, den, brackets[-1]


def threshold(long: bool, a: int, base: int, k: int, brackets: Sequence[Bracket]) -> int:
    """The integer trigger price (price units) of one position.

    Long: the highest mark at which it is liquidated (0: none is). Short: the lowest
    (at least 1). Exact: ``maintenance >= margin balance`` holds at the mark iff the mark
    is at or beyond the threshold.
    """
    num, den, _ = crossing(long, a, base, k, brackets)
    if long:
        return max(num // den, 0)
    return max(ceil_div(num, den), 1)


def bankruptcy(long: bool, a: N, base: N, k: N) -> tuple[N, N]:
    """Bankruptcy price ``(num, den)``: where ``W + UPNL1 + s*m*k - C`` is zero."""
    return solve(long, a, base, k, BANKRUPTCY)


def cross_bankruptcy(long: bool, mark: N, equity: N, notional: N) -> tuple[N, N]:
    """Bankruptcy price ``(num, den)`` of one position of a cross unit whose margin
    balance at the marks is ``equity`` and whose open positions' notional at the marks
    is ``notional`` (> 0): the price where the position's share of the balance,
    ``equity x its notional / notional``, is used up. That is the same fraction
    ``equity / notional`` of the mark for every position of the unit, so the unit's margin
    balance is zero when all of them reach it together, whichever is closed first, and
    with one position it is :func:`bankruptcy`. A deficit (``equity < 0``) puts it beyond
    the mark in the position's favour (above it for a long, below it for a short), by the
    same fraction in every symbol: a symbol whose mark did not move takes its share of the
    loss, never the whole of it."""
    return mark * (notional - equity if long else notional + equity), notional
