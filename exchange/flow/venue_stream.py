"""A seeded mixed venue command stream, for the tests and the venue benchmark.

:func:`command_stream` draws ``n`` venue commands over BTCUSDT and ETHUSDT (ETH with a
small bracket table, so positions of a few thousand USDT change bracket) from
``random.Random(seed)``: deposits, withdrawals, leverage and margin-type changes, limit
orders (GTC, IOC, FOK, post-only) with a market maker quoting around the mark, market,
stop and take-profit orders, reduce-only orders, cancels, cancel-alls, amends, mark
prices that walk and now and then jump (liquidations, fund takeovers, ADL) and cross
funding times with non-zero rates, and a few invalid commands. Commands are stamped
with seq 1..n and a ts from :data:`T0` that never goes back; a new order's id is its
seq, as the sequencer numbers them. Equal seeds give equal streams in every process.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType, Withdraw
from sentinel.contracts import Contract, contract_from_terms
from sentinel.ledger import FUND
from sentinel.units import MAX_VALUE, money
from titan.commands import Amend, Cancel, CancelAll, NewOrder
from titan.enums import CONDITIONAL_TYPES, OrderType, Side, TimeInForce, WorkingType
from titan.symbols import SymbolSpec
from venue.types import Command
from venue.venue import MAX_FUNDING_RATE

BTC = SymbolSpec.from_decimals("BTCUSDT", "0.10", "0.001", "5", "1000", "5")
ETH = SymbolSpec.from_decimals("ETHUSDT", "0.01", "0.001", "5", "10000", "5")
# A smaller table than BTC's, so positions of a few thousand USDT already change bracket.
ETH_BRACKETS = [
    {"cap": "10000", "mmr": "0.005", "max_leverage": 100},
    {"cap": "100000", "mmr": "0.01", "max_leverage": 50},
    {"cap": "500000", "mmr": "0.025", "max_leverage": 20},
    {"cap": "2000000", "mmr": "0.05", "max_leverage": 10},
    {"cap": "10000000", "mmr": "0.1", "max_leverage": 5},
]
SPECS = {"BTCUSDT": BTC, "ETHUSDT": ETH}
SYMBOLS = tuple(SPECS)
MID = {"BTCUSDT": BTC.price_units("50000"), "ETHUSDT": ETH.price_units("3000")}
MM = 1  # the market maker every position is opened against
USERS = tuple(range(2, 10))
INTERVAL = 8 * 3600 * 1000  # the funding interval, ms
T0 = 213_000 * INTERVAL + 1  # just after a funding time
CONDITIONAL = sorted(CONDITIONAL_TYPES)  # a fixed order for the draws


def make_contracts() -> list[Contract]:
    """The two contracts of the stream (BTC with the default brackets, ETH with its own)."""
    return [
        contract_from_terms(BTC, {"default_leverage": 20}, "BTCUSDT"),
        contract_from_terms(ETH, {"default_leverage": 20, "brackets": ETH_BRACKETS}, "ETHUSDT"),
    ]


def command_stream(seed: int, n: int) -> list[Command]:
    """``n`` venue commands drawn from ``random.Random(seed)``; order ids are the seq."""
    rng = random.Random(seed)
    marks = dict(MID)
    out: list[Command] = []
    issued: list[tuple[int, str, int]] = []  # (order id, symbol, account)
    ts = T0

    def add(cls: Callable[..., Command], *args: Any, **kwargs: Any) -> None:
        nonlocal ts
        ts += rng.randint(1, 2_000)
        out.append(cls(len(out) + 1, ts, *args, **kwargs))

    def price(symbol: str, bps: int) -> int:
        tick = SPECS[symbol].tick
        p = marks[symbol] * (10_000 + rng.randint(-bps, bps)) // 10_000
        return max(p // tick * tick, tick)

    def lots(symbol: str) -> int:
        top = rng.choice([20, 200, 2_000]) if symbol == "BTCUSDT" else rng.choice([300, 30_000])
        return rng.randint(1 if symbol == "BTCUSDT" else 2, top) * SPECS[symbol].lot

    for sym in SYMBOLS:
        add(MarkPrice, sym, marks[sym])
    add(Deposit, MM, "USDT", money("50000000"))
    for sym in SYMBOLS:
        add(SetLeverage, MM, sym, 5)
    for account in USERS:
        add(Deposit, account, "USDT", money(rng.choice(["300", "1000", "3000", "20000"])))
        for sym in SYMBOLS:
            if rng.random() < 0.15:
                add(SetMarginType, account, sym, True)
            add(SetLeverage, account, sym, rng.choice([5, 10, 20, 20, 50]))
    while len(out) < n:
        symbol = rng.choice(SYMBOLS)
        account = rng.choice((*USERS, MM, MM))
        roll = rng.random()
        if roll < 0.40:  # a limit order; the market maker quotes around the mark
            side = rng.choice([Side.BUY, Side.SELL])
            if account == MM:
                sign = -1 if side is Side.BUY else 1
                p = marks[symbol] * (10_000 + sign * rng.randint(1, 60)) // 10_000
                p = p // SPECS[symbol].tick * SPECS[symbol].tick
                tif = TimeInForce.GTC
            else:
                p = price(symbol, 120)
                tif = rng.choice([TimeInForce.GTC] * 3 + [TimeInForce.IOC, TimeInForce.FOK,
                                                           TimeInForce.GTX])  # fmt: skip
            add(
                NewOrder, symbol, account, len(out) + 1, side, lots(symbol), p,
                tif=tif, reduce_only=account != MM and rng.random() < 0.1,
            )  # fmt: skip
            issued.append((len(out), symbol, account))
        elif roll < 0.47:
            add(
                NewOrder, symbol, account, len(out) + 1, rng.choice([Side.BUY, Side.SELL]),
                lots(symbol), 0, OrderType.MARKET, TimeInForce.IOC,
                reduce_only=rng.random() < 0.2,
            )  # fmt: skip
        elif roll < 0.52:
            otype = rng.choice(CONDITIONAL)
            market = otype in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)
            add(
                NewOrder, symbol, account, len(out) + 1, rng.choice([Side.BUY, Side.SELL]),
                lots(symbol), 0 if market else price(symbol, 150), otype,
                stop_price=price(symbol, 200),
                working_type=rng.choice([WorkingType.CONTRACT_PRICE, WorkingType.MARK_PRICE]),
                reduce_only=rng.random() < 0.3,
            )  # fmt: skip
            issued.append((len(out), symbol, account))
        elif roll < 0.60 and issued:
            oid, sym, acct = rng.choice(issued[-40:])
            if rng.random() < 0.15:
                add(CancelAll, sym, acct)
            else:
                add(Cancel, sym, acct if rng.random() < 0.9 else account, oid)
        elif roll < 0.68 and issued:
            oid, sym, acct = rng.choice(issued[-40:])
            add(Amend, sym, acct, oid, price(sym, 100), lots(sym))
        elif roll < 0.88:  # the mark walks, now and then jumps, funding times pass
            bps = 3_000 if rng.random() < 0.04 else 700 if rng.random() < 0.2 else 80
            m = marks[symbol] * (10_000 + rng.randint(-bps, bps)) // 10_000
            marks[symbol] = min(max(m, MID[symbol] // 2), MID[symbol] * 2)
            if rng.random() < 0.03:
                ts = (ts // INTERVAL + 1) * INTERVAL + rng.randint(0, 60_000)
            rate = rng.choice([0, 1, -1, 10_000, -25_000, 100_000, MAX_FUNDING_RATE])
            add(MarkPrice, symbol, marks[symbol], rate)
        elif roll < 0.94:
            if rng.random() < 0.6:
                add(Deposit, account, "USDT", money(rng.choice(["100", "1000", "5000"])))
            else:
                add(Withdraw, account, "USDT", money(rng.choice(["10", "500", "5000"])))
        elif roll < 0.98:
            if rng.random() < 0.5:
                add(SetLeverage, account, symbol, rng.choice([1, 5, 20, 50, 125, 126]))
            else:
                add(SetMarginType, account, symbol, rng.random() < 0.5)
        else:  # invalid now and then
            add(
                (Deposit, Withdraw)[rng.randrange(2)],  # as rng.choice draws
                rng.choice([FUND, -1, account]),
                rng.choice(["USDT", "BTC"]),
                rng.choice([0, -5, MAX_VALUE, 1]),
            )
    return out
