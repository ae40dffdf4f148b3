"""Prometheus metrics of the running platform, read at scrape time.

Nothing here runs on the sequencer's hot path: a custom collector reads the
sequencer's, the feed's and the venue's counters when Prometheus scrapes, so the
engines pay nothing per input. Counters count only durable work (what the sequencer
committed). Names follow Prometheus conventions (base units, ``_total`` counters).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exchange.sequencer import Sequencer
from sentinel.units import MONEY_ONE


class PlatformCollector(Collector):
    """Sequencer, journal, feed and venue figures, computed when scraped."""

    def __init__(self, seq: Sequencer, platform: Any) -> None:
        self.seq = seq
        self.platform = platform

    def collect(self) -> Iterator[Metric]:
        st = self.seq.stats
        c = CounterMetricFamily(
            "exchange_inputs_committed", "Inputs made durable, by kind", labels=["kind"]
        )
        for kind, n in sorted(st.inputs_by_kind.items()):
            c.add_metric([kind], n)
        yield c
        yield CounterMetricFamily(
            "exchange_intake_refused", "Inputs refused because the intake was full",
            value=st.refused_full,
        )  # fmt: skip
        yield CounterMetricFamily(
            "oracle_batches_committed", "Group commits made durable", value=st.batches
        )
        yield CounterMetricFamily(
            "oracle_commit_seconds", "Time spent in group commits", value=st.commit_seconds_total
        )
        yield CounterMetricFamily("oracle_snapshots", "Snapshots stored", value=st.snapshots)
        yield GaugeMetricFamily(
            "oracle_durable_seq", "Last durable seq", value=self.seq.durable_seq
        )
        yield GaugeMetricFamily("exchange_intake_backlog", "Inputs waiting", value=self.seq.backlog)
        yield CounterMetricFamily(
            "sentinel_liquidations", "Liquidations (durable)", value=self.platform.liquidations
        )
        fund = GaugeMetricFamily(
            "sentinel_insurance_fund", "Insurance fund balance (durable)", labels=["asset"]
        )
        for asset, balance in sorted(self.platform.fund.items()):
            fund.add_metric([asset], balance / MONEY_ONE)
        yield fund
        mark = GaugeMetricFamily("titan_mark_price", "Mark price (durable)", labels=["symbol"])
        for symbol, price in sorted(self.platform.marks.items()):
            mark.add_metric([symbol], price)
        yield mark
        feed = getattr(self.platform, "feed", None)
        if feed is not None:  # the Binance feed
            fs = feed.stats
            for name, doc, value in (
                ("binance_feed_frames", "Frames received", fs.frames),
                ("binance_feed_marks", "Mark prices parsed", fs.marks),
                ("binance_feed_malformed", "Malformed frames", fs.malformed),
                ("binance_feed_unexpected", "Unexpected frames", fs.unexpected),
                ("binance_feed_reconnects", "Reconnections", fs.reconnects),
                ("binance_feed_stale_timeouts", "Streams silent too long", fs.stale_timeouts),
            ):
                yield CounterMetricFamily(name, doc, value=value)
            yield GaugeMetricFamily(
                "binance_feed_latency_seconds",
                "Receipt time minus event time E of the last mark",
                value=float("nan") if fs.latency_last is None else fs.latency_last,
            )
            yield GaugeMetricFamily(
                "binance_feed_healthy",
                "1 while the feed is live and fresh",
                value=int(feed.healthy),
            )


class MetricsServer:
    """The ``/metrics`` HTTP endpoint; ``port`` is the bound port (useful with port 0).

    It is bound first (a taken port is refused before anything else starts) and serves
    the platform's figures once :meth:`attach` is called.
    """

    def __init__(self, port: int) -> None:
        self.registry = CollectorRegistry()
        self._server, self._thread = start_http_server(port, addr="0.0.0.0", registry=self.registry)
        self.port: int = self._server.server_port

    def attach(self, seq: Sequencer, platform: Any) -> None:
        """Serve the platform collector from now on."""
        self.registry.register(PlatformCollector(seq, platform))

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(port: int, seq: Sequencer, platform: Any) -> MetricsServer:
    """Serve ``/metrics`` for the platform on ``port`` (0: any free port)."""
    server = MetricsServer(port)
    server.attach(seq, platform)
    return server
