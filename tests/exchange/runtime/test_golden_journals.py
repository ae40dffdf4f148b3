"""Golden journals: the exact chain heads of journals written before the code moved.

The chain hash of a journal's last record covers every byte of every record before it
(input, events, checkpoint, seq, ts: see docs/oracle.md), so one pinned head per journal
pins the whole journal. Both values were written by the code before the layout change
(commit 05d58c2); a change of behaviour anywhere on the record path (engines, wire
form, codec, checkpoint policy) fails here, naming the journal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.streams import command_stream, make_contracts

from exchange.cli.main import main
from exchange.runtime.machines import VenueMachine, venue_genesis
from exchange.runtime.recorder import Recorder
from oracle import Journal
from venue.venue import Venue
from venue.wire import command_to_wire, events_to_wire

SIMULATE_HEAD = "0210e83471b785df60be502a9c26456cc43ea0d148b777c446c8d3cce64fbbdf"
SIMULATE_STATE = "be5c35e4156bd71865347d6e0f9ae9f2c5e6097d26979e2332a486be5e48c2c9"
VENUE_HEAD = "c2974f8f9ccdd66dccdc01ad1a241bc6057ce3bf3f8faf140145f4e541066f07"
VENUE_STATE = "72c7982bddeed56155ebff4795840be6ee5722b9e21311721fb8621b1ff9a145"


@pytest.mark.slow_io  # 20,000 commands through the CLI into RocksDB
def test_exchange_simulate_journal_is_the_golden_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sim"
    argv = ["simulate", "--seed", "1", "--commands", "20000", "--journal", str(path)]
    assert main(argv) == 0
    assert f"state hash: {SIMULATE_STATE}" in capsys.readouterr().out
    with Journal.open(path, read_only=True) as journal:
        assert journal.head.seq == 20_000
        assert journal.head.chain.hex() == SIMULATE_HEAD
        assert [r.seq for r in journal.records() if r.checkpoint] == [10_000, 20_000]


def test_venue_journal_with_liquidations_is_the_golden_one(tmp_path: Path) -> None:
    contracts = make_contracts()
    venue = Venue(contracts)
    journal = Journal.open(tmp_path / "venue", create=True, genesis=venue_genesis(contracts))
    recorder = Recorder(
        journal, VenueMachine(venue), batch_size=256, checkpoint_every=500, snapshot_every=1000
    )
    for cmd in command_stream(2, 3_000):
        recorder.add(cmd.seq, cmd.ts, command_to_wire(cmd), events_to_wire(venue.apply(cmd)))
    recorder.flush()
    assert venue.state_hash() == VENUE_STATE
    assert journal.head.chain.hex() == VENUE_HEAD
    assert [s.seq for s in journal.snapshots()] == [1_000, 2_000, 3_000]
    journal.close()
