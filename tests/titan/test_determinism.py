"""Determinism: equal command streams give equal events and equal state hashes, everywhere.

A seeded ``random.Random`` builds a mixed stream (every order type, TIF, STP mode and
working type, cancels by id and client id, cancel-all, amends, mark prices, some invalid
commands) over two symbols. This module proves that:

- running it twice in one process gives identical events and state hash;
- running it in fresh interpreters with ``PYTHONHASHSEED`` 0, 1 and 12345 gives the same
  state hash and the same event digest (SHA-256 over the JSON of every event), so no
  result depends on string hashing or set order;
- stopping half-way, exporting and restoring the state, then running the rest gives the
  same events and hash as the uninterrupted run;
- the digest is sensitive: a different seed gives a different digest.

Run as a script (``PYTHONPATH=tests python tests/titan/test_determinism.py SEED N``) it
prints the digests of one run as JSON; the subprocess tests use that.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import subprocess_env
from helpers.strategies import ACCOUNTS, CONDITIONAL_TYPES, MARKET_TYPES, MID, SPEC, SPECS

from titan import (
    Amend,
    Cancel,
    CancelAll,
    Command,
    Engine,
    Event,
    NewOrder,
    OrderType,
    SetMarkPrice,
    Side,
    StpMode,
    TimeInForce,
    WorkingType,
    event_to_dict,
)

SEED = 20240611
N_COMMANDS = 4_000
TYPES = [OrderType.LIMIT] * 5 + [OrderType.MARKET] * 2 + sorted(CONDITIONAL_TYPES)


def command_stream(seed: int, n: int) -> list[Command]:
    """``n`` commands drawn from ``random.Random(seed)``; order ids are the seq, as the
    sequencer assigns them."""
    rng = random.Random(seed)
    issued: list[tuple[int, str, int]] = []  # (order id, symbol, account) ever sent
    coids = [f"cl-{i:03d}-{rng.getrandbits(32):08x}" for i in range(40)]
    out: list[Command] = []
    for seq in range(1, n + 1):
        ts = 1_700_000_000_000 + 3 * seq
        symbol = rng.choice(tuple(MID))
        spec, mid = SPEC[symbol], MID[symbol]
        account = rng.choice(ACCOUNTS)
        roll = rng.random()
        if roll < 0.55 or not issued:
            otype = rng.choice(TYPES)
            market = otype in MARKET_TYPES
            tifs = [TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]
            if not market:
                tifs += [TimeInForce.GTC, TimeInForce.GTX]
            qty = spec.lot * rng.randint(1, 10)
            price = 0 if market else mid + spec.tick * rng.randint(-6, 6)
            stop = mid + spec.tick * rng.randint(-8, 8) if otype in CONDITIONAL_TYPES else 0
            if rng.random() < 0.05:  # an invalid order now and then
                qty = rng.choice([0, -spec.lot, qty + 1])
            out.append(
                NewOrder(
                    seq,
                    ts,
                    symbol,
                    account,
                    seq,
                    rng.choice([Side.BUY, Side.SELL]),
                    qty,
                    price=price,
                    type=otype,
                    tif=rng.choice(tifs),
                    stop_price=stop,
                    working_type=rng.choice([WorkingType.CONTRACT_PRICE, WorkingType.MARK_PRICE]),
                    reduce_only=rng.random() < 0.1,
                    client_order_id=rng.choice(coids) if rng.random() < 0.3 else "",
                    stp=rng.choice([StpMode.NONE, *StpMode]),
                )
            )
            issued.append((seq, symbol, account))
        elif roll < 0.70:
            oid, sym, acct = rng.choice(issued[-25:])
            if rng.random() < 0.2:
                out.append(Cancel(seq, ts, sym, acct, client_order_id=rng.choice(coids)))
            else:
                out.append(Cancel(seq, ts, sym, acct if rng.random() < 0.9 else account, oid))
        elif roll < 0.74:
            out.append(CancelAll(seq, ts, symbol, account))
        elif roll < 0.90:
            oid, sym, acct = rng.choice(issued[-25:])
            s = SPEC[sym]
            out.append(
                Amend(
                    seq,
                    ts,
                    sym,
                    acct,
                    oid,
                    MID[sym] + s.tick * rng.randint(-6, 6),
                    s.lot * rng.randint(1, 10),
                )
            )
        else:
            out.append(SetMarkPrice(seq, ts, symbol, mid + rng.randint(-mid // 25, mid // 25)))
    return out


def run(commands: list[Command], engine: Engine | None = None) -> tuple[Engine, list[Event]]:
    engine = engine or Engine(SPECS)
    events: list[Event] = []
    for cmd in commands:
        events += engine.apply(cmd)
    return engine, events


def event_digest(events: list[Event]) -> str:
    h = hashlib.sha256()
    for e in events:
        h.update(json.dumps(event_to_dict(e), sort_keys=True, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def summary(seed: int, n: int) -> dict[str, Any]:
    engine, events = run(command_stream(seed, n))
    return {
        "state_hash": engine.state_hash(),
        "event_digest": event_digest(events),
        "events": len(events),
        "str_hash": hash("titan"),  # proves the interpreter's hash seed really differs
    }


def test_stream_exercises_the_engine() -> None:
    """The stream is not trivial: it trades, rests, triggers, amends, cancels and rejects."""
    engine, events = run(command_stream(SEED, N_COMMANDS))
    kinds = Counter(type(e).__name__ for e in events)
    for kind in ("Accepted", "Trade", "Triggered", "Amended", "Cancelled", "Expired", "Rejected"):
        assert kinds[kind] >= 10, f"only {kinds[kind]} {kind} events: {kinds}"
    assert any(engine.depth(s, 5).bids or engine.depth(s, 5).asks for s in MID), "books empty"
    assert engine.check_invariants() == []


def test_same_stream_twice_gives_same_events_and_hash() -> None:
    commands = command_stream(SEED, N_COMMANDS)
    assert command_stream(SEED, N_COMMANDS) == commands
    first, events1 = run(commands)
    second, events2 = run(commands)
    assert events1 == events2
    assert [type(e) for e in events1] == [type(e) for e in events2]
    assert first.state_hash() == second.state_hash()
    assert first.export_state() == second.export_state()


def test_digest_is_sensitive_to_the_stream() -> None:
    a, b = summary(SEED, 500), summary(SEED + 1, 500)
    assert a["event_digest"] != b["event_digest"]
    assert a["state_hash"] != b["state_hash"]


def test_snapshot_and_resume_matches_uninterrupted_run() -> None:
    commands = command_stream(SEED, N_COMMANDS)
    whole, events = run(commands)
    half = len(commands) // 2
    first, head = run(commands[:half])
    resumed, tail = run(commands[half:], Engine.restore(first.export_state()))
    assert head + tail == events
    assert resumed.state_hash() == whole.state_hash()


@pytest.mark.slow_io
def test_hash_and_digest_do_not_depend_on_pythonhashseed() -> None:
    script = Path(__file__).resolve()
    results = []
    for hash_seed in ("0", "1", "12345"):
        proc = subprocess.run(
            [sys.executable, str(script), str(SEED), str(N_COMMANDS)],
            env=subprocess_env(PYTHONHASHSEED=hash_seed),  # run as a script: helpers on the path
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads(proc.stdout))
    assert len({r["str_hash"] for r in results}) == 3, "the hash seeds did not take effect"
    local = summary(SEED, N_COMMANDS)
    for r in results:
        assert r["state_hash"] == local["state_hash"]
        assert r["event_digest"] == local["event_digest"]
        assert r["events"] == local["events"]


if __name__ == "__main__":
    print(json.dumps(summary(int(sys.argv[1]), int(sys.argv[2]))))
