"""Request parameters as Binance reads them: strings in, typed values or Binance's errors out.

Rules
-----
- Parameters come from the query string and the form body together (the official SDK
  sends everything in the query, even on POST; ccxt sends a body). A name sent twice
  is refused (-1101), as is a name the endpoint does not know (-1103): a typo must not
  pass silently.
- A mandatory parameter that is missing or empty is -1102 naming it; a value of the
  wrong type or out of range is -1130 naming it and saying what was expected; a decimal
  with more places than the symbol allows is -1111; an unknown symbol is -1121.
- Decimals become integer units exactly (``Decimal``, never float): "0.0010" is 1 lot
  of 0.001, "1e3" is refused (Binance accepts plain decimals only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from exchange.gateway.errors import (
    BAD_PRECISION,
    BAD_SYMBOL,
    ILLEGAL_CHARS,
    TOO_MANY_PARAMETERS,
    UNKNOWN_PARAM,
    ApiError,
    invalid,
    missing,
)

DECIMAL = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$")
INTEGER = re.compile(r"^-?[0-9]{1,19}$")
CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
MAX_VALUE = (1 << 63) - 1
#: parameters every signed endpoint takes
SIGNED = ("timestamp", "recvWindow", "signature")


class Params:
    """One request's parameters (see the module rules)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.values: dict[str, str] = {}
        for name, value in pairs:
            if name in self.values:
                raise ApiError(TOO_MANY_PARAMETERS, f"Duplicate parameter '{name}'.")
            if "\x00" in value or "\x00" in name:
                raise ApiError(ILLEGAL_CHARS, "Illegal characters found in a parameter.")
            self.values[name] = value

    def allow(self, names: Iterable[str]) -> None:
        """Refuse any parameter not in ``names`` (-1103)."""
        known = set(names)
        for name in self.values:
            if name not in known:
                raise ApiError(UNKNOWN_PARAM, f"An unknown parameter was sent: '{name}'.")

    def has(self, name: str) -> bool:
        return self.values.get(name, "") != ""

    def text(self, name: str, required: bool = True, default: str = "") -> str:
        value = self.values.get(name, "")
        if value == "":
            if required:
                raise missing(name)
            return default
        return value

    def choice(
        self, name: str, choices: Iterable[str], required: bool = True, default: str = ""
    ) -> str:
        value = self.text(name, required, default)
        if value == "" and not required:
            return default
        options = list(choices)
        if value not in options:
            raise invalid(name, f"one of {', '.join(options)}")
        return value

    def integer(
        self, name: str, lo: int = 0, hi: int = MAX_VALUE, required: bool = True, default: int = 0
    ) -> int:
        value = self.text(name, required)
        if value == "":
            return default
        if not INTEGER.match(value):
            raise invalid(name, "an integer")
        number = int(value)
        if not lo <= number <= hi:
            raise invalid(name, f"from {lo} to {hi}")
        return number

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.text(name, False)
        if value == "":
            return default
        if value.lower() not in ("true", "false"):
            raise invalid(name, "true or false")
        return value.lower() == "true"

    def units(self, name: str, decimals: int, required: bool = True) -> int:
        """A positive decimal as an integer count of 10**-decimals (0 if absent)."""
        value = self.text(name, required)
        if value == "":
            return 0
        if not DECIMAL.match(value):
            raise invalid(name, "a plain decimal number")
        try:
            dec = Decimal(value)
        except InvalidOperation:
            raise invalid(name, "a plain decimal number") from None
        scaled = dec.scaleb(decimals)
        if scaled != scaled.to_integral_value():
            raise ApiError(
                BAD_PRECISION, f"Precision is over the maximum defined for this asset ('{name}')."
            )
        number = int(scaled)
        if number <= 0 or number > MAX_VALUE:
            raise invalid(name, "greater than zero")
        return number

    def client_id(self, name: str) -> str:
        value = self.text(name, False)
        if value and not CLIENT_ID.match(value):
            raise invalid(name, "1 to 36 of A-Z a-z 0-9 . : / _ -")
        return value

    def symbol(self, known: Iterable[str], required: bool = True) -> str:
        value = self.text("symbol", required)
        if value == "":
            return ""
        if value not in set(known):
            raise ApiError(BAD_SYMBOL, "Invalid symbol.")
        return value


__all__ = ["SIGNED", "Params"]
