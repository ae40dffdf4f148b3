"""Venue benchmark: ``Venue.apply`` alone over a deterministic mixed command stream.

Usage::

    python bench/venue_bench.py [--json] [--repeat N] [--commands N] [--seed N]

What is timed
-------------
A seeded ``random.Random`` (``--seed``, default 2) builds ``--commands`` (default 20,000)
venue commands over BTCUSDT and ETHUSDT, untimed: deposits, withdrawals, leverage and
margin-type changes, limit orders (GTC, IOC, FOK, post-only) with a market maker quoting
around the mark, market, stop and take-profit orders, reduce-only orders, cancels,
cancel-alls, amends, and mark prices that walk, now and then jump (liquidations, fund
takeovers, ADL) and cross funding times. Each trial (``--repeat``, default 5, after one
untimed warm-up run) builds a fresh venue and times the loop ``for cmd in stream:
venue.apply(cmd)`` with ``perf_counter_ns`` around the whole loop (after a full
collection); the figure is that time divided by the number of inputs. Reported: the
median over trials and the range (min, max), in µs per input, plus the state hash and an
event digest (SHA-256 over every event's type name and fields), so two code versions
timed against each other can be seen to do exactly the same work.

Layout
------
The script imports only the engines (no test module): ``venue.venue`` where the venue
package sits beside ``sentinel`` (the current layout), else ``sentinel.venue`` (the
older layout, where the venue lived in Sentinel). Run it against another checkout with
``cd OTHER && PYTHONPATH=OTHER python /path/to/bench/venue_bench.py``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # measure (no project imports)

from measure import machine_info

import sentinel
from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType, Withdraw
from sentinel.contracts import Contract, contract_from_terms
from sentinel.units import money
from titan.commands import Amend, Cancel, CancelAll, NewOrder
from titan.enums import OrderType, Side, TimeInForce, WorkingType
from titan.symbols import SymbolSpec

CODE_ROOT = Path(sentinel.__file__).resolve().parents[1]


def _venue_class() -> tuple[Callable[[list[Contract]], Any], str]:
    """The Venue class of the checkout ``sentinel`` was imported from, and its module."""
    if (CODE_ROOT / "venue" / "venue.py").is_file():
        from venue.venue import Venue

        return Venue, "venue.venue"
    from sentinel.venue import Venue as OldVenue  # type: ignore[import-not-found,unused-ignore]

    return OldVenue, "sentinel.venue"


VENUE, VENUE_MODULE = _venue_class()

BTC = SymbolSpec.from_decimals("BTCUSDT", "0.10", "0.001", "5", "1000", "5")
ETH = SymbolSpec.from_decimals("ETHUSDT", "0.01", "0.001", "5", "10000", "5")
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
INTERVAL = 8 * 3600 * 1000  # funding interval, ms
T0 = 213_000 * INTERVAL + 1
MM = 1  # the market maker
USERS = tuple(range(2, 10))
MAX_RATE = 10**7  # 10% per interval, the venue's funding-rate bound (rate units 10**-8)
CONDITIONAL = (
    OrderType.STOP,
    OrderType.STOP_MARKET,
    OrderType.TAKE_PROFIT,
    OrderType.TAKE_PROFIT_MARKET,
)


def contracts() -> list[Contract]:
    return [
        contract_from_terms(BTC, {"default_leverage": 20}, "BTCUSDT"),
        contract_from_terms(ETH, {"default_leverage": 20, "brackets": ETH_BRACKETS}, "ETHUSDT"),
    ]


def command_stream(seed: int, n: int) -> list[Any]:
    """``n`` venue commands drawn from ``random.Random(seed)``; order ids are the seq."""
    rng = random.Random(seed)
    marks = dict(MID)
    out: list[Any] = []
    issued: list[tuple[int, str, int]] = []  # (order id, symbol, account)
    ts = T0

    def add(cls: Any, *args: Any, **kwargs: Any) -> None:
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
            rate = rng.choice([0, 1, -1, 10_000, -25_000, 100_000, MAX_RATE])
            add(MarkPrice, symbol, marks[symbol], rate)
        elif roll < 0.94:
            if rng.random() < 0.6:
                add(Deposit, account, "USDT", money(rng.choice(["100", "1000", "5000"])))
            else:
                add(Withdraw, account, "USDT", money(rng.choice(["10", "500", "5000"])))
        else:
            if rng.random() < 0.5:
                add(SetLeverage, account, symbol, rng.choice([1, 5, 20, 50, 125, 126]))
            else:
                add(SetMarginType, account, symbol, rng.random() < 0.5)
    return out


def one_run(stream: Sequence[Any]) -> tuple[int, Any, list[Any]]:
    """(ns for the whole stream, the venue, the events per input)."""
    venue = VENUE(contracts())
    apply = venue.apply
    gc.collect()
    ns = time.perf_counter_ns
    results: list[Any] = [None] * len(stream)
    t0 = ns()
    for i, cmd in enumerate(stream):
        results[i] = apply(cmd)
    elapsed = ns() - t0
    return elapsed, venue, results


def event_digest(results: list[Any]) -> tuple[str, int]:
    h = hashlib.sha256()
    count = 0
    for events in results:
        for e in events:
            count += 1
            h.update(repr((type(e).__name__, tuple(e))).encode())
    return h.hexdigest(), count


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark Venue.apply alone on a seeded stream.")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.add_argument("--repeat", type=int, default=5, help="timed trials (default 5)")
    p.add_argument("--commands", type=int, default=20_000, help="inputs (default 20,000)")
    p.add_argument("--seed", type=int, default=2, help="stream seed (default 2)")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.commands < 100:
        p.error("--repeat must be >= 1 and --commands >= 100")
    stream = command_stream(args.seed, args.commands)
    one_run(stream)  # warm-up, untimed
    per_input: list[float] = []
    venue: Any = None
    results: list[Any] = []
    for _ in range(args.repeat):
        elapsed, venue, results = one_run(stream)
        per_input.append(elapsed / len(stream) / 1000)
    digest, events = event_digest(results)
    kinds: dict[str, int] = {}
    for evs in results:
        for e in evs:
            kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
    report = {
        "benchmark": "venue",
        "code": str(CODE_ROOT),
        "venue_module": VENUE_MODULE,
        "seed": args.seed,
        "commands": len(stream),
        "repeat": args.repeat,
        "us_per_input": {
            "median": round(statistics.median(per_input), 3),
            "min": round(min(per_input), 3),
            "max": round(max(per_input), 3),
            "trials": [round(x, 3) for x in per_input],
        },
        "events": events,
        "liquidations": kinds.get("LiquidationStarted", 0),
        "trades": kinds.get("Trade", 0),
        "event_digest": digest,
        "state_hash": venue.state_hash(),
        "machine": machine_info(),
    }
    if args.json:
        print(json.dumps(report))
    else:
        us = report["us_per_input"]
        print(
            f"venue bench ({VENUE_MODULE} from {CODE_ROOT}): {len(stream):,} inputs, "
            f"{events:,} events ({report['trades']:,} trades, "
            f"{report['liquidations']:,} liquidations), {args.repeat} trials"
        )
        print(f"  us/input: median {us['median']}  range {us['min']} .. {us['max']}")
        print(f"  state hash {report['state_hash']}")
        print(f"  event digest {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
