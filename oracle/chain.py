"""The hash chain: h_n = SHA-256(h_{n-1} || key_n || body_n), with h_0 = 32 zero bytes.

``key_n`` is the record's 8-byte big-endian seq and ``body_n`` its encoded bytes (see
:mod:`oracle.codec`). The stored value of record n is ``body_n || h_n``, so any altered,
dropped, reordered or re-keyed record breaks the chain at its own seq, and a verifier can
start at any record whose predecessor's hash it trusts (a snapshot's, say).
"""

from __future__ import annotations

import hashlib
import struct

GENESIS = bytes(32)
HASH_SIZE = 32

_KEY = struct.Struct(">Q")
seq_key = _KEY.pack
"""The 8-byte big-endian key of a seq."""


def key_seq(key: bytes) -> int:
    """The seq of an 8-byte key (ValueError if the key is not 8 bytes)."""
    if len(key) != 8:
        raise ValueError(f"record key is {len(key)} bytes, not 8")
    seq: int = _KEY.unpack(key)[0]
    return seq


def link(prev: bytes, key: bytes, body: bytes) -> bytes:
    """h_n from h_{n-1}, the record's key and its body."""
    return hashlib.sha256(prev + key + body).digest()
