"""Errors raised by the journal. Each names the journal and, where one exists, the seq."""

from __future__ import annotations


class JournalError(Exception):
    """Base class: the journal cannot do what was asked; nothing was changed."""


class JournalInUse(JournalError):
    """Another process holds the journal open for writing (RocksDB's LOCK file)."""


class JournalNotFound(JournalError):
    """No journal exists at the path and creating one was not asked for."""


class GenesisMismatch(JournalError):
    """The journal was created with a different genesis (another configuration).

    A journal's genesis names the machine and its configuration (symbols, contracts);
    opening it with another one would replay its records through the wrong machine.
    """


class AppendError(JournalError):
    """A batch was refused before anything was written (bad seq, time, or value)."""


class SnapshotError(JournalError):
    """A snapshot was refused on save, or failed its checks on load."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class JournalCorrupt(JournalError):
    """The journal's content fails a check. ``seq`` is the first bad sequence number."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"journal corrupt at seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class StorageError(JournalError):
    """The storage engine reported an error (I/O, or corruption found by its checksums)."""
