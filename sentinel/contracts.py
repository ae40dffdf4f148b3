"""Per-symbol contract terms: what Sentinel needs beyond Titan's trading rules.

A :class:`Contract` pairs a Titan :class:`~titan.symbols.SymbolSpec` with the margin and
fee terms of a USDⓈ-M perpetual: its quote (margin) asset, leverage brackets, maker and
taker fee rates, the liquidation clearance fee rate, the funding interval and the default
leverage. All amounts are integers (money and rate units, :mod:`sentinel.units`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sentinel.brackets import BTCUSDT_BRACKETS, BracketTable
from sentinel.units import MONEY_DECIMALS, RATE_ONE, rate
from titan.symbols import SymbolSpec

EIGHT_HOURS_MS = 8 * 3600 * 1000

# The embedded defaults (Binance USDⓈ-M VIP 0 fees; the BTCUSDT table for every symbol
# unless configured otherwise).
DEFAULT_TERMS: dict[str, Any] = {
    "quote": "USDT",
    "maker_fee": "0.0002",
    "taker_fee": "0.0005",
    "liquidation_fee": "0.005",
    "funding_interval_hours": 8,
    "default_leverage": 20,
    "brackets": BTCUSDT_BRACKETS,
}
TERM_FIELDS = frozenset(DEFAULT_TERMS)


@dataclass(frozen=True, slots=True)
class Contract:
    """Margin terms of one symbol.

    ``scale`` converts a Titan notional (price units x quantity units) into money units:
    ``10**(8 - price_decimals - qty_decimals)``; it is at least 10, so a one-unit price
    step moves a one-lot position's value by at least 10 money units and every margin
    predicate stays strictly monotone in the price.
    """

    spec: SymbolSpec
    quote: str
    brackets: BracketTable = field(compare=False)
    maker_fee: int
    taker_fee: int
    liquidation_fee: int
    funding_interval: int
    default_leverage: int
    scale: int = 0

    def __post_init__(self) -> None:
        s = self.spec.symbol
        decimals = self.spec.price_decimals + self.spec.qty_decimals
        if decimals > MONEY_DECIMALS - 1:
            raise ValueError(
                f"{s}: tick_size and lot_size have {decimals} decimals together; at most "
                f"{MONEY_DECIMALS - 1} keep notionals exact in 10**-{MONEY_DECIMALS} money"
            )
        object.__setattr__(self, "scale", 10 ** (MONEY_DECIMALS - decimals))
        if not self.quote or not isinstance(self.quote, str) or not self.quote.isalnum():
            raise ValueError(f"{s}: quote must be a non-empty alphanumeric string")
        for name in ("maker_fee", "taker_fee", "liquidation_fee"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < RATE_ONE // 10:
                raise ValueError(f"{s}: {name} must be a rate in [0, 0.1)")
        if type(self.funding_interval) is not int or self.funding_interval <= 0:
            raise ValueError(f"{s}: funding interval must be a positive number of ms")
        top = self.brackets.brackets[0].max_leverage
        if type(self.default_leverage) is not int or not 1 <= self.default_leverage <= top:
            raise ValueError(
                f"{s}: default_leverage {self.default_leverage!r} must be an integer in 1..{top} "
                "(the first bracket's max_leverage)"
            )

    @property
    def symbol(self) -> str:
        """The symbol's name."""
        return self.spec.symbol

    @property
    def max_leverage(self) -> int:
        """The highest leverage any position size allows (the first bracket's)."""
        return self.brackets.brackets[0].max_leverage

    def to_dict(self) -> dict[str, Any]:
        """Canonical plain form, for state export and the journal's genesis."""
        return {
            "spec": self.spec.to_dict(),
            "quote": self.quote,
            "brackets": self.brackets.to_rows(),
            "maker_fee": self.maker_fee,
            "taker_fee": self.taker_fee,
            "liquidation_fee": self.liquidation_fee,
            "funding_interval": self.funding_interval,
            "default_leverage": self.default_leverage,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contract:
        """Inverse of :meth:`to_dict` (ValueError/TypeError on malformed data)."""
        return cls(
            spec=SymbolSpec(**data["spec"]),
            quote=data["quote"],
            brackets=BracketTable(tuple(r) for r in data["brackets"]),
            maker_fee=data["maker_fee"],
            taker_fee=data["taker_fee"],
            liquidation_fee=data["liquidation_fee"],
            funding_interval=data["funding_interval"],
            default_leverage=data["default_leverage"],
        )


def contract_from_terms(spec: SymbolSpec, terms: Mapping[str, Any], where: str) -> Contract:
    """Build a contract from decimal-string terms (missing ones from DEFAULT_TERMS).

    ValueError names ``where`` and the field.
    """
    unknown = sorted(set(terms) - TERM_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    t = {**DEFAULT_TERMS, **terms}
    hours = t["funding_interval_hours"]
    if type(hours) is not int or hours <= 0:
        raise ValueError(f"{where}.funding_interval_hours: must be a positive integer")
    lev = t["default_leverage"]
    if type(lev) is not int:
        raise ValueError(f"{where}.default_leverage: must be an integer")
    quote = t["quote"]
    if not isinstance(quote, str):
        raise ValueError(f"{where}.quote: must be a string")
    fees = {}
    for name in ("maker_fee", "taker_fee", "liquidation_fee"):
        value = t[name]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"{where}.{name}: must be a decimal string")
        fees[name] = rate(value, f"{where}.{name}")
    brackets = BracketTable.from_decimals(t["brackets"], f"{where}.brackets")
    try:
        return Contract(
            spec=spec,
            quote=quote,
            brackets=brackets,
            funding_interval=hours * 3600 * 1000,
            default_leverage=lev,
            **fees,
        )
    except ValueError as exc:
        message = str(exc).removeprefix(f"{spec.symbol}: ")
        raise ValueError(f"{where}: {message}") from None
