"""The Prometheus exporter: every component's metrics at ``/metrics`` (docs/metrics.md).

- One explicit :class:`CollectorRegistry` per server (tests make their own), holding
  prometheus-client's process, platform and GC collectors and :class:`ExchangeCollector`.
- :class:`ExchangeCollector` builds every family when scraped from three sources: the
  :class:`~exchange.metrics.telemetry.Telemetry` counters (durable records and timings), the
  sequencer's and journal's counters, and a reading of the engines' state
  (:func:`read_engines`) taken on the sequencer's loop between two batches, so the
  engines are never read while they change. If the loop does not answer within
  ``sample_timeout`` seconds the previous reading is served.
- Nothing here runs per input: the engines pay only for Telemetry's counting.
- The exporter's thread reads dicts the loop may grow (a symbol's first price): it takes
  a copy first (``list(d.items())`` and ``sorted(d.items())`` copy in one C call under
  the GIL), never iterates a live dict in Python bytecode.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from exchange.feeds.status import FeedStatus
from exchange.metrics.telemetry import Telemetry
from exchange.runtime.buckets import Buckets
from exchange.runtime.sequencer import Sequencer
from sentinel.ledger import FUND
from sentinel.units import MONEY_ONE, RATE_ONE
from titan.enums import Side
from venue.venue import Venue

log = logging.getLogger("exchange.metrics.exporter")
NS = 1e9  # ns per second
#: upper bounds of the margin-ratio distribution (maintenance / margin balance)
RATIO_BOUNDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def histogram_family(
    name: str,
    doc: str,
    labels: Sequence[str],
    series: Iterable[tuple[Sequence[str], Buckets]],
    unit: float | Mapping[str, float] = 1,
) -> HistogramMetricFamily:
    """A Prometheus histogram family from labelled :class:`Buckets` (values / ``unit``;
    a mapping gives each series its unit by its first label value, e.g. per symbol)."""
    family = HistogramMetricFamily(name, doc, labels=list(labels))
    for values, hist in series:
        buckets, total = hist.cumulative(unit if not isinstance(unit, Mapping) else unit[values[0]])
        family.add_metric(list(values), buckets=buckets, sum_value=total)
    return family


@dataclass
class EngineReading:
    """The engines' state at one moment (prices in quote units, quantities in base)."""

    best_bid: dict[str, float] = field(default_factory=dict)
    best_ask: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    last_price: dict[str, float] = field(default_factory=dict)
    resting_orders: dict[tuple[str, str], int] = field(default_factory=dict)
    resting_qty: dict[tuple[str, str], float] = field(default_factory=dict)
    accounts: int = 0
    accounts_with_positions: int = 0
    accounts_at_risk: int = 0
    ratio_counts: list[int] = field(default_factory=lambda: [0] * (len(RATIO_BOUNDS) + 1))
    ratio_sum: float = 0.0


def read_engines(venue: Venue, warning: float) -> EngineReading:
    """Book tops and depth per symbol; accounts, accounts at risk (a margin unit at
    ratio >= ``warning``) and the margin ratio of every unit holding positions."""
    r = EngineReading()
    titan = venue.titan
    for symbol in titan.symbols:
        spec = titan.spec(symbol)
        price = 10**spec.price_decimals
        qty = 10**spec.qty_decimals
        bid, ask = titan.best_bid(symbol), titan.best_ask(symbol)
        if bid is not None:
            r.best_bid[symbol] = bid.price / price
        if ask is not None:
            r.best_ask[symbol] = ask.price / price
            if bid is not None:
                r.spread[symbol] = (ask.price - bid.price) / price
        last = titan.last_price(symbol)
        if last:
            r.last_price[symbol] = last / price
        book = titan.book(symbol)
        for side in (Side.BUY, Side.SELL):
            orders = open_qty = 0
            for level in book.levels(side):
                orders += level.count
                open_qty += level.qty
            r.resting_orders[(symbol, side.value)] = orders
            r.resting_qty[(symbol, side.value)] = open_qty / qty
    s = venue.ledger
    owners = {account for account, _ in s.wallets if account != FUND}
    r.accounts = len(owners)
    holding: set[int] = set()
    risky: set[int] = set()
    for key in s.units():
        positions = s.unit_positions(key)
        if not positions:
            continue
        holding.add(key[0])
        balance, mm_scaled = s.unit_state(key, positions)
        ratio = mm_scaled / (balance * RATE_ONE) if balance > 0 else math.inf
        r.ratio_counts[_bucket(ratio)] += 1
        if ratio != math.inf:
            r.ratio_sum += ratio
        if ratio >= warning:
            risky.add(key[0])
    r.accounts_with_positions = len(holding)
    r.accounts_at_risk = len(risky)
    return r


def _bucket(ratio: float) -> int:
    for i, bound in enumerate(RATIO_BOUNDS):
        if ratio <= bound:
            return i
    return len(RATIO_BOUNDS)


class ExchangeCollector(Collector):
    """Every component's metrics, built at scrape time (see the module docstring)."""

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        seq: Sequencer | None = None,
        prices: FeedStatus | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        warning: float = 0.8,
        sample_timeout: float = 0.5,
    ) -> None:
        self.t = telemetry
        self.seq = seq
        self.prices = prices
        self.loop = loop
        self.warning = warning
        self.sample_timeout = sample_timeout
        self._reading: EngineReading | None = None

    def attach(
        self, seq: Sequencer, prices: FeedStatus | None, loop: asyncio.AbstractEventLoop
    ) -> None:
        """Serve the sequencer's, the price source's and the engines' figures from now on."""
        self.prices = prices
        self.loop = loop
        self.seq = seq

    def reading(self) -> EngineReading | None:
        """A fresh engine reading taken on the loop, or the previous one."""
        seq, loop = self.seq, self.loop
        if seq is None or loop is None:
            return self._reading
        if loop.is_closed() or not loop.is_running():
            return self._reading
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:  # called from the loop itself: nothing runs meanwhile
            self._reading = read_engines(seq.venue, self.warning)
            return self._reading
        future: concurrent.futures.Future[EngineReading] = concurrent.futures.Future()

        def take() -> None:
            if not future.set_running_or_notify_cancel():
                return  # the scrape gave up waiting: no reading for nobody
            try:
                future.set_result(read_engines(seq.venue, self.warning))
            except Exception as exc:  # a bug in the reader: never the engines' problem
                future.set_exception(exc)

        try:
            loop.call_soon_threadsafe(take)
            self._reading = future.result(self.sample_timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()  # the loop is inside a large batch: serve the previous reading
        except RuntimeError:
            pass  # the loop closed meanwhile
        except Exception:
            log.warning("reading the engines for /metrics failed", exc_info=True)
        return self._reading

    def collect(self) -> Iterator[Metric]:
        yield from self._titan()
        yield from self._sentinel()
        yield from self._oracle()
        yield from self._sequencer()
        yield from self._feed()
        reading = self.reading()
        if reading is not None:
            yield from self._engine_gauges(reading)

    # -- families -----------------------------------------------------------------------

    def _titan(self) -> Iterator[Metric]:
        t = self.t
        orders = CounterMetricFamily(
            "titan_orders", "Orders Titan accepted, by symbol and type", labels=["symbol", "type"]
        )
        for (symbol, kind), n in sorted(t.orders.items()):
            orders.add_metric([symbol, str(kind)], n)
        yield orders
        yield _by_label(
            "titan_rejections",
            "Requests Titan rejected, by reason",
            "reason",
            {str(r): n for r, n in list(t.rejections.items())},
        )
        sizes = sorted(t.trade_qty.items())  # every trade is one observation of its size
        qty_units = {s: t.qty_unit(s) for s, _ in sizes}
        yield _by_label("titan_executions", "Trades", "symbol", {s: h.count for s, h in sizes})
        yield _by_label(
            "titan_executed_quantity",
            "Traded quantity in base units",
            "symbol",
            {s: h.total / qty_units[s] for s, h in sizes},
        )
        prices = sorted(t.trade_price.items())
        yield histogram_family(
            "titan_execution_price",
            "Trade prices in quote units",
            ["symbol"],
            (([s], h) for s, h in prices),
            {s: t.price_unit(s) for s, _ in prices},
        )
        yield histogram_family(
            "titan_execution_quantity",
            "Trade sizes in base units",
            ["symbol"],
            (([s], h) for s, h in sizes),
            qty_units,
        )
        yield histogram_family(
            "titan_match_seconds",
            "Time Titan takes to apply one command, by command",
            ["command"],
            (([name], h) for name, h in sorted(t.match.items())),
            NS,
        )

    def _sentinel(self) -> Iterator[Metric]:
        t = self.t
        yield _by_label(
            "sentinel_mark_price",
            "Last durable mark price in quote units",
            "symbol",
            {s: p / t.price_unit(s) for s, p in list(t.marks.items())},
            gauge=True,
        )
        yield _by_label(
            "sentinel_refusals",
            "Requests Sentinel refused, by reason",
            "reason",
            {str(r): n for r, n in list(t.refusals.items())},
        )
        yield _by_label("sentinel_liquidations", "Positions liquidated", "symbol", t.liquidations)
        yield histogram_family(
            "sentinel_liquidation_loss",
            "What a liquidated account lost in one liquidation, in the margin asset",
            ["asset"],
            (([a], h) for a, h in sorted(t.loss.items())),
            MONEY_ONE,
        )
        yield _by_label(
            "sentinel_insurance_takeovers",
            "Positions or parts of them the insurance fund took over",
            "symbol",
            t.takeovers,
        )
        yield _by_label("sentinel_adl", "Auto-deleveraging fills", "symbol", t.adl)
        yield _by_label(
            "sentinel_insurance_fund",
            "Insurance fund balance (durable), in the asset",
            "asset",
            {a: b / MONEY_ONE for a, b in list(t.fund.items())},
            gauge=True,
        )
        yield histogram_family(
            "sentinel_tick_seconds",
            "Time to process one mark price (revaluation, funding, liquidations)",
            [],
            [([], t.tick)],
            NS,
        )
        yield GaugeMetricFamily(
            "sentinel_margin_ratio_warning",
            "Margin ratio at which an account counts as at risk",
            value=self.warning,
        )

    def _oracle(self) -> Iterator[Metric]:
        t = self.t
        yield CounterMetricFamily(
            "oracle_events_written", "Events inside the appended records", value=t.events
        )
        yield CounterMetricFamily(
            "oracle_replay_records",
            "Records replayed while rebuilding the venue at start-up",
            value=t.replay_records,
        )
        yield GaugeMetricFamily(
            "oracle_replay_seconds", "Time the start-up replay has taken", value=t.replay_seconds
        )
        yield GaugeMetricFamily(
            "oracle_replay_records_per_second",
            "Throughput of the start-up replay",
            value=t.replay_records / t.replay_seconds if t.replay_seconds > 0 else 0.0,
        )
        seq = self.seq
        if seq is None:
            return
        st = seq.stats
        yield CounterMetricFamily("oracle_records_written", "Records appended", value=st.committed)
        yield CounterMetricFamily(
            "oracle_bytes_written",
            "Bytes of records appended (keys, bodies, chain hashes)",
            value=seq.journal.bytes_written,
        )
        hists = st.histograms
        if hists is not None:
            yield histogram_family(
                "oracle_batch_records", "Records per group commit", [], [([], hists.batch_records)]
            )
            yield histogram_family(
                "oracle_commit_seconds",
                "Time of one group commit (encode, hash, write, fsync)",
                [],
                [([], hists.commit_ns)],
                NS,
            )
        yield GaugeMetricFamily(
            "oracle_last_committed_seq", "Last durable seq", value=seq.durable_seq
        )
        if st.last_checkpoint_seq:  # absent until this process commits one
            yield GaugeMetricFamily(
                "oracle_last_checkpoint_seq",
                "Seq of the last durable record carrying a state hash",
                value=st.last_checkpoint_seq,
            )
            yield GaugeMetricFamily(
                "oracle_last_checkpoint_timestamp_seconds",
                "Time of that record, Unix seconds",
                value=st.last_checkpoint_ts / 1000,
            )
        yield CounterMetricFamily("oracle_snapshots", "Snapshots stored", value=st.snapshots)
        yield CounterMetricFamily(
            "oracle_snapshot_errors", "Snapshots that could not be stored", value=st.snapshot_errors
        )

    def _sequencer(self) -> Iterator[Metric]:
        seq = self.seq
        if seq is None:
            return
        st = seq.stats
        yield _by_label(
            "exchange_inputs_committed", "Durable inputs by command", "kind", st.inputs_by_kind
        )
        yield CounterMetricFamily(
            "exchange_intake_refused",
            "Inputs refused because the intake was full",
            value=st.refused_full,
        )
        yield GaugeMetricFamily("exchange_intake_backlog", "Inputs waiting", value=seq.backlog)
        yield CounterMetricFamily(
            "exchange_callback_errors",
            "Acknowledgements or subscribers that raised",
            value=st.callback_errors,
        )
        if st.histograms is not None:
            yield histogram_family(
                "exchange_input_latency_seconds",
                "Intake to durable, per input",
                [],
                [([], st.histograms.input_latency)],
                NS,
            )

    def _feed(self) -> Iterator[Metric]:
        t = self.t
        source = t.source
        updates = CounterMetricFamily(
            "price_feed_updates", "Durable mark prices", labels=["symbol", "source"]
        )
        for symbol, n in sorted(t.updates.items()):
            updates.add_metric([symbol, source], n)
        yield updates
        now = time.monotonic()
        stale = GaugeMetricFamily(
            "price_feed_stale_seconds",
            "Seconds since the symbol's last update reached the platform",
            labels=["symbol", "source"],
        )
        for symbol, when in sorted(t.last_update.items()):
            stale.add_metric([symbol, source], now - when)
        yield stale
        prices = self.prices
        feed = prices.feed if prices is not None else None
        walk = prices.walk if prices is not None else None
        if feed is not None:
            fs = feed.stats
            connected, healthy = int(feed.state == "live"), int(feed.healthy)
            counts = {
                "reconnects": fs.reconnects,
                "frames": fs.frames,
                "malformed_frames": fs.malformed,
                "unexpected_frames": fs.unexpected,
                "stale_timeouts": fs.stale_timeouts,
            }
            yield histogram_family(
                "price_feed_latency_seconds",
                "Receipt time minus the Binance event time E",
                ["source"],
                [([source], t.feed_latency)],
            )
        else:
            running = walk is not None
            connected = healthy = int(running)
            counts = dict.fromkeys(
                ("reconnects", "frames", "malformed_frames", "unexpected_frames", "stale_timeouts"),
                0,
            )
        counts["refused"] = prices.refused if prices is not None else 0
        counts["old_marks"] = prices.old if prices is not None else 0
        if prices is not None:
            yield _single("price_feed_connected", "1 while connected", source, connected, True)
            yield _single(
                "price_feed_healthy",
                "1 while connected and every symbol fresh",
                source,
                healthy,
                True,
            )
            docs = {
                "reconnects": "Reconnections",
                "frames": "Websocket frames received",
                "malformed_frames": "Frames that could not be parsed",
                "unexpected_frames": "Well-formed frames that are not mark prices",
                "stale_timeouts": "Connections dropped because a symbol went silent",
                "refused": "Marks the full intake refused",
                "old_marks": "Marks skipped as not newer than the last",
            }
            for name, value in counts.items():
                yield _single(f"price_feed_{name}", docs[name], source, value, False)
        if walk is not None:
            yield _by_label(
                "price_feed_simulated_price",
                "The simulated walk's latest price in quote units",
                "symbol",
                {s: p / t.price_unit(s) for s, p in list(walk.last.items())},
                gauge=True,
            )

    def _engine_gauges(self, r: EngineReading) -> Iterator[Metric]:
        yield _by_label("titan_spread", "Best ask minus best bid", "symbol", r.spread, gauge=True)
        yield _by_label("titan_best_bid_price", "Best bid", "symbol", r.best_bid, gauge=True)
        yield _by_label("titan_best_ask_price", "Best ask", "symbol", r.best_ask, gauge=True)
        yield _by_label("titan_last_price", "Last trade price", "symbol", r.last_price, gauge=True)
        for name, doc, values in (
            ("titan_resting_orders", "Resting limit orders", r.resting_orders),
            (
                "titan_resting_quantity",
                "Open quantity of resting orders, base units",
                r.resting_qty,
            ),
        ):
            g = GaugeMetricFamily(name, doc, labels=["symbol", "side"])
            for (symbol, side), value in sorted(values.items()):
                g.add_metric([symbol, side], value)
            yield g
        yield GaugeMetricFamily(
            "sentinel_accounts", "Accounts with a wallet (the fund excluded)", value=r.accounts
        )
        yield GaugeMetricFamily(
            "sentinel_accounts_with_positions",
            "Accounts holding a position",
            value=r.accounts_with_positions,
        )
        yield GaugeMetricFamily(
            "sentinel_accounts_at_risk",
            "Accounts with a margin unit at or above the warning margin ratio",
            value=r.accounts_at_risk,
        )
        buckets = []
        running = 0
        for bound, n in zip(RATIO_BOUNDS, r.ratio_counts, strict=False):
            running += n
            buckets.append((repr(bound), float(running)))
        buckets.append(("+Inf", float(running + r.ratio_counts[-1])))
        yield GaugeHistogramMetricFamily(
            "sentinel_margin_ratio",
            "Margin ratios of the margin units holding positions",
            buckets=buckets,
            gsum_value=r.ratio_sum,
        )


def _by_label(
    name: str, doc: str, label: str, values: dict[str, Any], gauge: bool = False
) -> Metric:
    family: Metric
    if gauge:
        family = GaugeMetricFamily(name, doc, labels=[label])
    else:
        family = CounterMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)  # type: ignore[attr-defined]
    return family


def _single(name: str, doc: str, source: str, value: float, gauge: bool) -> Metric:
    return _by_label(name, doc, "source", {source: value}, gauge)


class MetricsServer:
    """The ``/metrics`` HTTP endpoint on ``host:port``; ``port`` is the bound port.

    It is bound first (a taken port is refused before anything else starts) and serves
    the process collectors and the telemetry at once (start-up replay progress), the
    sequencer's and engines' figures once :meth:`attach` is called.
    """

    def __init__(self, port: int, telemetry: Telemetry, host: str = "127.0.0.1", *,
                 warning: float = 0.8) -> None:  # fmt: skip
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.collector = ExchangeCollector(telemetry, warning=warning)
        self.registry.register(self.collector)
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        self.host = host
        self.port: int = self._server.server_port

    def attach(
        self, seq: Sequencer, prices: FeedStatus | None, loop: asyncio.AbstractEventLoop
    ) -> None:
        """Serve the sequencer's, the price source's and the engines' figures from now on."""
        self.collector.attach(seq, prices, loop)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
