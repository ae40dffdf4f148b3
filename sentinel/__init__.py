"""Sentinel: clearing, margin and liquidation modelled on Binance USDⓈ-M futures.

Pure and deterministic like Titan (integers, no I/O, no clock). ``Venue`` composes Titan
and Sentinel: ``Venue(contracts).apply(command) -> events``.
"""

from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType, Withdraw
from sentinel.contracts import Contract, contract_from_terms
from sentinel.ledger import FUND, Sentinel
from venue.venue import Venue

__all__ = [
    "FUND",
    "Contract",
    "Deposit",
    "MarkPrice",
    "Sentinel",
    "SetLeverage",
    "SetMarginType",
    "Venue",
    "Withdraw",
    "contract_from_terms",
]
