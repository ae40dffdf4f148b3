"""Binance USDⓈ-M mark-price feed: a robust asyncio ``websockets`` client.

The feed subscribes to ``<symbol>@markPrice@1s`` for each symbol on one combined-stream
connection and hands every valid mark to a synchronous callback. It is meant to run for
days unattended, so everything that can go wrong on the wire is counted and survived.

Rules (the feed's part of docs/platform.md):

* URL: ``base_url + "/market/stream?streams=" + "/".join(f"{s.lower()}@markPrice@1s")``.
  Binance split the USDⓈ-M streams in 2026: mark prices are served from the routed
  ``wss://fstream.binance.com/market/...`` endpoint; the old un-routed one stays connected
  but delivers no mark prices.
* Frames: combined ``{"stream": ..., "data": {...}}`` or the bare data object. A mark is
  ``{"e": "markPriceUpdate", "E": ms, "s": "BTCUSDT", "p": "28147.27", "r": "0.0001"}``
  (numbers as strings). ``p`` must be a plain positive decimal, ``r`` a plain decimal
  (``""``, which Binance sends for delivery contracts that pay no funding, becomes
  ``"0"``), ``E`` a positive integer and ``s`` one of the subscribed symbols. Strings are
  kept as received: the caller converts them to ticks at its own edge.
* Malformed frames (not JSON, not an object, wrong types, bad decimals) and unexpected
  ones (other event types, unsubscribed symbols or streams, subscription acks such as
  ``{"result": null, "id": 1}``) are counted, logged at most once per ``log_interval`` per
  kind (logger ``exchange.feeds.binance``) and skipped. Nothing a peer sends is fatal.
* Keepalive: websocket pings every ``ping_interval`` s; no pong within ``ping_timeout``
  closes the socket (then: reconnect).
* Freshness watchdog, per symbol: if a subscribed symbol got no valid mark for
  ``stale_after`` s (counted from the connection's opening for the first mark), the
  connection counts as failed even if pings still work (Binance connections have been
  seen to go silent while answering pings); the feed closes it and reconnects.
* Reconnect after any failure (connect error, close by the peer with any code, dropped
  TCP, stale data) after a jittered exponential backoff, :func:`backoff_delay`: attempt
  ``n`` waits a uniform draw in ``[cap/2, cap]`` with ``cap = min(backoff_max,
  backoff_initial * 2**n)``. The attempt counter resets after a healthy connection: one
  that kept delivering marks for at least ``healthy_after`` s, or one the watchdog closed
  while other symbols were still fresh (a quiet symbol does not starve the others).
* Proactive reconnect: Binance ends a connection after 24 h; the feed closes its socket
  once it is ``max_connection_age`` s old (23.5 h by default) and opens the next one at
  once, without backoff. The old socket is closed (closing handshake done) before the new
  one is opened, so two connections never feed at the same time; the gap is one handshake,
  well under the 1 s between marks.
* ``on_mark`` runs synchronously on the event loop for every mark and must not block (put
  the update on a queue). An exception it raises is counted and logged, never fatal.
* Latency of a mark: ``received_ns / 1e9 - E / 1000`` s (local wall clock minus Binance's
  event time, so it includes clock skew), handed to ``on_latency`` (the platform's
  latency histogram).
* Closing: :meth:`BinanceMarkFeed.stop` (from the loop's thread) or cancelling the task
  running :meth:`BinanceMarkFeed.run` closes the socket with code 1000.

This module is I/O at the edge of the exchange: titan and sentinel never import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.uri import parse_uri

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_STREAMS",
    "BinanceMarkFeed",
    "FeedState",
    "FeedStats",
    "FrameResult",
    "MarkUpdate",
    "backoff_delay",
    "mark_stream",
    "parse_frame",
    "stream_url",
]

log = logging.getLogger("exchange.feeds.binance")

DEFAULT_BASE_URL = "wss://fstream.binance.com"
MAX_STREAMS = 1024  # Binance: at most 1024 streams per connection
MARK_EVENT = "markPriceUpdate"

FeedState = Literal["connecting", "live", "backoff", "stopped"]
FrameKind = Literal["mark", "malformed", "unexpected"]

_SYMBOL = re.compile(r"[A-Z0-9_]+")
_PRICE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_RATE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True, slots=True)
class MarkUpdate:
    """One mark price as received: decimal strings exactly as Binance sent them."""

    symbol: str  # upper case, one of the subscribed symbols
    price: str  # positive plain decimal, e.g. "28147.27373413"
    funding_rate: str  # plain decimal, may be negative; "0" for delivery contracts
    event_time_ms: int  # Binance's "E"
    received_ns: int  # local wall clock (time.time_ns()) when the frame was received


@dataclass(frozen=True, slots=True)
class FrameResult:
    """How one received frame was classified by :func:`parse_frame`."""

    kind: FrameKind
    mark: MarkUpdate | None = None
    detail: str = ""  # for malformed/unexpected: a short reason, also the stats key


@dataclass
class FeedStats:
    """Counters of a :class:`BinanceMarkFeed` (plain attributes, read them any time)."""

    connect_attempts: int = 0
    connects: int = 0  # completed websocket handshakes
    reconnects: int = 0  # handshakes after the first one
    proactive_reconnects: int = 0  # connections closed at max_connection_age
    frames: int = 0  # websocket messages received
    marks: int = 0  # valid marks delivered to on_mark
    malformed: int = 0
    unexpected: int = 0
    unexpected_kinds: dict[str, int] = field(default_factory=dict)  # e.g. "event aggTrade"
    stale_timeouts: int = 0
    callback_errors: int = 0
    # Why connections ended or failed to open: a close code received from the server
    # ("1011", "4000"; "1006" when the socket ended without a close frame, e.g. a dropped
    # TCP connection or a keepalive timeout) or an exception class name
    # ("ConnectionRefusedError", "InvalidStatus", "TimeoutError").
    connection_errors: dict[str, int] = field(default_factory=dict)
    last_mark_ns: dict[str, int] = field(default_factory=dict)  # per symbol, received_ns
    backoff_history: deque[float] = field(default_factory=lambda: deque(maxlen=64))


def mark_stream(symbol: str) -> str:
    """The stream name of a symbol's 1 s mark price, e.g. ``btcusdt@markPrice@1s``."""
    return f"{symbol.lower()}@markPrice@1s"


def stream_url(symbols: Iterable[str], base_url: str = DEFAULT_BASE_URL) -> str:
    """The combined-stream URL for the mark prices of ``symbols`` under ``base_url``."""
    streams = "/".join(mark_stream(s) for s in symbols)
    return f"{base_url.rstrip('/')}/market/stream?streams={streams}"


def backoff_delay(
    attempt: int,
    *,
    initial: float,
    maximum: float,
    rng: random.Random,
    factor: float = 2.0,
) -> float:
    """Delay before reconnect attempt ``attempt`` (0 = first retry after a failure).

    ``cap = min(maximum, initial * factor**attempt)``; the delay is uniform in
    ``[cap/2, cap]`` ("equal jitter"): successive delays never shrink while the cap
    doubles, and many clients restarted together spread out.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    cap = maximum
    # Avoid float overflow for large attempt numbers: stop growing once above maximum.
    if attempt < 64:
        cap = min(maximum, initial * factor**attempt)
    return cap / 2 + rng.random() * cap / 2


def _decimal(text: object, pattern: re.Pattern[str], positive: bool) -> str | None:
    """``text`` if it is a plain decimal string matching ``pattern`` (and > 0 if asked)."""
    if not isinstance(text, str) or pattern.fullmatch(text) is None:
        return None
    if positive and Decimal(text) <= 0:
        return None
    return text


def parse_frame(
    message: str | bytes,
    symbols: frozenset[str],
    received_ns: int,
    streams: frozenset[str] | None = None,
) -> FrameResult:
    """Classify one websocket message; a valid mark comes back as a :class:`MarkUpdate`.

    ``symbols`` are the subscribed symbols (upper case); ``streams`` the subscribed stream
    names (default: the mark streams of ``symbols``). Never raises on any input.
    """
    try:
        obj: Any = json.loads(message)
    except (ValueError, RecursionError):  # includes JSONDecodeError, UnicodeDecodeError
        return FrameResult("malformed", detail="not json")
    if not isinstance(obj, dict):
        return FrameResult("malformed", detail="not an object")
    if "result" in obj and "id" in obj and "data" not in obj:
        return FrameResult("unexpected", detail="ack")
    stream: str | None = None
    if "data" in obj or "stream" in obj:
        stream = obj.get("stream")
        data = obj.get("data")
        if not isinstance(stream, str) or not isinstance(data, dict):
            return FrameResult("malformed", detail="bad combined frame")
    else:
        data = obj
    event = data.get("e")
    if not isinstance(event, str):
        return FrameResult("malformed", detail="no event type")
    if event != MARK_EVENT:
        return FrameResult("unexpected", detail=f"event {event[:40]}")
    symbol = data.get("s")
    event_time = data.get("E")
    if not isinstance(symbol, str) or _SYMBOL.fullmatch(symbol.upper()) is None:
        return FrameResult("malformed", detail="bad symbol")
    if type(event_time) is not int or event_time <= 0:
        return FrameResult("malformed", detail="bad event time")
    price = _decimal(data.get("p"), _PRICE, positive=True)
    if price is None:
        return FrameResult("malformed", detail="bad price")
    raw_rate = data.get("r")
    rate = "0" if raw_rate == "" else _decimal(raw_rate, _RATE, positive=False)
    if rate is None:
        return FrameResult("malformed", detail="bad funding rate")
    symbol = symbol.upper()
    if symbol not in symbols:
        return FrameResult("unexpected", detail="symbol")
    if stream is not None:
        wanted = streams if streams is not None else frozenset(mark_stream(s) for s in symbols)
        if stream not in wanted:
            return FrameResult("unexpected", detail="stream")
        if stream.split("@", 1)[0] != symbol.lower():
            return FrameResult("malformed", detail="stream/symbol mismatch")
    return FrameResult("mark", MarkUpdate(symbol, price, rate, event_time, received_ns))


class _RateLimitedLog:
    """Logs each key at most once per ``interval`` s, then says how many were suppressed."""

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self._logger = logger
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(
        self, level: int, key: str, msg: str, *args: object, exc_info: bool = False
    ) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            msg += " (%d similar suppressed)"
            args = (*args, suppressed)
        self._logger.log(level, msg, *args, exc_info=exc_info)


class BinanceMarkFeed:
    """Mark prices of ``symbols`` from Binance USDⓈ-M, delivered to ``on_mark``.

    Run it as a task: ``task = asyncio.create_task(feed.run())``; end it with
    ``feed.stop(); await task`` or ``task.cancel()``. One feed runs once.
    Defaults are for production; tests pass small values.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        on_mark: Callable[[MarkUpdate], None],
        *,
        base_url: str = DEFAULT_BASE_URL,
        on_latency: Callable[[float], None] | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float = 10.0,
        close_timeout: float = 5.0,
        stale_after: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        healthy_after: float = 30.0,
        max_connection_age: float = 23.5 * 3600,
        rng: random.Random | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        log_interval: float = 10.0,
        proxy: str | Literal[True] | None = True,
    ) -> None:
        ordered: list[str] = []
        for raw in symbols:
            sym = raw.upper()
            if _SYMBOL.fullmatch(sym) is None:
                raise ValueError(f"bad symbol {raw!r}")
            if sym not in ordered:
                ordered.append(sym)
        if not ordered:
            raise ValueError("no symbols")
        if len(ordered) > MAX_STREAMS:
            raise ValueError(f"at most {MAX_STREAMS} streams per connection")
        for name, value in (
            ("stale_after", stale_after),
            ("backoff_initial", backoff_initial),
            ("backoff_max", backoff_max),
            ("max_connection_age", max_connection_age),
            ("open_timeout", open_timeout),
            ("close_timeout", close_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0")
        if backoff_max < backoff_initial:
            raise ValueError("backoff_max must be >= backoff_initial")
        if healthy_after < 0:
            raise ValueError("healthy_after must be >= 0")
        self.symbols: tuple[str, ...] = tuple(ordered)
        self.url = stream_url(self.symbols, base_url)
        parse_uri(self.url)  # raises InvalidURI now rather than on every reconnect
        self._symbol_set = frozenset(self.symbols)
        self._stream_set = frozenset(mark_stream(s) for s in self.symbols)
        self._on_mark = on_mark
        self._on_latency = on_latency
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.stale_after = stale_after
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.healthy_after = healthy_after
        self.max_connection_age = max_connection_age
        self._rng = rng if rng is not None else random.Random()
        self._clock_ns = clock_ns
        self._proxy = proxy
        self._log = _RateLimitedLog(log, log_interval)
        self.stats = FeedStats()
        self._state: FeedState = "stopped"
        self._started = False
        self._stop_requested = False
        self._stop_event = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._last_mark_mono: dict[str, float] = {}

    # -- public --------------------------------------------------------------------------

    @property
    def state(self) -> FeedState:
        """One of connecting, live (socket open), backoff (waiting to reconnect), stopped."""
        return self._state

    @property
    def healthy(self) -> bool:
        """Live, and every symbol got a mark within the last ``stale_after`` seconds."""
        if self._state != "live":
            return False
        now = time.monotonic()
        return all(
            now - self._last_mark_mono.get(s, float("-inf")) < self.stale_after
            for s in self.symbols
        )

    def stop(self) -> None:
        """Ask :meth:`run` to close the socket (code 1000) and return. Call from the loop."""
        self._stop_requested = True
        self._stop_event.set()
        ws = self._ws
        if ws is not None and self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(ws.close(1000, "client stop"))

    async def run(self) -> None:
        """Connect, deliver marks and reconnect until :meth:`stop` or cancellation."""
        if self._started:
            raise RuntimeError("a BinanceMarkFeed runs once")
        self._started = True
        attempt = 0
        try:
            while not self._stopping():
                self._state = "connecting"
                ws = await self._open()
                if ws is None:
                    if self._stopping():
                        break
                    await self._backoff(attempt)
                    attempt += 1
                    continue
                outcome, healthy = await self._session(ws)
                if outcome == "stop":
                    break
                if outcome == "age":
                    self.stats.proactive_reconnects += 1
                    attempt = 0
                    continue
                if healthy:
                    attempt = 0
                await self._backoff(attempt)
                attempt += 1
        finally:
            self._state = "stopped"

    # -- connection life -----------------------------------------------------------------

    def _stopping(self) -> bool:
        # A method, not the attribute: stop() may change it across any await.
        return self._stop_requested

    def _count_error(self, key: str) -> None:
        errors = self.stats.connection_errors
        errors[key] = errors.get(key, 0) + 1

    async def _backoff(self, attempt: int) -> None:
        delay = backoff_delay(
            attempt, initial=self.backoff_initial, maximum=self.backoff_max, rng=self._rng
        )
        self.stats.backoff_history.append(delay)
        self._state = "backoff"
        self._log(logging.INFO, "backoff", "reconnecting in %.3f s (attempt %d)", delay, attempt)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._stop_event.wait()

    async def _connect(self) -> ClientConnection:
        return await connect(
            self.url,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            open_timeout=self.open_timeout,
            close_timeout=self.close_timeout,
            proxy=self._proxy,
        )

    async def _open(self) -> ClientConnection | None:
        """One connection attempt; ``None`` on failure (counted) or when stopped meanwhile."""
        self.stats.connect_attempts += 1
        connecting = asyncio.ensure_future(self._connect())
        stopping = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled: leave no connection behind
            connecting.cancel()
            await asyncio.wait({connecting})
            if not connecting.cancelled() and connecting.exception() is None:
                await connecting.result().close(1000, "client stop")
            raise
        finally:
            stopping.cancel()
        if not connecting.done():  # stop() came first
            connecting.cancel()
            await asyncio.wait({connecting})
        if connecting.cancelled():
            return None
        exc = connecting.exception()
        if exc is not None:
            key = type(exc).__name__
            self._count_error(key)
            self._log(logging.WARNING, f"connect {key}", "connect to %s failed: %r", self.url, exc)
            return None
        ws = connecting.result()
        if self._stopping():
            await ws.close(1000, "client stop")
            return None
        return ws

    async def _session(self, ws: ClientConnection) -> tuple[str, bool]:
        """Read one connection until it ends; return (outcome, was it healthy)."""
        loop = asyncio.get_running_loop()
        opened = loop.time()
        self._ws = ws
        self._state = "live"
        self.stats.connects += 1
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        log.info("connected to %s (connection %d)", self.url, self.stats.connects)
        last_seen = dict.fromkeys(self.symbols, opened)
        first_mark: float | None = None
        partial = False  # the watchdog fired while some symbols were still fresh
        age_deadline = opened + self.max_connection_age
        close_reason = "client stop"
        outcome = "stop"
        try:
            while True:
                if self._stopping():
                    break
                now = loop.time()
                if now >= age_deadline:
                    close_reason, outcome = "max connection age", "age"
                    log.info("connection is %.0f s old: reconnecting", now - opened)
                    break
                oldest = min(self.symbols, key=last_seen.__getitem__)
                stale_deadline = last_seen[oldest] + self.stale_after
                if now >= stale_deadline:
                    stale = [s for s in self.symbols if now - last_seen[s] >= self.stale_after]
                    # others still fresh: the connection works, a symbol is quiet (e.g.
                    # settling); reconnect without growing the backoff
                    partial = len(stale) < len(self.symbols)
                    self.stats.stale_timeouts += 1
                    close_reason, outcome = f"stale: {' '.join(stale)}"[:100], "stale"
                    self._log(
                        logging.WARNING,
                        "stale",
                        "no mark for %s in %.1f s (last pong latency %.3f s): reconnecting",
                        ",".join(stale),
                        self.stale_after,
                        ws.latency,
                    )
                    break
                try:
                    async with asyncio.timeout(min(age_deadline, stale_deadline) - now):
                        message = await ws.recv()
                except TimeoutError:
                    continue
                except ConnectionClosed as exc:
                    if self._stopping():
                        break
                    code = exc.rcvd.code if exc.rcvd is not None else 1006
                    self._count_error(str(code))
                    self._log(logging.WARNING, f"closed {code}", "connection closed: %s", exc)
                    outcome = "closed"
                    break
                except Exception as exc:  # not expected from recv(); still never fatal
                    key = type(exc).__name__
                    self._count_error(key)
                    self._log(logging.ERROR, key, "receive failed", exc_info=True)
                    outcome = "error"
                    break
                marked = self._handle(message, self._clock_ns())
                if marked is not None:
                    last_seen[marked] = mono = loop.time()
                    if first_mark is None:
                        first_mark = mono
        finally:
            await self._close(ws, close_reason)
            self._ws = None
        healthy = partial or (
            first_mark is not None and loop.time() - first_mark >= self.healthy_after
        )
        return outcome, healthy

    async def _close(self, ws: ClientConnection, reason: str) -> None:
        """Close with code 1000 and wait for the closing handshake (or close_timeout).

        Messages still arriving meanwhile are read and discarded: an unread receive queue
        would pause reading from the socket, and the server's close frame would then only
        be seen after ``close_timeout``.
        """

        async def discard() -> None:
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await ws.recv()

        if self._close_task is None:
            self._close_task = asyncio.ensure_future(ws.close(1000, reason[:120]))
        closing = self._close_task
        draining = asyncio.ensure_future(discard())
        try:
            with contextlib.suppress(Exception):  # close() itself swallows ConnectionClosed
                await closing
        finally:
            self._close_task = None
            draining.cancel()
            await asyncio.wait({draining})

    # -- frames --------------------------------------------------------------------------

    def _handle(self, message: str | bytes, received_ns: int) -> str | None:
        """Count and dispatch one message; the symbol if it was a valid mark."""
        stats = self.stats
        stats.frames += 1
        result = parse_frame(message, self._symbol_set, received_ns, self._stream_set)
        if result.kind == "malformed":
            stats.malformed += 1
            self._log(
                logging.WARNING,
                "malformed",
                "malformed frame (%s): %.120r",
                result.detail,
                message,
            )
            return None
        if result.kind == "unexpected":
            stats.unexpected += 1
            kinds = stats.unexpected_kinds
            kinds[result.detail] = kinds.get(result.detail, 0) + 1
            self._log(
                logging.INFO,
                "unexpected",
                "unexpected frame (%s): %.120r",
                result.detail,
                message,
            )
            return None
        mark = result.mark
        assert mark is not None
        stats.marks += 1
        stats.last_mark_ns[mark.symbol] = received_ns
        self._last_mark_mono[mark.symbol] = time.monotonic()
        latency = received_ns / 1e9 - mark.event_time_ms / 1000
        try:
            self._on_mark(mark)
            if self._on_latency is not None:
                self._on_latency(latency)
        except Exception:
            stats.callback_errors += 1
            self._log(logging.ERROR, "callback", "mark callback failed", exc_info=True)
        return mark.symbol
