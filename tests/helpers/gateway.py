"""A running exchange with its API, in a background thread, for the gateway tests.

The real parts: a RocksDB journal in a temporary directory, the venue, the sequencer,
and the aiohttp server on a free loopback port; the tests talk to it with the real
client libraries from the test thread. :meth:`LiveExchange.submit` sends an input (a
mark price, a maker's order) through the same sequencer, and waits until it is durable.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
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


__all__ = ["MAKER", "LiveExchange"]
