"""The platform's sequencer and the CLI's recorder journal the same inputs alike.

Both ask :class:`oracle.policy.JournalPolicy` where checkpoints and snapshots go, so the
same venue stream gives checkpoints and snapshots at the same seqs whichever of the two
wrote the journal (this held before only while ``snapshot_every`` was a multiple of
``checkpoint_every``), and each journal audits clean: every checkpoint is the state hash
that re-executing its records gives. (The sequencer stamps its own times, so the hashes
of the two journals differ; the seqs may not.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from helpers.streams import SEED, command_stream
from helpers.venue import make_contracts

from exchange.runtime.machines import VenueFactory, VenueMachine, venue_genesis
from exchange.runtime.recorder import Recorder
from exchange.runtime.sequencer import Sequencer
from oracle import Journal
from oracle.replay import audit
from venue.venue import Venue
from venue.wire import command_to_wire, events_to_wire

N = 900


def _marks(journal: Journal) -> tuple[list[int], list[int]]:
    """The seqs of the checkpoints and of the snapshots, after an audit that checks them."""
    report = audit(journal, VenueFactory())
    assert report.ok, report.divergence and report.divergence.describe()
    checkpoints = [r.seq for r in journal.records() if r.checkpoint]
    return checkpoints, [s.seq for s in journal.snapshots()]


def _recorded(path: Path, commands: list[Any], **policy: int) -> tuple[list[int], list[int]]:
    contracts = make_contracts()
    venue = Venue(contracts)
    journal = Journal.open(path, create=True, genesis=venue_genesis(contracts))
    recorder = Recorder(journal, VenueMachine(venue), batch_size=64, **policy)
    for cmd in commands:
        events = venue.apply(cmd)
        recorder.add(cmd.seq, cmd.ts, command_to_wire(cmd), events_to_wire(events))
    recorder.flush()
    marks = _marks(journal)
    journal.close()
    return marks


def _sequenced(path: Path, commands: list[Any], **policy: int) -> tuple[list[int], list[int]]:
    contracts = make_contracts()
    journal = Journal.open(path, create=True, genesis=venue_genesis(contracts))
    seq = Sequencer(Venue(contracts), journal, max_batch=64, **policy)

    async def main() -> None:
        task = asyncio.create_task(seq.run())
        for cmd in commands:
            await seq.submit(cmd._replace(seq=0, ts=0))
        seq.stop()
        await task

    asyncio.run(main())
    marks = _marks(journal)
    journal.close()
    return marks


@pytest.mark.parametrize(
    "policy",
    [
        {"checkpoint_every": 0, "snapshot_every": 300},
        {"checkpoint_every": 70, "snapshot_every": 300},
        {"checkpoint_every": 100, "snapshot_every": 0},
    ],
    ids=["no-checkpoints", "not-a-multiple", "no-snapshots"],
)
def test_sequencer_and_recorder_mark_the_same_records(
    tmp_path: Path, policy: dict[str, int]
) -> None:
    commands = command_stream(SEED, N)
    rec_checkpoints, rec_snapshots = _recorded(tmp_path / "r", commands, **policy)
    seq_checkpoints, seq_snapshots = _sequenced(tmp_path / "s", commands, **policy)
    assert rec_checkpoints == seq_checkpoints
    expected = sorted(
        {
            n
            for n in range(1, N + 1)
            if policy["snapshot_every"] and n % policy["snapshot_every"] == 0
        }
        | {
            n
            for n in range(1, N + 1)
            if policy["checkpoint_every"] and n % policy["checkpoint_every"] == 0
        }
    )
    assert rec_checkpoints == expected
    assert rec_snapshots == [
        n for n in expected if policy["snapshot_every"] and n % policy["snapshot_every"] == 0
    ]
    # the sequencer also stores a final snapshot when it stops (at N, unless one is there)
    assert [n for n in seq_snapshots if n != N] == [n for n in rec_snapshots if n != N]
