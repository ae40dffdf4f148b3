"""A local websocket server replaying REAL recorded Binance frames, with scripted faults.

The test peer of :mod:`exchange.feeds.binance` (and a stand-in for Binance in manual and
end-to-end runs). It listens on 127.0.0.1 and, for every connection:

* Subscription: taken from the request path, as Binance does:
  ``/market/stream?streams=a/b``, ``/stream?streams=a/b`` (any ``.../stream``) send the
  combined form ``{"stream": ..., "data": ...}``; ``/ws/a/b`` (optionally under a prefix
  such as ``/market/ws/...``) sends the bare data object, cut byte-for-byte out of the
  recorded frame. Other paths are refused with HTTP 404. Stream names compare
  case-insensitively. By default only frames of subscribed streams are sent
  (``filter_streams=False`` sends every frame); a subscription matching nothing in the
  recording gets a connection that stays open and silent.
* Frames: the recorded text, sent unchanged, at the recorded pacing divided by ``speed``.
  Every connection replays from the start of the recording.
* Looping: the recording repeats (``loop_recording``) with period ``Recording.period_us``
  (its span plus the mean gap between frames, rounded up to whole ms). In the k-th repeat
  every ``"E":<int>`` and ``"T":<int>`` field of a frame is shifted by ``k * period`` ms
  (textual substitution, the rest of the text is untouched), so event times keep
  increasing; except ``T`` of a ``markPriceUpdate``, which is the next funding time, not
  an event time. The first pass is byte-for-byte the recording.
* Live times (``live_times``, ``--live-times``): every ``E``/``T`` event time of a frame
  is moved instead by (when the frame is due now - when it was received when recorded),
  so it arrives as long after its ``E`` as it did when recorded (feed latency stays
  meaningful; the spans between frames shrink with ``speed`` like the pacing).
* Faults, scripted per connection: ``faults[i]`` is the list of :class:`Fault` for the
  (i+1)-th connection (later connections get none); a fault fires once the connection has
  sent ``after_frames`` recorded frames. See :class:`Fault` for the kinds.
* Accounting: :attr:`ReplayServer.connections` holds one :class:`ConnectionRecord` per
  connection (frames, marks, junk and fragments sent, pings received, open/close times on
  the event loop's clock, the close code the client sent, how it ended).

Sources: ``usdm_btcusdt_2023-04-04_streams.jsonl.gz`` (lines ``local_receive_µs JSON``)
and ``usdm_2021-07-22_ws_recording.txt`` (a URL line, then ``recv_ts: JSON`` with
``recv_ts`` in float seconds), both in ``$EXCHANGE_DATA_DIR/binance`` (by default
``../shared/data/binance`` beside the checkout). Lines that are not
combined-stream frames are skipped (the 2023 file holds one REST depth snapshot). Several
recordings load as one: each is rebased to its own first line and they are merged by time.

Script: ``python -m exchange.feeds.replay_server --port N [--speed X] [--recording FILE]...
[--fault CONN:KIND[:AFTER[:ARG]]]...`` prints ``ws://127.0.0.1:PORT`` as its first stdout
line and serves until SIGTERM or Ctrl+C (exit status 0, no traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import itertools
import json
import logging
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, get_args
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event

from exchange.data import data_dir

__all__ = [
    "DATA_DIR",
    "GARBAGE_PAYLOADS",
    "RECORDING_2021",
    "STREAMS_2023",
    "ConnectionRecord",
    "Fault",
    "RecordedFrame",
    "Recording",
    "ReplayServer",
    "main",
    "parse_fault",
    "shift_times",
]

log = logging.getLogger("exchange.feeds.replay_server")

DATA_DIR = data_dir() / "binance"
STREAMS_2023 = DATA_DIR / "usdm_btcusdt_2023-04-04_streams.jsonl.gz"
RECORDING_2021 = DATA_DIR / "usdm_2021-07-22_ws_recording.txt"

FaultKind = Literal["drop", "silent", "garbage", "inject", "split", "close_error"]


def _bad_mark(**fields: object) -> str:
    """A combined markPrice frame (from the recording's first mark) with fields replaced."""
    data: dict[str, object] = {
        "e": "markPriceUpdate",
        "E": 1680652701000,
        "s": "BTCUSDT",
        "p": "28147.27373413",
        "r": "0.00002754",
    }
    data.update(fields)
    return json.dumps({"stream": "btcusdt@markPrice@1s", "data": data}, separators=(",", ":"))


# What a ``garbage`` fault sends: each is malformed for a mark-price client subscribed to
# BTCUSDT: not JSON, binary junk, JSON of the wrong shape, marks with wrong types or bad
# decimals.
GARBAGE_PAYLOADS: tuple[str | bytes, ...] = (
    "this is not json",
    '{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUp',
    b"\x00\xff\xfe\x80binary junk\x9f",
    b'{"stream":"btcusdt@markPrice@1s"}',
    "[1, 2, 3]",
    '"a string"',
    "null",
    "[" * 50_000,
    '{"stream":"btcusdt@markPrice@1s","data":[]}',
    '{"stream":7,"data":{"e":"markPriceUpdate"}}',
    _bad_mark(e=None),
    _bad_mark(E="1680652701000"),
    _bad_mark(E=True),
    _bad_mark(E=1680652701000.5),
    _bad_mark(E=-1),
    _bad_mark(s=["BTCUSDT"]),
    _bad_mark(s="BTC/USDT"),
    _bad_mark(p=28147.27),
    _bad_mark(p=float("nan")),  # the bare NaN literal Python's json accepts
    _bad_mark(p="NaN"),
    _bad_mark(p="Infinity"),
    _bad_mark(p="-28147.2"),
    _bad_mark(p="0.000"),
    _bad_mark(p="2.8e4"),
    _bad_mark(p=" 28147.2"),
    _bad_mark(p="2٨147.2"),  # a non-ASCII digit
    _bad_mark(r="abc"),
    _bad_mark(r=None),
    _bad_mark(r="0.0001%"),
)


@dataclass(frozen=True)
class Fault:
    """One scripted fault, fired once ``after_frames`` recorded frames were sent.

    * ``drop``: abort the TCP connection, no close frame.
    * ``silent``: send nothing more but keep the socket open (pings are still answered,
      by the websockets library), for ``duration`` s then resume where it stopped, or
      until the client leaves when ``duration`` is None.
    * ``garbage``: send ``payloads`` (default :data:`GARBAGE_PAYLOADS`; ``str`` goes out
      as a text message, ``bytes`` as a binary one), then carry on.
    * ``inject``: the same with ``payloads`` required (e.g. a subscription ack).
    * ``split``: send the next recorded frame as a fragmented message (text frames cut at
      byte offsets). With ``reencode`` (default), the frame is first rewritten to an
      equivalent JSON text holding a ``\\u`` escape (the first letter of ``"s"``) and
      multi-byte UTF-8 (a ``"replay"`` key added to the data object) and cut inside both;
      otherwise the original bytes are cut at odd places.
    * ``close_error``: close with ``code`` (e.g. 1011, 4000) and ``reason``.
    """

    kind: FaultKind
    after_frames: int = 0
    code: int = 1011
    reason: str = "replay fault"
    duration: float | None = None
    payloads: tuple[str | bytes, ...] = ()
    reencode: bool = True

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.after_frames < 0:
            raise ValueError("after_frames must be >= 0")
        if self.kind == "inject" and not self.payloads:
            raise ValueError("an inject fault needs payloads")
        if self.kind == "close_error" and not (
            self.code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011)
            or 3000 <= self.code <= 4999
        ):
            raise ValueError(f"close code {self.code} cannot be sent")
        if self.duration is not None and self.duration < 0:
            raise ValueError("duration must be >= 0")


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    """One recorded combined-stream frame."""

    rel_us: int  # µs after the first frame of its source recording
    recv_us: int  # the recorded local receive time, µs since the epoch
    stream: str  # as recorded, e.g. "btcusdt@markPrice@1s"
    event: str  # data["e"], e.g. "markPriceUpdate"
    text: str  # the frame exactly as recorded
    source: str  # file name


@dataclass(frozen=True)
class Recording:
    """Frames ordered by ``rel_us``, and the period at which the replay loops."""

    frames: tuple[RecordedFrame, ...]
    period_us: int

    @classmethod
    def load(cls, *paths: str | Path) -> Recording:
        """Load and merge recordings (default: the 2023 BTCUSDT streams file)."""
        frames: list[RecordedFrame] = []
        for path in paths or (STREAMS_2023,):
            frames.extend(_load_file(Path(path)))
        if not frames:
            raise ValueError(f"no frames in {paths}")
        frames.sort(key=lambda f: f.rel_us)  # stable: a source keeps its own order
        span = frames[-1].rel_us
        gap = span // max(1, len(frames) - 1)
        period = span + max(1, gap)
        period = -(-period // 1000) * 1000  # whole ms, so E/T shift exactly
        return cls(tuple(frames), period)

    def streams(self) -> frozenset[str]:
        """Every stream name in the recording."""
        return frozenset(f.stream for f in self.frames)


def _load_file(path: Path) -> list[RecordedFrame]:
    opener = gzip.open if path.suffix == ".gz" else open
    frames: list[RecordedFrame] = []
    first: int | None = None
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line or line.startswith(("ws://", "wss://")):
                continue  # blank, or the 2021 file's "URL <-> connect time" header
            brace = line.find("{")
            if brace < 0:
                raise ValueError(f"{path}:{lineno}: no JSON frame")
            stamp = line[:brace].strip().rstrip(":").strip()
            text = line[brace:]
            recv_us = int(Decimal(stamp) * 1_000_000) if "." in stamp else int(stamp)
            obj = json.loads(text)
            if first is None:
                first = recv_us
            stream, data = obj.get("stream"), obj.get("data")
            if not isinstance(stream, str) or not isinstance(data, dict):
                continue  # not a stream frame (the 2023 file holds one REST depth snapshot)
            frames.append(
                RecordedFrame(
                    rel_us=recv_us - first,
                    recv_us=recv_us,
                    stream=stream,
                    event=str(data.get("e", "")),
                    text=text,
                    source=path.name,
                )
            )
    return frames


_TIME_FIELD = re.compile(r'"([ET])":(\d+)')


def shift_times(text: str, shift_ms: int, event: str) -> str:
    """``text`` with every ``"E":n`` / ``"T":n`` moved forward by ``shift_ms``.

    ``T`` of a ``markPriceUpdate`` (the next funding time) is left alone.
    """
    if shift_ms == 0:
        return text
    keep_t = event == "markPriceUpdate"

    def repl(m: re.Match[str]) -> str:
        if keep_t and m.group(1) == "T":
            return m.group(0)
        return f'"{m.group(1)}":{int(m.group(2)) + shift_ms}'

    return _TIME_FIELD.sub(repl, text)


def data_text(frame_text: str) -> str:
    """The ``data`` object of a combined frame, cut out of its text byte-for-byte."""
    start = frame_text.find('"data":')
    obj = json.loads(frame_text)
    if start >= 0 and frame_text.endswith("}"):
        cut = frame_text[start + len('"data":') : -1]
        with contextlib.suppress(ValueError):
            if json.loads(cut) == obj["data"]:
                return cut
    return json.dumps(obj["data"], separators=(",", ":"))


def parse_path(path: str) -> tuple[frozenset[str], bool] | None:
    """(subscribed stream names casefolded, raw form?) for a request path, or None."""
    parts = urlsplit(path)
    route = parts.path.rstrip("/")
    if route.endswith("/stream"):
        values = parse_qs(parts.query).get("streams")
        names = [n for n in values[0].split("/") if n] if values else []
        return (frozenset(n.casefold() for n in names), False) if names else None
    match = re.fullmatch(r"(?:/[A-Za-z]+)?/ws/(.+)", route)
    if match:
        names = [n for n in match.group(1).split("/") if n]
        return (frozenset(n.casefold() for n in names), True) if names else None
    return None


def _split_points(data: bytes, marks: Sequence[tuple[bytes, int]]) -> list[int]:
    points = {1, len(data) // 3, len(data) - 1}
    for needle, offset in marks:
        at = data.find(needle)
        if at >= 0:
            points.add(at + offset)
    return sorted(p for p in points if 0 < p < len(data))


def split_fragments(text: str, reencode: bool) -> list[bytes]:
    """The UTF-8 fragments a ``split`` fault sends for one frame (see :class:`Fault`)."""
    if reencode:
        # Equivalent JSON: "s":"BTCUSDT" -> "s":"\u0042TCUSDT", plus a multi-byte key.
        text = re.sub(
            r'"s":"([A-Za-z])',
            lambda m: f'"s":"\\u{ord(m.group(1)):04x}',
            text,
            count=1,
        )
        at = text.find('"data":{')
        if at >= 0:
            at += len('"data":{')
        else:
            at = 1  # a bare data object
        text = text[:at] + '"replay":"é€𝄞",' + text[at:]
    data = text.encode()
    points = _split_points(
        data,
        [
            (b"\\u00", 3),  # inside the escape: "\u0" | "042"
            ("é".encode(), 1),  # inside a 2-byte character
            ("€".encode(), 2),  # inside a 3-byte character
            ("𝄞".encode(), 1),  # inside a 4-byte character
            (b'"p":"', 7),  # inside the price
            (b'"stream":"', 4),  # inside the stream name
        ],
    )
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass
class ConnectionRecord:
    """What the server did on one connection (times from the event loop's clock)."""

    number: int  # 1-based, in order of arrival
    path: str
    streams: frozenset[str]
    raw: bool  # "/ws/..." form: bare data objects
    opened_at: float
    closed_at: float | None = None  # when the TCP connection ended
    close_code: int | None = None  # the code the client sent (1006: none)
    close_reason: str | None = None
    ended_by: str = ""  # "client", "drop", "close_error", "server"
    frames_sent: int = 0  # recorded frames, split ones included
    marks_sent: int = 0
    events_sent: dict[str, int] = field(default_factory=dict)
    first_mark_at: float | None = None
    last_sent_at: float | None = None
    junk_sent: int = 0
    fragments_sent: int = 0
    pings_received: int = 0
    faults_applied: list[str] = field(default_factory=list)


class _ReplayConnection(ServerConnection):
    """A server connection that counts pings and stamps when the TCP connection ended."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.record: ConnectionRecord | None = None
        self.pings_received = 0
        self.lost_at: float | None = None

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.pings_received += 1
            if self.record is not None:
                self.record.pings_received = self.pings_received
        super().process_event(event)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.lost_at = self.loop.time()
        record = self.record
        if record is not None:
            record.closed_at = self.lost_at
            code = self.close_code
            record.close_code = None if code is None else int(code)
            record.close_reason = self.close_reason


class _End(Exception):
    """The connection ended (fault, client gone, server stopping)."""


class ReplayServer:
    """Replays a :class:`Recording` to every websocket client; see the module docstring.

    Use ``async with ReplayServer(...) as server:`` (or ``await server.start()`` /
    ``await server.stop()``); ``port=0`` picks a free port, :attr:`url` is the base URL.
    """

    def __init__(
        self,
        recording: Recording | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        faults: Sequence[Sequence[Fault]] = (),
        filter_streams: bool = True,
        loop_recording: bool = True,
        ping_interval: float | None = None,
        live_times: bool = False,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self.recording = recording if recording is not None else Recording.load()
        self.host = host
        self.speed = speed
        self.faults = [list(f) for f in faults]
        self.filter_streams = filter_streams
        self.loop_recording = loop_recording
        self.ping_interval = ping_interval
        self.live_times = live_times
        self.connections: list[ConnectionRecord] = []
        self._requested_port = port
        self._server: Server | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        """``ws://host:port``: the base URL to give a client."""
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> int:
        """Start listening; return the bound port."""
        self._server = await serve(
            self._handler,
            self.host,
            self._requested_port,
            process_request=self._process_request,
            ping_interval=self.ping_interval,
            close_timeout=2,
            create_connection=_ReplayConnection,
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def stop(self) -> None:
        """Close every connection (code 1001) and stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        """Poll ``predicate()`` every 5 ms until true; TimeoutError after ``timeout``."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.005)

    # -- per connection ------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if parse_path(request.path) is None:
            return connection.respond(
                HTTPStatus.NOT_FOUND,
                "unknown path: use /market/stream?streams=a/b or /ws/<stream>\n",
            )
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert isinstance(ws, _ReplayConnection) and ws.request is not None
        parsed = parse_path(ws.request.path)
        assert parsed is not None  # checked in _process_request
        streams, raw = parsed
        number = len(self.connections) + 1
        record = ConnectionRecord(number, ws.request.path, streams, raw, ws.loop.time())
        record.pings_received = ws.pings_received
        ws.record = record
        self.connections.append(record)
        log.info("connection %d: %s", number, ws.request.path)
        faults = self.faults[number - 1] if number <= len(self.faults) else []
        with contextlib.suppress(_End, ConnectionClosed):
            await self._replay(ws, record, streams, raw, faults)
        if not record.ended_by:
            protocol = ws.protocol  # who sent the first close frame?
            server_first = protocol.close_sent is not None and not protocol.close_rcvd_then_sent
            record.ended_by = "server" if server_first else "client"
        await ws.wait_closed()
        log.info(
            "connection %d ended (%s, code %s): %d frames, %d marks sent",
            number,
            record.ended_by,
            record.close_code,
            record.frames_sent,
            record.marks_sent,
        )

    async def _pause(self, ws: ServerConnection, delay: float | None) -> None:
        """Sleep ``delay`` s (None: forever); raise _End if the connection ends first."""
        if delay is not None and delay <= 0:
            await asyncio.sleep(0)  # a burst of due frames still lets the loop run
            return
        try:
            async with asyncio.timeout(delay):
                await ws.wait_closed()
        except TimeoutError:
            return
        raise _End

    async def _replay(
        self,
        ws: ServerConnection,
        record: ConnectionRecord,
        streams: frozenset[str],
        raw: bool,
        faults: Sequence[Fault],
    ) -> None:
        frames = self.recording.frames
        if self.filter_streams:
            frames = tuple(f for f in frames if f.stream.casefold() in streams)
        pending = deque(sorted(faults, key=lambda f: f.after_frames))
        loop = asyncio.get_running_loop()
        start = loop.time()
        started_ms = time.time_ns() // 1_000_000
        period_us = self.recording.period_us
        split: Fault | None = None
        repeat = 0
        while True:
            for frame in frames:
                while pending and pending[0].after_frames <= record.frames_sent:
                    fault = pending.popleft()
                    before = loop.time()
                    if await self._apply(ws, record, fault):
                        split = fault
                    paused = loop.time() - before
                    start += paused  # the recording's clock stops meanwhile
                    started_ms += round(paused * 1000)
                due = start + (repeat * period_us + frame.rel_us) / 1e6 / self.speed
                await self._pause(ws, due - loop.time())
                if self.live_times:  # moved by (due now - received then): latency kept
                    due_ms = started_ms + round(
                        (repeat * period_us + frame.rel_us) / 1e3 / self.speed
                    )
                    recv_ms = (frame.recv_us + repeat * period_us) // 1000
                    text = shift_times(frame.text, due_ms - recv_ms, frame.event)
                else:
                    text = shift_times(frame.text, repeat * period_us // 1000, frame.event)
                if raw:
                    text = data_text(text)
                if split is not None:
                    fragments = split_fragments(text, split.reencode)
                    split = None
                    await ws.send(fragments, text=True)
                    record.fragments_sent += len(fragments)
                else:
                    await ws.send(text)
                now = loop.time()
                record.frames_sent += 1
                record.last_sent_at = now
                record.events_sent[frame.event] = record.events_sent.get(frame.event, 0) + 1
                if frame.event == "markPriceUpdate":
                    record.marks_sent += 1
                    if record.first_mark_at is None:
                        record.first_mark_at = now
            repeat += 1
            if not frames or not self.loop_recording:
                break
        # Nothing (more) to send: faults due now still apply, then idle until closed.
        while pending and pending[0].after_frames <= record.frames_sent:
            await self._apply(ws, record, pending.popleft())
        await self._pause(ws, None)

    async def _apply(self, ws: ServerConnection, record: ConnectionRecord, fault: Fault) -> bool:
        """Carry out one fault; True if the next frame is to be split."""
        log.info("connection %d: fault %s", record.number, fault)
        record.faults_applied.append(fault.kind)
        if fault.kind == "drop":
            record.ended_by = "drop"
            ws.transport.abort()
            await ws.wait_closed()
            raise _End
        if fault.kind == "close_error":
            record.ended_by = "close_error"
            await ws.close(fault.code, fault.reason)
            raise _End
        if fault.kind == "silent":
            await self._pause(ws, fault.duration)
            return False
        if fault.kind in ("garbage", "inject"):
            for payload in fault.payloads or GARBAGE_PAYLOADS:
                await ws.send(payload)
                record.junk_sent += 1
            return False
        return True  # split


# -- script -----------------------------------------------------------------------------


def parse_fault(spec: str) -> tuple[int, Fault]:
    """``CONN:KIND[:AFTER[:ARG]]`` -> (connection number, Fault).

    ARG is the close code for ``close_error`` and the duration in s for ``silent``;
    ``split`` takes ``raw`` to cut the original bytes instead of a re-encoded frame.
    """
    parts = spec.split(":")
    if not 2 <= len(parts) <= 4:
        raise ValueError(f"bad fault {spec!r}: want CONN:KIND[:AFTER[:ARG]]")
    number = int(parts[0])
    if number < 1:
        raise ValueError("connection numbers start at 1")
    kind = parts[1]
    if kind not in get_args(FaultKind) or kind == "inject":
        raise ValueError(f"bad fault kind {kind!r}")
    after = int(parts[2]) if len(parts) > 2 and parts[2] else 0
    arg = parts[3] if len(parts) > 3 else None
    fields: dict[str, Any] = {}
    if arg is not None:
        if kind == "close_error":
            fields["code"] = int(arg)
        elif kind == "silent":
            fields["duration"] = float(arg)
        elif kind == "split" and arg == "raw":
            fields["reencode"] = False
        else:
            raise ValueError(f"fault {kind} takes no argument {arg!r}")
    return number, Fault(kind, after, **fields)  # type: ignore[arg-type]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m exchange.feeds.replay_server",
        description="Replay recorded Binance frames over a local websocket server.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--speed", type=float, default=1.0, help="pacing divisor")
    parser.add_argument(
        "--recording",
        action="append",
        default=None,
        help=f"recording file (repeatable; default {STREAMS_2023.name})",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="CONN:KIND[:AFTER[:ARG]]",
        help="e.g. 1:drop:5, 2:close_error:3:4000, 1:silent:2:1.5, 1:garbage, 1:split:2",
    )
    parser.add_argument("--all-streams", action="store_true", help="do not filter streams")
    parser.add_argument("--no-loop", action="store_true", help="play the recording once")
    parser.add_argument(
        "--live-times",
        action="store_true",
        help="put the event times E/T on today's clock (feed latency stays meaningful)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-connection log")
    return parser


async def _serve(args: argparse.Namespace, faults: list[list[Fault]]) -> None:
    recording = Recording.load(*(args.recording or ()))
    server = ReplayServer(
        recording,
        host=args.host,
        port=args.port,
        speed=args.speed,
        faults=faults,
        filter_streams=not args.all_streams,
        loop_recording=not args.no_loop,
        live_times=args.live_times,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        print(server.url, flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m exchange.feeds.replay_server``."""
    args = _build_parser().parse_args(argv)
    faults: list[list[Fault]] = []
    try:
        for spec in args.fault:
            number, fault = parse_fault(spec)
            while len(faults) < number:
                faults.append([])
            faults[number - 1].append(fault)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.speed > 0:
        print(f"error: --speed {args.speed} must be more than 0", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"error: --port {args.port} is not a port number (0..65535)", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args, faults))
    except (OSError, ValueError) as exc:  # an unreadable recording, a taken port, ...
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
