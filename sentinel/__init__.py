"""Sentinel: clearing, margin and liquidation modelled on Binance USDⓈ-M futures.

Pure and deterministic like Titan (integers, no I/O, no clock). It imports Titan and
nothing above it: the venue (:mod:`venue.venue`), which composes Titan and Sentinel
(``Venue(contracts).apply(command) -> events``), imports Sentinel, never the reverse.
The :class:`~sentinel.ledger.Ledger` holds wallets, positions, clearing, funding and the
liquidation index; :mod:`sentinel.liquidation` is the exact liquidation-price solve.
"""

from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType, Withdraw
from sentinel.contracts import Contract, contract_from_terms
from sentinel.ledger import FUND, Ledger

__all__ = [
    "FUND",
    "Contract",
    "Deposit",
    "Ledger",
    "MarkPrice",
    "SetLeverage",
    "SetMarginType",
    "Withdraw",
    "contract_from_terms",
]
