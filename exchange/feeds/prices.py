"""Mark prices into the venue: the seeded simulated walk and the Binance conversion.

Rules
-----
- Simulated walk (:class:`RandomWalk`): per symbol, ``p_{n+1} = p_n * exp(vol * z)``
  with ``z`` a standard normal draw from that symbol's own ``random.Random`` seeded with
  ``"{seed}:{symbol}"`` (string seeds are hashed with SHA-512, so the walk is the same in
  every process and under every PYTHONHASHSEED). Floats are used only to draw; each step
  is rounded to the symbol's tick (at least one tick) and that integer is what the
  venue receives and the journal holds, so replay never re-runs the walk.
- A Binance mark (decimal strings) is rounded half-even to the tick; its funding rate
  ("r") is converted to rate units exactly when it has at most 8 decimals, rounded
  otherwise, and bounded by the venue's +-10% per interval.
- Each mark enters the sequencer as a :class:`sentinel.commands.MarkPrice` with seq and
  ts left 0 for the sequencer to stamp.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from sentinel.commands import MarkPrice
from sentinel.units import RATE_ONE
from titan.symbols import SymbolSpec
from venue.venue import MAX_FUNDING_RATE

#: Largest price accepted from a feed, in price units (a journaled value is 64-bit).
MAX_PRICE = 1 << 62

#: Binance's default funding rate per 8 h interval (0.01%), in rate units.
DEFAULT_FUNDING_RATE = RATE_ONE // 10_000


class RandomWalk:
    """Seeded geometric random walk of each symbol's price, in ticks (see module rules)."""

    def __init__(
        self,
        specs: Iterable[SymbolSpec],
        initial: dict[str, int],
        volatility: float,
        seed: int,
    ) -> None:
        if not (volatility >= 0 and math.isfinite(volatility)):
            raise ValueError(f"volatility {volatility!r} must be a finite number >= 0")
        self.specs = {s.symbol: s for s in specs}
        missing = [s for s in self.specs if s not in initial]
        if missing:
            raise ValueError(f"no initial price for {', '.join(missing)}")
        self.volatility = volatility
        self._price = {s: float(initial[s]) for s in self.specs}
        self._rng = {s: random.Random(f"{seed}:{s}") for s in self.specs}
        self.last = {s: self._tick(s, float(initial[s])) for s in self.specs}

    def _tick(self, symbol: str, price: float) -> int:
        tick = self.specs[symbol].tick
        return max(tick, round(price / tick) * tick)

    def step(self) -> dict[str, int]:
        """Advance every symbol one step; the new prices in price units, on the tick grid."""
        for symbol, rng in self._rng.items():
            z = rng.gauss(0.0, 1.0)
            price = self._price[symbol] * math.exp(self.volatility * z)
            tick = self.specs[symbol].tick
            self._price[symbol] = max(price, float(tick))
            self.last[symbol] = self._tick(symbol, self._price[symbol])
        return dict(self.last)


def mark_command(symbol: str, price: int, funding_rate: int = DEFAULT_FUNDING_RATE) -> MarkPrice:
    """An unstamped mark-price input for the sequencer."""
    return MarkPrice(0, 0, symbol, price, funding_rate)


def price_units(spec: SymbolSpec, text: str) -> int:
    """A decimal price string rounded half-even to ``spec``'s tick, in price units.

    ValueError if it is not a positive finite number or rounds to zero.
    """
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise ValueError(f"price {text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"price {text!r} is not a positive finite number")
    units = value.scaleb(spec.price_decimals)
    ticks = (units / spec.tick).to_integral_value(rounding=ROUND_HALF_EVEN)
    price = int(ticks) * spec.tick
    if price <= 0:
        raise ValueError(f"price {text!r} rounds to zero at tick {spec.tick}")
    if price > MAX_PRICE:
        raise ValueError(f"price {text!r} is out of range")
    return price


def rate_units(text: str) -> int:
    """A decimal funding rate in rate units (1e-8), rounded half-even, bounded to +-10%."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise ValueError(f"funding rate {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"funding rate {text!r} is not a finite number")
    rate = int((value * RATE_ONE).to_integral_value(rounding=ROUND_HALF_EVEN))
    return max(-MAX_FUNDING_RATE, min(MAX_FUNDING_RATE, rate))
