"""``exchange withdraw --account N --amount X [--asset USDT] [--admin-url URL]``.

Asks a running exchange to withdraw X of the asset from account N through its admin
endpoint (``POST /admin/v1/withdraw``); the exchange refuses what the account cannot
spare. Everything else (options, token, errors) is ``exchange deposit``'s:
:func:`exchange.cli.deposit.add_transfer_parser` and :func:`exchange.cli.deposit.transfer`.

Rules
-----
- As :mod:`exchange.cli.deposit`: the token is never printed, every failure is one line
  (exit status 2), exit status 0 once the exchange has journaled the withdrawal.
"""

from __future__ import annotations

import argparse
from typing import Any

from exchange.cli.deposit import add_transfer_parser, transfer

NAME = "withdraw"


def register(sub: Any) -> None:
    """Add ``withdraw`` to the CLI's subparsers."""
    add_transfer_parser(sub, NAME, "withdraw money from an account of a running exchange")


def run(args: argparse.Namespace) -> int:
    """``exchange withdraw`` (see the module docstring); returns the exit status."""
    return transfer(args, deposit=False)


__all__ = ["NAME", "register", "run"]
