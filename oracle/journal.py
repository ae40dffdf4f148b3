"""The journal: append-only records with a hash chain, group commit, snapshots, readers.

Invariants (checked by :meth:`Journal.verify`, relied on everywhere else):

* Records have seqs 1..head.seq with no gap, each under its 8-byte big-endian key, and
  timestamps that never decrease.
* Record n's stored value ends with h_n = SHA-256(h_{n-1} || key_n || body_n), h_0 = 0^32
  (:mod:`oracle.chain`); the meta family's ``head`` holds (seq, ts, h) of the last record
  and is written in the same atomic batch as the records it covers.
* The anchor (outside the store) is never ahead of the store: it is written after the
  batch it describes is acknowledged. A store behind its anchor lost acknowledged records.
* A snapshot under seq s holds the state after record s, its SHA-256, and h_s.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from oracle.backend import META, RECORDS, SNAPSHOTS, Backend, MemoryBackend
from oracle.chain import GENESIS, HASH_SIZE, key_seq, seq_key
from oracle.codec import (
    ENCODE_ERRORS,
    RECORD_PREFIX,
    CodecError,
    decode_body,
    decode_head,
    decode_snapshot,
    encode,
    encode_head,
    encode_snapshot,
)
from oracle.errors import (
    AppendError,
    GenesisMismatch,
    JournalCorrupt,
    JournalError,
    SnapshotError,
    StorageError,
)
from oracle.record import Head, Record, Snapshot

FORMAT = b"oracle-journal/1"
_FORMAT_KEY = b"format"
_GENESIS_KEY = b"genesis"
_HEAD_KEY = b"head"
_ANCHOR = struct.Struct(">QQ32s")
EMPTY_HEAD = Head(0, 0, GENESIS)
_MAX_SEQ = 2**64 - 1


class Durability(StrEnum):
    """When :meth:`Journal.append` returns.

    SYNC: after the batch is fsynced to the write-ahead log (survives power loss).
    ASYNC: after the batch is written to the log in the OS page cache (survives a killed
    process, not a power loss); the log is fsynced every ``fsync_interval`` seconds and on
    close, so at most that much acknowledged data is exposed to an OS crash.
    """

    SYNC = "sync"
    ASYNC = "async"


class VerifyReport(NamedTuple):
    """Outcome of :meth:`Journal.verify`. ``error`` is None when every check passed."""

    records: int
    snapshots: int
    checkpoints: int
    seconds: float
    head: Head
    error: JournalCorrupt | SnapshotError | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


class SnapshotInfo(NamedTuple):
    """A stored snapshot's header, without its blob."""

    seq: int
    state_hash: str
    size: int


class Journal:
    """One journal over one backend. Not thread-safe: one writer thread owns it."""

    def __init__(
        self,
        backend: Backend,
        *,
        durability: Durability | str = Durability.SYNC,
        genesis: bytes | None = None,
        fsync_interval: float = 0.2,
    ) -> None:
        try:
            self.durability = Durability(durability)
        except ValueError:
            raise JournalError(f"unknown durability {durability!r} (use sync or async)") from None
        self._backend = backend
        self.read_only = backend.read_only
        self._sync = self.durability is Durability.SYNC
        self._fsync_interval = fsync_interval
        self._last_fsync = time.monotonic()
        self._unsynced = False
        self._failed: str | None = None
        self._closed = False
        #: bytes of records (key, body, chain hash) this Journal object appended
        self.bytes_written = 0
        self._pending_anchor: bytes | None = None
        fmt = backend.get(META, _FORMAT_KEY)
        if fmt is None:
            lost = self._anchor_seq()
            if lost:
                raise JournalCorrupt(
                    1,
                    f"records 1..{lost} were acknowledged but are missing "
                    "(journal truncated, or its write-ahead log damaged)",
                )
            if self.read_only or backend.last(RECORDS) is not None:
                raise JournalError("not a journal: the format marker is missing")
            batch = backend.new_batch()
            batch.put_in(META, _FORMAT_KEY, FORMAT)
            batch.put_in(META, _GENESIS_KEY, genesis or b"")
            batch.put_in(META, _HEAD_KEY, encode_head(EMPTY_HEAD))
            backend.write(batch, True)
        elif fmt != FORMAT:
            raise JournalError(f"unsupported journal format {fmt!r} (this build reads {FORMAT!r})")
        self.genesis: bytes = backend.get(META, _GENESIS_KEY) or b""
        if genesis is not None and genesis != self.genesis:
            raise GenesisMismatch(
                "the journal was created with a different configuration (genesis)"
            )
        self._head = self._load_head()
        self._check_anchor()

    # -- opening ---------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        durability: Durability | str = Durability.SYNC,
        read_only: bool = False,
        create: bool = False,
        genesis: bytes | None = None,
        fsync_interval: float = 0.2,
    ) -> Journal:
        """Open the RocksDB journal at ``path`` (``create`` makes a new one if absent).

        Raises JournalInUse if another process writes it, JournalNotFound if absent,
        JournalCorrupt if its tail was lost or its head disagrees with its records.
        """
        from oracle.rocks import RocksBackend

        try:
            Durability(durability)
        except ValueError:
            raise JournalError(f"unknown durability {durability!r} (use sync or async)") from None
        backend = RocksBackend(path, create=create and not read_only, read_only=read_only)
        try:
            return cls(
                backend, durability=durability, genesis=genesis, fsync_interval=fsync_interval
            )
        except BaseException:
            backend.close()
            raise

    @classmethod
    def memory(cls, genesis: bytes = b"") -> Journal:
        """A journal in process memory (same rules, no durability)."""
        return cls(MemoryBackend(), genesis=genesis)

    def _load_head(self) -> Head:
        raw = self._backend.get(META, _HEAD_KEY)
        if raw is None:
            raise JournalCorrupt(1, "the journal head is missing")
        try:
            head = decode_head(raw)
        except CodecError as exc:
            raise JournalCorrupt(1, f"the journal head is unreadable: {exc}") from None
        last = self._backend.last(RECORDS)
        last_seq = 0 if last is None else _key_seq_or_corrupt(last[0], head.seq)
        if last_seq != head.seq:
            # Only on damage: scan the keys for the first one out of place.
            bad = self._first_misplaced(min(last_seq, head.seq) + 1)
            raise JournalCorrupt(
                bad,
                f"the head names record {head.seq} but the journal ends at {last_seq}",
            )
        if last is not None and last[1][-HASH_SIZE:] != head.chain:
            raise JournalCorrupt(head.seq, "the last record's chain hash differs from the head")
        return head

    def _first_misplaced(self, limit: int) -> int:
        """The first seq <= ``limit`` whose key is missing or out of place."""
        expected = 1
        try:
            for key, _ in self._backend.scan(RECORDS, seq_key(1)):
                if expected >= limit or key != seq_key(expected):
                    break
                expected += 1
        except StorageError:
            pass
        return expected

    def _anchor_seq(self) -> int:
        """The seq the anchor names (0 without a well-formed anchor)."""
        raw = self._backend.read_anchor()
        if not raw or len(raw) != _ANCHOR.size:
            return 0
        seq: int = _ANCHOR.unpack(raw)[0]
        return seq

    def _check_anchor(self) -> None:
        raw = self._backend.read_anchor()
        if not raw:
            return
        if len(raw) != _ANCHOR.size:
            raise JournalCorrupt(self._head.seq, "the anchor file is malformed")
        seq, _ts, chain = _ANCHOR.unpack(raw)
        if seq > self._head.seq:
            raise JournalCorrupt(
                self._head.seq + 1,
                f"records {self._head.seq + 1}..{seq} were acknowledged but are missing "
                "(journal truncated, or its write-ahead log damaged)",
            )
        if seq and self._stored_hash(seq) != chain:
            raise JournalCorrupt(seq, "the record differs from the one acknowledged")

    def _stored_hash(self, seq: int) -> bytes:
        if seq == 0:
            return GENESIS
        value = self._backend.get(RECORDS, seq_key(seq))
        if value is None:
            raise JournalCorrupt(seq, "the record is missing")
        return value[-HASH_SIZE:]

    # -- state -----------------------------------------------------------------------

    @property
    def head(self) -> Head:
        """(last seq, its ts, chain hash h_last), O(1)."""
        return self._head

    @property
    def last_seq(self) -> int:
        return self._head.seq

    @property
    def next_seq(self) -> int:
        """The seq the next appended record must carry."""
        return self._head.seq + 1

    def disk_bytes(self) -> int:
        """Bytes on disk (0 for the in-memory backend)."""
        return self._backend.disk_bytes()

    # -- writing ---------------------------------------------------------------------

    def append(self, records: Sequence[Record]) -> Head:
        """Commit ``records`` (seqs next_seq, next_seq+1, ...) as one atomic batch.

        Group commit: the records and the new head go into one write; in SYNC mode it
        returns only once that write is on disk. Everything is checked and encoded
        before anything is written, so a refused batch (AppendError) changes nothing.
        """
        if self.read_only:
            raise JournalError("the journal is open read-only")
        if self._closed:
            raise JournalError("the journal is closed")
        if self._failed is not None:
            raise JournalError(f"the journal refused writes after an error: {self._failed}")
        if not records:
            return self._head
        head = self._head
        seq, ts, h = head.seq, head.ts, head.chain
        backend = self._backend
        batch = backend.new_batch()
        put = batch.put
        sha = hashlib.sha256
        key_of = seq_key
        prefix = RECORD_PREFIX
        enc = encode
        written = 0
        try:
            # The hot loop inlines codec.encode_body (a Python call per record costs ~10%).
            for rec in records:
                rseq, rts, _input, events, cp = rec
                seq += 1
                if (
                    rseq != seq
                    or rts < ts
                    or rts.__class__ is not int
                    or rseq.__class__ is not int
                    or (events.__class__ is not list and events.__class__ is not tuple)
                    or (cp is not None and cp.__class__ is not str)
                ):
                    raise _append_error(rec, seq, ts)
                ts = rts
                key = key_of(seq)
                body = prefix + enc(rec)
                h = sha(h + key + body).digest()
                put(key, body + h)
                written += len(key) + len(body) + 32
        except ENCODE_ERRORS as exc:
            raise AppendError(f"record {seq} is not a valid record: {exc}") from None
        new_head = Head(seq, ts, h)
        batch.put_in(META, _HEAD_KEY, encode_head(new_head))
        try:
            backend.write(batch, self._sync)
        except StorageError as exc:
            self._failed = str(exc)
            raise
        self._head = new_head
        self.bytes_written += written
        if self._sync:
            backend.write_anchor(_ANCHOR.pack(seq, ts, h))
        else:
            # The anchor must never lead durable data: in ASYNC mode it waits for the fsync.
            self._pending_anchor = _ANCHOR.pack(seq, ts, h)
            self._unsynced = True
            now = time.monotonic()
            if now - self._last_fsync >= self._fsync_interval:
                self.sync()
        return new_head

    def sync(self) -> None:
        """Fsync the write-ahead log now (ASYNC mode does this every fsync_interval)."""
        if self._unsynced:
            self._backend.sync_wal()
            self._unsynced = False
        if self._pending_anchor is not None:
            self._backend.write_anchor(self._pending_anchor)
            self._pending_anchor = None
        self._last_fsync = time.monotonic()

    def save_snapshot(self, seq: int, state_hash: str, blob: bytes) -> Snapshot:
        """Store the machine state after record ``seq`` (durably, in its own write).

        Refused unless 1 <= seq <= last_seq and ``state_hash == sha256(blob).hexdigest()``.
        """
        if self.read_only:
            raise JournalError("the journal is open read-only")
        if type(seq) is not int or not 1 <= seq <= self._head.seq:
            raise SnapshotError(f"snapshot seq {seq!r} is outside 1..{self._head.seq}", seq)
        if not isinstance(blob, bytes) or hashlib.sha256(blob).hexdigest() != state_hash:
            raise SnapshotError("snapshot blob does not hash to its state hash", seq)
        snap = Snapshot(seq, state_hash, self._stored_hash(seq), blob)
        batch = self._backend.new_batch()
        batch.put_in(SNAPSHOTS, seq_key(seq), encode_snapshot(snap))
        self._backend.write(batch, True)
        return snap

    def close(self) -> None:
        """Fsync (ASYNC mode), write the anchor, and release the store (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self.read_only and self._failed is None:
                self.sync()
        finally:
            self._backend.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- snapshots -------------------------------------------------------------------

    def _checked_snapshot(self, key: bytes, value: bytes) -> Snapshot:
        seq = _snapshot_seq(key)
        try:
            snap = decode_snapshot(value)
        except CodecError as exc:
            raise SnapshotError(f"snapshot {seq} is unreadable: {exc}", seq) from None
        if snap.seq != seq:
            raise SnapshotError(f"snapshot stored under {seq} says seq {snap.seq}", seq)
        if hashlib.sha256(snap.blob).hexdigest() != snap.state_hash:
            raise SnapshotError(f"snapshot {seq} fails its state hash", seq)
        if seq > self._head.seq or self._stored_hash(seq) != snap.chain:
            raise SnapshotError(f"snapshot {seq} does not belong to this journal's history", seq)
        return snap

    def load_snapshot(self, at_or_before: int) -> Snapshot | None:
        """The newest snapshot with seq <= ``at_or_before``, verified (SnapshotError if bad)."""
        found = self._backend.floor(SNAPSHOTS, seq_key(min(max(0, at_or_before), _MAX_SEQ)))
        if found is None:
            return None
        return self._checked_snapshot(*found)

    def newest_valid_snapshot(self, at_or_before: int) -> tuple[Snapshot | None, list[str]]:
        """Like :meth:`load_snapshot`, skipping bad snapshots; also returns why each was."""
        skipped: list[str] = []
        limit = min(max(0, at_or_before), _MAX_SEQ)
        while True:
            found = self._backend.floor(SNAPSHOTS, seq_key(limit))
            if found is None:
                return None, skipped
            try:
                return self._checked_snapshot(*found), skipped
            except SnapshotError as exc:
                skipped.append(str(exc))
                limit = _snapshot_seq(found[0]) - 1
                if limit < 0:
                    return None, skipped

    def snapshots(self) -> list[SnapshotInfo]:
        """Every stored snapshot's header, oldest first (not verified: see verify())."""
        out = []
        for key, value in self._backend.scan(SNAPSHOTS, seq_key(0)):
            seq = _snapshot_seq(key)
            try:
                snap = decode_snapshot(value)
                out.append(SnapshotInfo(seq, snap.state_hash, len(snap.blob)))
            except (CodecError, ValueError):
                out.append(SnapshotInfo(seq, "?", len(value)))
        return out

    # -- reading ---------------------------------------------------------------------

    def bodies(self, start: int = 1, stop: int | None = None) -> Iterator[tuple[int, memoryview]]:
        """(seq, version byte + body) for start..stop, checking keys, gaps and the chain.

        Raises JournalCorrupt at the first record that is missing, misplaced, unreadable
        or fails its link h_n = SHA-256(h_{n-1} || key || body).
        """
        last = self._head.seq if stop is None else min(stop, self._head.seq)
        start = max(1, start)
        if start > last:
            return
        expected = start
        prev = self._stored_hash(start - 1)
        sha = hashlib.sha256
        key_of = seq_key
        try:
            for key, value in self._backend.scan(RECORDS, key_of(start)):
                if key != key_of(expected):
                    raise _misplaced(key, expected)
                if len(value) < HASH_SIZE + 2:
                    raise JournalCorrupt(expected, f"the stored value is only {len(value)} bytes")
                view = memoryview(value)
                body = view[:-HASH_SIZE]
                h = view[-HASH_SIZE:]
                if sha(prev + key + body).digest() != h:
                    raise JournalCorrupt(
                        expected, "fails the hash chain (the record was altered or replaced)"
                    )
                yield expected, body
                if expected == last:
                    return
                prev = bytes(h)
                expected += 1
        except StorageError as exc:
            raise JournalCorrupt(expected, f"unreadable: {exc}") from None
        if self._closed:
            raise JournalError("the journal was closed while it was being read")
        raise JournalCorrupt(expected, f"missing: the journal ends before seq {last}")

    def records(self, start: int = 1, stop: int | None = None) -> Iterator[Record]:
        """Decoded records start..stop (inclusive), chain-checked as in :meth:`bodies`."""
        for seq, body in self.bodies(start, stop):
            yield _decoded(seq, body)

    def read(self, seq: int) -> Record:
        """Record ``seq``, its link to seq-1 checked (JournalError if out of range)."""
        if type(seq) is not int or not 1 <= seq <= self._head.seq:
            raise JournalError(f"no record {seq!r}: the journal holds 1..{self._head.seq}")
        for _, body in self.bodies(seq, seq):
            return _decoded(seq, body)
        raise JournalCorrupt(seq, "missing")  # pragma: no cover - bodies() raises first

    def seq_at_time(self, ts: int) -> int:
        """The last seq whose ts <= ``ts`` (0 if none): binary search, O(log n) reads."""
        lo, hi = 0, self._head.seq  # invariant: ts(lo) <= ts (lo=0 virtual), answer in lo..hi
        if hi and self._head.ts <= ts:
            return hi
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.read(mid).ts <= ts:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def verify(self) -> VerifyReport:
        """Check the whole journal: keys, gaps, chain, decodability, time order, head,
        anchor and every snapshot. Never raises for content problems; reports the first."""
        started = time.perf_counter()
        count = checkpoints = snaps = 0
        error: JournalCorrupt | SnapshotError | None = None
        prev_ts = 0
        try:
            for seq, body in self.bodies(1):
                rec = _decoded(seq, body)
                if rec.ts < prev_ts:
                    raise JournalCorrupt(seq, f"time goes back ({rec.ts} < {prev_ts})")
                prev_ts = rec.ts
                if rec.checkpoint is not None:
                    checkpoints += 1
                count += 1
            if count != self._head.seq:
                raise JournalCorrupt(count + 1, f"missing: the head says {self._head.seq}")
            if self._stored_hash(self._head.seq) != self._head.chain:
                raise JournalCorrupt(self._head.seq, "the head's chain hash differs")
            self._check_anchor()
            for key, value in self._backend.scan(SNAPSHOTS, seq_key(0)):
                self._checked_snapshot(key, value)
                snaps += 1
        except (JournalCorrupt, SnapshotError) as exc:
            error = exc
        except StorageError as exc:
            error = JournalCorrupt(count + 1, f"unreadable: {exc}")
        return VerifyReport(
            count, snaps, checkpoints, time.perf_counter() - started, self._head, error
        )


def _decoded(seq: int, body: memoryview) -> Record:
    try:
        rec = decode_body(body)
    except CodecError as exc:
        raise JournalCorrupt(seq, f"undecodable: {exc}") from None
    if rec.seq != seq:
        raise JournalCorrupt(seq, f"the record stored under seq {seq} says seq {rec.seq}")
    return rec


def _snapshot_seq(key: bytes) -> int:
    try:
        return key_seq(key)
    except ValueError:
        raise SnapshotError(f"a snapshot key is malformed: {key!r}") from None


def _key_seq_or_corrupt(key: bytes, near: int) -> int:
    try:
        return key_seq(key)
    except ValueError:
        raise JournalCorrupt(near, f"a record key is malformed: {key!r}") from None


def _misplaced(key: bytes, expected: int) -> JournalCorrupt:
    try:
        found = key_seq(key)
    except ValueError:
        return JournalCorrupt(expected, f"a malformed key {key!r} sits in its place")
    if found > expected:
        return JournalCorrupt(expected, f"missing (the next record is {found})")
    return JournalCorrupt(expected, f"out of order (found {found})")


def _append_error(rec: Record, seq: int, ts: int) -> AppendError:
    rseq, rts, _, events, _ = rec  # a plain 5-tuple is accepted as a record, too
    if type(rseq) is not int:
        return AppendError(f"record seq must be an integer, got {rseq!r}")
    if rseq != seq:
        return AppendError(f"record seq {rseq} out of order: the next seq is {seq}")
    if type(rts) is not int:
        return AppendError(f"record {seq}: ts must be an integer, got {rts!r}")
    if rts < 0:
        return AppendError(f"record {seq}: ts {rts} is negative")
    if rts < ts:
        return AppendError(f"record {seq}: ts {rts} is before the previous record's {ts}")
    if not isinstance(events, list | tuple):
        return AppendError(f"record {seq}: events must be a list, got {type(events).__name__}")
    return AppendError(f"record {seq}: checkpoint must be a state-hash string or None")
