"""Sentinel benchmark: mark-price tick latency with many open positions, liquidation cost,
the full-scan comparison and memory per account.

Usage::

    python bench/sentinel_bench.py [--json] [--sizes 10000,100000,1000000] [--ticks N]
                             [--repeat N] [--ks 1,10,100] [--crossed-ticks N]
                             [--scan-ticks N] [--gc default|tuned] [--seed N]
    python bench/sentinel_bench.py --profile    # also a cProfile of the largest size's ticks

What is timed
-------------
Only the real path, one command at a time: ``Venue.apply(MarkPrice(seq, ts, "BTCUSDT",
price, 0))`` on a venue with the exchange's default contracts (BTCUSDT and ETHUSDT from
:func:`exchange.config.symbols.default_specs`, Binance default terms), ``perf_counter_ns`` around
each call (the timer's own cost, ``timer_overhead_ns``, is included, not subtracted).
Percentiles are nearest-rank.

Accounts and positions (``--sizes``, default 10,000, 100,000 and 1,000,000)
--------------------------------------------------------------------------
Every size has its own venue, built untimed, with one BTCUSDT position per account and
each account its own USDT wallet. Accounts go in pairs, a long (odd id) and a short (even
id) that traded with each other: entry price uniform in 49,000.0..51,000.0, size
log-uniform in 0.010..~2 BTC (notional ~500..100,000 USDT, brackets 1-2). Each account,
independently: isolated with probability 0.2 (else cross), leverage uniform in 5..20.
A cross account deposits 1.0-2.5x the initial margin (``notional / leverage``); an
isolated one deposits the initial margin (moved into the position's margin) plus 0-50%
that stays in its wallet. Liquidation prices therefore spread over ~30,000-48,700 for the
longs and ~51,200-70,000 for the shorts. The population is drawn once (``--seed``) for the
largest size; a smaller size uses its first accounts.

Building: a first ``MarkPrice`` at 50,000.0, then per account a ``Deposit`` and (isolated
ones) ``SetMarginType`` and a ``SetLeverage``, all through ``Venue.apply``. The positions
are NOT traded through Titan (a million trades would take long): each pair's synthetic
trade goes through the ledger's clearing path directly, as ``Venue._clear`` does for a
Titan trade -- ``venue.ledger.fill(...)`` for both sides at the entry price, fee 0,
trade id 0 -- and the touched units are then settled as ``Venue._settle`` settles them:
each dirty unit is evaluated exactly (``Ledger.crossed``, which must be False) and
``Ledger.reindex``-ed. ``Venue.check_invariants()`` (O(n): conservation, holders,
"no unit crossed", every index entry equals the unit's exact threshold) runs on every
build of at most ``--check-max`` accounts (default 100,000) and again on those venues after
all trials, so the benchmark provably measures a sound state.

Measurements, per trial (``--repeat``, default 3, interleaved: every size in turn)
----------------------------------------------------------------------------------
- ``clear``: ``--ticks`` (default 3,000) mark prices moving by uniform random steps of
  -5.0..+5.0 USDT, reflected inside the band strictly between the highest long and the
  lowest short liquidation price (shrunk by a quarter on each side), so no account is
  ever crossed; every tick must return no event. p50, p99 and max per tick.
- ``crossed`` (for each k in ``--ks``, default 1, 10, 100): ``--crossed-ticks`` (default
  20) ticks, alternately down to a long-side and up to a short-side price chosen from
  the index's exact liquidation prices so that exactly k units cross (the k-th
  threshold; on a tie, the next k with a distinct boundary, reported as ``accounts``).
  The liquidated accounts go through the full procedure in the timed call: cancels (none
  open), an IOC reduce-only order at the bankruptcy price into Titan's empty book, the
  insurance fund's takeover, the clearance fee, ``LiquidationFinished``. The tick's
  events are then checked (untimed): exactly the expected units liquidated, each fully
  taken over by the fund, no ADL. Then, untimed, the mark goes back into the clear band
  and every liquidated account is restored to its original position: a ``Deposit`` of
  what it lost, and a synthetic trade at its original entry price with the insurance
  fund as counterparty (the fund hands the inherited position back; it keeps the
  difference, as it would have on selling it), through the clearing path as above. So
  every crossed tick of a size meets the same population. Reported: the tick's median
  and max, and the median per liquidation (tick / k).
- ``full scan`` (last in the trial: a scan sweeps the whole heap through the CPU caches
  and would slow the next timed ticks): the "old system", at the mark of a clear tick
  (``--scan-ticks`` per trial, default 1) and at the long-side crossing price of every k
  (mark set on the ledger only, no command), ``Ledger.crossed(key)`` for every unit in
  a list of ``Ledger.units()`` taken once after the build (so the scan pays neither the
  sort nor the enumeration). Its result must be empty (clear) or exactly the units the
  indexed tick liquidates (crossed): an independent check that the index is exact.
  ``full_scan_ratio`` = scan time per tick / the indexed clear tick's p50 (both medians
  over trials, as reported).

Memory
------
``bytes_per_account``: RSS delta (``/proc/self/statm``, resident pages) while building the
largest size, after a full collection, divided by its accounts. That venue is built
first, right after the population is drawn (and every venue is built before any scan
list or crossing price is made), so the delta holds the venue and its allocator overhead
only: wallets, settings, positions, the holder and wallet dicts, index entries. Every
size's own RSS delta is reported too
(``rss_bytes_per_account_*``), and ``traced_bytes_per_account``: the Python allocations
``tracemalloc`` sees retained by a separate build of the smallest size, beyond an empty
venue, with the source lines that hold most of them
(``traced_top_lines_bytes_per_account``, bytes per account per line).

Garbage collector: the collector is off while a venue is built (nothing there makes
cycles) and a full collection follows. ``--gc default`` (the default) then keeps CPython's
thresholds with the venues visible to the collector; ``tuned`` applies the exchange's
runtime setting (:func:`exchange.runtime.gc_tuning.tune_gc`: higher thresholds, heap frozen).
"""

from __future__ import annotations

import argparse
import gc
import json
import linecache
import os
import platform
import random
import shlex
import statistics
import sys
import time
import tracemalloc
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]

SIZES_DEFAULT = (10_000, 100_000, 1_000_000)
KS_DEFAULT = (1, 10, 100)
TICKS_DEFAULT = 3_000
CROSSED_TICKS_DEFAULT = 20
MIN_ACCOUNTS = 200
TARGET_P99_US = 100.0  # per clear tick at 1M positions
TARGET_SCAN_RATIO = 100.0  # full scan / indexed, at 1M
TARGET_BYTES = 1024  # per account with one position
HEADLINE = 1_000_000

SYMBOL = "BTCUSDT"
START_MARK = 500_000  # 50,000.0 in BTCUSDT price units (0.1)
ENTRY_LOW, ENTRY_HIGH = 490_000, 510_000
STEP = 50  # clear ticks move by at most 5.0 USDT


from measure import machine_info, percentile, timer_overhead_ns  # noqa: E402

from exchange.config.symbols import default_specs  # noqa: E402
from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType  # noqa: E402
from sentinel.contracts import Contract, contract_from_terms  # noqa: E402
from sentinel.events import (  # noqa: E402
    AutoDeleveraged,
    Emitter,
    InsuranceTakeover,
    LiquidationFinished,
    LiquidationStarted,
    Refused,
)
from sentinel.ledger import FUND, Ledger, UnitKey  # noqa: E402
from sentinel.units import ceil_div  # noqa: E402
from venue.venue import Venue  # noqa: E402


def _log(msg: str) -> None:
    print(f"sentinel bench: {msg}", file=sys.stderr, flush=True)


def label(n: int) -> str:
    """Size label used in the JSON keys: 10000 -> 10k, 1000000 -> 1m, 1500 -> 1500."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def contracts() -> list[Contract]:
    """The exchange's default symbols with the default (Binance VIP 0) contract terms."""
    return [contract_from_terms(s, {}, f"defaults.{s.symbol}") for s in default_specs()]


# -- population ---------------------------------------------------------------------


class Population:
    """Per-account parameters (index = account id; 0 is the fund, unused), drawn once."""

    def __init__(self, accounts: int, seed: int, scale: int) -> None:
        rng = random.Random(seed)
        n = accounts + 1
        self.size = array("q", bytes(8 * n))  # signed quantity units (0.001 BTC)
        self.entry = array("q", bytes(8 * n))  # price units (0.1)
        self.leverage = array("b", bytes(n))
        self.isolated = array("b", bytes(n))
        self.deposit = array("q", bytes(8 * n))  # money units
        for long in range(1, accounts + 1, 2):
            entry = rng.randint(ENTRY_LOW, ENTRY_HIGH)
            qty = round(10 ** rng.uniform(1.0, 3.3))
            for account, size in ((long, qty), (long + 1, -qty)):
                if account > accounts:
                    break
                isolated = rng.random() < 0.2
                lev = rng.randint(5, 20)
                initial = ceil_div(qty * entry * scale, lev)
                if isolated:
                    deposit = initial + initial * rng.randint(0, 500) // 1000
                else:
                    deposit = initial + initial * rng.randint(0, 1500) // 1000
                self.size[account] = size
                self.entry[account] = entry
                self.leverage[account] = lev
                self.isolated[account] = isolated
                self.deposit[account] = deposit


# -- one venue per size ------------------------------------------------------------


class Crossing:
    """A mark price that crosses exactly the units in ``keys``."""

    def __init__(self, long: bool, price: int, keys: list[UnitKey]) -> None:
        self.long = long
        self.price = price
        self.keys = keys


def _crossing(entries: list[tuple[int, UnitKey]], k: int, long: bool) -> Crossing:
    """The price that crosses the first k (or, on a tie at the boundary, the first k' > k)
    of ``entries`` sorted from the most exposed threshold inward."""
    while k < len(entries) and entries[k - 1][0] == entries[k][0]:
        k += 1
    if k >= len(entries):
        raise RuntimeError(f"cannot cross exactly {k} units on one side: too few accounts")
    return Crossing(long, entries[k - 1][0], [key for _, key in entries[:k]])


class SizeBench:
    """A venue with ``n`` accounts, its clear band and crossing prices, and its clock."""

    def __init__(self, n: int, pop: Population, cs: list[Contract]) -> None:
        self.n = n
        self.pop = pop
        self.venue = Venue(cs)
        self.s: Ledger = self.venue.ledger
        self.asset = self.s.contracts[SYMBOL].quote
        self.seq = 0
        self.mark = START_MARK
        self.keys: list[UnitKey] = []
        self.low = self.high = START_MARK
        self.crossings: dict[int, tuple[Crossing, Crossing]] = {}
        self.build_seconds = 0.0
        self.rss_delta = 0
        self.liquidations = 0

    def _next(self) -> tuple[int, int]:
        """(seq, ts): ts in ms advances by one per command, far from the 8-hour funding."""
        self.seq += 1
        return self.seq, self.seq

    def _apply(self, cmd: Any) -> list[Any]:
        out = self.venue.apply(cmd)
        for e in out:
            if type(e) is Refused:
                raise RuntimeError(f"{type(cmd).__name__} refused: {e}")
        return out

    def _open(self, account: int, counterparty: int, dq: int, price: int) -> None:
        """A synthetic trade through the clearing path (as Venue._clear), fee 0, then the
        touched units settled as Venue._settle does (exact check, then reindex)."""
        s = self.s
        seq, ts = self._next()
        em = Emitter([], seq, ts)
        s.fill(em, account, SYMBOL, dq, price, fee_rate=0, trade_id=0)
        s.fill(em, counterparty, SYMBOL, -dq, price, fee_rate=0, trade_id=0)
        s.take_touched()  # no open orders: nothing reduce-only to trim
        for key in sorted(s.dirty):
            s.clean(key)
            if s.crossed(key):
                raise RuntimeError(f"unit {key} is crossed right after opening")
            s.reindex(key)

    def _account(self, account: int) -> None:
        """Deposit and settings of one account (its position comes with its pair)."""
        pop = self.pop
        seq, ts = self._next()
        self._apply(Deposit(seq, ts, account, self.asset, pop.deposit[account]))
        if pop.isolated[account]:
            seq, ts = self._next()
            self._apply(SetMarginType(seq, ts, account, SYMBOL, True))
        seq, ts = self._next()
        self._apply(SetLeverage(seq, ts, account, SYMBOL, pop.leverage[account]))

    def build(self) -> None:
        """Accounts, positions and the index (untimed, collector off); see the docstring."""
        pop = self.pop
        t0 = time.perf_counter()
        seq, ts = self._next()
        self._apply(MarkPrice(seq, ts, SYMBOL, START_MARK, 0))
        for long in range(1, self.n + 1, 2):
            self._account(long)
            self._account(long + 1)
            self._open(long, long + 1, pop.size[long], pop.entry[long])
        self.build_seconds = time.perf_counter() - t0

    def prepare(self, ks: Sequence[int]) -> None:
        """Unit list for the scans, the clear band and the crossing prices (untimed)."""
        s = self.s
        self.keys = list(s.units())
        if len(self.keys) != self.n:
            raise RuntimeError(f"expected {self.n} units, found {len(self.keys)}")
        longs: list[tuple[int, UnitKey]] = []
        shorts: list[tuple[int, UnitKey]] = []
        for is_long, price, key in s.index_entries(SYMBOL):
            (longs if is_long else shorts).append((price, key))
        if len(longs) + len(shorts) != self.n:
            raise RuntimeError("the index does not hold one entry per position")
        longs.sort(key=lambda e: (-e[0], e[1]))
        shorts.sort()
        top, bottom = longs[0][0], shorts[0][0]  # crossed at marks <= top, >= bottom
        gap = bottom - top
        if gap < 8 * STEP:
            raise RuntimeError("the clear band between long and short thresholds is too narrow")
        self.low, self.high = top + gap // 4, bottom - gap // 4
        self.mark = min(max(self.mark, self.low), self.high)
        for k in ks:
            self.crossings[k] = (_crossing(longs, k, True), _crossing(shorts, k, False))

    # -- timed ticks --------------------------------------------------------------

    def clear_ticks(self, ticks: int, rng: random.Random, prof: Any = None) -> list[int]:
        """``ticks`` mark prices inside the clear band; latency of each in ns (``prof``: a
        profiler enabled around the timed loop only)."""
        prices: list[int] = []
        m = self.mark
        for _ in range(ticks):
            m += rng.randint(-STEP, STEP)
            if m < self.low:
                m = 2 * self.low - m
            elif m > self.high:
                m = 2 * self.high - m
            prices.append(m)
        self.mark = m
        cmds = [MarkPrice(*self._next(), SYMBOL, p, 0) for p in prices]
        apply = self.venue.apply
        ns = time.perf_counter_ns
        lat = [0] * ticks
        events = 0
        if prof is not None:
            prof.enable()
        for i, cmd in enumerate(cmds):
            t0 = ns()
            out = apply(cmd)
            lat[i] = ns() - t0
            events += len(out)
        if prof is not None:
            prof.disable()
        if events:
            raise RuntimeError(f"{events} events on ticks that should cross nobody")
        return lat

    def crossed_tick(self, c: Crossing, prof: Any = None) -> int:
        """One tick crossing exactly ``c.keys`` (timed, ns), checked and undone untimed
        (``prof``: a profiler enabled around the timed call only)."""
        s = self.s
        cmd = MarkPrice(*self._next(), SYMBOL, c.price, 0)
        ns = time.perf_counter_ns
        if prof is not None:
            prof.enable()
        t0 = ns()
        out = self.venue.apply(cmd)
        elapsed = ns() - t0
        if prof is not None:
            prof.disable()
        started = [(e.account, e.asset, e.symbol) for e in out if type(e) is LiquidationStarted]
        if sorted(started) != sorted(c.keys):
            raise RuntimeError(
                f"tick at {c.price} liquidated {len(started)} units, expected {len(c.keys)}"
            )
        taken = sum(abs(e.qty) for e in out if type(e) is InsuranceTakeover)
        adl = sum(1 for e in out if type(e) is AutoDeleveraged)
        finished = [e for e in out if type(e) is LiquidationFinished]
        expected = sum(abs(self.pop.size[key[0]]) for key in c.keys)
        if adl or taken != expected or sum(e.taken_over for e in finished) != expected:
            raise RuntimeError(
                f"tick at {c.price}: fund took {taken} of {expected}, {adl} ADL events "
                "(the benchmark expects a full insurance fund takeover)"
            )
        self.liquidations += len(started)
        # back into the clear band, then every liquidated account restored
        back = self._apply(MarkPrice(*self._next(), SYMBOL, self.mark, 0))
        if back:
            raise RuntimeError(f"{len(back)} events on the way back into the clear band")
        pop = self.pop
        for account, _, _ in started:
            w = s.wallets[(account, self.asset)]
            missing = pop.deposit[account] - w.balance
            if missing > 0:
                self._apply(Deposit(*self._next(), account, self.asset, missing))
            self._open(account, FUND, pop.size[account], pop.entry[account])
        return elapsed

    # -- full scan ------------------------------------------------------------------

    def full_scan(self, mark: int) -> tuple[int, list[UnitKey]]:
        """``Ledger.crossed`` over every unit at ``mark`` (set on the ledger only):
        (ns, the crossed units)."""
        s = self.s
        saved = s.marks[SYMBOL]
        s.marks[SYMBOL] = mark
        crossed = s.crossed
        keys = self.keys
        try:
            t0 = time.perf_counter_ns()
            found = [key for key in keys if crossed(key)]
            elapsed = time.perf_counter_ns() - t0
        finally:
            s.marks[SYMBOL] = saved
        return elapsed, found


# -- memory -----------------------------------------------------------------------


class Traced(NamedTuple):
    """tracemalloc's view of one build: bytes retained, and per source line per account."""

    bytes: int
    by_line: dict[str, float]


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def build_measured(n: int, pop: Population, cs: list[Contract]) -> SizeBench:
    """Build one size with the collector off; record the RSS delta of the build."""
    gc.collect()
    before = rss_bytes()
    gc.disable()
    try:
        b = SizeBench(n, pop, cs)
        b.build()
    finally:
        gc.enable()
    gc.collect()
    b.rss_delta = rss_bytes() - before
    return b


def traced_bytes(n: int, pop: Population, cs: list[Contract], top: int = 10) -> Traced:
    """Python allocations retained by a venue of ``n`` accounts (tracemalloc), beyond an
    empty venue's, and the source lines that hold most of them."""
    gc.collect()
    tracemalloc.start()
    try:
        b = SizeBench(n, pop, cs)
        gc.collect()
        before = tracemalloc.take_snapshot()
        base = tracemalloc.get_traced_memory()[0]
        gc.disable()
        try:
            b.build()
        finally:
            gc.enable()
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    lines: dict[str, float] = {}
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        where = Path(frame.filename)
        name = where.relative_to(ROOT) if where.is_relative_to(ROOT) else where
        source = linecache.getline(frame.filename, frame.lineno).strip()
        lines[f"{name}:{frame.lineno} {source}"] = round(stat.size_diff / n, 1)
    del b, before, after
    gc.collect()
    return Traced(used, lines)


# -- statistics and output -------------------------------------------------------------


def _put(out: dict[str, Any], name: str, values: Sequence[float], digits: int = 2) -> None:
    """``name`` (median over trials), ``name_min`` and ``name_max`` into ``out``."""
    out[name] = round(statistics.median(values), digits)
    out[f"{name}_min"] = round(min(values), digits)
    out[f"{name}_max"] = round(max(values), digits)


class Samples:
    """Per-trial figures of one size, summarised at the end."""

    def __init__(self, ks: Sequence[int]) -> None:
        self.p50: list[float] = []
        self.p99: list[float] = []
        self.max: list[float] = []
        self.mean: list[float] = []
        self.scan: list[float] = []
        self.crossed: dict[int, list[list[int]]] = {k: [] for k in ks}


def run_trial(
    b: SizeBench,
    sm: Samples,
    ticks: int,
    ks: Sequence[int],
    crossed_ticks: int,
    scan_ticks: int,
    rng: random.Random,
) -> None:
    """One trial of one size: clear ticks, crossed ticks for every k, then the full scans
    (last, as a scan sweeps the whole heap through the CPU caches; the crossed prices
    still cross exactly the same units, as every liquidated account was restored)."""
    gc.collect()
    lat = b.clear_ticks(ticks, rng)
    lat.sort()
    sm.p50.append(percentile(lat, 50) / 1000)
    sm.p99.append(percentile(lat, 99) / 1000)
    sm.max.append(lat[-1] / 1000)
    sm.mean.append(sum(lat) / len(lat) / 1000)
    for k in ks:
        long_side, short_side = b.crossings[k]
        per_tick: list[int] = []
        for j in range(crossed_ticks):
            per_tick.append(b.crossed_tick(long_side if j % 2 == 0 else short_side))
        sm.crossed[k].append(per_tick)
    for i in range(scan_ticks):
        if i:
            b.clear_ticks(1, rng)
        elapsed, found = b.full_scan(b.mark)
        if found:
            raise RuntimeError(f"full scan found {len(found)} crossed units at a clear mark")
        sm.scan.append(elapsed / 1000)
    for k in ks:
        long_side = b.crossings[k][0]
        elapsed, found = b.full_scan(long_side.price)
        if sorted(found) != sorted(long_side.keys):
            raise RuntimeError(
                f"full scan at {long_side.price} found {len(found)} crossed units, "
                f"the index {len(long_side.keys)}"
            )
        sm.scan.append(elapsed / 1000)


def summarise(
    b: SizeBench, sm: Samples, ks: Sequence[int], check: list[str] | None
) -> dict[str, Any]:
    """Flat figures of one size, keyed ``<figure>_<size label>``."""
    lb = label(b.n)
    out: dict[str, Any] = {f"accounts_{lb}": b.n}
    _put(out, f"p50_us_{lb}", sm.p50)
    _put(out, f"p99_us_{lb}", sm.p99)
    _put(out, f"max_us_{lb}", sm.max)
    _put(out, f"mean_us_{lb}", sm.mean)
    _put(out, f"full_scan_us_{lb}", sm.scan, 1)
    out[f"full_scan_ratio_{lb}"] = round(out[f"full_scan_us_{lb}"] / out[f"p50_us_{lb}"], 1)
    out[f"full_scan_samples_{lb}"] = len(sm.scan)
    out[f"rss_bytes_per_account_{lb}"] = round(b.rss_delta / b.n, 1)
    out[f"build_seconds_{lb}"] = round(b.build_seconds, 2)
    out[f"invariants_checked_{lb}"] = check is not None
    for k in ks:
        long_side, short_side = b.crossings[k]
        actual = len(long_side.keys)
        trials = sm.crossed[k]
        per_trial_median = [statistics.median(t) / 1000 for t in trials]
        per_trial_max = [max(t) / 1000 for t in trials]
        # per liquidation: each tick over its own k (the two sides may differ on a tie)
        per_liq = [
            statistics.median(
                [
                    ns / 1000 / len((long_side if j % 2 == 0 else short_side).keys)
                    for j, ns in enumerate(t)
                ]
            )
            for t in trials
        ]
        key = f"crossed_{k}"
        out[f"{key}_accounts_{lb}"] = [actual, len(short_side.keys)]
        _put(out, f"{key}_tick_us_{lb}", per_trial_median)
        _put(out, f"{key}_tick_max_us_{lb}", per_trial_max)
        _put(out, f"{key}_per_liquidation_us_{lb}", per_liq)
    out[f"liquidations_{lb}"] = b.liquidations
    return out


def format_table(r: dict[str, Any]) -> str:
    """Human-readable summary of a results object."""
    m, p = r["machine"], r["parameters"]
    labels = [label(n) for n in p["sizes"]]
    lines = [
        f"Sentinel benchmark: Venue.apply(MarkPrice) on {SYMBOL}, one position per account; "
        f"median of {p['repeat']} interleaved trials (range min-max); Python {m['python']}, "
        f"{m['cpu_count']} CPUs, load {m.get('loadavg_1m', '?')} -> "
        f"{m.get('loadavg_1m_end', '?')}, gc {m['gc']}",
        f"clear ticks ({p['ticks']:,} per trial, nobody crossed):",
        f"{'accounts':>10} {'p50 us':>8} {'p99 us':>8} {'p99 range':>15} {'max us':>9} "
        f"{'full scan ms':>13} {'scan/p50':>10} {'RSS B/acct':>11} {'build s':>8}",
    ]
    for lb in labels:
        lines.append(
            f"{r[f'accounts_{lb}']:>10,} {r[f'p50_us_{lb}']:>8.2f} {r[f'p99_us_{lb}']:>8.2f} "
            f"{r[f'p99_us_{lb}_min']:>7.2f}-{r[f'p99_us_{lb}_max']:<7.2f} "
            f"{r[f'max_us_{lb}']:>9.1f} {r[f'full_scan_us_{lb}'] / 1000:>13.1f} "
            f"{r[f'full_scan_ratio_{lb}']:>10,.0f} {r[f'rss_bytes_per_account_{lb}']:>11.0f} "
            f"{r[f'build_seconds_{lb}']:>8.1f}"
        )
    lines.append(
        f"crossed ticks ({p['crossed_ticks']} per k per trial, alternately longs and shorts; "
        "IOC into an empty book, insurance fund takeover):"
    )
    lines.append(
        f"{'accounts':>10} {'k':>5} {'tick p50 us':>12} {'tick max us':>12} "
        f"{'per liquidation us':>19}"
    )
    for lb in labels:
        for k in p["ks"]:
            key = f"crossed_{k}"
            actual = r[f"{key}_accounts_{lb}"]
            shown = str(k) if actual == [k, k] else f"{k}({actual[0]}/{actual[1]})"
            lines.append(
                f"{r[f'accounts_{lb}']:>10,} {shown:>5} {r[f'{key}_tick_us_{lb}']:>12.1f} "
                f"{r[f'{key}_tick_max_us_{lb}']:>12.1f} "
                f"{r[f'{key}_per_liquidation_us_{lb}']:>19.1f}"
            )
    lines.append(
        f"memory: {r['bytes_per_account']:.0f} B/account (RSS delta building "
        f"{r['bytes_per_account_accounts']:,} accounts); tracemalloc "
        f"{r['traced_bytes_per_account']:.0f} B/account ({r['traced_accounts']:,} accounts)"
    )
    t = r["targets"]

    def met(value: bool | None) -> str:
        return "n/a" if value is None else ("yes" if value else "NO")

    lines.append(
        f"targets: p99 <= {TARGET_P99_US:.0f} us at 1M {met(t['p99_met'])}; full scan >= "
        f"{TARGET_SCAN_RATIO:.0f}x at 1M {met(t['scan_ratio_met'])}; <= {TARGET_BYTES} "
        f"B/account {met(t['bytes_met'])}"
    )
    return "\n".join(lines)


def _int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{name}: {text!r} is not a comma-separated list of integers"
        ) from None
    return values


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description="Benchmark Sentinel: mark-price tick latency with many open positions, "
        "liquidations, the full-scan comparison, memory per account."
    )
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES_DEFAULT),
        help="open positions (= accounts) per venue, comma-separated (default 10000,100000,"
        "1000000)",
    )
    p.add_argument("--ticks", type=int, default=TICKS_DEFAULT, help="clear ticks per trial (3,000)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved trials (default 3)")
    p.add_argument(
        "--ks",
        default=",".join(str(k) for k in KS_DEFAULT),
        help="accounts crossed per crossed tick, comma-separated (default 1,10,100)",
    )
    p.add_argument(
        "--crossed-ticks",
        type=int,
        default=CROSSED_TICKS_DEFAULT,
        help="crossed ticks per k per trial (default 20)",
    )
    p.add_argument(
        "--scan-ticks", type=int, default=1, help="clear ticks full-scanned per trial (1)"
    )
    p.add_argument(
        "--check-max",
        type=int,
        default=100_000,
        help="run Venue.check_invariants on venues up to this many accounts (100,000)",
    )
    p.add_argument("--seed", type=int, default=1, help="population and walk seed (default 1)")
    p.add_argument(
        "--gc",
        choices=("default", "tuned"),
        default="default",
        help="collector while timing: CPython thresholds or exchange.runtime.gc_tuning.tune_gc",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile the largest size's clear and crossed ticks (to stderr with --json)",
    )
    p.add_argument("--top", type=int, default=15, help="profile rows to print (default 15)")
    return p


def profile_ticks(b: SizeBench, ticks: int, ks: Sequence[int], top: int) -> str:
    """cProfile of extra clear ticks and one crossed tick per side and k (not counted)."""
    import cProfile
    import io
    import pstats

    rng = random.Random(12345)
    buf = io.StringIO()
    for name in ("clear", "crossed"):
        prof = cProfile.Profile()
        if name == "clear":
            b.clear_ticks(ticks, rng, prof)
            what = f"{ticks:,} clear ticks"
        else:
            for k in ks:
                for c in b.crossings[k]:
                    b.crossed_tick(c, prof)
            what = f"crossed ticks (k = {', '.join(map(str, ks))}, each side once)"
        buf.write(f"== {what} at {b.n:,} accounts under cProfile (timed calls only)\n")
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        sizes = sorted(set(_int_list(args.sizes, "--sizes")))
        ks = sorted(set(_int_list(args.ks, "--ks")))
    except argparse.ArgumentTypeError as exc:
        print(f"sentinel bench: {exc}", file=sys.stderr)
        return 2
    problems = []
    if not sizes or any(n < MIN_ACCOUNTS or n % 2 for n in sizes):
        problems.append(f"--sizes must be even numbers >= {MIN_ACCOUNTS}")
    if not ks or any(k < 1 for k in ks):
        problems.append("--ks must be positive")
    elif sizes and 4 * max(ks) > min(sizes):
        problems.append("every size must hold at least 4 x the largest --ks accounts")
    if args.ticks < 100 or args.repeat < 1 or args.crossed_ticks < 1 or args.scan_ticks < 0:
        problems.append(
            "--ticks must be >= 100, --repeat and --crossed-ticks positive, --scan-ticks >= 0"
        )
    if problems:
        print(f"sentinel bench: {'; '.join(problems)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    cs = contracts()
    scale = next(c.scale for c in cs if c.symbol == SYMBOL)
    _log(f"drawing {sizes[-1]:,} accounts (seed {args.seed})")
    pop = Population(sizes[-1], args.seed, scale)
    benches: dict[int, SizeBench] = {}
    for n in sorted(sizes, reverse=True):  # the largest first: its RSS delta is cleanest
        _log(f"building {n:,} accounts with one position each")
        b = benches[n] = build_measured(n, pop, cs)
        _log(f"  {b.build_seconds:.1f} s, RSS +{b.rss_delta / n:.0f} B/account")
    for n in sizes:  # after every build: its temporaries must not blur the RSS deltas
        benches[n].prepare(ks)
    checks: dict[int, list[str]] = {}
    for n in sizes:
        if n <= args.check_max:
            _log(f"checking the invariants of the {n:,}-account venue")
            problems = benches[n].venue.check_invariants()
            if problems:
                raise RuntimeError(f"{n:,} accounts: unsound state: {problems[:3]}")
            checks[n] = problems
    traced_n = sizes[0]
    _log(f"tracemalloc build of {traced_n:,} accounts")
    traced = traced_bytes(traced_n, pop, cs)
    saved = None
    if args.gc == "tuned":
        from exchange.runtime.gc_tuning import tune_gc

        saved = tune_gc()
    thresholds = gc.get_threshold()
    machine = machine_info()  # the load average before the trials
    overhead = timer_overhead_ns()
    samples = {n: Samples(ks) for n in sizes}
    rng = random.Random(args.seed)
    profile_text = ""
    try:
        for trial in range(args.repeat):
            for n in sizes:
                run_trial(
                    benches[n],
                    samples[n],
                    args.ticks,
                    ks,
                    args.crossed_ticks,
                    args.scan_ticks,
                    rng,
                )
                sm = samples[n]
                _log(
                    f"trial {trial + 1}/{args.repeat}, {n:,} accounts: p50 {sm.p50[-1]:.2f} us,"
                    f" p99 {sm.p99[-1]:.2f} us, max {sm.max[-1]:.1f} us; full scan "
                    f"{statistics.median(sm.scan[-(args.scan_ticks + len(ks)) :]) / 1000:.1f}"
                    " ms; crossed k="
                    + ", ".join(
                        f"{k}: {statistics.median(sm.crossed[k][-1]) / 1000:.0f} us" for k in ks
                    )
                )
        if args.profile:
            profile_text = profile_ticks(benches[sizes[-1]], args.ticks, ks, args.top)
    finally:
        if saved is not None:
            from exchange.runtime.gc_tuning import restore_gc

            restore_gc(saved)
    for n in sizes:
        if n in checks:
            problems = benches[n].venue.check_invariants()
            if problems:
                raise RuntimeError(f"{n:,} accounts after the trials: {problems[:3]}")
    results: dict[str, Any] = {}
    for n in sizes:
        results.update(summarise(benches[n], samples[n], ks, checks.get(n)))
    largest = sizes[-1]
    results["bytes_per_account"] = round(benches[largest].rss_delta / largest, 1)
    results["bytes_per_account_method"] = "rss_delta"
    results["bytes_per_account_accounts"] = largest
    results["traced_bytes_per_account"] = round(traced.bytes / traced_n, 1)
    results["traced_accounts"] = traced_n
    results["traced_top_lines_bytes_per_account"] = traced.by_line
    results["timer_overhead_ns"] = overhead
    head = label(HEADLINE)
    p99_1m = results.get(f"p99_us_{head}")
    ratio_1m = results.get(f"full_scan_ratio_{head}")
    results["targets"] = {
        "p99_us_1m": TARGET_P99_US,
        "full_scan_ratio_1m": TARGET_SCAN_RATIO,
        "bytes_per_account": TARGET_BYTES,
        "p99_met": None if p99_1m is None else p99_1m <= TARGET_P99_US,
        "scan_ratio_met": None if ratio_1m is None else ratio_1m >= TARGET_SCAN_RATIO,
        "bytes_met": results["bytes_per_account"] <= TARGET_BYTES,
    }
    if hasattr(os, "getloadavg"):
        machine["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    machine["gc"] = args.gc
    machine["gc_thresholds"] = list(thresholds)
    results["parameters"] = {
        "sizes": sizes,
        "ticks": args.ticks,
        "repeat": args.repeat,
        "ks": ks,
        "crossed_ticks": args.crossed_ticks,
        "scan_ticks": args.scan_ticks,
        "seed": args.seed,
        "check_max": args.check_max,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    results["machine"] = machine
    results["python"] = platform.python_version()
    shown = list(argv) if argv is not None else sys.argv[1:]
    results["command"] = shlex.join(["python", "bench/sentinel_bench.py", *shown])
    if profile_text:
        print(profile_text, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(results))
    else:
        print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
