"""The API assembled for ``exchange run``: keys, read model, rate limits, server, demo account.

Rules
-----
- At start-up the read model (:class:`~exchange.gateway.history.History`) is rebuilt
  from the journal's records for the accounts that hold keys, so that ``allOrders``,
  ``userTrades`` and ``income`` survive a restart; then it follows the sequencer.
- The demo account (:data:`DEMO_ACCOUNT`) gets a key the first time (kept in the key
  file across restarts) and, whenever its wallet is empty, a deposit of
  :data:`DEMO_DEPOSIT` USDT, journaled like every deposit.
- The admin token is made fresh at every start and written beside the key file
  (``<keys>.admin``, mode 0600), where ``exchange deposit`` reads it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from exchange.config.settings import ApiSettings
from exchange.gateway.history import History
from exchange.gateway.keys import KeyRecord, KeyStore
from exchange.gateway.limits import LimitSettings, RateLimiter
from exchange.gateway.rest import Rest
from exchange.gateway.server import Gateway
from exchange.gateway.userstream import UserStreams
from exchange.gateway.wire import Wire
from exchange.runtime.sequencer import Committed, Sequencer
from oracle import Journal
from sentinel.commands import Deposit
from sentinel.contracts import Contract
from sentinel.units import MONEY_ONE
from venue.venue import Venue
from venue.wire import command_from_wire, event_from_wire

DEMO_ACCOUNT = 10_001
DEMO_DEPOSIT = 100_000  # USDT
DEMO_LABEL = "demo"


def admin_token_path(keys_file: str | Path) -> Path:
    return Path(str(keys_file) + ".admin")


def replay_history(history: History, journal: Journal, stop: int) -> int:
    """Feed records 1..``stop`` of ``journal`` to ``history``; how many were read."""
    n = 0
    for rec in journal.records(1, stop):
        cmd = command_from_wire(rec.input)
        events = [event_from_wire(e) for e in rec.events]
        history.apply(Committed(rec.seq, rec.ts, cmd, events))
        n += 1
    return n


@dataclass
class Api:
    """A running API: the server and what it is made of."""

    gateway: Gateway
    history: History
    keys: KeyStore
    demo: KeyRecord
    port: int
    admin_port: int


async def start_api(
    api: ApiSettings,
    journal_path: str,
    contracts: list[Contract],
    seq: Sequencer,
    venue: Venue,
    journal: Journal,
    clock_ms: Callable[[], int],
) -> Api:
    """Build and start the API (see the module rules); OSError if a port is taken."""
    keys = KeyStore(api.keys_path(journal_path))
    demo = next(
        (r for r in keys.records(DEMO_ACCOUNT) if r.label == DEMO_LABEL and not r.revoked), None
    )
    if demo is None:
        demo = keys.create(DEMO_ACCOUNT, now_ms=clock_ms(), label=DEMO_LABEL)
    history = History(api.history)
    history.follow(keys.accounts())
    replay_history(history, journal, journal.last_seq)
    seq.subscribe(history.on_committed)
    wire = Wire(contracts)
    limits = LimitSettings(
        request_weight_per_minute=api.request_weight_per_minute,
        orders_per_10s=api.orders_per_10s,
        orders_per_minute=api.orders_per_minute,
    )
    rest = Rest(seq, venue, history, wire, limits, clock_ms)
    streams = UserStreams(history, wire, clock_ms)
    token = secrets.token_hex(32)
    path = admin_token_path(keys.path)
    if api.admin_port:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
    gateway = Gateway(
        rest, keys, RateLimiter(limits), streams, admin_token=token, clock_ms=clock_ms
    )
    port, admin_port = await gateway.start(
        api.host, api.port, api.admin_port if api.admin_port else None
    )
    for c in contracts:
        if c.quote != "USDT":
            continue
        w = venue.ledger.wallets.get((DEMO_ACCOUNT, c.quote))
        if w is None or w.balance == 0:
            await seq.submit(Deposit(0, 0, DEMO_ACCOUNT, c.quote, DEMO_DEPOSIT * MONEY_ONE))
        break
    return Api(gateway, history, keys, demo, port, admin_port)


__all__ = ["DEMO_ACCOUNT", "Api", "admin_token_path", "replay_history", "start_api"]
