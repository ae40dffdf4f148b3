"""``exchange run``: the command line of the assembled platform.

The flags only; the platform itself (settings precedence, start-up, sources, stopping)
is :mod:`exchange.runner`.

Rules
-----
- No flag has a default here: an unset flag is None, and
  :func:`exchange.runner.resolve` takes the value from the environment, the
  config file or the defaults of :mod:`exchange.config.settings`, in that order.
- Exit status: that of :func:`exchange.runner.run_platform` (0; 1 if the
  journal refused a batch or a feed failed for good).
"""

from __future__ import annotations

import argparse
from typing import Any

from exchange.cli.args import port, rate, seconds, volatility
from exchange.runner import run_platform

NAME = "run"


def register(sub: Any) -> None:
    """Add ``run`` to the CLI's subparsers."""
    p = sub.add_parser(NAME, help="run the platform: prices, order flow, journal, metrics")
    p.add_argument("--config", help="platform TOML file (symbols, feed, flow, journal)")
    p.add_argument("--feed", choices=["sim", "binance"], help="price source (default sim)")
    p.add_argument("--symbols", help="comma-separated symbols to run (default: all configured)")
    p.add_argument("--journal", metavar="DIR", help="journal directory (default ./platform_events)")
    p.add_argument("--metrics-port", type=port, help="Prometheus port (default 9000; 0 = off)")
    p.add_argument("--metrics-host", help="address the metrics endpoint binds (default 127.0.0.1)")
    p.add_argument(
        "--api-port", type=port, help="Binance-compatible REST/WebSocket port (8080; 0 = off)"
    )
    p.add_argument("--api-host", help="address the API binds (default 127.0.0.1)")
    p.add_argument(
        "--admin-port", type=port, help="deposit/withdraw endpoint on 127.0.0.1 (8081; 0 = off)"
    )
    p.add_argument("--seed", type=int, help="seed of the price walk and order flow (default 1)")
    p.add_argument("--volatility", type=volatility, help="sim volatility per step (0.002)")
    p.add_argument("--step-interval", type=seconds, help="seconds between sim steps (1)")
    p.add_argument("--rate", type=rate, help="order flow, inputs/s (300; 0 = flat out)")
    p.add_argument("--duration", type=seconds, help="stop after this many seconds")
    p.add_argument("--binance-url", help="Binance base URL (default wss://fstream.binance.com)")
    p.add_argument("--durability", choices=["sync", "async"], help="journal durability (sync)")
    p.add_argument("--no-demo", action="store_true", help="skip the 1001-1003 demo longs")
    p.add_argument("--status-interval", type=seconds, help="seconds between status lines (5)")


def run(args: argparse.Namespace) -> int:
    """``exchange run``: resolve the settings, run until stopped; returns the exit status."""
    return run_platform(args)


__all__ = ["NAME", "register", "run"]
