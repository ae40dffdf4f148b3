"""Symbol configuration: embedded defaults and TOML files.

A config file holds one table per symbol, with exchange-style decimal filters::

    [symbols.BTCUSDT]
    tick_size = "0.10"        # PRICE_FILTER tickSize
    lot_size = "0.001"        # LOT_SIZE stepSize
    min_notional = "5"        # MIN_NOTIONAL, in quote currency (optional, default 0)
    max_qty = "1000"          # LOT_SIZE maxQty (optional, 0 = no limit)
    price_band_pct = "5"      # limit prices within +/-5% of mark/last (optional, 0 = off)

Every problem raises :class:`ConfigError` naming the file, symbol and field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from titan.symbols import SpecError, SymbolSpec

# Binance USDⓈ-M filters for the two default symbols (PERCENT_PRICE 0.95..1.05).
DEFAULT_SYMBOLS: dict[str, dict[str, str]] = {
    "BTCUSDT": {
        "tick_size": "0.10",
        "lot_size": "0.001",
        "min_notional": "5",
        "max_qty": "1000",
        "price_band_pct": "5",
    },
    "ETHUSDT": {
        "tick_size": "0.01",
        "lot_size": "0.001",
        "min_notional": "5",
        "max_qty": "10000",
        "price_band_pct": "5",
    },
}

_FIELDS = {"tick_size", "lot_size", "min_notional", "max_qty", "price_band_pct"}


class ConfigError(ValueError):
    """A configuration problem; the message says where and what."""


def specs_from_mapping(symbols: dict[str, Any], origin: str = "config") -> list[SymbolSpec]:
    """Build symbol specs from ``{symbol: {field: decimal-string}}``."""
    if not isinstance(symbols, dict) or not symbols:
        raise ConfigError(f"{origin}: [symbols] must define at least one symbol")
    specs = []
    for name, fields in symbols.items():
        where = f"{origin}: symbols.{name}"
        if not isinstance(fields, dict):
            raise ConfigError(f"{where}: must be a table of fields")
        unknown = sorted(set(fields) - _FIELDS)
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
        for required in ("tick_size", "lot_size"):
            if required not in fields:
                raise ConfigError(f"{where}: missing {required}")
        for key, value in fields.items():
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: must be a number or a decimal string")
        try:
            specs.append(
                SymbolSpec.from_decimals(
                    name,
                    tick_size=str(fields["tick_size"]),
                    lot_size=str(fields["lot_size"]),
                    min_notional=str(fields.get("min_notional", "0")),
                    max_qty=str(fields.get("max_qty", "0")),
                    band_pct=str(fields.get("price_band_pct", "0")),
                )
            )
        except (SpecError, ArithmeticError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return specs


def default_specs() -> list[SymbolSpec]:
    """The embedded default symbols."""
    return specs_from_mapping(DEFAULT_SYMBOLS, "defaults")


def load_specs(path: str | Path | None) -> list[SymbolSpec]:
    """Symbols from a TOML file, or the embedded defaults when ``path`` is None."""
    if path is None:
        return default_specs()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    unknown = sorted(set(data) - {"symbols"})
    if unknown:
        raise ConfigError(f"{p}: unknown section(s) {', '.join(unknown)}")
    return specs_from_mapping(data.get("symbols", {}), str(p))
