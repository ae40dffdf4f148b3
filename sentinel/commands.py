"""Sentinel's commands. Like Titan's, each is stamped by the sequencer with seq and ts.

Amounts are integers in money units and rates in rate units (:mod:`sentinel.units`);
prices are integers in the symbol's Titan price units.
"""

from __future__ import annotations

from typing import NamedTuple


class Deposit(NamedTuple):
    """Credit ``amount`` of ``asset`` to ``account``'s wallet."""

    seq: int
    ts: int
    account: int
    asset: str
    amount: int


class Withdraw(NamedTuple):
    """Debit ``amount`` of ``asset``; refused if it would breach initial margin."""

    seq: int
    ts: int
    account: int
    asset: str
    amount: int


class SetLeverage(NamedTuple):
    """Set ``account``'s leverage in ``symbol`` (1 .. the bracket's maximum)."""

    seq: int
    ts: int
    account: int
    symbol: str
    leverage: int


class SetMarginType(NamedTuple):
    """Switch ``account``'s margin in ``symbol`` between cross and isolated (only while it
    has neither a position nor open orders there, as on Binance)."""

    seq: int
    ts: int
    account: int
    symbol: str
    isolated: bool


class MarkPrice(NamedTuple):
    """A mark price for ``symbol`` with the current funding rate (rate units, signed).

    It releases MARK_PRICE conditional orders in Titan, settles funding when a funding
    time has been reached, and drives liquidation.
    """

    seq: int
    ts: int
    symbol: str
    price: int
    funding_rate: int = 0


SentinelCommand = Deposit | Withdraw | SetLeverage | SetMarginType | MarkPrice

__all__ = ["Deposit", "MarkPrice", "SentinelCommand", "SetLeverage", "SetMarginType", "Withdraw"]
