"""Symbol configuration: embedded defaults and TOML files.

A config file holds one table per symbol: exchange-style decimal filters (Titan's trading
rules) and, optionally, the symbol's Sentinel contract terms::

    [symbols.BTCUSDT]
    tick_size = "0.10"        # PRICE_FILTER tickSize
    lot_size = "0.001"        # LOT_SIZE stepSize
    min_notional = "5"        # MIN_NOTIONAL, in quote currency (optional, default 0)
    max_qty = "1000"          # LOT_SIZE maxQty (optional, 0 = no limit)
    price_band_pct = "5"      # limit prices within +/-5% of mark/last (optional, 0 = off)
    # Contract terms (all optional; defaults: USDT, VIP 0 fees, the BTCUSDT 2023-11 table)
    quote = "USDT"                # margin asset
    maker_fee = "0.0002"          # 0.02%
    taker_fee = "0.0005"          # 0.05%
    liquidation_fee = "0.005"     # liquidation clearance fee, 0.5%
    funding_interval_hours = 8
    default_leverage = 20
    brackets = [                  # notional caps in quote; each floor is the previous cap
        { cap = "50000", mmr = "0.004", max_leverage = 125 },
        { cap = "250000", mmr = "0.005", max_leverage = 100, maintenance_amount = "50" },
    ]

``maintenance_amount`` (cum) is derived from the table; when given it must agree. A term
left out takes its value from :data:`sentinel.contracts.DEFAULT_TERMS`. :func:`load_specs`
reads only the filters (the terms are accepted and not checked); :func:`load_contracts`
reads both. The same file may also hold the platform's sections (``[feed]``, ``[flow]``,
``[journal]``, ``[platform]``; :mod:`exchange.config.settings`), which only ``exchange run``
reads. Every problem raises :class:`ConfigError` naming the file, symbol and field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sentinel.contracts import TERM_FIELDS, Contract, contract_from_terms
from titan.symbols import SpecError, SymbolSpec

# Binance USDⓈ-M filters for the two default symbols (PERCENT_PRICE 0.95..1.05). Their
# contract terms are sentinel.contracts.DEFAULT_TERMS.
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


def _parse_symbols(
    symbols: dict[str, Any], origin: str
) -> list[tuple[SymbolSpec, dict[str, Any], str]]:
    """Each symbol's spec, its contract-term fields (unchecked) and its ``where`` label.

    The one parser of ``[symbols]``: field names, filter values and the spec are checked
    here; the terms are checked by :func:`sentinel.contracts.contract_from_terms`.
    """
    if not isinstance(symbols, dict) or not symbols:
        raise ConfigError(f"{origin}: [symbols] must define at least one symbol")
    parsed = []
    for name, fields in symbols.items():
        where = f"{origin}: symbols.{name}"
        if not isinstance(fields, dict):
            raise ConfigError(f"{where}: must be a table of fields")
        unknown = sorted(set(fields) - _FIELDS - TERM_FIELDS)
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
        for required in ("tick_size", "lot_size"):
            if required not in fields:
                raise ConfigError(f"{where}: missing {required}")
        for key in sorted(_FIELDS & set(fields)):
            value = fields[key]
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: must be a number or a decimal string")
        try:
            spec = SymbolSpec.from_decimals(
                name,
                tick_size=str(fields["tick_size"]),
                lot_size=str(fields["lot_size"]),
                min_notional=str(fields.get("min_notional", "0")),
                max_qty=str(fields.get("max_qty", "0")),
                band_pct=str(fields.get("price_band_pct", "0")),
            )
        except (SpecError, ArithmeticError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        terms = {k: v for k, v in fields.items() if k in TERM_FIELDS}
        parsed.append((spec, terms, where))
    return parsed


def specs_from_mapping(symbols: dict[str, Any], origin: str = "config") -> list[SymbolSpec]:
    """Build symbol specs from ``{symbol: {field: decimal-string}}`` (terms ignored)."""
    return [spec for spec, _, _ in _parse_symbols(symbols, origin)]


def contracts_from_mapping(symbols: dict[str, Any], origin: str = "config") -> list[Contract]:
    """Build contracts from ``{symbol: {field: value}}``; missing terms take the defaults."""
    contracts = []
    for spec, terms, where in _parse_symbols(symbols, origin):
        try:
            contracts.append(contract_from_terms(spec, terms, where))
        except (ArithmeticError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
    return contracts


def default_specs() -> list[SymbolSpec]:
    """The embedded default symbols."""
    return specs_from_mapping(DEFAULT_SYMBOLS, "defaults")


def default_contracts() -> list[Contract]:
    """The embedded default symbols with the default contract terms."""
    return contracts_from_mapping(DEFAULT_SYMBOLS, "defaults")


#: The sections a config file may hold: the symbols, and the platform's (exchange.config.settings).
SECTIONS = frozenset({"symbols", "feed", "flow", "journal", "platform"})


def read_config(path: str | Path) -> tuple[dict[str, Any], str]:
    """A config file's tables and the file's name for messages (ConfigError naming
    the problem: unreadable, not UTF-8, invalid TOML, an unknown section)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    unknown = sorted(set(data) - SECTIONS)
    if unknown:
        raise ConfigError(f"{p}: unknown section(s) {', '.join(unknown)}")
    return data, str(p)


def _read_symbols(path: str | Path) -> tuple[dict[str, Any], str]:
    """The ``[symbols]`` table of a config file and the file's name for messages."""
    data, where = read_config(path)
    return data.get("symbols", {}), where


def load_specs(path: str | Path | None) -> list[SymbolSpec]:
    """Symbols from a TOML file, or the embedded defaults when ``path`` is None."""
    if path is None:
        return default_specs()
    return specs_from_mapping(*_read_symbols(path))


def load_contracts(path: str | Path | None) -> list[Contract]:
    """Contracts from a TOML file, or the embedded defaults when ``path`` is None."""
    if path is None:
        return default_contracts()
    return contracts_from_mapping(*_read_symbols(path))
