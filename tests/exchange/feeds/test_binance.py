"""The Binance mark-price feed against a real local websockets server replaying real frames.

No mocks: :class:`exchange.feeds.replay_server.ReplayServer` serves the frames recorded from
Binance USDⓈ-M (../shared/data/binance) over 127.0.0.1, with scripted faults, and the real
:class:`exchange.feeds.binance.BinanceMarkFeed` connects to it. Expected marks are read straight
from the recording file, not through the server's loader. pytest-asyncio is not used:
each test drives its own loop with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import itertools
import json
import random
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from helpers.paths import BINANCE, ROOT
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from exchange.feeds.binance import (
    DEFAULT_BASE_URL,
    BinanceMarkFeed,
    MarkUpdate,
    backoff_delay,
    parse_frame,
    stream_url,
)
from exchange.feeds.replay_server import (
    GARBAGE_PAYLOADS,
    Fault,
    Recording,
    ReplayServer,
    parse_fault,
    split_fragments,
)

STREAMS_2023 = BINANCE / "usdm_btcusdt_2023-04-04_streams.jsonl.gz"
RECORDING_2021 = BINANCE / "usdm_2021-07-22_ws_recording.txt"
# every test is skipped, naming the file, without the recordings (failed under CI=true);
# nearly all of them run the server on loopback
pytestmark = [pytest.mark.data(STREAMS_2023, RECORDING_2021), pytest.mark.slow_io]

MARK_PATH = "/market/stream?streams=btcusdt@markPrice@1s"
ACK = '{"result":null,"id":1}'
# speed 100: the recording's 1 s mark cadence becomes 10 ms.
SPEED = 100.0

Mark = tuple[str, str, str, int]  # symbol, price, funding rate, E


@functools.cache
def recording() -> Recording:
    return Recording.load(STREAMS_2023)


@functools.cache
def recorded_mark_lines() -> tuple[str, ...]:
    """The markPrice frames of the 2023 file, read directly (text after the µs stamp)."""
    lines = []
    with gzip.open(STREAMS_2023, "rt", encoding="utf-8") as fh:
        for line in fh:
            _stamp, text = line.rstrip("\n").split(" ", 1)
            if json.loads(text).get("data", {}).get("e") == "markPriceUpdate":
                lines.append(text)
    return tuple(lines)


def recorded_marks() -> list[Mark]:
    out = []
    for text in recorded_mark_lines():
        d = json.loads(text)["data"]
        out.append((d["s"], d["p"], d["r"], d["E"]))
    return out


def fields(marks: Sequence[MarkUpdate]) -> list[Mark]:
    return [(m.symbol, m.price, m.funding_rate, m.event_time_ms) for m in marks]


def quick_feed(url: str, marks: list[MarkUpdate], **overrides: Any) -> BinanceMarkFeed:
    """A feed with test-sized timeouts; ``overrides`` replace any of them."""
    kwargs: dict[str, Any] = {
        "base_url": url,
        "proxy": None,
        "ping_interval": 0.2,
        "ping_timeout": 1.0,
        "open_timeout": 2.0,
        "close_timeout": 1.0,
        "stale_after": 1.0,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "rng": random.Random(1),
    }
    kwargs.update(overrides)
    symbols = kwargs.pop("symbols", ["BTCUSDT"])
    return BinanceMarkFeed(symbols, marks.append, **kwargs)


Until = Callable[[BinanceMarkFeed, ReplayServer, list[MarkUpdate]], object]


def run_feed(
    until: Until,
    *,
    server_kwargs: dict[str, Any] | None = None,
    feed_kwargs: dict[str, Any] | None = None,
    timeout: float = 5.0,
) -> tuple[BinanceMarkFeed, ReplayServer, list[MarkUpdate]]:
    """Serve, run a feed until ``until(...)`` holds, stop it; return what happened."""

    async def main() -> tuple[BinanceMarkFeed, ReplayServer, list[MarkUpdate]]:
        skw = {"speed": SPEED, **(server_kwargs or {})}
        recording_ = skw.pop("recording", recording())
        async with ReplayServer(recording_, **skw) as server:
            marks: list[MarkUpdate] = []
            feed = quick_feed(server.url, marks, **(feed_kwargs or {}))
            task = asyncio.create_task(feed.run())
            try:
                await server.wait_for(lambda: until(feed, server, marks), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"condition not met in {timeout} s: {feed.stats} {server.connections}"
                ) from None
            finally:
                feed.stop()
                await asyncio.wait_for(task, 3.0)
            assert feed.state == "stopped"
        return feed, server, marks

    return asyncio.run(main())


# -- frames and URLs ----------------------------------------------------------------------


def test_stream_url_appends_the_routed_path_to_any_base() -> None:
    assert DEFAULT_BASE_URL == "wss://fstream.binance.com"
    assert stream_url(["BTCUSDT"]) == DEFAULT_BASE_URL + MARK_PATH
    assert (
        stream_url(["BTCUSDT", "ethusdt"], "ws://127.0.0.1:9/")
        == "ws://127.0.0.1:9/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s"
    )
    feed = BinanceMarkFeed(["btcusdt", "BTCUSDT"], lambda m: None, base_url="ws://h:1")
    assert feed.symbols == ("BTCUSDT",)
    assert feed.url == "ws://h:1" + MARK_PATH
    with pytest.raises(ValueError):
        BinanceMarkFeed([], lambda m: None)
    with pytest.raises(ValueError):
        BinanceMarkFeed(["BTC/USDT"], lambda m: None)


def test_parse_frame_combined_bare_and_rejections() -> None:
    text = recorded_mark_lines()[0]
    data = json.loads(text)["data"]
    btc = frozenset({"BTCUSDT"})
    expected = MarkUpdate("BTCUSDT", data["p"], data["r"], data["E"], 7)
    assert parse_frame(text, btc, 7) == parse_frame(text.encode(), btc, 7)
    assert parse_frame(text, btc, 7).mark == expected
    bare = json.dumps(data)
    assert parse_frame(bare, btc, 7).mark == expected
    lower = json.dumps({**data, "s": "btcusdt"})
    assert parse_frame(lower, btc, 7).mark == expected
    # Delivery contracts carry "r": "" (no funding): delivered as "0".
    delivery = parse_frame(json.dumps({**data, "r": ""}), btc, 7).mark
    assert delivery is not None and delivery.funding_rate == "0"
    negative = parse_frame(json.dumps({**data, "r": "-0.00010000"}), btc, 7).mark
    assert negative is not None and negative.funding_rate == "-0.00010000"
    assert parse_frame(ACK, btc, 7).detail == "ack"
    assert parse_frame(text, frozenset({"ETHUSDT"}), 7).kind == "unexpected"
    other_stream = json.dumps({"stream": "btcusdt@markPrice", "data": data})
    assert parse_frame(other_stream, btc, 7).detail == "stream"
    for junk in GARBAGE_PAYLOADS:
        assert parse_frame(junk, btc, 7).kind == "malformed", junk[:80]


def test_server_sends_the_recorded_text_unchanged() -> None:
    """Combined paths get the recorded lines byte-for-byte; /ws/ gets the data object."""

    async def main() -> tuple[list[str | bytes], list[str | bytes], int]:
        async with ReplayServer(recording(), speed=SPEED) as server:
            async with connect(server.url + "/stream?streams=BTCUSDT@markPrice@1s") as ws:
                combined = [await ws.recv() for _ in range(5)]
            async with connect(server.url + "/ws/btcusdt@markPrice@1s") as ws:
                raw = [await ws.recv() for _ in range(3)]
            with pytest.raises(InvalidStatus) as refused:
                await connect(server.url + "/nothing/here")
            return combined, raw, refused.value.response.status_code

    combined, raw, status = asyncio.run(main())
    lines = recorded_mark_lines()
    assert combined == list(lines[:5])
    for got, line in zip(raw, lines, strict=False):
        assert isinstance(got, str) and got in line
        assert json.loads(got) == json.loads(line)["data"]
    assert status == 404


# -- normal delivery ----------------------------------------------------------------------


def test_marks_match_the_recording_with_latency() -> None:
    latencies: list[float] = []
    healthy_seen: list[bool] = []

    def until(feed: BinanceMarkFeed, server: ReplayServer, marks: list[MarkUpdate]) -> bool:
        healthy_seen.append(feed.healthy)
        return len(marks) >= 30

    feed, server, marks = run_feed(until, feed_kwargs={"on_latency": latencies.append})
    expected = recorded_marks()
    assert fields(marks) == expected[: len(marks)]
    assert feed.url == server.url + MARK_PATH
    assert [c.path for c in server.connections] == [MARK_PATH]
    stats = feed.stats
    assert stats.connects == 1 and stats.reconnects == 0
    assert stats.marks == stats.frames == len(marks) == len(latencies)
    assert stats.malformed == stats.unexpected == stats.stale_timeouts == 0
    assert stats.connection_errors == {}
    assert stats.last_mark_ns == {"BTCUSDT": marks[-1].received_ns}
    assert all(a.received_ns <= b.received_ns for a, b in itertools.pairwise(marks))
    last = marks[-1]
    assert latencies == [m.received_ns / 1e9 - m.event_time_ms / 1e3 for m in marks]
    assert latencies[-1] == pytest.approx(last.received_ns / 1e9 - last.event_time_ms / 1e3)
    assert True in healthy_seen and not feed.healthy
    assert server.connections[0].close_code == 1000


def test_recording_loops_with_event_times_shifted() -> None:
    _, server, marks = run_feed(
        lambda f, s, m: len(m) >= 130, server_kwargs={"speed": 2000.0}, timeout=8.0
    )
    expected = recorded_marks()
    n = len(expected)
    shift_ms = recording().period_us // 1000
    assert fields(marks[:n]) == expected
    for i, mark in enumerate(marks[n:130]):
        symbol, price, rate, event_ms = expected[i]
        assert (mark.symbol, mark.price, mark.funding_rate) == (symbol, price, rate)
        assert mark.event_time_ms == event_ms + shift_ms
    times = [m.event_time_ms for m in marks]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert server.connections[0].marks_sent >= 130


def test_live_times_keep_the_recorded_latency_on_todays_clock() -> None:
    """With live_times the marks keep the recording's prices; each E moves by (sent now -
    received when recorded): the latency seen is the recorded one (tens of ms), not
    years, also at speed 10, where the spans between marks shrink tenfold."""
    _, _, marks = run_feed(
        lambda f, s, m: len(m) >= 3, server_kwargs={"speed": 10.0, "live_times": True}
    )
    frames = [f for f in recording().frames if f.event == "markPriceUpdate"][:3]
    recorded = [(f.recv_us / 1e3 - json.loads(f.text)["data"]["E"]) for f in frames]
    assert [(m.symbol, m.price, m.funding_rate) for m in marks] == [
        e[:3] for e in recorded_marks()[:3]
    ]
    for mark, then in zip(marks, recorded, strict=True):
        now = mark.received_ns / 1e6 - mark.event_time_ms
        assert abs(now - then) < 60, (now, then)  # ms: the local hop and loop jitter
    for (a, b), (fa, fb), (la, lb) in zip(
        itertools.pairwise(marks), itertools.pairwise(frames), itertools.pairwise(recorded),
        strict=True,
    ):  # fmt: skip
        gap = b.event_time_ms - a.event_time_ms
        assert abs(gap - ((fb.recv_us - fa.recv_us) / 1e4 - (lb - la))) <= 2


# -- faults -------------------------------------------------------------------------------


def test_dropped_connection_reconnects_and_replays() -> None:
    def until(feed: BinanceMarkFeed, server: ReplayServer, marks: list[MarkUpdate]) -> bool:
        return len(server.connections) >= 2 and len(marks) >= 6

    feed, server, marks = run_feed(until, server_kwargs={"faults": [[Fault("drop", 3)]]})
    first, second = server.connections[:2]
    assert (first.ended_by, first.frames_sent, first.close_code) == ("drop", 3, 1006)
    assert feed.stats.connection_errors == {"1006": 1}
    assert feed.stats.reconnects == 1 and len(server.connections) == 2
    expected = recorded_marks()
    assert fields(marks[:3]) == expected[:3]
    assert fields(marks[3:]) == expected[: len(marks) - 3]  # connection 2 starts over
    assert second.close_code == 1000


def test_silent_connection_answering_pings_trips_the_watchdog() -> None:
    stale_after = 0.5

    def until(feed: BinanceMarkFeed, server: ReplayServer, marks: list[MarkUpdate]) -> bool:
        return len(server.connections) >= 2 and len(marks) >= 4

    feed, server, marks = run_feed(
        until,
        server_kwargs={"faults": [[Fault("silent", 2)]]},
        feed_kwargs={"ping_interval": 0.05, "ping_timeout": 0.3, "stale_after": stale_after},
    )
    first = server.connections[0]
    assert feed.stats.stale_timeouts == 1
    assert first.frames_sent == 2 and first.faults_applied == ["silent"]
    # The socket stayed alive: pings kept coming and were answered (no keepalive timeout,
    # which would close with 1011 / show up as a connection error).
    assert first.pings_received >= 4
    assert feed.stats.connection_errors == {}
    assert first.close_code == 1000 and (first.close_reason or "").startswith("stale")
    assert first.closed_at is not None and first.last_sent_at is not None
    assert first.closed_at - first.last_sent_at >= stale_after * 0.9
    expected = recorded_marks()
    assert fields(marks) == expected[:2] + expected[: len(marks) - 2]


def test_garbage_is_counted_and_the_connection_carries_on() -> None:
    feed, server, marks = run_feed(
        lambda f, s, m: len(m) >= 6, server_kwargs={"faults": [[Fault("garbage", 2)]]}
    )
    stats = feed.stats
    assert stats.malformed == len(GARBAGE_PAYLOADS) == server.connections[0].junk_sent
    assert stats.connects == 1 and stats.connection_errors == {}
    assert stats.frames == stats.marks + stats.malformed
    assert fields(marks) == recorded_marks()[: len(marks)]


def test_split_frames_are_reassembled() -> None:
    text = recorded_mark_lines()[1]
    pieces = split_fragments(text, reencode=True)
    assert len(pieces) >= 6
    assert any(p.endswith(b"\\u0") for p in pieces)  # cut inside the \u escape

    def decodes(piece: bytes) -> bool:
        try:
            piece.decode()
        except UnicodeDecodeError:
            return False
        return True

    assert not all(decodes(p) for p in pieces)  # cut inside a multi-byte character
    assert b"".join(split_fragments(text, reencode=False)) == text.encode()

    faults = [[Fault("split", 1), Fault("split", 3, reencode=False)]]
    feed, server, marks = run_feed(lambda f, s, m: len(m) >= 5, server_kwargs={"faults": faults})
    assert fields(marks) == recorded_marks()[: len(marks)]
    assert feed.stats.malformed == feed.stats.unexpected == 0
    assert feed.stats.connects == 1
    assert server.connections[0].faults_applied == ["split", "split"]
    assert server.connections[0].fragments_sent >= 10


@pytest.mark.parametrize(("healthy_after", "attempts"), [(0.0, [0, 0]), (1e9, [0, 1])])
def test_close_with_error_codes_reconnects(healthy_after: float, attempts: list[int]) -> None:
    faults = [
        [Fault("close_error", 2, code=1011, reason="internal")],
        [Fault("close_error", 2, code=4000, reason="custom")],
    ]

    def until(feed: BinanceMarkFeed, server: ReplayServer, marks: list[MarkUpdate]) -> bool:
        return len(server.connections) >= 3 and len(marks) >= 6

    feed, server, marks = run_feed(
        until,
        server_kwargs={"faults": faults},
        feed_kwargs={"healthy_after": healthy_after, "rng": random.Random(5)},
    )
    assert feed.stats.connection_errors == {"1011": 1, "4000": 1}
    assert feed.stats.connects == 3 and feed.stats.reconnects == 2
    assert [c.ended_by for c in server.connections] == ["close_error", "close_error", "client"]
    expected = recorded_marks()
    assert fields(marks) == expected[:2] * 2 + expected[: len(marks) - 4]
    # After a healthy connection the backoff starts over; otherwise it grows.
    rng = random.Random(5)
    schedule = [backoff_delay(a, initial=0.01, maximum=0.05, rng=rng) for a in attempts]
    assert list(feed.stats.backoff_history) == schedule


def test_one_quiet_symbol_does_not_grow_the_backoff() -> None:
    """ETHUSDT never gets a mark (the recording holds BTCUSDT only): the watchdog closes
    each connection after ``stale_after``, but BTCUSDT was fresh, so every reconnect is
    a first attempt and BTCUSDT's marks keep coming."""

    def until(feed: BinanceMarkFeed, server: ReplayServer, marks: list[MarkUpdate]) -> bool:
        return len(server.connections) >= 4

    feed, server, marks = run_feed(
        until,
        feed_kwargs={
            "symbols": ["BTCUSDT", "ETHUSDT"],
            "stale_after": 0.4,
            "healthy_after": 1e9,
            "rng": random.Random(7),
        },
        timeout=10.0,
    )
    assert feed.stats.stale_timeouts >= 3
    history = list(feed.stats.backoff_history)
    rng = random.Random(7)
    assert history == [
        backoff_delay(0, initial=0.01, maximum=0.05, rng=rng) for _ in history
    ]  # attempt 0 every time: nothing grew
    assert {m.symbol for m in marks} == {"BTCUSDT"} and len(marks) >= 4


# -- backoff ------------------------------------------------------------------------------


def test_backoff_schedule_grows_is_jittered_and_capped() -> None:
    def schedule(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [backoff_delay(n, initial=0.1, maximum=2.0, rng=rng) for n in range(10)]

    delays = schedule(42)
    assert delays == schedule(42)
    assert delays != schedule(43)
    for n, delay in enumerate(delays):
        cap = min(2.0, 0.1 * 2**n)
        assert cap / 2 <= delay <= cap
    assert delays[:5] == sorted(delays[:5])  # never shrinks while the cap doubles
    assert len({round(d / min(2.0, 0.1 * 2**n), 9) for n, d in enumerate(delays)}) > 1
    assert 1.0 <= backoff_delay(10_000, initial=0.1, maximum=2.0, rng=random.Random(0)) <= 2.0
    with pytest.raises(ValueError):
        backoff_delay(-1, initial=0.1, maximum=2.0, rng=random.Random(0))


def test_refused_connections_back_off_on_the_seeded_schedule() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused

    async def main() -> tuple[BinanceMarkFeed, set[str]]:
        marks: list[MarkUpdate] = []
        feed = quick_feed(f"ws://127.0.0.1:{port}", marks, backoff_max=0.08, rng=random.Random(3))
        states: set[str] = set()
        task = asyncio.create_task(feed.run())
        async with asyncio.timeout(5):
            while feed.stats.connect_attempts < 6:
                states.add(feed.state)
                await asyncio.sleep(0.001)
        feed.stop()
        async with asyncio.timeout(1):
            await task
        assert not marks
        return feed, states

    feed, states = asyncio.run(main())
    history = list(feed.stats.backoff_history)
    rng = random.Random(3)
    assert history == [
        backoff_delay(n, initial=0.01, maximum=0.08, rng=rng) for n in range(len(history))
    ]
    assert len(history) >= 5 and history[4] > history[0]
    assert feed.stats.connection_errors["ConnectionRefusedError"] >= 5
    assert feed.stats.connects == 0 and not feed.healthy
    assert "backoff" in states and feed.state == "stopped"


# -- proactive reconnect ------------------------------------------------------------------


def test_proactive_reconnect_closes_the_old_socket_first() -> None:
    age = 0.25

    def until(feed: BinanceMarkFeed, server: ReplayServer, marks: list[MarkUpdate]) -> bool:
        return len(server.connections) >= 3 and server.connections[2].marks_sent >= 1

    feed, server, marks = run_feed(until, feed_kwargs={"max_connection_age": age})
    conns = server.connections
    assert feed.stats.proactive_reconnects >= 2
    assert feed.stats.connection_errors == {} and feed.stats.stale_timeouts == 0
    assert not feed.stats.backoff_history  # no backoff for a planned reconnect
    for old, new in itertools.pairwise(conns[:3]):
        assert old.close_code == 1000 and old.close_reason == "max connection age"
        assert old.closed_at is not None and new.first_mark_at is not None
        assert old.closed_at <= new.opened_at < new.first_mark_at
        assert old.closed_at - old.opened_at >= age * 0.9
    assert len(marks) >= conns[0].marks_sent + conns[1].marks_sent


# -- unexpected frames --------------------------------------------------------------------


def test_unexpected_frames_are_counted_and_not_fatal() -> None:
    """2023 trade/bookTicker/depth and 2021 aggTrade/bookTicker frames, plus an ack."""
    merged = Recording.load(STREAMS_2023, RECORDING_2021)

    def until(feed: BinanceMarkFeed, server: ReplayServer, marks: list[MarkUpdate]) -> bool:
        kinds = feed.stats.unexpected_kinds
        return len(marks) >= 3 and "event aggTrade" in kinds and "event bookTicker" in kinds

    feed, server, marks = run_feed(
        until,
        server_kwargs={
            "recording": merged,
            "speed": 20.0,
            "filter_streams": False,
            "faults": [[Fault("inject", 0, payloads=(ACK,))]],
        },
    )
    stats = feed.stats
    assert stats.unexpected_kinds["ack"] == 1
    assert stats.unexpected_kinds["event aggTrade"] >= 1  # only in the 2021 recording
    assert stats.unexpected_kinds["event trade"] >= 1  # only in the 2023 recording
    assert stats.malformed == 0 and stats.connects == 1 and stats.connection_errors == {}
    assert stats.frames == stats.marks + stats.unexpected
    assert fields(marks) == recorded_marks()[: len(marks)]
    assert server.connections[0].events_sent["aggTrade"] >= 1


def test_marks_of_unsubscribed_symbols_are_unexpected() -> None:
    feed, _, marks = run_feed(
        lambda f, s, m: f.stats.unexpected_kinds.get("symbol", 0) >= 3,
        server_kwargs={"filter_streams": False},
        feed_kwargs={"symbols": ["ETHUSDT"], "stale_after": 5.0},
    )
    assert not marks and feed.stats.marks == 0
    assert feed.stats.connects == 1 and feed.stats.malformed == 0


# -- closing ------------------------------------------------------------------------------


def test_stop_and_cancel_close_the_socket_cleanly() -> None:
    async def main() -> tuple[ReplayServer, BinanceMarkFeed, BinanceMarkFeed, bool]:
        async with ReplayServer(recording(), speed=SPEED) as server:
            marks: list[MarkUpdate] = []
            stopped = quick_feed(server.url, marks)
            task = asyncio.create_task(stopped.run())
            await server.wait_for(lambda: len(marks) >= 2)
            stopped.stop()
            async with asyncio.timeout(1):
                await task
            with pytest.raises(RuntimeError):
                await stopped.run()  # a feed runs once

            cancelled = quick_feed(server.url, marks)
            task = asyncio.create_task(cancelled.run())
            await server.wait_for(lambda: len(marks) >= 4)
            task.cancel()
            async with asyncio.timeout(1):
                with pytest.raises(asyncio.CancelledError):
                    await task
            await server.wait_for(lambda: server.connections[1].closed_at is not None)
        return server, stopped, cancelled, task.cancelled()

    server, stopped, cancelled, was_cancelled = asyncio.run(main())
    first, second = server.connections
    assert (first.close_code, first.close_reason, first.ended_by) == (1000, "client stop", "client")
    assert second.close_code == 1000 and second.ended_by == "client"
    assert stopped.state == cancelled.state == "stopped" and was_cancelled
    assert stopped.stats.connection_errors == cancelled.stats.connection_errors == {}


# -- the script ---------------------------------------------------------------------------


def test_parse_fault_specs() -> None:
    assert parse_fault("2:close_error:3:4000") == (2, Fault("close_error", 3, code=4000))
    assert parse_fault("1:silent:5:1.5") == (1, Fault("silent", 5, duration=1.5))
    assert parse_fault("1:split::raw") == (1, Fault("split", 0, reencode=False))
    assert parse_fault("3:drop") == (3, Fault("drop"))
    for bad in ("drop", "0:drop", "1:explode", "1:drop:x", "1:drop:1:2", "1:inject"):
        with pytest.raises(ValueError):
            parse_fault(bad)


def _read_first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        return proc.stdout.readline().strip()
    finally:
        timer.cancel()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_script_prints_its_url_and_exits_cleanly_on_signal(signum: signal.Signals) -> None:
    command = [sys.executable, "-m", "exchange.feeds.replay_server", "--port", "0"]
    command += ["--speed", str(SPEED), "--fault", "1:close_error:2:4000"]
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = _read_first_line(proc, 10.0)
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+", url), url

        async def main() -> BinanceMarkFeed:
            marks: list[MarkUpdate] = []
            feed = quick_feed(url, marks)
            task = asyncio.create_task(feed.run())
            async with asyncio.timeout(5):
                while len(marks) < 4:
                    await asyncio.sleep(0.005)
            feed.stop()
            await task
            assert fields(marks) == recorded_marks()[:2] + recorded_marks()[: len(marks) - 2]
            return feed

        feed = asyncio.run(main())
        assert feed.stats.connection_errors == {"4000": 1}
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "connection 1" in stderr  # the per-connection log goes to stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "0"], "--speed 0.0 must be more than 0"),
        (["--recording", "/nonexistent/recording.txt"], "No such file"),
        (["--port", "99999"], "--port 99999 is not a port number"),
        (["--fault", "1:meteor"], "error:"),
    ],
)
def test_script_refuses_bad_flags_in_one_line(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exchange.feeds.replay_server", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and message in proc.stderr
    assert "Traceback" not in proc.stderr
