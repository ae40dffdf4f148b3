"""The versioned record and snapshot codec.

A stored record value is ``version (1 byte) || MessagePack body || h_n (32 bytes)``.
Version 1's body is the array ``[seq, ts, input, events, checkpoint]``. A later schema
adds a decoder for its own version byte and keeps the old ones, each upcasting its
records to the current :class:`~oracle.record.Record`, so old journals stay readable
(the chain hashes the stored bytes, never a re-encoding, so upcasting never breaks it).

MessagePack comes from ``msgspec``: the same bytes as ``msgpack`` for these types, about
2x faster to encode on this machine (see docs/oracle.md). The encoder runs in
deterministic order: dict keys and sets are written sorted (a set that cannot be sorted
is refused), so an encoding never depends on PYTHONHASHSEED or insertion history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from oracle.chain import HASH_SIZE
from oracle.record import Head, Record, Snapshot

RECORD_VERSION = 1
SNAPSHOT_VERSION = 1
RECORD_PREFIX = bytes([RECORD_VERSION])
_SNAP_PREFIX = bytes([SNAPSHOT_VERSION])

_encoder = msgspec.msgpack.Encoder(order="deterministic")
_decoder = msgspec.msgpack.Decoder()
encode = _encoder.encode
"""MessagePack-encode a plain value (the codec's only encoder)."""
ENCODE_ERRORS = (TypeError, ValueError, OverflowError, msgspec.EncodeError)
"""What encoding (or unpacking a malformed record) can raise."""


class CodecError(ValueError):
    """Bytes that do not decode to what the codec promises; the message says why."""


def decode(data: bytes | memoryview) -> Any:
    """MessagePack-decode ``data`` (CodecError if malformed)."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise CodecError(f"undecodable MessagePack: {exc}") from None


def encode_body(record: Record) -> bytes:
    """The version byte and MessagePack body of ``record`` (the chain hash is appended)."""
    try:
        return RECORD_PREFIX + encode(record)
    except ENCODE_ERRORS as exc:
        raise CodecError(f"record {record.seq} is not encodable: {exc}") from None


def _decode_v1(body: memoryview) -> Record:
    fields = decode(body)
    if not isinstance(fields, list) or len(fields) != 5:
        raise CodecError("version-1 body is not a 5-element array")
    seq, ts, inp, events, checkpoint = fields
    if type(seq) is not int or type(ts) is not int:
        raise CodecError("seq and ts must be integers")
    if not isinstance(events, list):
        raise CodecError("events must be an array")
    if checkpoint is not None and not isinstance(checkpoint, str):
        raise CodecError("checkpoint must be a string or nil")
    return Record(seq, ts, inp, events, checkpoint)


_RECORD_DECODERS: dict[int, Callable[[memoryview], Record]] = {1: _decode_v1}


def decode_body(body: memoryview | bytes) -> Record:
    """Decode a version byte + body into the current :class:`Record` (upcasting)."""
    view = memoryview(body)
    version = view[0]
    decoder = _RECORD_DECODERS.get(version)
    if decoder is None:
        known = ", ".join(str(v) for v in sorted(_RECORD_DECODERS))
        raise CodecError(f"record codec version {version} is unknown (this build reads {known})")
    return decoder(view[1:])


def encode_snapshot(snap: Snapshot) -> bytes:
    """Version byte + MessagePack ``[seq, state_hash, chain, blob]``."""
    return _SNAP_PREFIX + encode(snap)


def decode_snapshot(value: bytes) -> Snapshot:
    """Inverse of :func:`encode_snapshot` (CodecError naming what is wrong)."""
    if not value or value[0] != SNAPSHOT_VERSION:
        version = value[0] if value else None
        raise CodecError(f"snapshot codec version {version} is unknown")
    fields = decode(memoryview(value)[1:])
    if not isinstance(fields, list) or len(fields) != 4:
        raise CodecError("snapshot is not a 4-element array")
    seq, state_hash, chain, blob = fields
    if type(seq) is not int or not isinstance(state_hash, str):
        raise CodecError("snapshot seq/state_hash have the wrong types")
    if not isinstance(chain, bytes) or len(chain) != HASH_SIZE or not isinstance(blob, bytes):
        raise CodecError("snapshot chain/blob have the wrong types")
    return Snapshot(seq, state_hash, chain, blob)


def encode_head(head: Head) -> bytes:
    """MessagePack ``[seq, ts, chain]``."""
    return encode(head)


def decode_head(value: bytes) -> Head:
    """Inverse of :func:`encode_head`."""
    fields = decode(value)
    if (
        not isinstance(fields, list)
        or len(fields) != 3
        or type(fields[0]) is not int
        or type(fields[1]) is not int
        or not isinstance(fields[2], bytes)
        or len(fields[2]) != HASH_SIZE
    ):
        raise CodecError("journal head is malformed")
    return Head(fields[0], fields[1], fields[2])
