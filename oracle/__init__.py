"""Oracle: the exchange's append-only journal, its hash chain, snapshots and replay.

Storage is RocksDB through ``rocksdict`` (:mod:`oracle.rocks`) or process memory
(:mod:`oracle.backend`); the rules live in :mod:`oracle.journal`, the byte format in
:mod:`oracle.codec` and :mod:`oracle.chain`, and re-execution in :mod:`oracle.replay`.
"""

from oracle.errors import (
    AppendError,
    GenesisMismatch,
    JournalCorrupt,
    JournalError,
    JournalInUse,
    JournalNotFound,
    SnapshotError,
    StorageError,
)
from oracle.journal import Durability, Journal, SnapshotInfo, VerifyReport
from oracle.record import Head, Record, Snapshot

__all__ = [
    "AppendError",
    "Durability",
    "GenesisMismatch",
    "Head",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalInUse",
    "JournalNotFound",
    "Record",
    "Snapshot",
    "SnapshotError",
    "SnapshotInfo",
    "StorageError",
    "VerifyReport",
]
