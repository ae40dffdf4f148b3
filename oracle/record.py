"""What the journal holds: one record per sequenced input, and snapshots of state."""

from __future__ import annotations

from typing import Any, NamedTuple


class Record(NamedTuple):
    """One sequenced input and everything it produced.

    ``input`` and ``events`` are plain MessagePack-able values (ints, strs, bools, bytes,
    lists/tuples, dicts with str keys) in the wire form of the machine that executed them;
    Oracle never interprets them. ``checkpoint`` is the machine's state hash after this
    record, written every so often so that an audit can compare it; ``None`` otherwise.
    """

    seq: int
    ts: int
    input: Any
    events: Any
    checkpoint: str | None = None


class Snapshot(NamedTuple):
    """An opaque state blob of the machine after record ``seq``.

    The contract: ``state_hash == sha256(blob).hexdigest()``. ``chain`` is the journal's
    chain hash h_seq, which binds the snapshot to the exact history that produced it.
    """

    seq: int
    state_hash: str
    chain: bytes
    blob: bytes


class Head(NamedTuple):
    """The journal's tip: last seq, its timestamp and chain hash (all zero when empty)."""

    seq: int
    ts: int
    chain: bytes
