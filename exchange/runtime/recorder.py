"""The journaling side of the sequencer: group commit, checkpoints and snapshots.

The sequencer executes an input, then hands the record to :class:`Recorder`, which
commits records in batches of ``batch_size`` (one atomic, durable write each), writes
the machine's state hash into every ``checkpoint_every``-th record, and stores a
snapshot after every ``snapshot_every``-th record. A refused batch stays queued (nothing
is dropped silently). Today's callers (the CLI commands) act on events as soon as the
engine returns them, before their batch is committed; the sequencer that publishes
events to subscribers must release them only after :meth:`flush` returns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from exchange.runtime.machines import TitanMachine
from oracle import Head, Journal, Record
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
        batch_size: int = 1024,
        checkpoint_every: int = 10_000,
        snapshot_every: int = 100_000,
    ) -> None:
        if batch_size < 1 or checkpoint_every < 0 or snapshot_every < 0:
            raise ValueError("batch_size must be >= 1; checkpoint/snapshot intervals >= 0")
        self.journal = journal
        self.machine = machine
        self.batch_size = batch_size
        self.checkpoint_every = checkpoint_every
        self.snapshot_every = snapshot_every
        self._pending: list[Record] = []
        self.snapshots = 0

    def add(self, seq: int, ts: int, input: Any, events: Any) -> None:
        """Queue the record of an input the machine has just executed."""
        blob = state_hash = None
        if self.snapshot_every and seq % self.snapshot_every == 0:
            # the Machine contract: state_hash() == sha256(snapshot()); encode only once
            blob = self.machine.snapshot()
            state_hash = hashlib.sha256(blob).hexdigest()
        checkpoint = None
        if self.checkpoint_every and seq % self.checkpoint_every == 0:
            checkpoint = state_hash or self.machine.state_hash()
        self._pending.append(Record(seq, ts, input, events, checkpoint))
        if blob is not None and state_hash is not None:
            self.flush()
            self.journal.save_snapshot(seq, state_hash, blob)
            self.snapshots += 1
        elif len(self._pending) >= self.batch_size:
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
    batch_size: int = 1024,
    checkpoint_every: int = 10_000,
    snapshot_every: int = 100_000,
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
