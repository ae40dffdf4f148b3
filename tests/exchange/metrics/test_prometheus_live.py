"""A real Prometheus scrapes two running platforms; every dashboard panel returns data.

Two ``exchange run`` processes on loopback: one on the simulated walk (moving fast
enough that the demo longs are liquidated), one on the Binance feed replayed from the
real recording by the local websocket server. Debian's ``prometheus`` scrapes both every
second. Then every query of every panel of every dashboard under
``platform/grafana/dashboards`` is evaluated against it, Grafana's variables substituted,
and each must return at least one finite value.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import ROOT, data_file
from helpers.tools import require_tool

DASHBOARDS = ROOT / "platform" / "grafana" / "dashboards"
RUN_FOR = 16.0  # seconds of scraping before the queries
#: Grafana's variables as the test substitutes them
VARIABLES = {
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval": "5s",
    "$__range": "1m",
    "${symbol:regex}": ".*",
    "${symbol}": ".*",
    "$symbol": ".*",
}


EXPOSITIONS: list[bytes] = []  # /metrics of the two platforms, taken by the fixture


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (all held open until every one is chosen)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _get(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _query(base: str, expr: str) -> Any:
    return _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))


def panel_queries() -> Iterator[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) of every target of every panel, rows included."""

    def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))

    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in walk(board["panels"]):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield path.name, panel.get("title", ""), target["expr"]


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    left = re.findall(r"\$\{?\w+", expr)
    assert not left, f"unknown Grafana variable {left} in {expr}"
    return expr


def _platform(args: list[str], tmp: Path, name: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ROCKSDB_PATH", "PROMETHEUS_PORT")}
    config = tmp / f"{name}.toml"
    config.write_text("[journal]\ncheckpoint_every = 200\nsnapshot_every = 2000\n")
    return subprocess.Popen(
        [sys.executable, "-m", "exchange", "run", "--config", str(config),
         "--journal", str(tmp / name), "--status-interval", "5", *args],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _wait_up(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus that has scraped both platforms for RUN_FOR seconds; its base URL.
    The Binance one replays the real recording (skipped without it)."""
    binary = require_tool("prometheus")
    data_file("binance/usdm_btcusdt_2023-04-04_streams.jsonl.gz")
    tmp = tmp_path_factory.mktemp("prom")
    procs: list[subprocess.Popen[str]] = []
    server = subprocess.Popen(
        [sys.executable, "-m", "exchange.feeds.replay_server", "--port", "0", "--quiet",
         "--live-times"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs.append(server)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("ws://127.0.0.1:"), url
        sim_port, binance_port, prom_port = _free_ports(3)
        procs.append(
            _platform(
                [
                    "--metrics-port",
                    str(sim_port),
                    "--step-interval",
                    "0.1",
                    "--volatility",
                    "0.02",
                    "--rate",
                    "400",
                ],
                tmp,
                "sim",
            )  # fmt: skip
        )
        procs.append(
            _platform(
                [
                    "--metrics-port",
                    str(binance_port),
                    "--feed",
                    "binance",
                    "--binance-url",
                    url,
                    "--symbols",
                    "BTCUSDT",
                    "--rate",
                    "200",
                ],
                tmp,
                "binance",
            )  # fmt: skip
        )
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: exchange\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{sim_port}', '127.0.0.1:{binance_port}']\n"
        )
        procs.append(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
        )
        deadline = time.monotonic() + 60
        for port in (sim_port, binance_port):
            _wait_up(f"http://127.0.0.1:{port}/metrics", deadline)
        base = f"http://127.0.0.1:{prom_port}"
        _wait_up(f"{base}/-/ready", deadline)
        time.sleep(RUN_FOR)
        for port in (sim_port, binance_port):  # both expositions, while they run
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                EXPOSITIONS.append(r.read())
        yield base
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        for proc in procs[1:3]:
            assert proc.returncode == 0, proc.stderr


@pytest.mark.external
@pytest.mark.slow_io
def test_prometheus_scrapes_both_platforms(prometheus: str) -> None:
    up = _query(prometheus, "up")["data"]["result"]
    assert len(up) == 2 and all(r["value"][1] == "1" for r in up), up
    sources = _query(prometheus, "sum by (source) (price_feed_updates_total)")["data"]["result"]
    assert {r["metric"]["source"] for r in sources} == {"sim", "binance"}
    # the fast walk liquidated the demo longs; the Binance marks are the recording's
    liquidations = _query(prometheus, "sum(sentinel_liquidations_total)")["data"]["result"]
    assert float(liquidations[0]["value"][1]) >= 1
    mark = _query(prometheus, 'sentinel_mark_price{symbol="BTCUSDT"}')["data"]["result"]
    assert any(28_000 < float(r["value"][1]) < 28_300 for r in mark), mark
    # with --live-times the replayed marks carry today's event times: latency in ms
    latency = _query(prometheus, 'sum(price_feed_latency_seconds_count{source="binance"})')["data"][
        "result"
    ]
    assert float(latency[0]["value"][1]) >= 5
    slow = _query(prometheus, 'sum(price_feed_latency_seconds_bucket{le="1.024"})')
    assert float(slow["data"]["result"][0]["value"][1]) == float(latency[0]["value"][1])


@pytest.mark.external
@pytest.mark.slow_io
def test_promtool_finds_nothing_in_either_exposition(prometheus: str) -> None:
    promtool = require_tool("promtool")
    assert len(EXPOSITIONS) == 2
    assert b"price_feed_latency_seconds_bucket" in EXPOSITIONS[1]  # the Binance platform's
    assert b"price_feed_simulated_price" in EXPOSITIONS[0]
    for text in EXPOSITIONS:
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30
        )
        assert (check.returncode, check.stdout, check.stderr) == (0, b"", b""), check


def test_dashboards_have_queries() -> None:
    queries = list(panel_queries())
    assert {q[0] for q in queries} >= {
        "overview.json", "titan.json", "sentinel.json", "oracle.json", "feed.json",
    }  # fmt: skip
    assert len(queries) > 40


@pytest.mark.external
@pytest.mark.slow_io
@pytest.mark.parametrize(("board", "title", "expr"), list(panel_queries()))
def test_every_panel_query_returns_data(prometheus: str, board: str, title: str, expr: str) -> None:
    answer = _query(prometheus, substitute(expr))
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    if answer["data"]["resultType"] == "scalar":
        result = [{"value": result}]
    values = [float(r["value"][1]) for r in result]
    assert any(math.isfinite(v) for v in values), f"{board} / {title}: no data for {expr}"


def readme_queries() -> list[str]:
    """The PromQL blocks of the README (the original's samples, rewritten)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```promql\n(.*?)```", text, re.S)
    return [
        " ".join(line for line in b.splitlines() if not line.lstrip().startswith("#")).strip()
        for b in blocks
    ]


def test_readme_has_the_original_sample_queries() -> None:
    queries = readme_queries()
    assert len(queries) >= 5
    for name in ("sentinel_liquidations_total", "sentinel_margin_ratio", "price_feed_updates_total",
                 "titan_executions_total", "_seconds_bucket"):  # fmt: skip
        assert any(name in q for q in queries), name


@pytest.mark.external
@pytest.mark.slow_io
@pytest.mark.parametrize("expr", readme_queries())
def test_readme_query_returns_data(prometheus: str, expr: str) -> None:
    answer = _query(prometheus, expr)
    assert answer["status"] == "success", answer
    values = [float(r["value"][1]) for r in answer["data"]["result"]]
    assert any(math.isfinite(v) for v in values), f"no data for {expr}"


@pytest.mark.external
@pytest.mark.slow_io
def test_the_renderer_draws_every_overview_panel_with_data(prometheus: str, tmp_path: Path) -> None:
    """platform/grafana/render.py (the README's picture) against the live Prometheus."""
    spec = importlib.util.spec_from_file_location("render", ROOT / "platform/grafana/render.py")
    assert spec is not None and spec.loader is not None
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    board = json.loads((DASHBOARDS / "overview.json").read_text())
    out = tmp_path / "overview.png"
    end = time.time()
    counts = render.render(prometheus, board, out, end - RUN_FOR, end, 1.0, width=1200)
    titles = {p["title"] for p in board["panels"] if p.get("targets")}
    assert set(counts) == titles
    assert all(counts[t] > 0 for t in titles), counts
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24])[0] == 1200  # IHDR width
