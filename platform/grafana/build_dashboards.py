#!/usr/bin/env python3
"""Write the Grafana dashboards in platform/grafana/dashboards/ from the tables below.

    python3 platform/grafana/build_dashboards.py           # rewrite the JSON files
    python3 platform/grafana/build_dashboards.py --check   # exit 1 naming any stale file

Plain python3, standard library only (no project import). Every query uses the metric
names of docs/metrics.md (histograms through ``_bucket``, ``_sum``, ``_count``) and
prometheus-client's ``process_*`` / ``python_*`` metrics; the only template variables are
``$symbol`` and Grafana's ``$__rate_interval``. Counters are summed over instances, so
two platforms scraped by one Prometheus still give one line per label set.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "exchange-prometheus"}  # provisioning/datasources
COLUMNS = 24
SYM = 'symbol=~"$symbol"'
RI = "$__rate_interval"

Target = tuple[str, str]  # (PromQL, legend format)


# --- PromQL shorthands --------------------------------------------------------------


def sel(metric: str, matcher: str = "") -> str:
    """``metric{matcher}`` (no braces without a matcher)."""
    return f"{metric}{{{matcher}}}" if matcher else metric


def rate(metric: str, matcher: str = "") -> str:
    return f"rate({sel(metric, matcher)}[{RI}])"


def sum_rate(metric: str, by: str = "", matcher: str = "") -> str:
    """Per-second rate of a counter, summed over instances (and all but ``by``)."""
    return _sum(by, rate(metric, matcher))


def per_minute(metric: str, by: str = "", matcher: str = "") -> str:
    """Increase over the last minute: readable for rare events such as liquidations."""
    return _sum(by, f"increase({sel(metric, matcher)}[1m])")


def quantile(q: float, histogram: str, by: str = "", matcher: str = "") -> str:
    """Quantile of a histogram's recent observations (rate of its buckets)."""
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) ({rate(histogram + '_bucket', matcher)}))"


def quantile_now(q: float, histogram: str, by: str = "") -> str:
    """Quantile of cumulative buckets (all observations since start, or a gauge histogram)."""
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) ({histogram}_bucket))"


def mean(histogram: str, by: str = "", matcher: str = "") -> str:
    num = sum_rate(histogram + "_sum", by, matcher)
    return f"{num} / {sum_rate(histogram + '_count', by, matcher)}"


def buckets(histogram: str, matcher: str = "") -> str:
    """Per-bucket rates for a heatmap (Grafana de-accumulates them with format=heatmap)."""
    return f"sum by (le) ({rate(histogram + '_bucket', matcher)})"


def by_reason(counter: str) -> str:
    """Per-reason rates (the exporter starts every known reason at 0)."""
    return sum_rate(counter, "reason")


def _sum(by: str, inner: str) -> str:
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def quantiles(histogram: str, qs: tuple[float, ...], by: str = "", m: str = "") -> list[Target]:
    prefix = "".join(f"{{{{{label.strip()}}}}} " for label in by.split(",")) if by else ""
    return [(quantile(q, histogram, by, m), f"{prefix}p{_pct(q)}") for q in qs]


def _pct(q: float) -> str:
    return f"{q * 100:g}"


# --- panels ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """One row of a dashboard table; ``kind`` is the Grafana panel type."""

    kind: str
    title: str
    unit: str
    targets: list[Target]
    w: int = 12
    h: int = 8
    opts: dict[str, Any] = field(default_factory=dict)


def ts(title: str, unit: str, *targets: Target, w: int = 12, **opts: Any) -> Panel:
    return Panel("timeseries", title, unit, list(targets), w, 8, opts)


def stat(title: str, unit: str, *targets: Target, w: int = 4, **opts: Any) -> Panel:
    return Panel("stat", title, unit, list(targets), w, 4, opts)


def gauge(title: str, unit: str, *targets: Target, w: int = 4, **opts: Any) -> Panel:
    return Panel("gauge", title, unit, list(targets), w, 8, opts)


def heatmap(title: str, unit: str, target: Target, **opts: Any) -> Panel:
    """A histogram's buckets over time, one panel per selected symbol (repeat)."""
    return Panel("heatmap", title, unit, [target], COLUMNS, 8, {"repeat": "symbol", **opts})


def bars(title: str, unit: str, target: Target, w: int = 12, **opts: Any) -> Panel:
    """Current bucket counts of a (gauge) histogram, one bar per bucket."""
    return Panel("bargauge", title, unit, [target], w, 8, opts)


UP_DOWN = [("red", None), ("green", 1)]
ZERO_OK = [("green", None), ("red", 1)]
AT_RISK = [("green", None), ("orange", 1)]
UP_DOWN_TEXT = {"0": ("down", "red"), "1": ("up", "green")}
# Feed latency needs the exchange's event time E: only the Binance feed has one.
NO_FEED_LATENCY = "No latency: simulated prices have no event time (--feed binance)"

# --- the dashboards -----------------------------------------------------------------
# fmt: off

OVERVIEW = [
    stat("Orders/s", "ops", (sum_rate("titan_orders_total", matcher=SYM), "orders"), w=3),
    stat("Executions/s", "ops", (sum_rate("titan_executions_total", matcher=SYM), "trades"), w=3),
    stat("Liquidations since start", "none",
         (f"sum(sentinel_liquidations_total{{{SYM}}})", "liquidations"), w=3),
    stat("Accounts at risk", "none", ("sentinel_accounts_at_risk", "at risk"), w=3,
         thresholds=AT_RISK),
    stat("Insurance fund", "currencyUSD", ("sentinel_insurance_fund", "{{asset}}"), w=3),
    stat("Journal commit p99", "s", (quantile(0.99, "oracle_commit_seconds"), "p99"), w=3),
    stat("Feed connected", "none", ("price_feed_connected", "{{source}}"), w=3,
         thresholds=UP_DOWN, mappings=UP_DOWN_TEXT, graph=False),
    stat("Feed healthy", "none", ("price_feed_healthy", "{{source}}"), w=3,
         thresholds=UP_DOWN, mappings=UP_DOWN_TEXT, graph=False),
    ts("Orders and executions/s", "ops",
       (sum_rate("titan_orders_total", "symbol", SYM), "{{symbol}} orders"),
       (sum_rate("titan_executions_total", "symbol", SYM), "{{symbol}} executions")),
    ts("Last price and mark price", "currencyUSD",
       (f"titan_last_price{{{SYM}}}", "{{symbol}} last"),
       (f"sentinel_mark_price{{{SYM}}}", "{{symbol}} mark")),
    ts("Spread (best ask - best bid)", "currencyUSD", (f"titan_spread{{{SYM}}}", "{{symbol}}")),
    ts("Liquidations per minute", "none",
       (per_minute("sentinel_liquidations_total", "symbol", SYM), "{{symbol}}"), min=0),
    ts("Accounts at risk", "none",
       ("sentinel_accounts_at_risk", "at risk (margin ratio >= warning level)"),
       ("sentinel_accounts_with_positions", "with positions"), min=0),
    ts("Insurance fund", "currencyUSD", ("sentinel_insurance_fund", "{{asset}}")),
    ts("Journal commit latency", "s",
       (quantile(0.99, "oracle_commit_seconds"), "p99"),
       (quantile(0.5, "oracle_commit_seconds"), "p50"), min=0),
    ts("Input latency (intake to durable)", "s",
       (quantile(0.99, "exchange_input_latency_seconds"), "p99"),
       (quantile(0.5, "exchange_input_latency_seconds"), "p50"), min=0),
    ts("Feed connected and healthy", "none",
       ("price_feed_connected", "connected ({{source}})"),
       ("price_feed_healthy", "healthy ({{source}})"), min=0, max=1),
    ts("Feed staleness (seconds since last update)", "s",
       (f"price_feed_stale_seconds{{{SYM}}}", "{{symbol}} ({{source}})"), min=0),
]

TITAN = [
    stat("Orders/s", "ops", (sum_rate("titan_orders_total", matcher=SYM), "orders")),
    stat("Executions/s", "ops", (sum_rate("titan_executions_total", matcher=SYM), "trades")),
    stat("Rejections/s", "ops", (sum_rate("titan_rejections_total"), "rejections")),
    stat("Traded quantity/s", "none",
         (sum_rate("titan_executed_quantity_total", "symbol", SYM), "{{symbol}}")),
    stat("Resting orders", "none", (f"sum by (symbol) (titan_resting_orders{{{SYM}}})",
                                    "{{symbol}}")),
    stat("Match p99", "s", (quantile(0.99, "titan_match_seconds"), "p99")),
    ts("Orders accepted by type", "ops",
       (sum_rate("titan_orders_total", "type", SYM), "{{type}}")),
    ts("Rejections by reason", "ops", (by_reason("titan_rejections_total"), "{{reason}}")),
    ts("Executions/s by symbol", "ops",
       (sum_rate("titan_executions_total", "symbol", SYM), "{{symbol}}")),
    ts("Traded volume (base units/s)", "none",
       (sum_rate("titan_executed_quantity_total", "symbol", SYM), "{{symbol}}")),
    ts("Execution price quantiles", "currencyUSD",
       *quantiles("titan_execution_price", (0.05, 0.5, 0.95), "symbol", SYM)),
    ts("Execution quantity quantiles (base units)", "none",
       *quantiles("titan_execution_quantity", (0.5, 0.99), "symbol", SYM),
       (mean("titan_execution_quantity", "symbol", SYM), "{{symbol}} mean")),
    heatmap("Execution price distribution: $symbol", "currencyUSD",
            (buckets("titan_execution_price", SYM), "{{le}}")),
    heatmap("Execution quantity distribution: $symbol", "none",
            (buckets("titan_execution_quantity", SYM), "{{le}}")),
    ts("Match latency p50 by command", "s",
       *quantiles("titan_match_seconds", (0.5,), "command"), min=0),
    ts("Match latency p99 by command", "s",
       *quantiles("titan_match_seconds", (0.99,), "command"), min=0),
    ts("Spread (best ask - best bid)", "currencyUSD", (f"titan_spread{{{SYM}}}", "{{symbol}}")),
    ts("Best bid, best ask and last price", "currencyUSD",
       (f"titan_best_bid_price{{{SYM}}}", "{{symbol}} bid"),
       (f"titan_best_ask_price{{{SYM}}}", "{{symbol}} ask"),
       (f"titan_last_price{{{SYM}}}", "{{symbol}} last")),
    ts("Resting orders per side", "none",
       (f"titan_resting_orders{{{SYM}}}", "{{symbol}} {{side}}"), min=0),
    ts("Resting quantity per side (base units)", "none",
       (f"titan_resting_quantity{{{SYM}}}", "{{symbol}} {{side}}"), min=0),
]

SENTINEL = [
    stat("Accounts", "none", ("sentinel_accounts", "accounts")),
    stat("With positions", "none", ("sentinel_accounts_with_positions", "with positions")),
    stat("At risk", "none", ("sentinel_accounts_at_risk", "at risk"), thresholds=AT_RISK),
    stat("Warning level (margin ratio)", "percentunit",
         ("sentinel_margin_ratio_warning", "warning level"), graph=False),
    stat("Insurance fund", "currencyUSD", ("sentinel_insurance_fund", "{{asset}}")),
    stat("Liquidations since start", "none",
         (f"sum(sentinel_liquidations_total{{{SYM}}})", "liquidations")),
    ts("Mark price", "currencyUSD", (f"sentinel_mark_price{{{SYM}}}", "{{symbol}}")),
    ts("Refusals by reason", "ops", (by_reason("sentinel_refusals_total"), "{{reason}}")),
    ts("Liquidations, takeovers and ADL per minute", "none",
       (per_minute("sentinel_liquidations_total", "symbol", SYM), "{{symbol}} liquidations"),
       (per_minute("sentinel_insurance_takeovers_total", "symbol", SYM), "{{symbol}} takeovers"),
       (per_minute("sentinel_adl_total", "symbol", SYM), "{{symbol}} ADL fills"), min=0),
    ts("Insurance fund", "currencyUSD", ("sentinel_insurance_fund", "{{asset}}")),
    ts("Liquidation loss quantiles (since start)", "currencyUSD",
       *[(quantile_now(q, "sentinel_liquidation_loss", "asset"), f"{{{{asset}}}} p{_pct(q)}")
         for q in (0.5, 0.9, 0.99)]),
    ts("Liquidation loss per minute", "currencyUSD",
       (per_minute("sentinel_liquidation_loss_sum", "asset"), "{{asset}} lost"), min=0),
    ts("Tick latency (one mark price)", "s",
       *quantiles("sentinel_tick_seconds", (0.5, 0.99)), min=0),
    ts("Accounts", "none",
       ("sentinel_accounts", "accounts"),
       ("sentinel_accounts_with_positions", "with positions"),
       ("sentinel_accounts_at_risk", "at risk"),
       ('sum(sentinel_margin_ratio_bucket{le="+Inf"})', "margin units with positions"), min=0),
    # sentinel_margin_ratio is a gauge histogram: its buckets are current counts, never rated.
    bars("Margin ratio distribution (margin units per bucket, now)", "none",
         ("sum by (le) (sentinel_margin_ratio_bucket)", "{{le}}"), w=10),
    gauge("Highest margin ratio (p99, now)", "percentunit",
          (quantile_now(0.99, "sentinel_margin_ratio"), "p99"), min=0, max=1,
          thresholds=[("green", None), ("orange", 0.8), ("red", 1)]),  # 0.8: default warning
    ts("Margin ratio quantiles and warning level", "percentunit",
       *[(quantile_now(q, "sentinel_margin_ratio"), f"p{_pct(q)}") for q in (0.5, 0.9, 0.99)],
       ("max(sentinel_margin_ratio_warning)", "warning level"), w=10, min=0),
]

ORACLE = [
    stat("Last committed seq", "none", ("oracle_last_committed_seq", "seq"), graph=False),
    stat("Last checkpoint seq", "none", ("oracle_last_checkpoint_seq", "seq"), graph=False),
    stat("Checkpoint age", "s", ("time() - oracle_last_checkpoint_timestamp_seconds", "age")),
    stat("Snapshots since start", "none", ("sum(oracle_snapshots_total)", "snapshots")),
    stat("Snapshot errors since start", "none", ("sum(oracle_snapshot_errors_total)", "errors"),
         thresholds=ZERO_OK),
    stat("Commit p99", "s", (quantile(0.99, "oracle_commit_seconds"), "p99")),
    ts("Records, events and group commits/s", "ops",
       (sum_rate("oracle_records_written_total"), "records"),
       (sum_rate("oracle_events_written_total"), "events"),
       (sum_rate("oracle_commit_seconds_count"), "group commits")),
    ts("Bytes written/s", "Bps", (sum_rate("oracle_bytes_written_total"), "bytes")),
    ts("Group commit latency", "s",
       *quantiles("oracle_commit_seconds", (0.5, 0.99, 0.999)), min=0),
    ts("Records per group commit", "none",
       *quantiles("oracle_batch_records", (0.5, 0.99)),
       (mean("oracle_batch_records"), "mean"), min=0),
    ts("Committed and checkpoint seq", "none",
       ("oracle_last_committed_seq", "last committed"),
       ("oracle_last_checkpoint_seq", "last checkpoint")),
    ts("Checkpoint age", "s", ("time() - oracle_last_checkpoint_timestamp_seconds", "age"), min=0),
    stat("Start-up replay: records", "none", ("oracle_replay_records_total", "records"),
         w=8, graph=False),
    stat("Start-up replay: throughput", "none",
         ("oracle_replay_records_per_second", "records/s"), w=8, graph=False),
    stat("Start-up replay: time", "s", ("oracle_replay_seconds", "seconds"), w=8, graph=False),
    ts("Snapshots and snapshot errors since start", "none",
       ("sum(oracle_snapshots_total)", "snapshots"),
       ("sum(oracle_snapshot_errors_total)", "errors"), w=24, min=0),
]

FEED_COUNTERS = [
    ("price_feed_malformed_frames_total", "malformed"),
    ("price_feed_unexpected_frames_total", "unexpected"),
    ("price_feed_stale_timeouts_total", "stale timeouts"),
    ("price_feed_refused_total", "refused"),
    ("price_feed_old_marks_total", "old marks"),
    ("price_feed_reconnects_total", "reconnects"),
]

FEED = [
    stat("Connected", "none", ("price_feed_connected", "{{source}}"),
         thresholds=UP_DOWN, mappings=UP_DOWN_TEXT, graph=False),
    stat("Healthy", "none", ("price_feed_healthy", "{{source}}"),
         thresholds=UP_DOWN, mappings=UP_DOWN_TEXT, graph=False),
    stat("Oldest update", "s",
         (f"max by (source) (price_feed_stale_seconds{{{SYM}}})", "{{source}}")),
    stat("Updates/s", "ops", (sum_rate("price_feed_updates_total", "source", SYM), "{{source}}")),
    stat("Latency p99", "s", (quantile(0.99, "price_feed_latency_seconds", "source"),
                              "{{source}}"), noValue=NO_FEED_LATENCY),
    stat("Reconnects since start", "none",
         ("sum by (source) (price_feed_reconnects_total)", "{{source}}"), thresholds=AT_RISK),
    ts("Mark price updates/s by symbol and source", "ops",
       (sum_rate("price_feed_updates_total", "symbol, source", SYM), "{{symbol}} ({{source}})")),
    ts("Latency (receipt time - event time E)", "s",
       *quantiles("price_feed_latency_seconds", (0.5, 0.99), "source"), noValue=NO_FEED_LATENCY),
    ts("Connected and healthy", "none",
       ("price_feed_connected", "connected ({{source}})"),
       ("price_feed_healthy", "healthy ({{source}})"), min=0, max=1),
    ts("Staleness (seconds since last update)", "s",
       (f"price_feed_stale_seconds{{{SYM}}}", "{{symbol}} ({{source}})"), min=0),
    ts("Frames received/s", "ops", (sum_rate("price_feed_frames_total", "source"), "{{source}}")),
    ts("Frame and mark problems/s", "ops",
       *[(sum_rate(name, "source"), f"{what} ({{{{source}}}})") for name, what in FEED_COUNTERS],
       min=0),
    stat("Feed counters since start", "none",
         ("sum by (source) (price_feed_frames_total)", "frames ({{source}})"),
         *[(f"sum by (source) ({name})", f"{what} ({{{{source}}}})")
           for name, what in FEED_COUNTERS], w=24, graph=False),
    ts("Simulated price (the walk's latest)", "currencyUSD",
       (f"price_feed_simulated_price{{{SYM}}}", "{{symbol}}"), w=24),
]

PROCESS = [
    stat("Inputs committed/s", "ops", (sum_rate("exchange_inputs_committed_total"), "inputs"),
         w=3),
    stat("Intake backlog", "none", ("exchange_intake_backlog", "{{instance}}"), w=3),
    stat("Input latency p99", "s", (quantile(0.99, "exchange_input_latency_seconds"), "p99"),
         w=3),
    stat("Intake refused since start", "none", ("sum(exchange_intake_refused_total)", "refused"),
         w=3, thresholds=AT_RISK),
    stat("Callback errors since start", "none",
         ("sum(exchange_callback_errors_total)", "errors"), w=3, thresholds=ZERO_OK),
    stat("Uptime", "s", ("time() - process_start_time_seconds", "{{instance}}"), w=3,
         graph=False),
    stat("Resident memory", "bytes", ("process_resident_memory_bytes", "{{instance}}"), w=3),
    stat("Python", "none", ("python_info", "{{implementation}} {{version}}"), w=3,
         graph=False, text="name"),
    ts("Inputs committed/s by kind", "ops",
       (sum_rate("exchange_inputs_committed_total", "kind"), "{{kind}}")),
    ts("Input latency (intake to durable)", "s",
       *quantiles("exchange_input_latency_seconds", (0.5, 0.99)), min=0),
    ts("Intake backlog", "none", ("exchange_intake_backlog", "{{instance}}"), min=0),
    ts("Intake refused and callback errors/s", "ops",
       (sum_rate("exchange_intake_refused_total"), "intake refused"),
       (sum_rate("exchange_callback_errors_total"), "callback errors"), min=0),
    ts("CPU (cores)", "percentunit", (rate("process_cpu_seconds_total"), "{{instance}}"), min=0),
    ts("Memory", "bytes",
       ("process_resident_memory_bytes", "resident ({{instance}})"),
       ("process_virtual_memory_bytes", "virtual ({{instance}})"), min=0),
    ts("Open file descriptors", "none", ("process_open_fds", "{{instance}}"), min=0),
    ts("GC collections/s by generation", "ops",
       (sum_rate("python_gc_collections_total", "generation"), "gen {{generation}}"), min=0),
    ts("GC objects/s by generation", "ops",
       (sum_rate("python_gc_objects_collected_total", "generation"),
        "collected gen {{generation}}"),
       (sum_rate("python_gc_objects_uncollectable_total", "generation"),
        "uncollectable gen {{generation}}"), w=24, min=0),
]

# fmt: on

# file stem -> (uid, title, uses $symbol, panels)
DASHBOARDS: dict[str, tuple[str, str, bool, list[Panel]]] = {
    "overview": ("exchange-overview", "Exchange: overview", True, OVERVIEW),
    "titan": ("exchange-titan", "Exchange: Titan (matching)", True, TITAN),
    "sentinel": ("exchange-sentinel", "Exchange: Sentinel (margin, liquidation)", True, SENTINEL),
    "oracle": ("exchange-oracle", "Exchange: Oracle (journal)", False, ORACLE),
    "feed": ("exchange-feed", "Exchange: price feed", True, FEED),
    "process": ("exchange-process", "Exchange: sequencer intake and process", False, PROCESS),
}

# --- JSON -------------------------------------------------------------------------------


def _thresholds(steps: list[tuple[str, float | None]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def _mappings(texts: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    options = {
        value: {"text": text, "color": color, "index": i}
        for i, (value, (text, color)) in enumerate(texts.items())
    }
    return [{"type": "value", "options": options}] if options else []


def _targets(p: Panel) -> list[dict[str, Any]]:
    instant = p.kind == "bargauge"
    out = []
    for i, (expr, legend) in enumerate(p.targets):
        target: dict[str, Any] = {
            "datasource": DS,
            "editorMode": "code",
            "expr": expr,
            "legendFormat": legend,
            "range": not instant,
            "instant": instant,
            "refId": chr(ord("A") + i),
        }
        if p.kind in ("heatmap", "bargauge"):
            target["format"] = "heatmap"  # sorted by le, cumulative buckets de-accumulated
        out.append(target)
    return out


def _field_config(p: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": p.unit,
        "thresholds": _thresholds(p.opts.get("thresholds", [("green", None)])),
        "mappings": _mappings(p.opts.get("mappings", {})),
    }
    for key in ("min", "max", "noValue"):
        if key in p.opts:
            defaults[key] = p.opts[key]
    if p.kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "gradientMode": "none",
            "showPoints": "never",
            "spanNulls": False,
            "axisPlacement": "auto",
        }
    elif p.kind == "heatmap":
        defaults["custom"] = {"scaleDistribution": {"type": "linear"}}
    else:
        defaults["color"] = {"mode": "thresholds"}
    return {"defaults": defaults, "overrides": []}


REDUCE = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def _options(p: Panel) -> dict[str, Any]:
    if p.kind == "timeseries":
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if p.kind == "stat":
        return {
            "reduceOptions": REDUCE,
            "colorMode": "value",
            "graphMode": "area" if p.opts.get("graph", True) else "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": p.opts.get("text", "auto"),
            "wideLayout": True,
            "showPercentChange": False,
        }
    if p.kind == "gauge":
        return {
            "reduceOptions": REDUCE,
            "orientation": "auto",
            "showThresholdLabels": False,
            "showThresholdMarkers": True,
        }
    if p.kind == "bargauge":
        return {
            "reduceOptions": REDUCE,
            "displayMode": "gradient",
            "orientation": "vertical",
            "valueMode": "color",
            "showUnfilled": True,
            "namePlacement": "auto",
            "sizing": "auto",
        }
    if p.kind == "heatmap":
        return {
            "calculate": False,
            "cellGap": 1,
            "color": {
                "mode": "scheme",
                "scheme": "Oranges",
                "fill": "dark-orange",
                "scale": "exponential",
                "exponent": 0.5,
                "steps": 64,
                "reverse": False,
            },
            "filterValues": {"le": 1e-9},
            "rowsFrame": {"layout": "auto"},
            "yAxis": {"axisPlacement": "left", "unit": p.unit, "reverse": False},
            "cellValues": {"unit": "ops"},
            "tooltip": {"mode": "single", "yHistogram": True, "showColorScale": False},
            "legend": {"show": True},
            "showValue": "never",
            "exemplars": {"color": "rgba(255,0,255,0.7)"},
        }
    raise ValueError(f"unknown panel type {p.kind}")


def _panels(panels: list[Panel]) -> list[dict[str, Any]]:
    """Lay the panels out left to right on the 24-column grid, wrapping as needed."""
    out = []
    x = y = line_h = 0
    for pid, p in enumerate(panels, start=1):
        if not 0 < p.w <= COLUMNS:
            raise ValueError(f"{p.title}: width {p.w}")
        if x + p.w > COLUMNS:
            x, y, line_h = 0, y + line_h, 0
        panel: dict[str, Any] = {
            "id": pid,
            "type": p.kind,
            "title": p.title,
            "datasource": DS,
            "gridPos": {"h": p.h, "w": p.w, "x": x, "y": y},
            "fieldConfig": _field_config(p),
            "options": _options(p),
            "targets": _targets(p),
        }
        if "repeat" in p.opts:
            panel.update(repeat=p.opts["repeat"], repeatDirection="h", maxPerRow=2)
        out.append(panel)
        x += p.w
        line_h = max(line_h, p.h)
    return out


SYMBOL_VARIABLE = {
    "name": "symbol",
    "label": "Symbol",
    "type": "query",
    "datasource": DS,
    "definition": "label_values(sentinel_mark_price, symbol)",
    "query": {
        "query": "label_values(sentinel_mark_price, symbol)",
        "refId": "PrometheusVariableQueryEditor-VariableQuery",
    },
    "multi": True,
    "includeAll": True,
    "allValue": ".*",
    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    "options": [],
    "refresh": 2,
    "regex": "",
    "sort": 1,
    "hide": 0,
}


def dashboard(uid: str, title: str, uses_symbol: bool, panels: list[Panel]) -> dict[str, Any]:
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "tags": ["exchange"],
        "description": "Generated by platform/grafana/build_dashboards.py: edit that, not this.",
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "graphTooltip": 1,
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "timepicker": {"refresh_intervals": ["1s", "5s", "10s", "30s", "1m", "5m"]},
        "timezone": "browser",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "title": "Exchange dashboards",
                "type": "dashboards",
                "tags": ["exchange"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": [SYMBOL_VARIABLE] if uses_symbol else []},
        "panels": _panels(panels),
    }


def render() -> dict[str, str]:
    """File name -> the JSON text it should hold."""
    return {
        f"{stem}.json": json.dumps(dashboard(*spec), indent=2, ensure_ascii=False) + "\n"
        for stem, spec in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    files = render()
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (OUT / name).is_file() or (OUT / name).read_text(encoding="utf-8") != text
        ]
        extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in files)
        for name in stale:
            print(f"stale: {OUT / name} (run python3 {Path(__file__).name})", file=sys.stderr)
        for name in extra:
            print(f"not generated: {OUT / name} (remove it)", file=sys.stderr)
        return 1 if stale or extra else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
