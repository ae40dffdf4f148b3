"""The storage interface under the journal, and its in-memory implementation.

A backend is an ordered key-value store with three families (records, snapshots, meta),
atomic multi-family batches, and a small out-of-band *anchor*: the last acknowledged
head, kept outside the store so that a store which lost its tail (a truncated or damaged
write-ahead log) is caught instead of silently resuming from an older state.

:class:`MemoryBackend` is exact but volatile: tests and in-process replays use it.
:class:`oracle.rocks.RocksBackend` is the durable one. Both pass ``tests/oracle/test_contract.py``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Protocol

RECORDS = "records"
SNAPSHOTS = "snapshots"
META = "meta"
FAMILIES = (RECORDS, SNAPSHOTS, META)


class Batch(Protocol):
    """Puts collected for one atomic :meth:`Backend.write`."""

    def put(self, key: bytes, value: bytes) -> None:
        """Put into the records family (the hot path)."""

    def put_in(self, family: str, key: bytes, value: bytes) -> None:
        """Put into any family."""


class Backend(Protocol):
    """Ordered bytes -> bytes store with families, atomic batches and an anchor."""

    read_only: bool

    def new_batch(self) -> Batch:
        """An empty batch for :meth:`write`."""

    def write(self, batch: Batch, sync: bool) -> None:
        """Apply every put of ``batch`` atomically; with ``sync`` it is on disk on return."""

    def sync_wal(self) -> None:
        """Make every write so far durable (fsync the write-ahead log)."""

    def get(self, family: str, key: bytes) -> bytes | None:
        """The value under ``key`` or None."""

    def scan(self, family: str, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs in key order from ``start`` (inclusive) to the end."""

    def floor(self, family: str, key: bytes) -> tuple[bytes, bytes] | None:
        """The pair with the greatest key <= ``key``, or None."""

    def last(self, family: str) -> tuple[bytes, bytes] | None:
        """The pair with the greatest key, or None when the family is empty."""

    def read_anchor(self) -> bytes | None:
        """The anchor last written (None if never)."""

    def write_anchor(self, data: bytes) -> None:
        """Replace the anchor (called after each acknowledged batch)."""

    def disk_bytes(self) -> int:
        """Bytes the store occupies on disk (0 when it has no disk)."""

    def close(self) -> None:
        """Release the store; further calls fail."""


class _MemoryBatch:
    __slots__ = ("puts",)

    def __init__(self) -> None:
        self.puts: list[tuple[str, bytes, bytes]] = []

    def put(self, key: bytes, value: bytes) -> None:
        self.puts.append((RECORDS, bytes(key), bytes(value)))

    def put_in(self, family: str, key: bytes, value: bytes) -> None:
        if family not in FAMILIES:
            raise KeyError(f"unknown family {family!r}")
        self.puts.append((family, bytes(key), bytes(value)))


class _Family:
    __slots__ = ("data", "keys")

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.keys: list[bytes] = []  # sorted

    def put(self, key: bytes, value: bytes) -> None:
        if key not in self.data:
            keys = self.keys
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                bisect.insort(keys, key)
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        if self.data.pop(key, None) is not None:
            del self.keys[bisect.bisect_left(self.keys, key)]


class MemoryBackend:
    """A backend in process memory: the reference for the contract, and fast replays."""

    def __init__(self) -> None:
        self.read_only = False
        self._families = {name: _Family() for name in FAMILIES}
        self._anchor: bytes | None = None
        self._closed = False

    def _family(self, family: str) -> _Family:
        if self._closed:
            raise RuntimeError("backend is closed")
        return self._families[family]

    def new_batch(self) -> _MemoryBatch:
        return _MemoryBatch()

    def write(self, batch: Batch, sync: bool) -> None:
        assert isinstance(batch, _MemoryBatch)
        for family, key, value in batch.puts:
            self._family(family).put(key, value)

    def sync_wal(self) -> None:
        if self._closed:  # nothing to fsync in memory; only the closed rule applies
            raise RuntimeError("backend is closed")

    def get(self, family: str, key: bytes) -> bytes | None:
        return self._family(family).data.get(key)

    def scan(self, family: str, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        fam = self._family(family)
        i = bisect.bisect_left(fam.keys, start)
        while i < len(fam.keys):
            key = fam.keys[i]
            yield key, fam.data[key]
            i += 1

    def floor(self, family: str, key: bytes) -> tuple[bytes, bytes] | None:
        fam = self._family(family)
        i = bisect.bisect_right(fam.keys, key)
        if i == 0:
            return None
        k = fam.keys[i - 1]
        return k, fam.data[k]

    def last(self, family: str) -> tuple[bytes, bytes] | None:
        fam = self._family(family)
        if not fam.keys:
            return None
        return fam.keys[-1], fam.data[fam.keys[-1]]

    def read_anchor(self) -> bytes | None:
        return self._anchor

    def write_anchor(self, data: bytes) -> None:
        self._anchor = bytes(data)

    def disk_bytes(self) -> int:
        return 0

    def close(self) -> None:
        self._closed = True

    # -- test and forensics hooks: the in-memory counterpart of editing files on disk ---

    def tamper(self, family: str, key: bytes, value: bytes | None) -> None:
        """Overwrite (or with None delete) one stored value behind the journal's back."""
        if value is None:
            self._family(family).delete(key)
        else:
            self._family(family).put(key, value)
