"""Leverage brackets: maintenance margin rate and amount by position notional.

A bracket covers notionals in ``(floor, cap]`` (the first one from 0). Its maintenance
amount ``cum`` makes the maintenance margin continuous across bracket edges:
``cum_n = floor_n * (mmr_n - mmr_{n-1}) + cum_{n-1}``, ``cum_1 = 0``, so ``maintenance
margin = notional * mmr - cum`` is the same on both sides of an edge (a configured
``cum`` must agree with the derived one). A notional beyond the last cap uses the last
bracket. See docs/sentinel.md, Margin.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sentinel.units import RATE_ONE, ceil_div, money, money_decimal, rate, rate_decimal


@dataclass(frozen=True, slots=True)
class Bracket:
    """One bracket: notionals in (floor, cap], in money units; ``mmr`` in rate units."""

    number: int
    floor: int
    cap: int
    mmr: int
    cum: int
    max_leverage: int

    def maintenance_margin_scaled(self, notional: int) -> int:
        """``(notional * mmr - cum) * RATE_ONE``: the exact maintenance margin, scaled."""
        return notional * self.mmr - self.cum * RATE_ONE

    def to_dict(self) -> dict[str, Any]:
        """Display/JSON form with decimal strings."""
        return {
            "bracket": self.number,
            "notional_floor": str(money_decimal(self.floor)),
            "notional_cap": str(money_decimal(self.cap)),
            "maintenance_margin_rate": str(rate_decimal(self.mmr)),
            "maintenance_amount": str(money_decimal(self.cum)),
            "max_leverage": self.max_leverage,
        }


class BracketTable:
    """An ordered, contiguous list of brackets (ValueError on an inconsistent table)."""

    __slots__ = ("brackets", "max_mmr")

    def __init__(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        """``rows``: ``(floor, cap, mmr, max_leverage)`` in money/rate units, in order."""
        brackets: list[Bracket] = []
        prev_cap, prev_mmr, cum = 0, 0, 0
        for n, (floor, cap, mmr, lev) in enumerate(rows, 1):
            for name, value in (("floor", floor), ("cap", cap), ("mmr", mmr), ("lev", lev)):
                if type(value) is not int:
                    raise ValueError(f"bracket {n}: {name} must be an integer")
            if floor != prev_cap:
                raise ValueError(
                    f"bracket {n}: notional floor {money_decimal(floor)} must equal the "
                    f"previous cap {money_decimal(prev_cap)}"
                )
            if cap <= floor:
                raise ValueError(f"bracket {n}: notional cap must be above its floor")
            if not 0 < mmr < RATE_ONE // 2 + 1:
                raise ValueError(f"bracket {n}: maintenance margin rate must be in (0, 0.5]")
            if mmr < prev_mmr:
                raise ValueError(f"bracket {n}: maintenance margin rate must not decrease")
            if lev * mmr >= RATE_ONE:
                raise ValueError(
                    f"bracket {n}: maintenance margin rate x max leverage must be below 1, "
                    "or a position opened at that leverage is liquidatable at once"
                )
            if lev < 1 or (brackets and lev > brackets[-1].max_leverage):
                raise ValueError(
                    f"bracket {n}: max leverage must be >= 1 and not above the previous bracket's"
                )
            cum = cum + ceil_div(floor * (mmr - prev_mmr), RATE_ONE)
            if floor * (mmr - prev_mmr) % RATE_ONE:
                raise ValueError(
                    f"bracket {n}: floor x rate step is finer than the money unit; "
                    "the maintenance amount would not be exact"
                )
            brackets.append(Bracket(n, floor, cap, mmr, cum, lev))
            prev_cap, prev_mmr = cap, mmr
        if not brackets:
            raise ValueError("a bracket table needs at least one bracket")
        self.brackets: tuple[Bracket, ...] = tuple(brackets)
        self.max_mmr = brackets[-1].mmr

    @classmethod
    def from_decimals(cls, rows: Sequence[dict[str, Any]], where: str = "brackets") -> BracketTable:
        """From ``[{"cap": "50000", "mmr": "0.004", "max_leverage": 125}, ...]``.

        Each floor is the previous cap (0 for the first); ``cum`` is derived, and if a
        row gives ``maintenance_amount`` it must equal the derived value.
        """
        parsed: list[tuple[int, int, int, int]] = []
        given_cum: list[int | None] = []
        floor = 0
        if not isinstance(rows, list | tuple) or not rows:
            raise ValueError(f"{where}: must be a non-empty list of brackets")
        for n, row in enumerate(rows, 1):
            at = f"{where}[{n}]"
            if not isinstance(row, dict):
                raise ValueError(f"{at}: must be a table")
            unknown = sorted(set(row) - {"cap", "mmr", "max_leverage", "maintenance_amount"})
            if unknown:
                raise ValueError(f"{at}: unknown field(s) {', '.join(unknown)}")
            for key in ("cap", "mmr", "max_leverage"):
                if key not in row:
                    raise ValueError(f"{at}: missing {key}")
            cap = money(_dec(row["cap"], f"{at}.cap"), f"{at}.cap")
            mmr = rate(_dec(row["mmr"], f"{at}.mmr"), f"{at}.mmr")
            lev = row["max_leverage"]
            if type(lev) is not int:
                raise ValueError(f"{at}.max_leverage: must be an integer")
            parsed.append((floor, cap, mmr, lev))
            cum = row.get("maintenance_amount")
            given_cum.append(
                None if cum is None else money(_dec(cum, f"{at}.maintenance_amount"), at)
            )
            floor = cap
        try:
            table = cls(parsed)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        for b, cum_given in zip(table.brackets, given_cum, strict=True):
            if cum_given is not None and cum_given != b.cum:
                raise ValueError(
                    f"{where}[{b.number}].maintenance_amount: {money_decimal(cum_given)} "
                    f"disagrees with the derived {money_decimal(b.cum)}"
                )
        return table

    def for_notional(self, notional: int) -> Bracket:
        """The bracket whose (floor, cap] holds ``notional`` (>= 0); the last one beyond."""
        for b in self.brackets:
            if notional <= b.cap:
                return b
        return self.brackets[-1]

    def max_notional(self, leverage: int) -> int:
        """The largest position notional allowed at ``leverage`` (0 if none is)."""
        best = 0
        for b in self.brackets:
            if b.max_leverage >= leverage:
                best = b.cap
        return best

    def maintenance_margin_scaled(self, notional: int) -> int:
        """Exact maintenance margin of a position of ``notional``, times ``RATE_ONE``."""
        return self.for_notional(notional).maintenance_margin_scaled(notional)

    def to_rows(self) -> list[list[int]]:
        """Canonical rows ``[floor, cap, mmr, max_leverage]`` for state export."""
        return [[b.floor, b.cap, b.mmr, b.max_leverage] for b in self.brackets]


def _dec(value: Any, field: str) -> Decimal | str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{field}: must be a decimal string or an integer")
    checked: str | int = value
    return checked


# BTCUSDT brackets from a real /fapi/v1/leverageBracket response (2023-11).
BTCUSDT_BRACKETS: tuple[dict[str, Any], ...] = (
    {"cap": "50000", "mmr": "0.004", "max_leverage": 125},
    {"cap": "250000", "mmr": "0.005", "max_leverage": 100},
    {"cap": "3000000", "mmr": "0.01", "max_leverage": 50},
    {"cap": "20000000", "mmr": "0.025", "max_leverage": 20},
    {"cap": "40000000", "mmr": "0.05", "max_leverage": 10},
    {"cap": "100000000", "mmr": "0.1", "max_leverage": 5},
    {"cap": "120000000", "mmr": "0.125", "max_leverage": 4},
    {"cap": "200000000", "mmr": "0.15", "max_leverage": 3},
    {"cap": "300000000", "mmr": "0.25", "max_leverage": 2},
    {"cap": "500000000", "mmr": "0.5", "max_leverage": 1},
)
