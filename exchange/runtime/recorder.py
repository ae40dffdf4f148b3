"""Journaling for the CLI's commands: group commit, checkpoints and snapshots.

The synchronous counterpart of the platform's sequencer, for ``exchange simulate``,
``titan`` and ``lobster`` with ``--journal``: after the engine executes an input,
:class:`Recorder` queues its record and commits records in batches of ``batch_size``
(one atomic, durable write each); which records carry a checkpoint and after which a
snapshot is stored is :class:`oracle.policy.JournalPolicy`'s rule, the same as the
sequencer's. A refused batch stays queued (nothing is dropped silently). The CLI
commands print events as soon as the engine returns them, before their batch is
committed: nothing outside the process relies on them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from exchange.runtime.machines import TitanMachine
from oracle import Head, Journal, Record
from oracle.policy import (
    DEFAULT_BATCH,
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_SNAPSHOT_EVERY,
    JournalPolicy,
    Mark,
)
from oracle.replay import Machine
from titan import Engine
from titan.commands import Command
from titan.events import Event
from titan.wire import command_to_wire, events_to_wire


class Recorder:
    """Collects records for ``journal`` and commits them in groups."""

    def __init__(
        self,
        journal: Journal,
        machine: Machine,
        *,
        batch_size: int = DEFAULT_BATCH,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    ) -> None:
        self.policy = JournalPolicy(batch_size, checkpoint_every, snapshot_every)
        self.journal = journal
        self.machine = machine
        self._pending: list[Record] = []

    def add(self, seq: int, ts: int, input: Any, events: Any) -> None:
        """Queue the record of an input the machine has just executed."""
        mark = self.policy.mark(seq)
        if mark is Mark.NONE:
            self._pending.append(Record(seq, ts, input, events, None))
        elif mark is Mark.CHECKPOINT:
            self._pending.append(Record(seq, ts, input, events, self.machine.state_hash()))
        else:
            # the Machine contract: state_hash() == sha256(snapshot()); encode only once
            blob = self.machine.snapshot()
            state_hash = hashlib.sha256(blob).hexdigest()
            self._pending.append(Record(seq, ts, input, events, state_hash))
            self.flush()
            self.journal.save_snapshot(seq, state_hash, blob)
            return
        if len(self._pending) >= self.policy.batch:
            self.flush()

    def close(self) -> Head:
        """Commit what is queued and close the journal."""
        try:
            return self.flush()
        finally:
            self.journal.close()

    def flush(self) -> Head:
        """Commit every queued record (durably in SYNC mode) and return the new head."""
        if self._pending:
            head = self.journal.append(self._pending)  # raises -> the batch stays queued
            self._pending = []
            return head
        return self.journal.head


def journaled_apply(engine: Engine, recorder: Recorder) -> Callable[[Command], list[Event]]:
    """``engine.apply`` that also queues each command's record in ``recorder``."""
    apply, add = engine.apply, recorder.add

    def run(cmd: Command) -> list[Event]:
        events = apply(cmd)
        add(cmd.seq, cmd.ts, command_to_wire(cmd), events_to_wire(events))
        return events

    return run


def journal_commands(
    journal: Journal,
    engine: Engine,
    commands: Iterable[Command],
    *,
    batch_size: int = DEFAULT_BATCH,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
) -> int:
    """Execute ``commands`` on ``engine`` and journal each with its events; returns count.

    Each command's seq must be the journal's next seq (AppendError otherwise).
    """
    rec = Recorder(
        journal,
        TitanMachine(engine),
        batch_size=batch_size,
        checkpoint_every=checkpoint_every,
        snapshot_every=snapshot_every,
    )
    apply = journaled_apply(engine, rec)
    count = 0
    for cmd in commands:
        apply(cmd)
        count += 1
    rec.flush()
    return count
