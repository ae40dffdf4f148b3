"""Rebuild and audit: re-execute journaled inputs through a pure machine.

Oracle knows nothing of Titan or Sentinel. A *machine* turns one input (wire form) into
its events (wire form), hashes and snapshots its state; a *factory* makes a fresh machine
from the journal's genesis bytes or restores one from a snapshot blob. Because the
machines are deterministic, re-running the journaled inputs must give back the journaled
events byte for byte and the journaled state hashes: that is the audit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from oracle.codec import encode
from oracle.errors import JournalCorrupt, JournalError, SnapshotError
from oracle.journal import Journal
from oracle.record import Snapshot


class Machine(Protocol):
    """A deterministic state machine driven by journaled inputs."""

    def apply(self, input: Any) -> Sequence[Any]:
        """Execute one input (as journaled) and return its events (as they are journaled)."""

    def state_hash(self) -> str:
        """SHA-256 (hex) of the canonical state; equals sha256(snapshot()).hexdigest()."""

    def snapshot(self) -> bytes:
        """The canonical state as bytes."""


class MachineFactory(Protocol):
    """Makes machines for one journal."""

    def fresh(self, genesis: bytes) -> Machine:
        """The machine's state before record 1."""

    def restore(self, genesis: bytes, blob: bytes) -> Machine:
        """A machine from a snapshot blob."""


class Rebuilt(NamedTuple):
    """A machine brought to ``seq``: from the snapshot at ``snapshot_seq`` (0: from
    genesis) plus ``replayed`` records; ``skipped`` lists snapshots that failed checks."""

    machine: Machine
    seq: int
    snapshot_seq: int
    replayed: int
    seconds: float
    skipped: list[str]


class Divergence(NamedTuple):
    """The first place where re-execution disagrees with the journal.

    ``what`` is ``"events"`` (``event`` is the first differing event, -1 for a count
    mismatch), ``"checkpoint"`` or ``"snapshot"`` (expected/actual are state hashes), or
    ``"input"`` (the machine refused the journaled input; ``actual`` is the reason).
    """

    seq: int
    what: str
    event: int
    expected: Any
    actual: Any

    def describe(self) -> str:
        if self.what == "events":
            where = "event count" if self.event < 0 else f"event {self.event}"
            return (
                f"seq {self.seq}: {where} differs: journal has {self.expected!r}, "
                f"re-execution gives {self.actual!r}"
            )
        if self.what == "input":
            return f"seq {self.seq}: the machine refused the journaled input: {self.actual}"
        return (
            f"seq {self.seq}: {self.what} state hash differs: journal has {self.expected}, "
            f"re-execution gives {self.actual}"
        )


class AuditReport(NamedTuple):
    """Outcome of :func:`audit`. ``divergence`` is None when everything matched."""

    start_seq: int
    records: int
    events: int
    checkpoints: int
    snapshots: int
    seconds: float
    state_hash: str
    divergence: Divergence | None

    @property
    def ok(self) -> bool:
        return self.divergence is None

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def _start(
    journal: Journal, factory: MachineFactory, target: int, use_snapshots: bool
) -> tuple[Machine, int, list[str]]:
    skipped: list[str] = []
    limit = target
    while use_snapshots and limit > 0:
        snap, why = journal.newest_valid_snapshot(limit)
        skipped += why
        if snap is None:
            break
        try:
            return factory.restore(journal.genesis, snap.blob), snap.seq, skipped
        except (ValueError, TypeError, KeyError) as exc:
            skipped.append(f"snapshot {snap.seq} cannot be restored: {exc}")
            limit = snap.seq - 1
    return factory.fresh(journal.genesis), 0, skipped


def rebuild(
    journal: Journal,
    factory: MachineFactory,
    seq: int | None = None,
    *,
    use_snapshots: bool = True,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 100_000,
) -> Rebuilt:
    """The machine as it was after record ``seq`` (default: the last record).

    Starts from the newest valid snapshot at or before ``seq`` and replays the tail,
    chain-checked; a snapshot that fails its checks is skipped (and reported), never used.
    ``progress`` (if given) is called with the seq just replayed every ``progress_every``
    seqs (multiples of it).
    """
    started = time.perf_counter()
    target = journal.last_seq if seq is None else seq
    if type(target) is not int or not 0 <= target <= journal.last_seq:
        raise JournalError(f"seq {seq!r} is outside 0..{journal.last_seq}")
    machine, base, skipped = _start(journal, factory, target, use_snapshots)
    apply = machine.apply
    count = 0
    for rec in journal.records(base + 1, target):
        try:
            apply(rec.input)
        except (ValueError, TypeError, KeyError) as exc:
            raise JournalCorrupt(
                rec.seq, f"the machine refused the journaled input: {exc}"
            ) from None
        count += 1
        if progress is not None and rec.seq % progress_every == 0:
            progress(rec.seq)
    return Rebuilt(machine, target, base, count, time.perf_counter() - started, skipped)


def rebuild_at_time(
    journal: Journal,
    factory: MachineFactory,
    ts: int,
    *,
    use_snapshots: bool = True,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 100_000,
) -> Rebuilt:
    """The machine as it was at time ``ts``: after the last record with ts <= ``ts``."""
    return rebuild(
        journal,
        factory,
        journal.seq_at_time(ts),
        use_snapshots=use_snapshots,
        progress=progress,
        progress_every=progress_every,
    )


def _event_divergence(seq: int, expected: list[Any], actual: Sequence[Any]) -> Divergence:
    for i, (exp, act) in enumerate(zip(expected, actual, strict=False)):
        if encode(exp) != encode(act):
            return Divergence(seq, "events", i, exp, _plain(act))
    return Divergence(seq, "events", -1, len(expected), len(actual))


def _plain(value: Any) -> Any:
    """A wire value as the journal would decode it (tuples as lists), for reports."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def audit(
    journal: Journal,
    factory: MachineFactory,
    *,
    from_snapshot: bool = False,
    stop: int | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 100_000,
) -> AuditReport:
    """Re-execute every input and compare, record by record, with the journal.

    Compares each record's regenerated events with the journaled ones (as MessagePack
    bytes, so 1 and True differ), each journaled checkpoint with the machine's state
    hash, and each stored snapshot's hash on the way. Starts from genesis, or with
    ``from_snapshot`` from the oldest snapshot (a quicker, partial audit). Stops at
    the first divergence; chain damage raises JournalCorrupt and a damaged or
    unrestorable snapshot SnapshotError, each naming its seq. ``stop`` ends the audit
    after that record; ``progress`` (if given) is called with the seq just checked every
    ``progress_every`` seqs (multiples of it).
    """
    started = time.perf_counter()
    last = journal.last_seq if stop is None else min(stop, journal.last_seq)
    # Every snapshot is fully checked first (SnapshotError names a damaged one).
    snaps = {}
    oldest: Snapshot | None = None
    for info in journal.snapshots():  # oldest first
        if info.seq <= last:
            snap = journal.load_snapshot(info.seq)
            assert snap is not None and snap.seq == info.seq
            snaps[snap.seq] = snap.state_hash
            oldest = oldest or snap
    machine: Machine
    base = 0
    if from_snapshot and oldest is not None:
        try:
            machine, base = factory.restore(journal.genesis, oldest.blob), oldest.seq
        except (ValueError, TypeError, KeyError) as exc:
            raise SnapshotError(
                f"snapshot {oldest.seq} cannot be restored: {exc}", oldest.seq
            ) from None
    else:
        machine = factory.fresh(journal.genesis)
    records = events = checkpoints = snapshots = 0
    divergence: Divergence | None = None
    apply = machine.apply
    for rec in journal.records(base + 1, last):
        seq = rec.seq
        try:
            produced = apply(rec.input)
        except (ValueError, TypeError, KeyError) as exc:
            divergence = Divergence(seq, "input", -1, rec.input, str(exc))
            break
        expected = rec.events
        if len(produced) != len(expected) or encode(produced) != encode(expected):
            divergence = _event_divergence(seq, expected, produced)
            break
        records += 1
        events += len(produced)
        if rec.checkpoint is not None:
            actual = machine.state_hash()
            if actual != rec.checkpoint:
                divergence = Divergence(seq, "checkpoint", -1, rec.checkpoint, actual)
                break
            checkpoints += 1
        if seq in snaps:
            actual = machine.state_hash()
            if actual != snaps[seq]:
                divergence = Divergence(seq, "snapshot", -1, snaps[seq], actual)
                break
            snapshots += 1
        if progress is not None and seq % progress_every == 0:
            progress(seq)
    return AuditReport(
        base + 1,
        records,
        events,
        checkpoints,
        snapshots,
        time.perf_counter() - started,
        machine.state_hash() if divergence is None else "",
        divergence,
    )
