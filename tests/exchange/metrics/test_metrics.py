"""The metrics exporter: every figure checked against an independent count.

Each test builds a fresh ``CollectorRegistry`` holding an :class:`ExchangeCollector`
and reads it with ``get_sample_value``. The platform parts are real (venue, sequencer,
in-memory journal, trader flow); the durable counts are re-derived from the journal's
own records, the engine gauges from the engines' order book and ledger.
"""

from __future__ import annotations

import asyncio
import math
import random
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from typing import Any

import pytest
from helpers.flow import drive_flat_out
from helpers.tools import require_tool
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from exchange.config.symbols import default_contracts
from exchange.feeds.prices import RandomWalk, mark_command
from exchange.flow.traders import FlowSettings, Traders
from exchange.metrics.exporter import ExchangeCollector, MetricsServer, read_engines
from exchange.metrics.telemetry import TITAN_SAMPLE, UNKNOWN, Telemetry
from exchange.runtime.buckets import Buckets, exponential, one_two_five
from exchange.runtime.machines import VenueFactory, venue_genesis
from exchange.runtime.sequencer import Committed, Sequencer
from oracle import Journal
from oracle.replay import rebuild
from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType
from sentinel.events import LiquidationFinished, Refused
from sentinel.units import MONEY_ONE
from titan.commands import NewOrder
from titan.enums import OrderType, Request, Side, TimeInForce
from titan.events import Accepted, Rejected, Trade
from venue.venue import Venue
from venue.wire import event_from_wire

CONTRACTS = default_contracts()
SPECS = [c.spec for c in CONTRACTS]


class Run:
    """A venue and sequencer over an in-memory journal, telemetry attached."""

    def __init__(self, checkpoint_every: int = 10_000) -> None:
        self.venue = Venue(CONTRACTS)
        self.journal = Journal.memory(venue_genesis(CONTRACTS))
        self.seq = Sequencer(
            self.venue,
            self.journal,
            queue_size=512,
            max_batch=256,
            checkpoint_every=checkpoint_every,
        )
        self.telemetry = Telemetry(CONTRACTS, "sim")
        self.telemetry.attach(self.venue, self.seq)
        self.registry = CollectorRegistry()
        self.collector = ExchangeCollector(self.telemetry, warning=0.8)
        self.collector.attach(self.seq, None, None)  # type: ignore[arg-type]
        self.registry.register(self.collector)

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def execute(self, commands: list[Any]) -> None:
        """Run ``commands``; a callable among them is called once all before it are
        durable."""

        async def main() -> None:
            seq = self.seq
            task = asyncio.create_task(seq.run())
            for cmd in commands:
                if callable(cmd):
                    while seq.backlog or not seq.settled():
                        await asyncio.sleep(0.001)
                    cmd()
                else:
                    await seq.submit(cmd)
            seq.stop()
            await task

        asyncio.run(main())

    def events(self) -> list[Any]:
        return [event_from_wire(w) for rec in self.journal.records() for w in rec.events]


def _flow_run(n_inputs: int = 3_000, vol: float = 0.01) -> Run:
    """Makers and takers flat out while the walk moves the marks, then BTC's mark falls
    15%: the demo longs (10x) are liquidated."""
    run = Run()
    traders = Traders(CONTRACTS, FlowSettings(rate=0, seed=7))
    run.seq.subscribe(traders.on_committed)
    walk = RandomWalk(SPECS, {"BTCUSDT": 500_000, "ETHUSDT": 300_000}, vol, 7)
    seq = run.seq

    async def main() -> None:
        task = asyncio.create_task(seq.run())
        await drive_flat_out(
            seq, run.venue, traders, walk, n_inputs=n_inputs, step_every=50, budget=32
        )
        await seq.submit(mark_command("BTCUSDT", walk.last["BTCUSDT"] * 85 // 100))
        seq.stop()
        await task

    asyncio.run(main())
    return run


@pytest.fixture(scope="module")
def flow() -> Run:
    return _flow_run()


# -- the histogram ----------------------------------------------------------------------


@given(
    st.lists(st.integers(-50, 5_000), max_size=200),
    st.lists(st.integers(-100, 6_000), min_size=1, max_size=30, unique=True),
    st.sampled_from([1, 10, 1_000]),
)
def test_buckets_are_cumulative_le_counts(values: list[int], raw: list[int], unit: int) -> None:
    bounds = sorted(raw)
    hist = Buckets(bounds)
    for v in values:
        hist.observe(v)
    buckets, total = hist.cumulative(unit)
    assert [float(le) for le, _ in buckets[:-1]] == [b / unit for b in bounds]
    for (_, count), bound in zip(buckets, bounds, strict=False):
        assert count == sum(1 for v in values if v <= bound)
    assert buckets[-1] == ("+Inf", len(values)) and hist.count == len(values)
    assert total == pytest.approx(sum(values) / unit)


def test_bucket_bounds_are_checked_and_printed_short() -> None:
    with pytest.raises(ValueError, match="ascending"):
        Buckets([1, 1])
    with pytest.raises(ValueError):
        exponential(0, 2, 3)
    assert one_two_five(0.001, 2) == [0.001, 0.002, 0.005, 0.01, 0.02, 0.05]
    hist = Buckets([1_000.0])
    assert hist.cumulative(1e9)[0][0][0] == "1e-06"  # not 1.0000000000000002e-06


# -- durable counts against the journal ---------------------------------------------------


def test_titan_counts_equal_the_journals_events(flow: Run) -> None:
    events = flow.events()
    trades = [e for e in events if type(e) is Trade]
    assert len(trades) > 100
    for spec in SPECS:
        mine = [t for t in trades if t.symbol == spec.symbol]
        qty = sum(t.qty for t in mine) / 10**spec.qty_decimals
        assert flow.value("titan_executions_total", symbol=spec.symbol) == len(mine)
        assert flow.value("titan_executed_quantity_total", symbol=spec.symbol) == pytest.approx(qty)
        assert flow.value("titan_execution_quantity_count", symbol=spec.symbol) == len(mine)
        assert flow.value("titan_execution_price_count", symbol=spec.symbol) == len(mine)
        price_sum = sum(t.price for t in mine) / 10**spec.price_decimals
        assert flow.value("titan_execution_price_sum", symbol=spec.symbol) == pytest.approx(
            price_sum
        )
    accepted = Counter((e.symbol, str(e.type)) for e in events if type(e) is Accepted)
    assert accepted
    for (symbol, kind), n in accepted.items():
        assert flow.value("titan_orders_total", symbol=symbol, type=kind) == n
    rejected = Counter(str(e.reason) for e in events if type(e) is Rejected)
    for reason, n in rejected.items():
        assert flow.value("titan_rejections_total", reason=reason) == n
    refused = Counter(str(e.reason) for e in events if type(e) is Refused)
    for reason, n in refused.items():
        assert flow.value("sentinel_refusals_total", reason=reason) == n


def test_journal_and_sequencer_figures(flow: Run) -> None:
    records = list(flow.journal.records())
    assert flow.value("oracle_records_written_total") == len(records)
    assert flow.value("oracle_events_written_total") == sum(len(r.events) for r in records)
    assert flow.value("oracle_last_committed_seq") == records[-1].seq
    assert flow.value("oracle_batch_records_sum") == len(records)
    assert flow.value("oracle_batch_records_count") == flow.seq.stats.batches
    assert flow.value("oracle_commit_seconds_count") == flow.seq.stats.batches
    assert flow.value("exchange_input_latency_seconds_count") == len(records)
    assert 0 < flow.value("oracle_bytes_written_total") == flow.journal.bytes_written  # type: ignore[operator]
    kinds = Counter(r.input[0] for r in records)
    for kind, n in kinds.items():
        assert flow.value("exchange_inputs_committed_total", kind=kind) == n
    marks = kinds["MarkPrice"]
    assert flow.value("sentinel_tick_seconds_count") == marks
    assert (
        sum(
            flow.value("price_feed_updates_total", symbol=s.symbol, source="sim") or 0
            for s in SPECS
        )
        == marks
    )


def test_checkpoint_gauges_follow_the_last_durable_checkpoint() -> None:
    run = Run(checkpoint_every=100)
    seen: list[float | None] = []
    deposits = [Deposit(0, 0, 1 + i % 7, "USDT", MONEY_ONE) for i in range(250)]
    run.execute(
        [*deposits[:99], lambda: seen.append(run.value("oracle_last_checkpoint_seq")),
         *deposits[99:]]
    )  # fmt: skip
    assert seen == [None]  # no checkpoint yet: no gauge (not a zero time)
    assert run.value("oracle_last_checkpoint_seq") == 200
    record = run.journal.read(200)
    assert record.checkpoint is not None
    assert run.value("oracle_last_checkpoint_timestamp_seconds") == record.ts / 1000


def test_titan_timing_samples_every_fourth_command_titan_applied(flow: Run) -> None:
    events = flow.events()
    new = sum(1 for e in events if type(e) is Accepted) + sum(
        1 for e in events if type(e) is Rejected and e.request == Request.NEW
    )
    assert flow.value("titan_match_seconds_count", command="NewOrder") == new // TITAN_SAMPLE
    assert flow.value("titan_match_seconds_sum", command="NewOrder") > 0  # type: ignore[operator]


def test_liquidations_and_fund_match_the_journal(flow: Run) -> None:
    events = flow.events()
    finished = [e for e in events if type(e) is LiquidationFinished]
    assert finished, "the 15% fall liquidates the demo longs"
    assert flow.value("sentinel_liquidation_loss_count", asset="USDT") == len(finished)
    total = sum(flow.value("sentinel_liquidations_total", symbol=s.symbol) or 0 for s in SPECS)
    assert total >= len(finished)
    assert flow.value("sentinel_insurance_fund", asset="USDT") == (
        flow.venue.ledger.fund_balance("USDT") / MONEY_ONE
    )


def test_liquidation_loss_is_the_isolated_margin_lost() -> None:
    """Golden: 10,000 USDT, 10x isolated, 0.5 BTC bought at 50,000 (margin 2,500 + what
    the fee left), then the mark falls 20%: the loss is the position's whole margin."""
    run = Run()
    usdt = 10_000 * MONEY_ONE
    seen: list[float | None] = []

    def before() -> None:
        seen.append(run.value("sentinel_liquidation_loss_count", asset="USDT"))
        seen.append(run.venue.ledger.position(2, "BTCUSDT").margin)  # type: ignore[union-attr]

    run.execute(
        [
            MarkPrice(0, 0, "BTCUSDT", 500_000),
            Deposit(0, 0, 1, "USDT", 10 * usdt),
            Deposit(0, 0, 2, "USDT", usdt),
            SetLeverage(0, 0, 2, "BTCUSDT", 10),
            SetMarginType(0, 0, 2, "BTCUSDT", True),
            NewOrder(0, 0, "BTCUSDT", 1, 0, Side.SELL, 500, 500_000),
            NewOrder(0, 0, "BTCUSDT", 2, 0, Side.BUY, 500, 0, OrderType.MARKET, TimeInForce.IOC),
            before,
            MarkPrice(0, 0, "BTCUSDT", 400_000),
        ]
    )
    assert seen[0] == 0
    margin = seen[1]
    assert margin is not None and margin > 2_400 * MONEY_ONE
    assert run.value("sentinel_liquidations_total", symbol="BTCUSDT") == 1
    assert run.value("sentinel_liquidations_total", symbol="ETHUSDT") == 0
    assert run.value("sentinel_liquidation_loss_count", asset="USDT") == 1
    assert run.value("sentinel_liquidation_loss_sum", asset="USDT") == margin / MONEY_ONE
    assert run.value("sentinel_mark_price", symbol="BTCUSDT") == 40_000.0
    # the book has no bid: the position went to the fund or, past its capacity, to ADL
    kinds = Counter(type(e).__name__ for e in run.events())
    assert kinds["InsuranceTakeover"] + kinds["AutoDeleveraged"] >= 1
    assert (
        run.value("sentinel_insurance_takeovers_total", symbol="BTCUSDT")
        == (kinds["InsuranceTakeover"])
    )
    assert run.value("sentinel_adl_total", symbol="BTCUSDT") == kinds["AutoDeleveraged"]


def _unit_wallets(venue: Venue) -> tuple[dict[Any, int], dict[Any, int]]:
    """(cross wallets by (account, asset), isolated margins by (account, symbol))."""
    s = venue.ledger
    wallets = {key: w.balance for key, w in s.wallets.items()}
    isolated = {
        (account, symbol): p.margin
        for symbol, holders in s.holders.items()
        for account, p in holders.items()
        if p.isolated
    }
    return wallets, isolated


@pytest.mark.parametrize("seed", range(8))
def test_liquidation_loss_is_the_units_wallet_in_random_markets(seed: int) -> None:
    """Random accounts (cross and isolated, 5x-50x) trade and the marks jump; the loss
    of every liquidation must be the unit's wallet just before it, found independently:
    the wallets before each command, brought forward through its events."""
    rnd = random.Random(seed)
    venue = Venue(CONTRACTS)
    t = Telemetry(CONTRACTS, "sim")
    specs = {c.spec.symbol: c.spec for c in CONTRACTS}
    prices = {"BTCUSDT": 500_000, "ETHUSDT": 300_000}
    seq = 0
    liquidations = cross = 0
    closed: Counter[str] = Counter()

    def do(cmd: Any) -> None:
        nonlocal seq, liquidations, cross
        seq += 1
        cmd = cmd._replace(seq=seq, ts=1_700_000_000_000 + seq)
        if type(cmd) is NewOrder:
            cmd = cmd._replace(order_id=seq)
        wallets, isolated = _unit_wallets(venue)
        before = t.loss["USDT"].total
        events = venue.apply(cmd)
        expected = 0
        for e in events:
            kind = type(e).__name__
            if kind == "BalanceChanged":
                wallets[(e.account, e.asset)] = e.balance
            elif kind in ("PositionChanged", "IsolatedMarginChanged"):
                if e.margin or (e.account, e.symbol) in isolated:
                    isolated[(e.account, e.symbol)] = e.margin
                if kind == "PositionChanged" and e.size == 0 and e.account == current[0]:
                    closed[e.symbol] += 1
            elif kind == "LiquidationStarted":
                current[0] = e.account
                liquidations += 1
                cross += not e.symbol
                if e.symbol:
                    expected += isolated[(e.account, e.symbol)]
                else:
                    expected += wallets[(e.account, e.asset)]
        current[0] = -1
        t.on_committed([Committed(seq, cmd.ts, cmd, events)])
        assert t.loss["USDT"].total - before == expected, (seed, seq)

    current = [-1]
    for symbol, price in prices.items():
        do(MarkPrice(0, 0, symbol, price))
    for account in range(1, 13):
        do(Deposit(0, 0, account, "USDT", rnd.choice([1_000, 5_000, 10**7]) * MONEY_ONE))
        for symbol in prices:
            do(SetLeverage(0, 0, account, symbol, rnd.choice([5, 10, 20, 50])))
            if rnd.random() < 0.4:
                do(SetMarginType(0, 0, account, symbol, True))
    for _ in range(400):
        symbol = rnd.choice(list(prices))
        spec, price = specs[symbol], prices[symbol]
        account, side = rnd.randint(1, 12), rnd.choice([Side.BUY, Side.SELL])
        qty = rnd.randint(1, 400) * spec.lot
        r = rnd.random()
        if r < 0.45:
            limit = max(
                spec.tick, (price + rnd.randint(-20, 20) * price // 2000) // spec.tick * spec.tick
            )
            do(NewOrder(0, 0, symbol, account, 0, side, qty, limit))
        elif r < 0.8:
            do(NewOrder(0, 0, symbol, account, 0, side, qty, 0, OrderType.MARKET, TimeInForce.IOC))
        else:
            move = rnd.choice([0.8, 0.9, 0.95, 1.05, 1.1, 1.2])
            prices[symbol] = max(spec.tick, int(price * move) // spec.tick * spec.tick)
            do(MarkPrice(0, 0, symbol, prices[symbol]))
    assert t.loss["USDT"].count == liquidations > 0
    assert {s: n for s, n in t.liquidations.items() if n} == dict(closed)
    if seed == 0:
        assert cross > 0  # cross liquidations are among them


def test_bad_inputs_never_grow_the_label_sets() -> None:
    run = Run()
    run.execute(
        [
            MarkPrice(0, 0, "NOPEUSDT", 500_000),
            MarkPrice(0, 0, "BTCUSDT", -5),
            MarkPrice(0, 0, "BTCUSDT", 500_000),
            NewOrder(0, 0, "BTCUSDT", 1, 0, Side.BUY, 1, 500_000, "FANCY"),  # type: ignore[arg-type]
            NewOrder(0, 0, "XYZ", 1, 0, Side.BUY, 1, 500_000),
        ]
    )
    assert run.value("price_feed_updates_total", symbol=UNKNOWN, source="sim") == 1
    assert run.value("price_feed_updates_total", symbol="BTCUSDT", source="sim") == 2
    assert run.value("sentinel_mark_price", symbol="BTCUSDT") == 50_000.0  # not -0.5
    labels = {
        (s.name, tuple(sorted(s.labels.items())))
        for family in run.registry.collect()
        for s in family.samples
    }
    for name, pairs in labels:
        for key, value in pairs:
            if key == "symbol":
                assert value in {"BTCUSDT", "ETHUSDT", UNKNOWN}, (name, value)
            if key == "type":
                assert value in {str(t) for t in OrderType}, (name, value)


# -- engine readings ----------------------------------------------------------------------


def test_engine_reading_matches_the_book_and_ledger(flow: Run) -> None:
    titan = flow.venue.titan
    reading = read_engines(flow.venue, 0.8)
    for spec in SPECS:
        book = titan.l3(spec.symbol)
        for side, key in (("BUY", "bids"), ("SELL", "asks")):
            orders = book[key]
            assert reading.resting_orders[(spec.symbol, side)] == len(orders)
            qty = sum(o.qty for o in orders) / 10**spec.qty_decimals
            assert reading.resting_qty[(spec.symbol, side)] == pytest.approx(qty)
        bid, ask = titan.best_bid(spec.symbol), titan.best_ask(spec.symbol)
        if bid is None or ask is None:  # the 15% fall's liquidations may empty a side
            assert spec.symbol not in reading.spread
            continue
        assert reading.spread[spec.symbol] == (ask.price - bid.price) / 10**spec.price_decimals
    s = flow.venue.ledger
    assert reading.accounts == len({a for a, _ in s.wallets if a != 0})
    units = [k for k in s.units() if s.unit_positions(k)]
    assert sum(reading.ratio_counts) == len(units) > 0
    holders = {k[0] for k in units}
    assert reading.accounts_with_positions == len(holders)
    assert read_engines(flow.venue, 1e-12).accounts_at_risk == len(holders)
    ratios = []
    for key in units:
        balance, mm = s.unit_state(key)
        ratios.append(mm / (balance * 10**8) if balance > 0 else math.inf)
    assert read_engines(flow.venue, 0.8).accounts_at_risk == len(
        {k[0] for k, r in zip(units, ratios, strict=True) if r >= 0.8}
    )


def test_scrape_reads_the_engines_on_their_loop_or_serves_the_last_reading() -> None:
    run = _flow_run(400)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        run.collector.attach(run.seq, None, loop)
        run.collector.sample_timeout = 0.3
        first = run.collector.reading()
        assert first is not None and first.accounts > 0
        assert run.value("sentinel_accounts") == first.accounts  # a scrape reads anew
        last = run.collector.reading()
        assert last is not first
        # the loop is busy inside a (very) large batch: the previous reading is served
        loop.call_soon_threadsafe(time.sleep, 1.0)
        started = time.monotonic()
        assert run.collector.reading() is last
        assert time.monotonic() - started < 0.9
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    assert run.collector.reading() is last  # a closed loop: the last reading


# -- start-up replay ---------------------------------------------------------------------


def test_replay_figures_follow_the_rebuild(flow: Run) -> None:
    t = Telemetry(CONTRACTS, "sim")
    built = rebuild(
        flow.journal,
        VenueFactory(),
        use_snapshots=False,  # the final snapshot would leave nothing to replay
        progress=t.replay_progress(time.perf_counter()),
        progress_every=100,
    )
    # from the first call (at seq 100) to the last (the largest multiple of 100)
    assert t.replay_records == built.replayed // 100 * 100 - 100 > 0
    t.replayed(built.replayed, built.seconds)
    registry = CollectorRegistry()
    registry.register(ExchangeCollector(t))
    assert registry.get_sample_value("oracle_replay_records_total") == built.replayed
    rate = registry.get_sample_value("oracle_replay_records_per_second")
    assert rate == pytest.approx(built.replayed / built.seconds)


def test_replay_counter_never_goes_down() -> None:
    """A replay from a snapshot at 9,000 to 10,499 calls back at seq 10,000 only; the
    counter must not overshoot and then drop to the exact 1,499."""
    t = Telemetry(CONTRACTS, "sim")
    seen = []
    progress = t.replay_progress(time.perf_counter())
    for seq in (10_000, 20_000, 30_000):
        progress(seq)
        seen.append(t.replay_records)
    t.replayed(21_499, 1.0)  # base 9,000: 21,499 records up to 30,499
    seen.append(t.replay_records)
    assert seen == sorted(seen) and seen[-1] == 21_499


# -- the endpoint ------------------------------------------------------------------------


@pytest.mark.external
@pytest.mark.slow_io
def test_endpoint_on_loopback_passes_promtool(flow: Run) -> None:
    promtool = require_tool("promtool")
    server = MetricsServer(0, flow.telemetry, "127.0.0.1")
    try:
        server.attach(flow.seq, None, None)  # type: ignore[arg-type]
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            text = r.read()
    finally:
        server.close()
    for name in (
        b"process_cpu_seconds_total",
        b"python_gc_objects_collected_total",
        b"titan_executions_total",
        b"oracle_commit_seconds_bucket",
        b"price_feed_updates_total",
    ):
        assert name in text
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check
    broken = text + b"# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n"
    check = subprocess.run([promtool, "check", "metrics"], input=broken, capture_output=True)
    assert check.returncode != 0 and b"_total" in check.stdout + check.stderr


def test_a_host_that_is_not_local_is_refused_with_oserror() -> None:
    with pytest.raises(OSError):
        MetricsServer(0, Telemetry(CONTRACTS, "sim"), "192.0.2.1")
