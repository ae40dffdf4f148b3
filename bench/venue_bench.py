"""Venue benchmark: ``Venue.apply`` alone over a deterministic mixed command stream.

Usage::

    python bench/venue_bench.py [--json] [--repeat N] [--commands N] [--seed N]

What is timed
-------------
The seeded mixed venue stream of :mod:`exchange.flow.venue_stream` (``--seed``, default
2; ``--commands``, default 20,000), built untimed: deposits, withdrawals, leverage and
margin-type changes, limit orders (GTC, IOC, FOK, post-only) with a market maker quoting
around the mark, market, stop and take-profit orders, reduce-only orders, cancels,
cancel-alls, amends, a few invalid commands, and mark prices that walk, now and then
jump (liquidations, fund takeovers, ADL) and cross funding times. Each trial
(``--repeat``, default 5, after one untimed warm-up run) builds a fresh venue and times
the loop ``for cmd in stream: venue.apply(cmd)`` with ``perf_counter_ns`` around the
whole loop (after a full collection); the figure is that time divided by the number of
inputs. Reported: the median over trials and the range (min, max), in µs per input, plus
the state hash and an event digest (SHA-256 over every event's type name and fields), so
two code versions timed against each other can be seen to do exactly the same work.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure import machine_info

from exchange.flow.venue_stream import command_stream, make_contracts
from venue.venue import Venue

CODE_ROOT = Path(__file__).resolve().parents[1]


def one_run(stream: Sequence[Any]) -> tuple[int, Any, list[Any]]:
    """(ns for the whole stream, the venue, the events per input)."""
    venue = Venue(make_contracts())
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
            f"venue bench ({CODE_ROOT}): {len(stream):,} inputs, "
            f"{events:,} events ({report['trades']:,} trades, "
            f"{report['liquidations']:,} liquidations), {args.repeat} trials"
        )
        print(f"  us/input: median {us['median']}  range {us['min']} .. {us['max']}")
        print(f"  state hash {report['state_hash']}")
        print(f"  event digest {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
