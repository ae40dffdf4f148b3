"""The venue (Titan + Sentinel) journaled with Oracle, replayed and audited.

A seeded stream that trades, liquidates through the book, the fund and ADL, settles
funding and refuses commands is recorded into a RocksDB journal with checkpoints and
snapshots; the journal alone (its genesis names the venue and its contracts) rebuilds
the state at any seq and re-executes every record to the same events and state hashes.
A journaled input changed after the fact is named at its seq.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import ROOT
from helpers.streams import N_COMMANDS, SEED, command_stream
from helpers.venue import make_contracts

from exchange.runtime.machines import VenueFactory, VenueMachine, parse_contracts, venue_genesis
from exchange.runtime.recorder import Recorder
from oracle import Journal
from oracle.replay import audit, rebuild
from venue.venue import Venue
from venue.wire import command_from_wire, command_to_wire, event_from_wire, events_to_wire


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any], dict[int, str]]:
    """The stream journaled as the sequencer will: execute, then record; hashes by seq."""
    path = tmp_path_factory.mktemp("venue") / "journal"
    contracts = make_contracts()
    commands = command_stream(SEED, N_COMMANDS)
    venue = Venue(contracts)
    journal = Journal.open(path, create=True, genesis=venue_genesis(contracts))

    recorder = Recorder(
        journal, VenueMachine(venue), batch_size=256, checkpoint_every=100, snapshot_every=1000
    )
    hashes: dict[int, str] = {}
    for cmd in commands:
        events = venue.apply(cmd)
        recorder.add(cmd.seq, cmd.ts, command_to_wire(cmd), events_to_wire(events))
        if cmd.seq % 250 == 0 or cmd.seq == len(commands):
            hashes[cmd.seq] = venue.state_hash()
    recorder.close()
    return path, commands, hashes


def test_wire_round_trip_of_every_kind(recorded: tuple[Path, list[Any], dict[int, str]]) -> None:
    _, commands, _ = recorded
    venue = Venue(make_contracts())
    kinds: set[str] = set()
    for cmd in commands[:1500]:
        tag, fields = command_to_wire(cmd)
        assert command_from_wire([tag, list(fields)]) == cmd
        for tag, event in events_to_wire(venue.apply(cmd)):
            kinds.add(tag)
            assert event_from_wire([tag, list(event)]) == event
    assert {"BalanceChanged", "PositionChanged", "LiquidationStarted", "Trade"} <= kinds
    with pytest.raises(TypeError, match="not a venue command"):
        command_to_wire(object())
    with pytest.raises(ValueError, match="unknown command type 'SetMarkPrice'"):
        command_from_wire(["SetMarkPrice", [1, 1, "BTCUSDT", 1]])


def test_genesis_names_the_venue_and_its_contracts(
    recorded: tuple[Path, list[Any], dict[int, str]],
) -> None:
    path, _, _ = recorded
    journal = Journal.open(path, read_only=True)
    try:
        assert parse_contracts(journal.genesis) == make_contracts()
    finally:
        journal.close()


def test_rebuild_at_any_seq_equals_the_live_run(
    recorded: tuple[Path, list[Any], dict[int, str]],
) -> None:
    path, commands, hashes = recorded
    journal = Journal.open(path, read_only=True)
    try:
        for seq, want in sorted(hashes.items()):
            for use_snapshots in (True, False) if seq in (1250, len(commands)) else (True,):
                got = rebuild(journal, VenueFactory(), seq, use_snapshots=use_snapshots)
                assert got.machine.state_hash() == want, (seq, use_snapshots)
    finally:
        journal.close()


def test_audit_re_executes_every_record(recorded: tuple[Path, list[Any], dict[int, str]]) -> None:
    path, commands, hashes = recorded
    journal = Journal.open(path, read_only=True)
    try:
        report = audit(journal, VenueFactory())
    finally:
        journal.close()
    assert report.ok, report.divergence
    assert report.records == len(commands)
    assert report.checkpoints == len(commands) // 100
    assert report.state_hash == hashes[len(commands)]


@pytest.mark.slow_io
@pytest.mark.parametrize(
    "verb", [["audit"], ["verify"], ["info"], ["replay", "--seq", "1250", "--json"]]
)
def test_journal_cli_reads_a_venue_journal(
    recorded: tuple[Path, list[Any], dict[int, str]], verb: list[str]
) -> None:
    path, _, hashes = recorded
    proc = subprocess.run(
        [sys.executable, "-m", "exchange", "journal", verb[0], str(path), *verb[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if verb[0] == "replay":
        assert json.loads(proc.stdout)["state_hash"] == hashes[1250]


def test_a_changed_input_is_named_at_its_seq(tmp_path: Path) -> None:
    """A writer that journals a different (accepted) deposit than it executed: the audit
    names the record (its events do not follow from its input)."""
    contracts = make_contracts()
    commands = command_stream(SEED, 400)
    venue = Venue(contracts)
    journal = Journal.open(tmp_path / "j", create=True, genesis=venue_genesis(contracts))

    recorder = Recorder(journal, VenueMachine(venue), batch_size=64, checkpoint_every=50)
    lied = 0
    for cmd in commands:
        events = venue.apply(cmd)
        wire: Any = command_to_wire(cmd)
        accepted = any(type(e).__name__ == "BalanceChanged" for e in events)
        if not lied and type(cmd).__name__ == "Deposit" and cmd.seq > 100 and accepted:
            lied = cmd.seq
            wire = (wire[0], cmd._replace(amount=cmd.amount + 1))
        recorder.add(cmd.seq, cmd.ts, wire, events_to_wire(events))
    recorder.close()
    assert lied
    journal = Journal.open(tmp_path / "j", read_only=True)
    try:
        report = audit(journal, VenueFactory())
    finally:
        journal.close()
    assert report.divergence is not None and report.divergence.seq == lied
