"""Determinism of the venue (Titan + Sentinel): equal command streams, equal events.

A seeded ``random.Random`` builds a mixed venue stream over BTCUSDT and ETHUSDT
(:mod:`helpers.streams`): deposits, withdrawals, leverage and margin-type changes, limit
(GTC, IOC, FOK, post-only), market, stop and take-profit orders, reduce-only orders,
cancels, cancel-alls, amends, mark prices that walk and jump (liquidations, fund
takeovers, ADL) and cross funding times with non-zero rates, and some invalid commands.
This module proves that:

- running it twice in one process gives identical events and state hash;
- running it in fresh interpreters with ``PYTHONHASHSEED`` 0, 1, 12345 and ``random``
  gives the same state hash and the same event digest (SHA-256 over the msgpack of every
  event as a tuple), so nothing depends on string hashing or set order;
- exporting and restoring the state at any point (also through the msgpack blob) and
  running the rest gives the same events and hash as the uninterrupted run, even where
  the rebuilt liquidation index differs from the one the uninterrupted run had;
- restoring rejects tampered states with ValueError (sizes that do not sum to zero,
  money that is not conserved, a position left crossed, an empty position);
- every state the venue reaches can be restored (a pending stop order, large deposits).

The stream is :func:`helpers.streams.command_stream`; the subprocess test runs
``python -m helpers.streams SEED N``, which prints the digests of one run as JSON.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from helpers.paths import subprocess_env
from helpers.streams import N_COMMANDS, SEED, command_stream, run, summary
from helpers.venue import (
    BTC,
    ETH,
    MID,
    SPECS,
    SYMBOLS,
    T0,
    Harness,
    crossed_units,
    open_market,
    started_units,
)

from sentinel.commands import Deposit, MarkPrice, SetLeverage
from sentinel.events import BalanceChanged, Refusal, Refused
from sentinel.ledger import FUND
from sentinel.units import MAX_DEPOSITS, MAX_VALUE, money
from titan.commands import NewOrder
from titan.enums import OrderType, Side
from venue.state import decode_venue_state, encode_venue_state
from venue.venue import Venue


@pytest.fixture(scope="module")
def whole() -> tuple[list[Any], Venue, list[Any]]:
    commands = command_stream(SEED, N_COMMANDS)
    venue, events = run(commands)
    return commands, venue, events


def test_stream_exercises_the_venue(whole: tuple[list[Any], Venue, list[Any]]) -> None:
    """The stream is not trivial: it trades, liquidates (through the book, the fund and
    ADL), settles funding, triggers stops, trims reduce-only orders and refuses."""
    commands, venue, events = whole
    kinds = Counter(type(e).__name__ for e in events)
    for kind, least in (
        ("Trade", 200),
        ("Amended", 10),
        ("Triggered", 5),
        ("Refused", 20),
        ("Rejected", 10),
        ("LiquidationStarted", 20),
        ("InsuranceTakeover", 5),
        ("AutoDeleveraged", 5),
        ("FundingSettled", 10),
        ("FundingPaid", 50),
        ("ReduceOnlyCancelled", 1),
    ):
        assert kinds[kind] >= least, f"only {kinds[kind]} {kind} events: {kinds}"
    two_symbol = isolated = 0
    unit: tuple[Any, set[str]] | None = None
    for e in events:
        name = type(e).__name__
        if name == "LiquidationStarted":
            unit = (e, set())
        elif name == "PositionChanged" and unit is not None and e.account == unit[0].account:
            unit[1].add(e.symbol)
        elif name == "LiquidationFinished" and unit is not None:
            two_symbol += not unit[0].symbol and len(unit[1]) == 2
            isolated += bool(unit[0].symbol)
            unit = None
    assert two_symbol >= 2 and isolated >= 2, (two_symbol, isolated)
    assert venue.check_invariants() == []


def test_same_stream_twice_gives_same_events_and_hash(
    whole: tuple[list[Any], Venue, list[Any]],
) -> None:
    commands, venue, events = whole
    assert command_stream(SEED, N_COMMANDS) == commands
    again, events2 = run(commands)
    assert events2 == events
    assert [type(e) for e in events2] == [type(e) for e in events]
    assert again.state_hash() == venue.state_hash()
    assert again.export_state() == venue.export_state()


def test_digest_is_sensitive_to_the_stream() -> None:
    a, b = summary(SEED, 600), summary(SEED + 1, 600)
    assert a["event_digest"] != b["event_digest"]
    assert a["state_hash"] != b["state_hash"]


@pytest.mark.parametrize("cut", [1, 4, 10, 1_000, 1_500, 2_222, 2_999])
@pytest.mark.parametrize("through_bytes", [False, True], ids=["dict", "msgpack"])
def test_snapshot_and_resume_matches_uninterrupted_run(
    whole: tuple[list[Any], Venue, list[Any]], cut: int, through_bytes: bool
) -> None:
    commands, venue, events = whole
    first, head = run(commands[:cut])
    state = first.export_state()
    if through_bytes:
        state = decode_venue_state(encode_venue_state(state))
    restored = Venue.restore(state)
    assert restored.state_hash() == first.state_hash()
    resumed, tail = run(commands[cut:], restored)
    assert head + tail == events
    assert resumed.state_hash() == venue.state_hash()


@pytest.mark.slow_io
def test_hash_and_digest_do_not_depend_on_pythonhashseed() -> None:
    results = []
    for hash_seed in ("0", "1", "12345", "random"):
        proc = subprocess.run(
            [sys.executable, "-m", "helpers.streams", str(SEED), str(N_COMMANDS)],
            env=subprocess_env(PYTHONHASHSEED=hash_seed),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads(proc.stdout))
    assert len({r["str_hash"] for r in results}) >= 3, "the hash seeds did not take effect"
    local = summary(SEED, N_COMMANDS)
    for r in results:
        assert r["state_hash"] == local["state_hash"]
        assert r["event_digest"] == local["event_digest"]
        assert r["events"] == local["events"]


# -- the rebuilt index must not change what happens next ------------------------------


def test_restored_index_bands_do_not_change_the_events() -> None:
    """A restored venue rebuilds the liquidation index from the current state, so a
    two-symbol cross unit gets other bands than the uninterrupted venue had: here unit 20
    (long 0.1 BTC and 3 ETH, a bid of 1 BTC at 49,000) was banded at 50,000 / 3,000, then
    ETH fell within its band. Restored, its BTC band is narrower, so a BTC tick to 47,000
    pops it as a false alarm in the restored venue only. The tick crosses units 10 and 30;
    unit 10's liquidation sells into 20's bid, which crosses 20. Both venues must then
    liquidate 10, 20 and 30 in the same order with the same events."""
    h = Harness()
    open_market(h)
    k1, k2, k3 = 10, 20, 30
    h(Deposit, k1, "USDT", money("2600"))
    h(Deposit, k3, "USDT", money("2650"))
    h(Deposit, k2, "USDT", money("760"))
    for sym in SYMBOLS:
        h(SetLeverage, k2, sym, 100)
    h.trade("BTCUSDT", k1, True, BTC.qty_units("1"), MID["BTCUSDT"])
    h.trade("BTCUSDT", k3, True, BTC.qty_units("1"), MID["BTCUSDT"])
    h.trade("BTCUSDT", k2, True, BTC.qty_units("0.1"), MID["BTCUSDT"])
    h.trade("ETHUSDT", k2, True, ETH.qty_units("3"), MID["ETHUSDT"])
    h.order("BTCUSDT", k2, Side.BUY, BTC.qty_units("1"), BTC.price_units("49000"))
    assert started_units(h(MarkPrice, "ETHUSDT", ETH.price_units("2950"))) == []
    restored = h.clone()
    key = (k2, "USDT", "")
    tick = BTC.price_units("47000")

    def band(v: Venue) -> int:
        ((_, t),) = [(lg, t) for lg, t, k in v.ledger.index_entries("BTCUSDT") if k == key]
        return t

    assert band(h.venue) < tick <= band(restored.venue), "the premise: the bands differ"
    assert key not in crossed_units(h.venue.export_state(), {"BTCUSDT": tick}), "a false alarm"
    events = h(MarkPrice, "BTCUSDT", tick)
    assert restored(MarkPrice, "BTCUSDT", tick) == events
    assert started_units(events) == [(k1, "USDT", ""), (k2, "USDT", ""), (k3, "USDT", "")]
    assert restored.venue.state_hash() == h.venue.state_hash()


# -- restore: what it must refuse, and what it must accept ----------------------------


def _tamper_size(state: dict[str, Any]) -> None:
    row = next(r for r in state["sentinel"]["wallets"] if r[0] != FUND and r[4])
    row[4][0][1] += SPECS[row[4][0][0]].lot  # one lot more: sizes no longer sum to zero


def _tamper_balance(state: dict[str, Any]) -> None:
    row = next(r for r in state["sentinel"]["wallets"] if r[0] != FUND)
    row[2] += 1  # one money unit appears from nowhere


def _tamper_crossed(state: dict[str, Any]) -> None:
    """Move a cross unit's whole wallet into the fees: money is conserved, the unit is
    crossed, which no command could leave behind."""
    s = state["sentinel"]
    row = next(r for r in s["wallets"] if r[0] != FUND and any(not p[3] for p in r[4]) and r[2] > 0)
    s["fees"][0][1] += row[2] + money("1000000")
    row[2] = -money("1000000")


def _tamper_empty_position(state: dict[str, Any]) -> None:
    row = next(r for r in state["sentinel"]["wallets"] if r[0] != FUND)
    row[4].append(["ETHUSDT" if all(p[0] != "ETHUSDT" for p in row[4]) else "BTCUSDT", 0, 0,
                   False, 0])  # fmt: skip
    row[4].sort()


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_tamper_size, "sizes sum to"),
        (_tamper_balance, "net deposits"),
        (_tamper_crossed, "crossed"),
        (_tamper_empty_position, "empty position"),
    ],
    ids=["size", "balance", "crossed", "empty-position"],
)
def test_restore_rejects_a_tampered_state(
    whole: tuple[list[Any], Venue, list[Any]], tamper: Any, reason: str
) -> None:
    commands, _, _ = whole
    venue, _ = run(commands[:1_500])
    state = venue.export_state()
    assert any(r[4] for r in state["sentinel"]["wallets"] if r[0] != FUND), "no positions"
    Venue.restore(copy.deepcopy(state))  # the untouched state is fine
    tamper(state)
    with pytest.raises(ValueError, match=reason):
        Venue.restore(state)


def test_a_pending_stop_order_can_be_restored() -> None:
    """A stop-market order waiting for its trigger is part of the state like any other;
    the venue must be able to restore from a snapshot taken while one is pending."""
    h = Harness()
    open_market(h)
    h(Deposit, 7, "USDT", money("2000"))
    events = h.venue.apply(
        NewOrder(
            100,
            T0 + 100,
            "BTCUSDT",
            7,
            1,
            Side.BUY,
            BTC.qty_units("0.01"),
            0,
            OrderType.STOP_MARKET,
            stop_price=MID["BTCUSDT"] + 1_000,
        )  # fmt: skip
    )
    assert [type(e).__name__ for e in events] == ["Accepted"]
    assert h.venue.check_invariants() == []
    assert Venue.restore(h.venue.export_state()).state_hash() == h.venue.state_hash()


def test_large_deposits_keep_the_state_restorable() -> None:
    """An asset's net deposits (and any one wallet's) may reach MAX_DEPOSITS, 2**61 money
    units, so that no total of the state goes beyond int64: large deposits up to that
    limit are accepted, and the state they leave encodes and restores exactly; one money
    unit more, or a deposit of MAX_VALUE, is refused and changes nothing."""
    h = Harness()
    open_market(h)  # the market maker holds 1,000,000,000 USDT
    rest = money("1000000000")
    large = MAX_DEPOSITS - money("1000000000") - rest
    assert large > MAX_DEPOSITS // 2
    for account, amount in ((7, large), (8, rest)):  # up to the limit exactly
        events = h(Deposit, account, "USDT", amount)
        (change,) = [e for e in events if type(e) is BalanceChanged]
        assert (change.account, change.amount, change.balance) == (account, amount, amount)
        assert not any(type(e) is Refused for e in events)
    before = h.venue.state_hash()
    for account, amount in ((9, money("0.00000001")), (7, money("1")), (10, MAX_VALUE)):
        events = h(Deposit, account, "USDT", amount)
        assert [(type(e), getattr(e, "reason", None)) for e in events] == [
            (Refused, Refusal.INVALID_AMOUNT)
        ], (account, amount, events)
        assert h.venue.state_hash() == before
    state = h.venue.export_state()
    restored = Venue.restore(decode_venue_state(encode_venue_state(state)))
    assert restored.state_hash() == h.venue.state_hash()
    assert restored.export_state() == state
