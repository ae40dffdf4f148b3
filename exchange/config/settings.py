"""Settings of ``exchange run``: embedded defaults < config file < environment < flags.

The config file (``--config FILE``, TOML) may hold, besides ``[symbols.X]`` tables
(:mod:`exchange.config.symbols`)::

    [feed]
    kind = "sim"                      # or "binance"
    volatility = 0.002                # per step (0.2%), sim only
    step_interval = 1.0               # seconds between sim steps
    funding_rate = "0.0001"           # sim funding rate per interval
    binance_url = "wss://fstream.binance.com"
    [feed.initial_prices]
    BTCUSDT = "50000"
    [flow]
    rate = 300                        # inputs per second (0 = as fast as it goes)
    seed = 1
    makers = 2
    takers = 8
    demo = true
    [journal]
    path = "./platform_events"
    durability = "sync"               # or "async"
    batch = 8192                      # most records per group commit
    checkpoint_every = 10000
    snapshot_every = 100000
    [platform]
    metrics_port = 9000               # 0 = no metrics endpoint
    metrics_host = "127.0.0.1"        # bind address ("0.0.0.0": every interface)
    margin_ratio_warning = 0.8        # accounts at risk: a margin ratio at or above it
    status_interval = 5.0
    symbols = ["BTCUSDT", "ETHUSDT"]  # which configured symbols run
    [api]
    port = 8080                       # Binance-compatible REST + WebSocket; 0 = off
    host = "127.0.0.1"                # bind address ("0.0.0.0": every interface)
    admin_port = 8081                 # deposits/withdrawals, 127.0.0.1 only; 0 = off
    keys_file = ""                    # default: <journal>.keys.json beside the journal
    history = 1000                    # closed orders, trades, income rows kept per account
    request_weight_per_minute = 2400  # Binance's REQUEST_WEIGHT per IP
    orders_per_10s = 300              # Binance's ORDERS per account
    orders_per_minute = 1200

Environment: ``ROCKSDB_PATH`` (journal directory), ``PROMETHEUS_PORT`` (metrics port),
``API_PORT`` (the API's port),
``LOG_LEVEL`` (DEBUG, INFO, WARNING, ERROR). Every bad value raises
:class:`exchange.config.symbols.ConfigError` naming the file or variable and the field.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from exchange.config.symbols import (
    ConfigError,
    contracts_from_mapping,
    default_contracts,
    read_config,
)
from exchange.feeds.prices import price_units
from exchange.flow.traders import FlowSettings
from oracle.policy import DEFAULT_BATCH, DEFAULT_CHECKPOINT_EVERY, DEFAULT_SNAPSHOT_EVERY
from sentinel.contracts import Contract

DEFAULT_INITIAL_PRICES = {"BTCUSDT": "50000", "ETHUSDT": "3000"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class ApiSettings:
    """The Binance-compatible API of ``exchange run`` (the ``[api]`` table)."""

    port: int = 8080
    host: str = "127.0.0.1"
    admin_port: int = 8081
    keys_file: str = ""
    history: int = 1000
    request_weight_per_minute: int = 2400
    orders_per_10s: int = 300
    orders_per_minute: int = 1200

    def keys_path(self, journal: str) -> str:
        """The key file: as configured, else ``<journal>.keys.json`` beside the journal."""
        return self.keys_file or str(journal).rstrip("/") + ".keys.json"


@dataclass(frozen=True)
class Settings:
    """Everything ``exchange run`` needs, resolved and checked."""

    contracts: list[Contract]
    feed: str = "sim"
    volatility: float = 0.002
    step_interval: float = 1.0
    funding_rate: str = "0.0001"
    binance_url: str = "wss://fstream.binance.com"
    initial_prices: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_INITIAL_PRICES))
    flow: FlowSettings = field(default_factory=FlowSettings)
    journal: str = "./platform_events"
    durability: str = "sync"
    batch: int = DEFAULT_BATCH
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY
    metrics_port: int = 9000
    metrics_host: str = "127.0.0.1"
    margin_ratio_warning: float = 0.8
    status_interval: float = 5.0
    log_level: str = "INFO"
    duration: float | None = None
    api: ApiSettings = field(default_factory=lambda: ApiSettings())
    origin: dict[str, str] = field(default_factory=dict)  # setting -> where it came from


def _check(where: str, name: str, value: Any, kind: type, minimum: float | None = None) -> Any:
    if kind is float and type(value) is int:
        value = float(value)
    if type(value) is not kind:
        raise ConfigError(f"{where}: {name} must be a {kind.__name__}, not {value!r}")
    number = float(cast(float, value)) if kind in (int, float) else 0.0
    if kind is float and not math.isfinite(number):
        raise ConfigError(f"{where}: {name} must be finite, not {value!r}")
    if minimum is not None and kind in (int, float) and number < minimum:
        raise ConfigError(f"{where}: {name} must be >= {minimum}, not {value!r}")
    return value


def _decimal(where: str, name: str, value: Any, positive: bool = False) -> str:
    try:
        dec = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: {name} {value!r} is not a number") from None
    if not dec.is_finite() or (positive and dec <= 0):
        raise ConfigError(f"{where}: {name} {value!r} must be a positive number")
    return str(value)


_FEED = {"kind": str, "volatility": float, "step_interval": float, "funding_rate": str,
         "binance_url": str, "initial_prices": dict}  # fmt: skip
_JOURNAL = {"path": str, "durability": str, "batch": int, "checkpoint_every": int,
            "snapshot_every": int}  # fmt: skip
_PLATFORM = {"metrics_port": int, "metrics_host": str, "margin_ratio_warning": float,
             "status_interval": float, "symbols": list}  # fmt: skip
_FLOW = {f.name: f.type for f in fields(FlowSettings)}
_API = {f.name: f.type for f in fields(ApiSettings)}


def _table(where: str, data: Mapping[str, Any], name: str, known: Mapping[str, Any]) -> Any:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"{where}: [{name}] unknown field(s) {', '.join(unknown)}")
    return table


def load_settings(path: str | None) -> tuple[Settings, list[str] | None]:
    """Settings from the embedded defaults and the config file (if any).

    Returns the settings and the ``[platform] symbols`` selection (None: all).
    """
    if path is None:
        return Settings(contracts=default_contracts()), None
    data, where = read_config(path)
    symbols = data.get("symbols")
    contracts = contracts_from_mapping(symbols, where) if symbols else default_contracts()
    s = Settings(contracts=contracts)
    origin: dict[str, str] = {}
    feed = _table(where, data, "feed", _FEED)
    changes: dict[str, Any] = {}
    if "kind" in feed:
        changes["feed"] = feed["kind"]
    for key in ("volatility", "step_interval"):
        if key in feed:
            changes[key] = _check(where, f"feed.{key}", feed[key], float, 0.0)
    if "funding_rate" in feed:
        changes["funding_rate"] = _decimal(where, "feed.funding_rate", feed["funding_rate"])
    if "binance_url" in feed:
        changes["binance_url"] = _check(where, "feed.binance_url", feed["binance_url"], str)
    if "initial_prices" in feed:
        if not isinstance(feed["initial_prices"], dict):
            raise ConfigError(f"{where}: [feed.initial_prices] must be a table of prices")
        prices = dict(s.initial_prices)
        for sym, value in feed["initial_prices"].items():
            prices[sym] = _decimal(where, f"feed.initial_prices.{sym}", value, positive=True)
        changes["initial_prices"] = prices
    journal = _table(where, data, "journal", _JOURNAL)
    if "path" in journal:
        changes["journal"] = _check(where, "journal.path", journal["path"], str)
    if "durability" in journal:
        changes["durability"] = journal["durability"]
    for key in ("batch", "checkpoint_every", "snapshot_every"):
        if key in journal:
            changes[key] = _check(
                where, f"journal.{key}", journal[key], int, 1 if key == "batch" else 0
            )
    platform = _table(where, data, "platform", _PLATFORM)
    if "metrics_port" in platform:
        changes["metrics_port"] = _check(
            where, "platform.metrics_port", platform["metrics_port"], int, 0
        )
    if "metrics_host" in platform:
        changes["metrics_host"] = _check(
            where, "platform.metrics_host", platform["metrics_host"], str
        )
    if "margin_ratio_warning" in platform:
        changes["margin_ratio_warning"] = _check(
            where, "platform.margin_ratio_warning", platform["margin_ratio_warning"], float
        )
    if "status_interval" in platform:
        changes["status_interval"] = _check(
            where, "platform.status_interval", platform["status_interval"], float, 0.1
        )
    selection = None
    if "symbols" in platform:
        if not isinstance(platform["symbols"], list):
            raise ConfigError(f"{where}: platform.symbols must be a list of symbols")
        selection = [_check(where, "platform.symbols[]", x, str) for x in platform["symbols"]]
    flow = _table(where, data, "flow", _FLOW)
    flow_changes = {}
    for key, value in flow.items():
        kind = type(getattr(s.flow, key))
        flow_changes[key] = _check(
            where, f"flow.{key}", value, kind, 0 if kind is not bool else None
        )
    if flow_changes:
        changes["flow"] = replace(s.flow, **flow_changes)
    api = _table(where, data, "api", _API)
    api_changes = {}
    for key, value in api.items():
        kind = type(getattr(s.api, key))
        api_changes[key] = _check(where, f"api.{key}", value, kind, 0 if kind is int else None)
    if api_changes:
        changes["api"] = replace(s.api, **api_changes)
    origin.update({k: where for k in changes})
    return replace(s, origin=origin, **changes), selection


def environment_overrides(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``ROCKSDB_PATH``, ``PROMETHEUS_PORT`` and ``LOG_LEVEL`` as settings changes."""
    env = os.environ if env is None else env
    out: dict[str, Any] = {}
    if env.get("ROCKSDB_PATH"):
        out["journal"] = env["ROCKSDB_PATH"]
    if env.get("PROMETHEUS_PORT"):
        text = env["PROMETHEUS_PORT"]
        try:
            port = int(text)
        except ValueError:
            raise ConfigError(f"PROMETHEUS_PORT={text!r} is not a port number") from None
        if not 0 <= port <= 65535:
            raise ConfigError(f"PROMETHEUS_PORT={text!r} is not a port number (0..65535)")
        out["metrics_port"] = port
    if env.get("API_PORT"):
        text = env["API_PORT"]
        if not text.isdigit() or not 0 <= int(text) <= 65535:
            raise ConfigError(f"API_PORT={text!r} is not a port number (0..65535)")
        out["api_port"] = int(text)
    if env.get("LOG_LEVEL"):
        level = env["LOG_LEVEL"].upper()
        if level not in LOG_LEVELS:
            raise ConfigError(
                f"LOG_LEVEL={env['LOG_LEVEL']!r} is not one of {', '.join(LOG_LEVELS)}"
            )
        out["log_level"] = level
    return out


def finish(settings: Settings, selection: list[str] | None) -> Settings:
    """Select the symbols, check the cross-field rules; ConfigError names the problem."""
    if settings.feed not in ("sim", "binance"):
        raise ConfigError(f"feed {settings.feed!r} is not sim or binance")
    if settings.durability not in ("sync", "async"):
        raise ConfigError(f"durability {settings.durability!r} is not sync or async")
    if not settings.binance_url.startswith(("ws://", "wss://")):
        raise ConfigError(f"binance url {settings.binance_url!r} must start with ws:// or wss://")
    from websockets.exceptions import InvalidURI
    from websockets.uri import parse_uri

    try:
        parse_uri(settings.binance_url)
    except InvalidURI as exc:
        raise ConfigError(f"binance url {settings.binance_url!r} is not a URL: {exc}") from None
    if not settings.journal:
        raise ConfigError("the journal path is empty")
    if not 0.0 <= settings.volatility <= 1.0:
        raise ConfigError(f"volatility {settings.volatility!r} must lie in [0, 1] (per step)")
    if settings.step_interval < 0.001:
        raise ConfigError(f"step interval {settings.step_interval!r} s must be at least 0.001")
    if settings.status_interval < 0.1:
        raise ConfigError(f"status interval {settings.status_interval!r} s must be at least 0.1")
    if not 0 <= settings.metrics_port <= 65535:
        raise ConfigError(f"metrics port {settings.metrics_port!r} is not a port (0..65535)")
    if not settings.metrics_host or any(c.isspace() for c in settings.metrics_host):
        raise ConfigError(f"metrics host {settings.metrics_host!r} is not an address")
    api = settings.api
    for name in ("port", "admin_port"):
        if not 0 <= getattr(api, name) <= 65535:
            raise ConfigError(f"api {name} {getattr(api, name)!r} is not a port (0..65535)")
    if api.port and api.port == api.admin_port:
        raise ConfigError(f"api port and admin_port are both {api.port}")
    if not api.host or any(c.isspace() for c in api.host):
        raise ConfigError(f"api host {api.host!r} is not an address")
    for name in ("history", "request_weight_per_minute", "orders_per_10s", "orders_per_minute"):
        if getattr(api, name) < 1:
            raise ConfigError(f"api {name} must be at least 1, not {getattr(api, name)!r}")
    if not 0 < settings.margin_ratio_warning <= 1:
        raise ConfigError(
            f"margin ratio warning {settings.margin_ratio_warning!r} must lie in (0, 1]"
        )
    contracts = settings.contracts
    if selection is not None:
        by_symbol = {c.spec.symbol: c for c in contracts}
        unknown = [s for s in selection if s not in by_symbol]
        if unknown:
            raise ConfigError(
                f"symbol(s) {', '.join(unknown)} not configured "
                f"(configured: {', '.join(by_symbol)})"
            )
        if not selection:
            raise ConfigError("no symbols selected")
        chosen = set(selection)  # configured order: the journal's genesis depends on it
        contracts = [c for c in contracts if c.spec.symbol in chosen]
    if settings.feed == "sim":
        missing = [c.spec.symbol for c in contracts if c.spec.symbol not in settings.initial_prices]
        if missing:
            raise ConfigError(
                f"no initial price for {', '.join(missing)} (set [feed.initial_prices])"
            )
        for c in contracts:
            text = settings.initial_prices[c.spec.symbol]
            try:
                price_units(c.spec, text)
            except ValueError as exc:
                raise ConfigError(f"initial price of {c.spec.symbol}: {exc}") from None
    return replace(settings, contracts=contracts)
