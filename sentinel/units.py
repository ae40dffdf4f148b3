"""Money and rate units, and the one place Sentinel rounds.

- **Money** (wallet balances, PnL, fees, margins, the insurance fund) is an integer count
  of 10**-8 of the quote asset (``MONEY_ONE`` units per USDT), Binance's balance precision.
- **Rates** (maintenance margin rates, fee rates, funding rates) are integer counts of
  10**-8 (``RATE_ONE`` = 100%), the precision Binance publishes funding rates in.
- A symbol's notional ``price * qty`` (Titan units) converts to money by multiplying by
  ``10**(8 - price_decimals - qty_decimals)``: exact, because a contract requires
  ``price_decimals + qty_decimals <= 7`` (see :mod:`sentinel.contracts`).

Rounding rule: whatever an account owes (fees, initial margin to lock, funding it pays)
is rounded up; whatever it receives (funding received, margin released) is rounded down.
Realized PnL needs no rounding except when a partial reduce splits the entry cost; the
part left on the open position absorbs the remainder, so over a position's life the
realized PnL is exactly the sum of exit minus entry notionals (nothing is created or lost).
"""

from __future__ import annotations

from decimal import Decimal

from titan.symbols import to_units as exact_units

MONEY_DECIMALS = 8
MONEY_ONE: int = 10**MONEY_DECIMALS
RATE_DECIMALS = 8
RATE_ONE: int = 10**RATE_DECIMALS

# Every integer kept in state must fit the canonical msgpack encoding (signed 64-bit).
MAX_VALUE = (1 << 63) - 1
# Bounds that keep every money amount far inside 64 bits (see sentinel.pretrade):
MAX_ORDER_NOTIONAL = 10**17  # one order: 10**9 of the quote
MAX_OPEN_NOTIONAL = 1 << 59  # a symbol's open quantity x price when an order is placed
MAX_MARK_NOTIONAL = 1 << 61  # ... when a mark price is accepted (a move of up to 4x)
MAX_DEPOSITS = 1 << 61  # net deposits per asset, and any one wallet's deposits


def ceil_div(a: int, b: int) -> int:
    """Ceiling of ``a / b`` for ``b > 0`` (exact for arbitrarily large integers)."""
    return -(-a // b)


def to_units(value: Decimal | str | int, decimals: int, field: str) -> int:
    """Decimal ``value`` -> integer count of 10**-decimals; ValueError naming ``field``
    (floats and bools are refused: a config value must be written exactly)."""
    if isinstance(value, bool | float):
        raise ValueError(f"{field}: {value!r} must be a decimal string or an integer")
    return exact_units(value, decimals, field)


def money(value: Decimal | str | int, field: str = "amount") -> int:
    """Decimal quote amount -> money units."""
    return to_units(value, MONEY_DECIMALS, field)


def rate(value: Decimal | str | int, field: str = "rate") -> int:
    """Decimal rate (0.004 = 0.4%) -> rate units."""
    return to_units(value, RATE_DECIMALS, field)


def money_decimal(units: int) -> Decimal:
    """Money units -> Decimal quote amount, for display and the wire (no exponent form:
    0 is ``0``, 150000000 is ``1.5``)."""
    return Decimal(units) / MONEY_ONE


def rate_decimal(units: int) -> Decimal:
    """Rate units -> Decimal rate (no exponent form)."""
    return Decimal(units) / RATE_ONE
