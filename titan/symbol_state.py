"""Everything Titan keeps for one symbol: its rules, book, trigger book and prices.

Rules: ``last_price`` and ``mark_price`` are 0 until the first trade / the first mark
price. ``open_qty`` is the symbol's conservation ledger: the engine moves it only where
it emits an event (Accepted +qty, Trade -2*qty, Cancelled/Expired -qty, Amended
+/-delta), and it must always equal the open quantity found in ``book`` and ``triggers``
(checked by :mod:`titan.invariants`).
"""

from __future__ import annotations

from titan.book import OrderBook
from titan.symbols import SymbolSpec
from titan.triggers import TriggerBook


class SymbolState:
    """Everything Titan keeps for one symbol."""

    __slots__ = ("book", "last_price", "mark_price", "open_qty", "spec", "triggers")

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.book = OrderBook(spec)
        self.triggers = TriggerBook()
        self.last_price = 0  # last trade price, 0 before the first trade
        self.mark_price = 0  # last mark price fed in, 0 before the first
        self.open_qty = 0  # conservation ledger, see the module docstring
