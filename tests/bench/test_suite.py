"""The peer benchmark suite: the neutral stream, the book checks, and one quick run of
``bench/suite.py`` with the real peers installed in their own environments.

Nothing here is timed: the figures come from ``make bench``. These tests prove the
suite measures what it says: every engine fed the same commands, every book checked,
a tampered book refused, every comparison and the chart produced.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import ROOT, data_file

PEERS = ROOT / "bench" / "peers"
sys.path.insert(0, str(PEERS))

from engines import TitanRunner  # noqa: E402
from match_worker import check_books  # noqa: E402
from stream import (  # noqa: E402
    CANCEL,
    NEW,
    Stream,
    derive,
    permissive_specs,
    titan_commands,
    verify,
)

from exchange.config.symbols import default_specs  # noqa: E402
from exchange.flow.synthetic import OrderFlow  # noqa: E402
from exchange.lobster.replay import build_commands  # noqa: E402
from titan import Accepted, Engine, Trade  # noqa: E402


def _synthetic(n: int = 3000, seed: int = 3) -> Stream:
    specs = default_specs()
    flow = OrderFlow(specs, seed=seed, deep_levels=2, deep_orders=200)
    return derive("synthetic", specs, flow.opening(), flow.take(n))


@pytest.fixture(scope="module")
def lobster() -> Stream:
    """The first 999 LOBSTER messages as a neutral stream (skipped without the file)."""
    flow = build_commands(
        data_file("lobster/AAPL_2012-06-21_first999_message.csv"),
        data_file("lobster/AAPL_2012-06-21_first999_orderbook_10.csv"),
    )
    return derive("lobster", [flow.spec], list(flow.seed), list(flow.commands))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stream_is_only_gtc_limits_and_cancels_of_resting_orders(seed: int) -> None:
    s = _synthetic(seed=seed)
    ids = [op[2] for op in s.seed + s.commands if op[0] == NEW]
    assert ids == list(range(1, len(ids) + 1))  # numbered as lightmatchingengine numbers
    assert {op[0] for op in s.commands} == {NEW, CANCEL}
    assert all(len(op) == 7 for op in s.commands if op[0] == NEW)
    assert s.source["commands"] == 3000
    verify(s)  # a fresh Titan: no rejection, every cancel cancels, the recorded book


def test_aggressive_orders_fill_completely(lobster: Stream) -> None:
    """LOBSTER's executions arrive as aggressive orders; in the stream each became a
    limit for exactly what it filled, so every order that trades leaves nothing resting."""
    engine = Engine(permissive_specs(lobster.symbols))
    crossing = 0
    for cmd in titan_commands(lobster, lobster.seed + lobster.commands, 1):
        events = engine.apply(cmd)
        if type(events[0]) is Accepted and any(type(e) is Trade for e in events):
            crossing += 1
            assert engine.order(cmd.order_id) is None, cmd
    assert crossing > 50


def test_verify_catches_a_dropped_cancel(lobster: Stream) -> None:
    i = next(i for i, op in enumerate(lobster.commands) if op[0] == CANCEL)
    broken = lobster._replace(commands=lobster.commands[:i] + lobster.commands[i + 1 :])
    with pytest.raises(AssertionError, match="L2 differs"):
        verify(broken)


def test_verify_catches_a_cancel_of_an_order_not_resting(lobster: Stream) -> None:
    i = next(i for i, op in enumerate(lobster.commands) if op[0] == CANCEL)
    broken = lobster._replace(commands=[*lobster.commands[: i + 1], lobster.commands[i]])
    with pytest.raises(AssertionError, match="rejected|did not cancel"):
        verify(broken)


def test_titan_runner_ends_in_the_recorded_book_and_a_wrong_book_is_refused(
    lobster: Stream,
) -> None:
    runner = TitanRunner(lobster)
    runner.fresh()
    assert runner.run() > len(lobster.commands)  # at least one event per command
    check_books(runner, lobster.books)
    symbol = lobster.symbols[0][0]
    bids, asks = lobster.books[symbol]
    tampered = {symbol: (bids, [(asks[0][0], asks[0][1] + 1), *asks[1:]])}
    with pytest.raises(AssertionError, match="ask level 0"):
        check_books(runner, tampered)
    with pytest.raises(AssertionError, match="bid levels"):
        check_books(runner, {symbol: (bids[:-1], asks)})


def test_stream_file_round_trip(tmp_path: Path, lobster: Stream) -> None:
    path = tmp_path / "s.stream"
    lobster.save(path)
    assert Stream.load(path) == lobster


# -- the suite itself, with the real peers ------------------------------------------


def _suite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "suite.py"), *args],
        cwd=ROOT.parent,
        capture_output=True,
        text=True,
        timeout=1500,
    )


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """One quick run of the peer parts: (results folder, environments folder, summary).
    Its LOBSTER flow is the hour file (skipped without it)."""
    data_file("lobster/AAPL_2012-06-21_0930-1030_message.csv")
    data_file("lobster/AAPL_2012-06-21_0930-1030_orderbook_1.csv")
    out = tmp_path_factory.mktemp("results")
    envs = tmp_path_factory.mktemp("envs")
    done = _suite("--quick", "--parts", "match,store,recovery", "--out", str(out), "--envs",
                  str(envs))  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return out, envs, summary


@pytest.mark.external
@pytest.mark.slow_io
def test_quick_suite_compares_every_peer(quick: tuple[Path, Path, dict[str, Any]]) -> None:
    out, _, summary = quick
    assert summary["failures"] == {}
    names = [r["comparison"] for r in summary["rows"]]
    for peer in ("matching-engine 0.1.1", "pyorderbook 0.4.9", "lightmatchingengine 2019.1.4"):
        for flow in ("lobster", "synthetic"):
            assert f"Titan vs {peer}, {flow}" in names
    assert sum("eventsourcing" in n for n in names) == 2
    assert sum("raw rocksdict" in n for n in names) == 2
    assert sum("matching-engine 0.1.1, full replay" in n for n in names) == 1
    for r in summary["rows"]:
        q = r["ratio"]
        assert 0 < q["min"] <= q["median"] <= q["max"], r
        assert r["met"] is None or r["met"] == (q["median"] >= r["target"])
    match = json.loads((out / "peers-match.json").read_text())
    assert len(match) == 6
    for row in match:
        assert row["books_checked"] is True
        assert row["titan_events"] > 0 and row["peer_events"] > 0
    me = [r for r in match if r["peer"] == "matching-engine"]
    assert all(r["python"].startswith("3.12") for r in me)  # Titan ran under 3.12 too
    assert all(r["titan_events"] == r["peer_events"] for r in me)  # same event model
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["table"][0].startswith("| comparison |")


@pytest.mark.external
@pytest.mark.slow_io
def test_worker_refuses_a_peer_that_ends_in_another_book(
    quick: tuple[Path, Path, dict[str, Any]], tmp_path: Path, lobster: Stream
) -> None:
    _, envs, _ = quick
    symbol = lobster.symbols[0][0]
    bids, asks = lobster.books[symbol]
    tampered = lobster._replace(books={symbol: (bids[1:], asks)})
    path = tmp_path / "tampered.stream"
    tampered.save(path)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(envs / "pyorderbook" / "bin" / "python"), str(PEERS / "match_worker.py"),
         "--stream", str(path), "--peer", "pyorderbook", "--repeat", "1"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1
    assert "books differ" in done.stderr and "titan" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow_io
def test_suite_rejects_an_unknown_part() -> None:
    done = _suite("--parts", "titan,warp")
    assert done.returncode == 2
    assert "unknown part(s) warp" in done.stderr
    assert "Traceback" not in done.stderr
