"""The sequencer: one asyncio loop owns the venue; every input is stamped, executed, journaled.

Rules
-----
- One intake for every source (price feeds, the order-flow generator, admin requests).
  It is bounded (``queue_size``): :meth:`Sequencer.offer` refuses an input when full
  and counts it (the source is *told*: it gets False), :meth:`Sequencer.submit` waits
  for room (the source is *slowed*). Nothing is dropped silently.
- Stamping: the sequencer gives each input the next ``seq`` and a time ``ts`` in
  milliseconds since the epoch that never decreases (the wall clock, held at the
  previous value if the clock steps back). A new order's ``order_id`` is its seq, so
  ids are unique across sources and restarts; a client names its orders with
  ``client_order_id``. The venue executes the stamped input at once.
- Group commit: executed records form a batch while the previous batch is written by
  one writer thread (``Journal.append``; fsynced in ``sync`` durability). A batch is
  whatever formed while the one before it was being written, capped at ``max_batch``;
  when ``max_pending`` records are waiting, execution pauses, so a slow disk slows the
  sources instead of growing memory.
- Nothing leaves before it is durable: per-input acknowledgements (``on_done`` and
  :meth:`Sequencer.request`) and subscribers (:meth:`Sequencer.subscribe`) see a record
  only after the batch holding it was appended (and so fsynced in ``sync`` mode).
- Checkpoints and snapshots at the seqs :class:`oracle.policy.JournalPolicy` names (the
  rule the CLI's recorder follows too): a checkpoint record carries the venue's state
  hash; at a snapshot point the state is encoded at once (the loop pauses for it), the
  record carries its hash, and it is stored as a snapshot once its batch is durable and
  acknowledged. A
  snapshot that cannot be stored is logged and counted, never fatal (a restart replays
  a longer tail).
- Stopping (:meth:`Sequencer.stop`): the intake closes (offers refused, submitters get
  :class:`IntakeClosed`), every input already taken is executed, every batch committed,
  and a final snapshot is stored at the last seq (unless one is there already), so a
  restart resumes from it without replaying the tail.
- A failed append is fatal: the venue has executed inputs the journal does not hold, so
  the sequencer stops taking inputs, acknowledges nothing more (waiting requests fail)
  and :meth:`run` raises :class:`SequencerFailed`. So does an exception while executing
  an input (a bug): the records before it are still committed, nothing after it is.
- A subscriber or acknowledgement that raises is logged and counted; the rest go on.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from exchange.runtime.buckets import LATENCY_NS, Buckets
from oracle import Journal, Record, SnapshotError
from oracle.policy import (
    DEFAULT_BATCH,
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_SNAPSHOT_EVERY,
    JournalPolicy,
    Mark,
)
from titan.commands import NewOrder
from venue.state import encode_venue_state
from venue.types import Command, Event
from venue.venue import Venue
from venue.wire import command_to_wire, events_to_wire

#: Called with (seq, events) once the input's record is durable.
Ack = Callable[[int, list[Event]], None]

log = logging.getLogger("exchange.runtime.sequencer")
#: records-per-group-commit bounds: 1 .. 65,536
BATCH_BOUNDS = [float(2**i) for i in range(17)]


class IntakeClosed(Exception):
    """The sequencer is stopping (or failed) and takes no more input."""


class SequencerFailed(Exception):
    """The journal refused a batch: acknowledged history would no longer be complete."""


class Committed(NamedTuple):
    """A durable record as subscribers see it."""

    seq: int
    ts: int
    command: Command
    events: list[Event]


class CommitHistograms(NamedTuple):
    """Distributions of the commit path, for the metrics exporter."""

    input_latency: Buckets  # ns, intake -> durable, per input
    commit_ns: Buckets  # ns per group commit
    batch_records: Buckets  # records per group commit


@dataclass
class SequencerStats:
    """Counters read by the status line and the metrics exporter (never by the engines)."""

    accepted: int = 0  # inputs taken into the intake
    refused_full: int = 0  # offers refused because the intake was full
    committed: int = 0
    callback_errors: int = 0  # acknowledgements or subscribers that raised (logged)
    snapshot_errors: int = 0  # snapshots that could not be stored (logged)
    batches: int = 0
    checkpoints: int = 0
    snapshots: int = 0
    inputs_by_kind: dict[str, int] = field(default_factory=dict)  # durable inputs by type
    last_checkpoint_seq: int = 0  # the last durable record carrying a state hash
    last_checkpoint_ts: int = 0  # its time, ms
    #: intake -> durable latencies in ns of recent inputs (the bench reads it)
    latencies_ns: list[int] = field(default_factory=list)
    latency_cap: int = 0  # 0: keep none
    #: distributions for the metrics exporter (None: not kept; Sequencer.keep_histograms)
    histograms: CommitHistograms | None = None


class _Item(NamedTuple):
    command: Command
    intake_ns: int
    on_done: Ack | None


class _Pending(NamedTuple):
    record: Record
    command: Command
    events: list[Event]
    intake_ns: int
    on_done: Ack | None


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Sequencer:
    """Stamps, executes and journals every input of ``venue`` (see the module rules)."""

    def __init__(
        self,
        venue: Venue,
        journal: Journal,
        *,
        queue_size: int = 65_536,
        max_batch: int = DEFAULT_BATCH,
        max_pending: int = 65_536,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        clock_ms: Callable[[], int] = _wall_ms,
        latency_samples: int = 0,
    ) -> None:
        self.policy = JournalPolicy(max_batch, checkpoint_every, snapshot_every)
        if queue_size < 1 or max_pending < max_batch:
            raise ValueError("queue_size >= 1 and max_pending >= max_batch")
        self.venue = venue
        self.journal = journal
        self.queue_size = queue_size
        self.max_pending = max_pending
        self._clock = clock_ms
        self.stats = SequencerStats(latency_cap=latency_samples)
        self.last_seq = journal.last_seq
        self.last_ts = journal.head.ts
        self.durable_seq = journal.last_seq
        self._intake: deque[_Item] = deque()
        self._pending: list[_Pending] = []
        self._snapshots: list[tuple[int, str, bytes]] = []
        self._subscribers: list[Callable[[list[Committed]], None]] = []
        self._timed: dict[type, Buckets] = {}  # input type -> ns to execute one
        self._waiting: set[asyncio.Future[tuple[int, list[Event]]]] = set()
        #: readers waiting for a seq to be durable (see :meth:`durable`): a heap by seq
        self._durable_waits: list[tuple[int, int, asyncio.Future[tuple[int, list[Event]]]]] = []
        self._last_snapshot = 0  # seq of the last snapshot this sequencer stored
        self._crash: BaseException | None = None  # an engine raised: commit what came before
        self._closed = False
        self._failed: BaseException | None = None
        # asyncio events bind to the running loop when first awaited, not here
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._formed = asyncio.Event()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="journal-writer")

    # -- sources --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the intake takes no more input."""
        return self._closed

    @property
    def backlog(self) -> int:
        """Inputs waiting in the intake."""
        return len(self._intake)

    def offer(
        self, command: Command, on_done: Ack | None = None, intake_ns: int | None = None
    ) -> bool:
        """Take ``command`` if the intake has room; False (and counted) if not or closed.

        ``intake_ns`` (``time.perf_counter_ns`` scale) backdates the intake time that
        latency is measured from, e.g. to when a paced load meant to send it.
        """
        if self._closed or len(self._intake) >= self.queue_size:
            self.stats.refused_full += 1
            return False
        self._intake.append(
            _Item(command, time.perf_counter_ns() if intake_ns is None else intake_ns, on_done)
        )
        self.stats.accepted += 1
        self._wake.set()
        return True

    async def submit(self, command: Command, on_done: Ack | None = None) -> None:
        """Take ``command``, waiting while the intake is full (IntakeClosed if stopping)."""
        while True:
            if self._closed:
                raise IntakeClosed("the exchange is stopping")
            if len(self._intake) < self.queue_size:
                self.offer(command, on_done)
                return
            self._room.clear()
            await self._room.wait()

    async def request(self, command: Command) -> tuple[int, list[Event]]:
        """Submit ``command`` and wait until it is durable; returns (seq, events).

        Raises IntakeClosed if the sequencer is stopping, SequencerFailed if the journal
        refused the batch that held it (it was then never acknowledged).
        """
        future: asyncio.Future[tuple[int, list[Event]]] = asyncio.get_running_loop().create_future()

        def done(seq: int, events: list[Event]) -> None:
            if not future.done():
                future.set_result((seq, events))

        self._waiting.add(future)
        try:
            await self.submit(command, done)
            return await future
        finally:
            self._waiting.discard(future)

    async def durable(self, seq: int) -> None:
        """Wait until every record up to ``seq`` is durable (at once if it is already).

        A reader that computed an answer from the venue at ``last_seq`` awaits this
        before sending it, so that nothing it shows is lost by a crash. Raises
        SequencerFailed if the journal refused a batch first.
        """
        if seq <= self.durable_seq:
            return
        if self._failed is not None:
            raise SequencerFailed(str(self._failed))
        future: asyncio.Future[tuple[int, list[Event]]] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._durable_waits, (seq, id(future), future))
        self._waiting.add(future)
        try:
            await future
        finally:
            self._waiting.discard(future)

    def keep_histograms(self) -> CommitHistograms:
        """Keep the commit path's distributions from now on (for the metrics exporter:
        one bisect per input and two per batch)."""
        if self.stats.histograms is None:
            self.stats.histograms = CommitHistograms(
                Buckets(LATENCY_NS), Buckets(LATENCY_NS), Buckets(BATCH_BOUNDS)
            )
        return self.stats.histograms

    def time_inputs(self, kind: type, hist: Buckets) -> None:
        """Observe in ``hist`` the ns the venue takes to execute each input of ``kind``."""
        self._timed[kind] = hist

    def subscribe(self, callback: Callable[[list[Committed]], None]) -> None:
        """Call ``callback`` with every durable batch, in seq order."""
        self._subscribers.append(callback)

    # -- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Execute and commit until :meth:`stop` and the drain finish (or a commit fails)."""
        committer = asyncio.create_task(self._commit_loop(), name="committer")
        committer.add_done_callback(self._committer_done)
        try:
            await self._execute_loop()
            self._formed.set()
            await committer
        finally:
            if not committer.done():
                committer.cancel()
            self._writer.shutdown(wait=True)
        if self._crash is not None and self._failed is None:
            self._fail(self._crash)
            raise SequencerFailed(
                f"the engine raised on input seq {self.last_seq + 1}: {self._crash!r}; "
                f"records 1..{self.durable_seq} are durable"
            ) from self._crash
        if self._failed is not None:
            raise SequencerFailed(str(self._failed)) from self._failed

    def _committer_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and self._failed is None:
            self._fail(task.exception() or RuntimeError("committer failed"))

    def stop(self) -> None:
        """Close the intake; :meth:`run` returns once everything taken is durable."""
        self._closed = True
        self._wake.set()
        self._room.set()

    async def _execute_loop(self) -> None:
        intake, wake, room, formed = self._intake, self._wake, self._room, self._formed
        while self._failed is None and self._crash is None:
            if not intake:
                if self._closed:
                    return
                wake.clear()
                await wake.wait()
                continue
            if len(self._pending) >= self.max_pending:
                # the writer is behind: let it catch up before executing more
                await asyncio.sleep(0)
                await self._drained()
                continue
            self._execute(min(len(intake), self.policy.batch))
            room.set()
            formed.set()
            await asyncio.sleep(0)  # let the sources, the committer and signals run

    async def _drained(self) -> None:
        while len(self._pending) >= self.max_pending and self._failed is None:
            await asyncio.sleep(0.0005)

    def _execute(self, n: int) -> None:
        """Stamp and execute ``n`` inputs from the intake; queue their records."""
        intake, pending, apply = self._intake, self._pending, self.venue.apply
        timed, clock = self._timed, time.perf_counter_ns
        seq, last_ts = self.last_seq, self.last_ts
        now = self._clock()
        ts = now if now > last_ts else last_ts
        mark = self.policy.mark
        for _ in range(n):
            item = intake.popleft()
            seq += 1
            cmd = item.command
            try:
                if type(cmd) is NewOrder:
                    cmd = cmd._replace(seq=seq, ts=ts, order_id=seq)
                else:
                    cmd = cmd._replace(seq=seq, ts=ts)
                if timed and type(cmd) in timed:
                    started = clock()
                    events = apply(cmd)
                    timed[type(cmd)].observe(clock() - started)
                else:
                    events = apply(cmd)
                kind = mark(seq)
                if kind is Mark.NONE:
                    checkpoint = None
                elif kind is Mark.CHECKPOINT:
                    checkpoint = self.venue.state_hash()
                else:
                    blob = encode_venue_state(self.venue.export_state())
                    checkpoint = hashlib.sha256(blob).hexdigest()
                    self._snapshots.append((seq, checkpoint, blob))
                wire = command_to_wire(cmd)
                record = Record(seq, ts, wire, events_to_wire(events), checkpoint)
            except Exception as exc:  # a bug: keep what executed before this input
                log.critical("input seq %d (%s) raised", seq, type(cmd).__name__, exc_info=True)
                self._crash = exc
                self._closed = True
                seq -= 1
                break
            pending.append(_Pending(record, cmd, events, item.intake_ns, item.on_done))
        self.last_seq, self.last_ts = seq, ts

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        formed = self._formed
        while True:
            if not self._pending:
                if self._nothing_more():
                    break
                formed.clear()
                await formed.wait()
                if not self._pending and self._nothing_more():
                    break
                continue
            cap = self.policy.batch
            batch, self._pending = self._pending[:cap], self._pending[cap:]
            last = batch[-1].record.seq
            snapshots = [x for x in self._snapshots if x[0] <= last]
            self._snapshots = self._snapshots[len(snapshots) :]
            try:
                seconds = await loop.run_in_executor(self._writer, self._append, batch)
            except Exception as exc:  # disk full, I/O error, ...: nothing more is acknowledged
                self._fail(exc)
                return
            self._published(batch, seconds)
            if snapshots:
                # after the records are acknowledged: a snapshot that cannot be stored
                # costs a longer replay at restart, never an acknowledged record
                saved = await loop.run_in_executor(self._writer, self._save, snapshots)
                self.stats.snapshots += saved
        await self._final_snapshot(loop)

    def _nothing_more(self) -> bool:
        """No record will be executed any more (stopped and drained, or crashed)."""
        return self._closed and (not self._intake or self._crash is not None)

    def _fail(self, exc: BaseException) -> None:
        """Stop for good: close the intake, fail every waiting request."""
        self._failed = exc
        self._closed = True
        self._wake.set()
        self._room.set()
        for future in list(self._waiting):
            if not future.done():
                future.set_exception(SequencerFailed(str(exc)))

    def _append(self, batch: list[_Pending]) -> float:
        """Append ``batch`` (on the writer thread); the seconds the append took."""
        started = time.perf_counter()
        self.journal.append([p.record for p in batch])
        return time.perf_counter() - started

    def _save(self, snapshots: list[tuple[int, str, bytes]]) -> int:
        """Store snapshots; one that fails is logged and skipped. Returns how many."""
        saved = 0
        for seq, state_hash, blob in snapshots:
            try:
                self.journal.save_snapshot(seq, state_hash, blob)
            except Exception:
                self.stats.snapshot_errors += 1
                log.warning("snapshot at seq %d not stored", seq, exc_info=True)
                continue
            self._last_snapshot = seq
            saved += 1
        return saved

    def _published(self, batch: list[_Pending], seconds: float) -> None:
        """Everything after durability: stats, acknowledgements, subscribers.

        A callback that raises is logged and counted; it never stops the sequencer.
        """
        done_ns = time.perf_counter_ns()
        stats = self.stats
        stats.committed += len(batch)
        stats.batches += 1
        self.durable_seq = batch[-1].record.seq
        kinds = stats.inputs_by_kind
        for p in batch:
            name = type(p.command).__name__
            kinds[name] = kinds.get(name, 0) + 1
            if p.record.checkpoint is not None:
                stats.checkpoints += 1
                stats.last_checkpoint_seq, stats.last_checkpoint_ts = p.record.seq, p.record.ts
        hists = stats.histograms
        if hists is not None:
            hists.commit_ns.observe(seconds * 1e9)
            hists.batch_records.observe(len(batch))
            hist = hists.input_latency  # Buckets.observe, inlined: one bisect per input
            counts, bounds, total = hist.counts, hist.bounds, 0
            for p in batch:
                ns = done_ns - p.intake_ns
                counts[bisect_left(bounds, ns)] += 1
                total += ns
            hist.total += total
        if stats.latency_cap:
            samples = stats.latencies_ns
            samples.extend(done_ns - p.intake_ns for p in batch)
            if len(samples) > stats.latency_cap:
                del samples[: len(samples) - stats.latency_cap]
        for p in batch:
            if p.on_done is not None:
                try:
                    p.on_done(p.record.seq, p.events)
                except Exception:
                    self._callback_failed("an acknowledgement", p.record.seq)
        waits, durable = self._durable_waits, self.durable_seq
        while waits and waits[0][0] <= durable:
            future = heapq.heappop(waits)[2]
            if not future.done():
                future.set_result((durable, []))
        if self._subscribers:
            committed = [Committed(p.record.seq, p.record.ts, p.command, p.events) for p in batch]
            for callback in self._subscribers:
                try:
                    callback(committed)
                except Exception:
                    self._callback_failed("a subscriber", committed[0].seq)

    def _callback_failed(self, what: str, seq: int) -> None:
        self.stats.callback_errors += 1
        log.error("%s failed on the batch from seq %d", what, seq, exc_info=True)

    async def _final_snapshot(self, loop: asyncio.AbstractEventLoop) -> None:
        """A snapshot at the last durable seq, unless one is there (a damaged one there
        is replaced); failing to store it is logged, the records are durable anyway."""
        seq = self.durable_seq
        if seq == 0 or seq == self._last_snapshot or self._failed or self._crash:
            return
        try:
            snap = self.journal.load_snapshot(seq)
        except SnapshotError:
            snap = None  # the newest one is damaged: store a good one at seq
        if snap is not None and snap.seq == seq:
            return  # resumed and stopped without a new record: it is there already
        blob = encode_venue_state(self.venue.export_state())
        state_hash = hashlib.sha256(blob).hexdigest()
        self.stats.snapshots += await loop.run_in_executor(
            self._writer, self._save, [(seq, state_hash, blob)]
        )

    def settled(self) -> bool:
        """True when every executed input is durable (the venue shows durable state)."""
        return self.durable_seq == self.last_seq
