"""Per-symbol trading rules and the Decimal <-> integer conversion at the edges.

Inside Titan a price is an integer count of price units (10**-price_decimals) and a
quantity an integer count of quantity units (10**-qty_decimals). The tick size and lot
size are integer multiples of those units, so "on the grid" is an integer modulo test.
Notional is ``price * qty`` in units of 10**-(price_decimals + qty_decimals).
Decimal appears only here, when a human- or wire-format value crosses into the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from titan.enums import MAX_VALUE


class SpecError(ValueError):
    """A symbol specification or an edge value is invalid; the message names the field."""


def to_units(value: Decimal | str | int, decimals: int, field: str) -> int:
    """Convert a decimal value to an integer count of 10**-decimals units, exactly
    (SpecError, a ValueError, naming ``field`` if it is not a finite number or finer)."""
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise SpecError(f"{field}: {value!r} is not a number") from None
    if not dec.is_finite():
        raise SpecError(f"{field}: {value!r} is not a finite number")
    scaled = dec.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise SpecError(f"{field}: {value} has more than {decimals} decimal places")
    return int(scaled)


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """Trading rules of one symbol, all integers in the symbol's units.

    - ``tick``: price grid step in price units (Binance PRICE_FILTER tickSize).
    - ``lot``: quantity grid step in quantity units (LOT_SIZE stepSize).
    - ``min_notional``: smallest ``price * qty`` accepted (MIN_NOTIONAL), 0 = none.
    - ``max_qty``: largest order quantity (LOT_SIZE maxQty), 0 = none.
    - ``band_bps``: limit prices must lie within this many basis points of the
      reference price (mark price, else last trade price); 0 disables the band.
    """

    symbol: str
    price_decimals: int
    qty_decimals: int
    tick: int = 1
    lot: int = 1
    min_notional: int = 0
    max_qty: int = 0
    band_bps: int = 0

    def __post_init__(self) -> None:
        if not self.symbol or not isinstance(self.symbol, str):
            raise SpecError("symbol: must be a non-empty string")
        for name in ("price_decimals", "qty_decimals"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= 18:
                raise SpecError(f"{self.symbol}: {name} must be an integer in 0..18")
        for name in ("tick", "lot"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise SpecError(f"{self.symbol}: {name} must be a positive integer")
        for name in ("min_notional", "max_qty", "band_bps"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise SpecError(f"{self.symbol}: {name} must be a non-negative integer")
        for name in ("tick", "lot", "min_notional", "max_qty"):
            if getattr(self, name) > MAX_VALUE:
                raise SpecError(f"{self.symbol}: {name} must fit in 64 bits")
        if self.band_bps >= 10_000:
            raise SpecError(f"{self.symbol}: band_bps must be below 10000 (100%)")

    @classmethod
    def from_decimals(
        cls,
        symbol: str,
        tick_size: Decimal | str,
        lot_size: Decimal | str,
        min_notional: Decimal | str = "0",
        max_qty: Decimal | str = "0",
        band_pct: Decimal | str = "0",
    ) -> SymbolSpec:
        """Build a spec from exchange-style decimal filters (e.g. tickSize "0.10").

        The price and quantity units are the finest decimals of the tick and lot sizes.
        """
        tick_dec = Decimal(str(tick_size))
        lot_dec = Decimal(str(lot_size))
        if tick_dec <= 0 or lot_dec <= 0:
            raise SpecError(f"{symbol}: tick_size and lot_size must be positive")
        pd = max(0, -int(tick_dec.normalize().as_tuple().exponent))
        qd = max(0, -int(lot_dec.normalize().as_tuple().exponent))
        return cls(
            symbol=symbol,
            price_decimals=pd,
            qty_decimals=qd,
            tick=to_units(tick_dec, pd, "tick_size"),
            lot=to_units(lot_dec, qd, "lot_size"),
            min_notional=to_units(Decimal(str(min_notional)), pd + qd, "min_notional"),
            max_qty=to_units(Decimal(str(max_qty)), qd, "max_qty"),
            band_bps=to_units(Decimal(str(band_pct)), 2, "band_pct"),
        )

    def price_units(self, value: Decimal | str | int, field: str = "price") -> int:
        """Decimal price -> integer price units; raises SpecError if finer than a unit."""
        return to_units(value, self.price_decimals, field)

    def qty_units(self, value: Decimal | str | int, field: str = "qty") -> int:
        """Decimal quantity -> integer quantity units; raises SpecError if finer than a unit."""
        return to_units(value, self.qty_decimals, field)

    def price_decimal(self, units: int) -> Decimal:
        """Integer price units -> Decimal, for display and the wire."""
        return Decimal(units).scaleb(-self.price_decimals)

    def qty_decimal(self, units: int) -> Decimal:
        """Integer quantity units -> Decimal, for display and the wire."""
        return Decimal(units).scaleb(-self.qty_decimals)

    def to_dict(self) -> dict[str, Any]:
        """Canonical field order, used by state export and hashing."""
        return {
            "symbol": self.symbol,
            "price_decimals": self.price_decimals,
            "qty_decimals": self.qty_decimals,
            "tick": self.tick,
            "lot": self.lot,
            "min_notional": self.min_notional,
            "max_qty": self.max_qty,
            "band_bps": self.band_bps,
        }
