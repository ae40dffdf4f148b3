"""End-to-end benchmark: the whole platform (sequencer + venue + journal + metrics).

Usage::

    python bench/e2e.py [--json] [--orders N] [--repeat N] [--queue N] [--batch N]
                        [--rate R] [--metrics on|off|both] [--dir DIR] [--profile]

Workload: the seeded synthetic order flow (:class:`exchange.flow.synthetic.OrderFlow`, the default
symbols, 16 accounts) turned into venue inputs -- Titan's mark prices become Sentinel
``MarkPrice`` inputs, and each account first gets a deposit -- built before any timing.
Each trial runs a fresh :class:`exchange.runtime.sequencer.Sequencer` over a fresh
:class:`venue.venue.Venue` and a fresh RocksDB journal in ``sync`` durability (every
batch fsynced before anything is acknowledged), with checkpoints every 10,000 records
and snapshots every 100,000 as ``exchange run`` does. With metrics on, everything
``exchange run`` adds for them: the timing probes on Titan and the mark-price path, the
sequencer's commit histograms, the telemetry subscriber counting every durable record,
and the exporter (engine readings on the loop) scraped once a second over HTTP on
loopback by a client thread, as Prometheus would. With metrics off, none of it.

- ``flat out``: one producer coroutine offers inputs as fast as the bounded intake
  (``--queue``, default 4,096) takes them; orders/s = new orders committed per second of
  wall time from the first offer to the last durable acknowledgement.
- ``paced``: the producer offers ``--rate`` inputs per second (default 100,000; in
  1 ms slices), the load the target names; latency is from the offer (sequencer intake)
  to the moment the batch holding the input was durable and acknowledged.

Reported per mode: inputs/s and orders/s (median and range of ``--repeat`` trials,
default 3, metrics on/off interleaved A B A B), latency p50/p99/p99.9/max in ms over all
inputs of the median trial, process CPU seconds per wall second, and peak RSS. The JSON
object has ``orders_per_second`` (flat out, metrics on, median) and
``p99_ms_intake_to_durable`` (paced, metrics on, median trial) at the top level.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from measure import machine_info, percentile

from exchange.config.symbols import default_contracts
from exchange.flow.synthetic import OrderFlow
from exchange.metrics.exporter import MetricsServer
from exchange.metrics.telemetry import Telemetry
from exchange.runtime.gc_tuning import tune_gc
from exchange.runtime.machines import venue_genesis
from exchange.runtime.sequencer import Sequencer
from oracle import Journal
from sentinel.commands import Deposit, MarkPrice
from sentinel.units import MONEY_ONE
from titan.commands import Amend, Cancel, NewOrder, SetMarkPrice
from venue.venue import Venue

ACCOUNTS = 16


def build_inputs(n: int, seed: int = 1) -> list[Any]:
    """``n`` unstamped venue inputs: deposits, then the synthetic flow with ids shifted."""
    contracts = default_contracts()
    flow = OrderFlow([c.spec for c in contracts], seed=seed, accounts=ACCOUNTS)
    out: list[Any] = [Deposit(0, 0, a, "USDT", 10**9 * MONEY_ONE) for a in range(1, ACCOUNTS + 1)]
    shift = len(out)  # the flow numbers orders by its own seq; the sequencer by the journal's
    while len(out) < n:
        for cmd in flow.take(min(10_000, n - len(out))):
            t = type(cmd)
            if t is SetMarkPrice:
                out.append(MarkPrice(0, 0, cmd.symbol, cmd.price))
            elif t is NewOrder:
                out.append(cmd._replace(seq=0, ts=0))
            elif t is Cancel or t is Amend:
                out.append(cmd._replace(seq=0, ts=0, order_id=cmd.order_id + shift))
            else:
                raise TypeError(type(cmd).__name__)
    return out


class _Scraper(threading.Thread):
    """Scrapes /metrics once a second, as Prometheus would."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.done = threading.Event()
        self.scrapes = 0

    def run(self) -> None:
        while not self.done.wait(1.0):
            with urllib.request.urlopen(self.url, timeout=5) as r:
                r.read()
            self.scrapes += 1


async def _drive(
    seq: Sequencer, inputs: list[Any], rate: float, exporter: MetricsServer | None
) -> None:
    if exporter is not None:  # engine readings are taken on this loop
        exporter.attach(seq, None, asyncio.get_running_loop())
    task = asyncio.create_task(seq.run())
    offer = seq.offer
    i, n = 0, len(inputs)
    if rate <= 0:
        while i < n and not seq.closed:
            room = seq.queue_size - seq.backlog
            end = min(n, i + room)
            while i < end:
                offer(inputs[i])
                i += 1
            await asyncio.sleep(0)
    else:
        start = time.perf_counter_ns()
        gap = 1e9 / rate
        while i < n and not seq.closed:
            due = min(n, int((time.perf_counter_ns() - start) / gap) + 1)
            while i < due:
                # latency counts from when the load meant to send it, not when it got in
                if not offer(inputs[i], None, start + int(i * gap)):
                    break
                i += 1
            await asyncio.sleep(0.001 if i >= due else 0)
    seq.stop()
    await task  # raises SequencerFailed if the journal refused a batch


def trial(
    inputs: list[Any], rate: float, metrics: bool, args: argparse.Namespace
) -> dict[str, Any]:
    """One run of the platform over ``inputs``; its figures."""
    contracts = default_contracts()
    root = Path(tempfile.mkdtemp(prefix="e2e-", dir=args.dir))
    journal = Journal.open(root / "j", create=True, genesis=venue_genesis(contracts))
    venue = Venue(contracts)
    seq = Sequencer(
        venue,
        journal,
        queue_size=args.queue,
        max_batch=args.batch,
        max_pending=max(args.batch, 65_536),
        latency_samples=len(inputs),
    )
    exporter = scraper = None
    if metrics:  # as exchange run does it: every probe, histogram and collector
        telemetry = Telemetry(contracts, "sim")
        exporter = MetricsServer(args.port, telemetry)
        telemetry.attach(venue, seq)
    gc.collect()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if exporter is not None:
        scraper = _Scraper(exporter.port)
        scraper.start()
    asyncio.run(_drive(seq, inputs, rate, exporter))
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    if scraper is not None:
        scraper.done.set()
        scraper.join()
    if exporter is not None:
        exporter.close()
    journal.close()
    shutil.rmtree(root, ignore_errors=True)
    lat = sorted(seq.stats.latencies_ns)
    orders = seq.stats.inputs_by_kind.get("NewOrder", 0)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "inputs": seq.stats.committed,
        "orders": orders,
        "seconds": wall,
        "inputs_per_second": seq.stats.committed / wall,
        "orders_per_second": orders / wall,
        "batches": seq.stats.batches,
        "mean_batch": seq.stats.committed / max(1, seq.stats.batches),
        "p50_ms": percentile(lat, 50) / 1e6,
        "p99_ms": percentile(lat, 99) / 1e6,
        "p999_ms": percentile(lat, 99.9) / 1e6,
        "max_ms": lat[-1] / 1e6 if lat else 0.0,
        "cpu_per_wall": cpu / wall,
        "scrapes": scraper.scrapes if scraper is not None else 0,
    }


def _summary(trials: list[dict[str, Any]]) -> dict[str, Any]:
    def stat(key: str) -> dict[str, float]:
        values = [t[key] for t in trials]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    median_trial = sorted(trials, key=lambda t: t["p99_ms"])[len(trials) // 2]
    return {
        "inputs_per_second": stat("inputs_per_second"),
        "orders_per_second": stat("orders_per_second"),
        "p50_ms": median_trial["p50_ms"],
        "p99_ms": median_trial["p99_ms"],
        "p99_ms_range": [min(t["p99_ms"] for t in trials), max(t["p99_ms"] for t in trials)],
        "p999_ms": median_trial["p999_ms"],
        "max_ms": median_trial["max_ms"],
        "mean_batch": statistics.median(t["mean_batch"] for t in trials),
        "cpu_per_wall": statistics.median(t["cpu_per_wall"] for t in trials),
        "trials": trials,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--orders", type=int, default=300_000, help="inputs per trial")
    p.add_argument("--repeat", type=int, default=3, help="trials per mode")
    p.add_argument("--queue", type=int, default=4_096, help="intake bound")
    p.add_argument("--batch", type=int, default=8_192, help="most records per group commit")
    p.add_argument("--rate", type=float, default=100_000, help="paced mode, inputs/s")
    p.add_argument("--metrics", choices=["on", "off", "both"], default="both")
    p.add_argument("--port", type=int, default=0, help="metrics port (0: any free port)")
    p.add_argument("--dir", default=None, help="where the journals go (default: temp dir)")
    p.add_argument("--profile", action="store_true", help="cProfile one flat-out trial")
    args = p.parse_args(argv)
    if args.orders < 1000 or args.repeat < 1 or args.queue < 1 or args.batch < 1:
        p.error("--orders >= 1000, --repeat, --queue and --batch >= 1")
    if args.dir is not None:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    inputs = build_inputs(args.orders)
    tune_gc()
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        trial(inputs, 0, True, args)
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.metrics]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        "flat_out": {("on" if m else "off"): [] for m in modes},
        "paced": {("on" if m else "off"): [] for m in modes},
    }
    for _ in range(args.repeat):
        for m in modes:  # interleaved A B A B
            results["flat_out"]["on" if m else "off"].append(trial(inputs, 0, m, args))
            results["paced"]["on" if m else "off"].append(trial(inputs, args.rate, m, args))
    summary = {mode: {k: _summary(v) for k, v in by.items()} for mode, by in results.items()}
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    top_flat = summary["flat_out"]["on" if "on" in summary["flat_out"] else "off"]
    top_paced = summary["paced"]["on" if "on" in summary["paced"] else "off"]
    out: dict[str, Any] = {
        "orders_per_second": top_flat["orders_per_second"]["median"],
        "inputs_per_second": top_flat["inputs_per_second"]["median"],
        "p99_ms_intake_to_durable": top_paced["p99_ms"],
        "paced_rate": args.rate,
        "peak_rss_bytes": peak_rss,
        "inputs_per_trial": len(inputs),
        "durability": "sync",
        "machine": machine_info(),
        "modes": summary,
    }
    if "on" in summary["flat_out"] and "off" in summary["flat_out"]:
        on = [t["inputs_per_second"] for t in results["flat_out"]["on"]]
        off = [t["inputs_per_second"] for t in results["flat_out"]["off"]]
        ratios = [a / b for a, b in zip(on, off, strict=True)]
        out["metrics_on_vs_off"] = {
            "median": statistics.median(ratios),
            "min": min(ratios),
            "max": max(ratios),
        }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"e2e: {len(inputs):,} inputs per trial, sync journal, {args.repeat} trials per mode")
    for mode, by in summary.items():
        for metrics, s in by.items():
            ops = s["orders_per_second"]
            print(
                f"  {mode:<8} metrics {metrics:<3}: {s['inputs_per_second']['median']:>9,.0f} "
                f"inputs/s, {ops['median']:>9,.0f} orders/s ({ops['min']:,.0f}-{ops['max']:,.0f})"
                f"  latency p50 {s['p50_ms']:.2f} ms p99 {s['p99_ms']:.2f} ms "
                f"p99.9 {s['p999_ms']:.2f} ms max {s['max_ms']:.1f} ms  batch "
                f"{s['mean_batch']:,.0f}  cpu {s['cpu_per_wall']:.2f}"
            )
    if "metrics_on_vs_off" in out:
        r = out["metrics_on_vs_off"]
        print(f"  metrics on / off throughput: {r['median']:.3f} ({r['min']:.3f}-{r['max']:.3f})")
    print(f"  peak RSS {peak_rss / 2**20:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
