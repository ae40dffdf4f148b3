"""A running exchange with its API, in a background thread, for the gateway tests.

The real parts: a RocksDB journal in a temporary directory, the venue, the sequencer,
and the aiohttp server on a free loopback port; the tests talk to it with the real
client libraries from the test thread. :meth:`LiveExchange.submit` sends an input (a
mark price, a maker's order) through the same sequencer, and waits until it is durable.

:func:`http` and :class:`Signer` send raw requests (plain ``urllib``), signed as
Binance's clients sign them: HMAC-SHA256, as hex, of the exact query string followed
by the exact body (Binance's totalParams), the key in ``X-MBX-APIKEY``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from exchange.config.settings import ApiSettings
from exchange.config.symbols import default_contracts
from exchange.gateway.service import Api, start_api
from exchange.runtime.machines import venue_genesis
from exchange.runtime.sequencer import Sequencer
from oracle import Journal
from sentinel.commands import Deposit, MarkPrice
from sentinel.units import MONEY_ONE
from venue.types import Command, Event
from venue.venue import Venue

T = TypeVar("T")
MAKER = 7  # an account that quotes through the sequencer directly


class LiveExchange:
    """Start with :meth:`start`, stop with :meth:`stop` (see the module docstring)."""

    def __init__(self, root: Path, api: ApiSettings | None = None) -> None:
        self.root = root
        self.settings = api or ApiSettings(port=0, admin_port=0)
        self.contracts = default_contracts()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.venue: Venue
        self.seq: Sequencer
        self.journal: Journal
        self.api: Api
        self._runner: asyncio.Future[None] | None = None

    @property
    def journal_path(self) -> Path:
        return self.root / "journal"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api.port}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> LiveExchange:
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        genesis = venue_genesis(self.contracts)
        self.journal = Journal.open(self.journal_path, create=True, genesis=genesis)
        if self.journal.last_seq:
            from exchange.runtime.machines import VenueFactory, VenueMachine
            from oracle.replay import rebuild

            built = rebuild(self.journal, VenueFactory())
            assert isinstance(built.machine, VenueMachine)
            self.venue = built.machine.venue
        else:
            self.venue = Venue(self.contracts)
        self.seq = Sequencer(self.venue, self.journal)
        self._runner = asyncio.ensure_future(self.seq.run())
        seq = self.seq

        def clock() -> int:
            return max(time.time_ns() // 1_000_000, seq.last_ts)

        self.api = await start_api(
            self.settings, str(self.journal_path), self.contracts, seq, self.venue,
            self.journal, clock,
        )  # fmt: skip

    def submit(self, cmd: Command) -> tuple[int, list[Event]]:
        return self.call(self.seq.request(cmd))

    def mark(self, symbol: str, price: int, rate: int = 10_000) -> None:
        self.submit(MarkPrice(0, 0, symbol, price, rate))

    def fund(self, account: int, usdt: int) -> None:
        self.submit(Deposit(0, 0, account, "USDT", usdt * MONEY_ONE))

    def stop(self) -> None:
        async def _stop() -> None:
            await self.api.gateway.close()
            self.seq.stop()
            assert self._runner is not None
            await self._runner
            self.journal.close()

        try:
            self.call(_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, headers (names as sent), body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


def http(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """Send one request as given; the answer whatever its status (no exception on 4xx)."""
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if body is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Reply(r.status, dict(r.headers.items()), r.read())
    except urllib.error.HTTPError as err:
        with err:
            return Reply(err.code, dict(err.headers.items()), err.read())


def sign(secret: str, payload: str | bytes) -> str:
    """Binance's HMAC-SHA256 signature (lowercase hex) of ``payload``."""
    raw = payload.encode() if isinstance(payload, str) else payload
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


Pairs = Sequence[tuple[str, str]]


class Signer:
    """Raw signed requests for one key, against one server (``base``: http://host:port)."""

    def __init__(self, base: str, key: str, secret: str) -> None:
        self.base = base
        self.key = key
        self.secret = secret

    def stamped(self, params: Pairs = (), timestamp: int | None = None) -> str:
        """``params`` with ``timestamp`` (now unless given), form-encoded, unsigned."""
        ts = int(time.time() * 1000) if timestamp is None else timestamp
        return urllib.parse.urlencode([*params, ("timestamp", str(ts))])

    def query(self, params: Pairs = (), timestamp: int | None = None) -> str:
        """``params`` with ``timestamp`` and the ``signature`` over them."""
        text = self.stamped(params, timestamp)
        return f"{text}&signature={sign(self.secret, text)}"

    def send(
        self,
        method: str,
        path: str,
        query: str = "",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """``query`` and ``body`` exactly as given, with the key header."""
        url = self.base + path + (f"?{query}" if query else "")
        return http(method, url, body=body, headers={"X-MBX-APIKEY": self.key, **(headers or {})})

    def call(self, method: str, path: str, params: Pairs = (), *, in_body: bool = False) -> Reply:
        """A correctly signed request: everything in the query, or (``in_body``) in the
        form body."""
        signed = self.query(params)
        if in_body:
            return self.send(method, path, body=signed.encode())
        return self.send(method, path, signed)


__all__ = ["MAKER", "LiveExchange", "Reply", "Signer", "free_port", "http", "sign"]
