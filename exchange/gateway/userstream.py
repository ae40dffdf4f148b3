"""Listen keys and the user data stream: each account's durable changes, in journal order.

Rules
-----
- ``POST /fapi/v1/listenKey`` gives the account's listen key (the same one while it is
  alive, as Binance does), ``PUT`` keeps it alive, ``DELETE`` closes it. A key lives
  ``ttl_ms`` (60 minutes) after its creation or last keepalive; then every connection
  on it gets ``listenKeyExpired`` and is closed.
- A connection receives the changes that :class:`~exchange.gateway.history.History`
  reports for its key's account, so only durable records, in seq order:
  ORDER_TRADE_UPDATE (ALGO_UPDATE for an algo order not yet triggered), ACCOUNT_UPDATE,
  ACCOUNT_CONFIG_UPDATE. A connection that does not keep up (more than ``max_queue``
  events waiting) is closed rather than slowing the exchange; the client reconnects and
  re-reads over REST, which shows the same durable state.
- Nothing here touches the venue's state: the events are built from the read model.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from exchange.gateway.history import Change, History
from exchange.gateway.wire import JSON, Wire

LISTEN_KEY_TTL_MS = 60 * 60 * 1000
MAX_QUEUE = 10_000
ALPHABET = string.ascii_letters + string.digits


@dataclass
class Connection:
    """One open user-stream connection: its account and what waits to be sent."""

    account: int
    key: str
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    dropped: bool = False


class UserStreams:
    """The listen keys and their connections (see the module rules)."""

    def __init__(
        self,
        history: History,
        wire: Wire,
        clock_ms: Callable[[], int],
        ttl_ms: int = LISTEN_KEY_TTL_MS,
        max_queue: int = MAX_QUEUE,
    ) -> None:
        self.history = history
        self.wire = wire
        self.clock_ms = clock_ms
        self.ttl_ms = ttl_ms
        self.max_queue = max_queue
        self.keys: dict[str, tuple[int, int]] = {}  # listen key -> (account, expiry ms)
        self.by_account: dict[int, str] = {}
        self.connections: dict[int, list[Connection]] = {}
        self.slow_closed = 0  # connections closed for not keeping up
        self.sent = 0
        history.listener = self.publish

    # -- listen keys --------------------------------------------------------------------

    def create(self, account: int) -> str:
        """The account's live listen key (a new one if it has none), kept alive."""
        now = self.clock_ms()
        key = self.by_account.get(account)
        if key is None or self.keys[key][1] <= now:
            if key is not None:
                self.close_key(key)
            key = "".join(secrets.choice(ALPHABET) for _ in range(64))
            self.by_account[account] = key
        self.keys[key] = (account, now + self.ttl_ms)
        return key

    def keepalive(self, account: int) -> bool:
        """Extend the account's key; False if it has none alive."""
        key = self.by_account.get(account)
        now = self.clock_ms()
        if key is None or self.keys[key][1] <= now:
            return False
        self.keys[key] = (account, now + self.ttl_ms)
        return True

    def close_account(self, account: int) -> None:
        key = self.by_account.get(account)
        if key is not None:
            self.close_key(key)

    def close_key(self, key: str, expired: bool = False) -> None:
        account, _ = self.keys.pop(key, (0, 0))
        if self.by_account.get(account) == key:
            del self.by_account[account]
        for conn in [c for c in self.connections.get(account, []) if c.key == key]:
            if expired:
                conn.queue.put_nowait(
                    json.dumps({"e": "listenKeyExpired", "E": self.clock_ms(), "listenKey": key})
                )
            conn.queue.put_nowait(None)

    def account_of(self, key: str) -> int | None:
        """The account of a live listen key, or None."""
        entry = self.keys.get(key)
        if entry is None or entry[1] <= self.clock_ms():
            return None
        return entry[0]

    def expire(self) -> int:
        """Close the keys whose time is up; how many."""
        now = self.clock_ms()
        gone = [k for k, (_, expiry) in self.keys.items() if expiry <= now]
        for key in gone:
            self.close_key(key, expired=True)
        return len(gone)

    # -- connections --------------------------------------------------------------------

    def connect(self, key: str) -> Connection | None:
        account = self.account_of(key)
        if account is None:
            return None
        conn = Connection(account, key)
        self.connections.setdefault(account, []).append(conn)
        return conn

    def disconnect(self, conn: Connection) -> None:
        conns = self.connections.get(conn.account, [])
        if conn in conns:
            conns.remove(conn)
        if not conns:
            self.connections.pop(conn.account, None)

    def open_streams(self) -> int:
        return sum(len(c) for c in self.connections.values())

    def publish(self, account: int, change: Change) -> None:
        """History's listener: one durable change of ``account`` to its connections."""
        conns = self.connections.get(account)
        if not conns:
            return
        texts = [json.dumps(e, separators=(",", ":")) for e in self.events(account, change)]
        for conn in conns:
            if conn.dropped:
                continue
            if conn.queue.qsize() >= self.max_queue:
                conn.dropped = True
                self.slow_closed += 1
                conn.queue.put_nowait(None)
                continue
            for text in texts:
                conn.queue.put_nowait(text)
                self.sent += 1

    def events(self, account: int, change: Change) -> list[JSON]:
        """The stream events of one change: an algo order that is not yet triggered
        reports ALGO_UPDATE; the moment it triggers, ALGO_UPDATE (TRIGGERED) and the
        new working order's ORDER_TRADE_UPDATE; after that, ORDER_TRADE_UPDATE."""
        wire = self.wire
        if change.kind == "order":
            row = change.order
            assert row is not None
            if row.algo:
                return [wire.algo_update(change)]
            update = wire.order_update(change, wire.contracts[row.symbol].quote)
            if row.conditional and change.exec_type == "NEW":  # it has just triggered
                return [wire.algo_update(change), update]
            return [update]
        if change.kind == "config":
            return [wire.config_update(change)]
        return [wire.account_update(change, self.history, account)]


__all__ = ["LISTEN_KEY_TTL_MS", "Connection", "UserStreams"]
