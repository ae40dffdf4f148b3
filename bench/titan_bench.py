"""Titan benchmark: commands per second and per-command latency, events included.

Usage::

    python bench/titan_bench.py [--json] [--repeat N] [--commands N] [--flows lobster,synthetic]
                          [--gc default|tuned|off] [--keep-events] [--seed N]
    python bench/titan_bench.py --profile        # cProfile of one pass of each flow

Flows
-----
- ``lobster``: the NASDAQ LOBSTER hour (AAPL 2012-06-21 09:30-10:30, from
  ``$EXCHANGE_DATA_DIR/lobster``, by default ``../shared/data/lobster`` beside the
  repository), translated by
  :func:`exchange.lobster.replay.build_commands`; ``flow.seed`` is applied untimed, then
  ``flow.commands`` (the first ``--commands`` of them, if given) are timed.
- ``synthetic``: :class:`exchange.flow.synthetic.OrderFlow` on the default symbols in deep-book
  mode (4 levels per symbol seeded with 10,000 resting orders each); the opening phase
  is applied untimed, then ``--commands`` mixed-flow commands (default 200,000) are
  timed.

Method
------
Commands are built before any timing. Each measurement runs on a fresh engine with its
seed applied. Every event list ``Engine.apply`` returns is consumed in the timed loop:
its events are counted (as a journal would take them and let them go), or, with
``--keep-events``, the lists are all kept until the pass ends (this mostly measures the
cyclic GC re-scanning a growing heap of retained lists). Throughput: one
``perf_counter`` around the whole loop, no per-command timing. Latency: a separate pass
with ``perf_counter_ns`` around each ``apply`` (the timer's own cost,
``timer_overhead_ns``, is included, not subtracted); percentiles are nearest-rank, also
per command type. Each measurement is repeated ``--repeat`` times (default 5); the
report gives the median and the min-max range.

Garbage collector (``--gc``): ``default`` (the default) leaves CPython's collector as it
comes; ``tuned`` applies the exchange's own runtime setting
(:func:`exchange.runtime.gc_tuning.tune_gc`: higher thresholds, start-up heap frozen) after the
commands are built and before any engine exists, so the engines' objects stay visible
to the collector; ``off`` disables the collector during the timed loops (a diagnostic).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from measure import DATA_DIR, percentile, timer_overhead_ns
from measure import machine_info as base_machine_info

from exchange.config.symbols import default_specs
from exchange.flow.synthetic import OrderFlow
from titan import Command, Engine, Event, SymbolSpec, Trade

ROOT = Path(__file__).resolve().parents[1]
TARGET = 400_000  # commands per second, on both flows
SYNTHETIC_COMMANDS = 200_000
FLOWS = ("lobster", "synthetic")
LOBSTER_DIR = DATA_DIR / "lobster"
LOBSTER_MESSAGES = LOBSTER_DIR / "AAPL_2012-06-21_0930-1030_message.csv"
LOBSTER_ORDERBOOK = LOBSTER_DIR / "AAPL_2012-06-21_0930-1030_orderbook_1.csv"


class Workload:
    """Prepared input of one flow: symbols, the untimed seed, the timed commands."""

    def __init__(
        self, name: str, specs: list[SymbolSpec], seed: list[Command], commands: list[Command]
    ) -> None:
        self.name = name
        self.specs = specs
        self.seed = seed
        self.commands = commands

    def fresh_engine(self) -> Engine:
        """A new engine with the seed applied."""
        engine = Engine(self.specs)
        apply = engine.apply
        for cmd in self.seed:
            apply(cmd)
        return engine


def lobster_workload(limit: int | None) -> Workload:
    """The LOBSTER hour, through the colleague's translator (``build_commands``)."""
    from exchange.lobster.replay import build_commands

    flow = build_commands(LOBSTER_MESSAGES, LOBSTER_ORDERBOOK)
    commands = flow.commands if limit is None else flow.commands[:limit]
    return Workload("lobster", [flow.spec], list(flow.seed), list(commands))


def synthetic_workload(limit: int | None, seed: int, deep_levels: int = 4) -> Workload:
    """The seeded synthetic flow in deep-book mode (``deep_levels`` levels per symbol of
    10,000 orders each; 0 gives the same flow without the deep seed, a diagnostic)."""
    specs = default_specs()
    flow = OrderFlow(specs, seed=seed, deep_levels=deep_levels, deep_orders=10_000)
    opening = flow.opening()
    commands = flow.take(SYNTHETIC_COMMANDS if limit is None else limit)
    return Workload("synthetic", specs, opening, commands)


# -- measurements -----------------------------------------------------------------


def run_throughput(w: Workload, keep_events: bool, gc_off: bool) -> tuple[float, int, Engine]:
    """One timed pass: seconds for the whole loop, events emitted, the engine after.

    Every returned event list is consumed inside the timed loop: counted (default), or
    appended to a list that outlives the loop (``keep_events``).
    """
    engine = w.fresh_engine()
    apply = engine.apply
    commands = w.commands
    kept: list[list[Event]] = []
    keep = kept.append
    events = 0
    gc.collect()
    if gc_off:
        gc.disable()
    try:
        if keep_events:
            t0 = time.perf_counter()
            for cmd in commands:
                keep(apply(cmd))
            elapsed = time.perf_counter() - t0
            events = sum(map(len, kept))
        else:
            t0 = time.perf_counter()
            for cmd in commands:
                events += len(apply(cmd))
            elapsed = time.perf_counter() - t0
    finally:
        gc.enable()
    return elapsed, events, engine


def run_latency(w: Workload, keep_events: bool, gc_off: bool) -> list[int]:
    """One pass timing each ``apply`` with ``perf_counter_ns``; latencies in ns."""
    engine = w.fresh_engine()
    apply = engine.apply
    kept: list[list[Event]] = []
    keep = kept.append
    events = 0
    lat = [0] * len(w.commands)
    ns = time.perf_counter_ns
    i = 0
    gc.collect()
    if gc_off:
        gc.disable()
    try:
        for cmd in w.commands:
            t0 = ns()
            out = apply(cmd)
            lat[i] = ns() - t0
            if keep_events:
                keep(out)
            else:
                events += len(out)
            i += 1
    finally:
        gc.enable()
    return lat


def _stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def measure(w: Workload, repeat: int, keep_events: bool, gc_off: bool) -> dict[str, Any]:
    """Throughput and latency of one workload, ``repeat`` times each, summarised."""
    rates: list[float] = []
    events = 0
    book_end: dict[str, Any] = {}
    for _ in range(repeat):
        elapsed, events, engine = run_throughput(w, keep_events, gc_off)
        rates.append(len(w.commands) / elapsed if elapsed > 0 else float("inf"))
        book_end = book_summary(engine, w.specs)
        del engine
    p50s: list[float] = []
    p99s: list[float] = []
    p999s: list[float] = []
    maxes: list[float] = []
    by_type: dict[str, list[int]] = {}
    for _ in range(repeat):
        lat = run_latency(w, keep_events, gc_off)
        by_type = {}
        for cmd, ns in zip(w.commands, lat, strict=True):
            by_type.setdefault(type(cmd).__name__, []).append(ns)
        lat.sort()
        p50s.append(percentile(lat, 50) / 1000)
        p99s.append(percentile(lat, 99) / 1000)
        p999s.append(percentile(lat, 99.9) / 1000)
        maxes.append((lat[-1] if lat else 0) / 1000)
    cps, cps_min, cps_max = _stats(rates)
    p50, p50_min, p50_max = _stats(p50s)
    p99, p99_min, p99_max = _stats(p99s)
    n = len(w.commands)
    kinds: dict[str, Any] = {}
    for name, values in sorted(by_type.items()):
        values.sort()
        kinds[name] = {
            "count": len(values),
            "p50_us": round(percentile(values, 50) / 1000, 3),
            "p99_us": round(percentile(values, 99) / 1000, 3),
            "mean_us": round(sum(values) / len(values) / 1000, 3),
        }
    return {
        "commands_per_second": round(cps),
        "commands_per_second_range": [round(cps_min), round(cps_max)],
        "p50_us": round(p50, 3),
        "p99_us": round(p99, 3),
        "p50_us_range": [round(p50_min, 3), round(p50_max, 3)],
        "p99_us_range": [round(p99_min, 3), round(p99_max, 3)],
        "p999_us": round(statistics.median(p999s), 3),
        "max_us": round(statistics.median(maxes), 3),
        "commands": n,
        "seed_commands": len(w.seed),
        "events": events,
        "events_per_command": round(events / n, 3) if n else 0.0,
        "trades": count_trades(w),
        "repeat": repeat,
        "target_commands_per_second": TARGET,
        "meets_target": cps >= TARGET,
        "by_command": kinds,
        "book_after": book_end,
    }


def count_trades(w: Workload) -> int:
    """Trades the workload produces (an untimed pass)."""
    engine = w.fresh_engine()
    apply = engine.apply
    return sum(1 for cmd in w.commands for e in apply(cmd) if type(e) is Trade)


def book_summary(engine: Engine, specs: list[SymbolSpec]) -> dict[str, Any]:
    """Resting orders and the largest level (in orders) per symbol."""
    out: dict[str, Any] = {}
    for spec in specs:
        depth = engine.depth(spec.symbol, 1 << 30)
        rows = depth.bids + depth.asks
        out[spec.symbol] = {
            "levels": len(rows),
            "orders": sum(r.orders for r in rows),
            "largest_level_orders": max((r.orders for r in rows), default=0),
        }
    return out


def machine_info() -> dict[str, Any]:
    """Where the numbers were measured, and the timer's own cost."""
    info = base_machine_info()
    info["timer_overhead_ns"] = timer_overhead_ns()
    return info


# -- profile ----------------------------------------------------------------------


def profile(w: Workload, top: int, gc_off: bool) -> str:
    """cProfile of one pass over ``w``: the ``top`` functions by own time."""
    import cProfile
    import io
    import pstats

    engine = w.fresh_engine()
    apply = engine.apply
    events = 0
    prof = cProfile.Profile()
    gc.collect()
    if gc_off:
        gc.disable()
    prof.enable()
    for cmd in w.commands:
        events += len(apply(cmd))
    prof.disable()
    gc.enable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# -- output -----------------------------------------------------------------------


def format_table(results: dict[str, Any]) -> str:
    """Human-readable summary of a results object."""
    m = results["machine"]
    lines = [
        f"Titan benchmark: Python {m['python']} ({m['implementation']}), "
        f"{m['cpu_count']} CPUs, load {m.get('loadavg_1m', '?')}, "
        f"timer overhead {m['timer_overhead_ns']} ns, gc {m['gc']}",
        f"{'flow':<10} {'commands':>9} {'ev/cmd':>6} {'cmd/s median':>13} "
        f"{'range (min-max)':>19} {'p50 us':>7} {'p99 us':>7} {'p99.9':>7}",
    ]
    verdict = []
    repeat = 0
    for name in FLOWS:
        r = results.get(name)
        if r is None:
            continue
        lo, hi = r["commands_per_second_range"]
        lines.append(
            f"{name:<10} {r['commands']:>9,} {r['events_per_command']:>6.2f} "
            f"{r['commands_per_second']:>13,} {f'{lo:,}-{hi:,}':>19} "
            f"{r['p50_us']:>7.2f} {r['p99_us']:>7.2f} {r['p999_us']:>7.2f}"
        )
        verdict.append(f"{name} {'yes' if r['meets_target'] else 'NO'}")
        repeat = r["repeat"]
    lines.append(
        f"target >= {TARGET:,} commands/s: {', '.join(verdict)} " f"(median of {repeat} runs each)"
    )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description="Benchmark Titan on LOBSTER and synthetic flows.")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.add_argument("--repeat", type=int, default=5, help="measurements per flow (default 5)")
    p.add_argument(
        "--commands",
        type=int,
        default=None,
        help="timed commands per flow (default: the whole LOBSTER hour, 200,000 synthetic)",
    )
    p.add_argument(
        "--flows", default=",".join(FLOWS), help="comma-separated subset of: lobster,synthetic"
    )
    p.add_argument("--seed", type=int, default=1, help="synthetic flow seed (default 1)")
    p.add_argument(
        "--deep-levels",
        type=int,
        default=4,
        choices=range(0, 9),
        metavar="N",
        help="synthetic deep levels of 10,000 orders per symbol (default 4; 0 = none)",
    )
    p.add_argument(
        "--keep-events",
        action="store_true",
        help="keep every event list until the pass ends (default: count them as they come)",
    )
    p.add_argument(
        "--gc",
        choices=("default", "tuned", "off"),
        default="default",
        help="garbage collector: CPython default, exchange.runtime.gc_tuning.tune_gc, or off while "
        "timing (default: default)",
    )
    p.add_argument("--profile", action="store_true", help="print a cProfile of each flow")
    p.add_argument("--top", type=int, default=15, help="profile rows to print (default 15)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.repeat < 1 or (args.commands is not None and args.commands < 1):
        print("titan bench: --repeat and --commands must be positive", file=sys.stderr)
        return 2
    flows = [f.strip() for f in args.flows.split(",") if f.strip()]
    unknown = [f for f in flows if f not in FLOWS]
    if unknown or not flows:
        print(f"titan bench: unknown flow(s): {', '.join(unknown) or '(none)'}", file=sys.stderr)
        return 2
    builders: dict[str, Callable[[], Workload]] = {
        "lobster": lambda: lobster_workload(args.commands),
        "synthetic": lambda: synthetic_workload(args.commands, args.seed, args.deep_levels),
    }
    if "lobster" in flows and not LOBSTER_MESSAGES.is_file():
        print(f"titan bench: LOBSTER data not found: {LOBSTER_MESSAGES}", file=sys.stderr)
        return 2
    workloads = [builders[name]() for name in flows]
    results: dict[str, Any] = {}
    saved = None
    if args.gc == "tuned":
        from exchange.runtime.gc_tuning import tune_gc

        saved = tune_gc()
    thresholds = gc.get_threshold()
    try:
        if args.profile:
            for w in workloads:
                print(f"== {w.name}: {len(w.commands):,} commands, one pass under cProfile")
                print(profile(w, args.top, args.gc == "off"))
            return 0
        for w in workloads:
            results[w.name] = measure(w, args.repeat, args.keep_events, args.gc == "off")
    finally:
        if saved is not None:
            from exchange.runtime.gc_tuning import restore_gc

            restore_gc(saved)
    machine = machine_info()
    machine["gc"] = args.gc
    machine["gc_thresholds"] = list(thresholds)
    machine["events_kept"] = args.keep_events
    results["machine"] = machine
    if args.json:
        print(json.dumps(results))
    else:
        print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
