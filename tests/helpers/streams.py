"""The seeded venue command stream several test modules share, and its digests.

:func:`command_stream` draws a mixed venue stream over BTCUSDT and ETHUSDT from
``random.Random(seed)``: deposits, withdrawals, leverage and margin-type changes, limit
(GTC, IOC, FOK, post-only), market, stop and take-profit orders, reduce-only orders,
cancels, cancel-alls, amends, mark prices that walk and jump (liquidations, fund
takeovers, ADL) and cross funding times with non-zero rates, and some invalid commands.
Order ids are the seq; ts starts at :data:`helpers.venue.T0`.

Run as ``python -m helpers.streams SEED N`` (with tests/ on ``PYTHONPATH``, see
:func:`helpers.paths.subprocess_env`) it prints :func:`summary` of one run as JSON.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from typing import Any

import msgpack

from helpers.venue import MID, MM, SPECS, SYMBOLS, T0, make_contracts
from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType, Withdraw
from sentinel.ledger import FUND
from sentinel.units import MAX_VALUE, money
from titan.commands import Amend, Cancel, CancelAll, NewOrder
from titan.enums import OrderType, Side, TimeInForce, WorkingType
from venue.venue import MAX_FUNDING_RATE, Venue

SEED = 2  # a seed whose stream liquidates cross units in two symbols, too
N_COMMANDS = 3_000
INTERVAL = 8 * 3600 * 1000
USERS = tuple(range(2, 10))
CONDITIONAL = [
    OrderType.STOP,
    OrderType.STOP_MARKET,
    OrderType.TAKE_PROFIT,
    OrderType.TAKE_PROFIT_MARKET,
]


def command_stream(seed: int, n: int) -> list[Any]:
    """``n`` venue commands drawn from ``random.Random(seed)``; order ids are the seq."""
    rng = random.Random(seed)
    marks = dict(MID)
    out: list[Any] = []
    issued: list[tuple[int, str, int]] = []  # (order id, symbol, account)
    ts = T0

    def add(cls: type, *args: Any, **kwargs: Any) -> None:
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
                rng.choice([Deposit, Withdraw]),
                rng.choice([FUND, -1, account]),
                rng.choice(["USDT", "BTC"]),
                rng.choice([0, -5, MAX_VALUE, 1]),
            )
    return out


def run(commands: list[Any], venue: Venue | None = None) -> tuple[Venue, list[Any]]:
    venue = venue if venue is not None else Venue(make_contracts())
    events: list[Any] = []
    for cmd in commands:
        events += venue.apply(cmd)
    return venue, events


def event_digest(events: list[Any]) -> str:
    h = hashlib.sha256()
    for e in events:
        h.update(msgpack.packb([type(e).__name__, *e], use_bin_type=True))
    return h.hexdigest()


def summary(seed: int, n: int) -> dict[str, Any]:
    venue, events = run(command_stream(seed, n))
    return {
        "state_hash": venue.state_hash(),
        "event_digest": event_digest(events),
        "events": len(events),
        "str_hash": hash("sentinel"),  # proves the interpreter's hash seed really differs
    }


if __name__ == "__main__":
    print(json.dumps(summary(int(sys.argv[1]), int(sys.argv[2]))))
