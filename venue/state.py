"""Export and load the venue's state (Titan's and Sentinel's together) as plain data.

Rules:

- The state is ``{"format": "venue-state/1", "titan": <Titan's state>, "sentinel":
  <the ledger's>}``; its canonical bytes are Titan's msgpack encoding, and the venue's
  state hash is the SHA-256 of them. Equal states give equal bytes.
- The ledger's part is Sentinel's own plain-data state (:mod:`sentinel.state`).
- The order mirror and the detection index are derived from Titan's open orders and
  the positions, so they are rebuilt on load, not stored.
- Loading validates the shape and the integer bounds (ValueError naming the first
  problem); the venue checks every invariant of what was loaded
  (:meth:`venue.venue.Venue.restore`).

This module works on an engine and a ledger; it knows nothing of the venue object.
"""

from __future__ import annotations

from typing import Any

from sentinel.contracts import Contract
from sentinel.ledger import Ledger, OpenOrder
from sentinel.state import FORMAT as SENTINEL_FORMAT
from sentinel.state import export_ledger, load_ledger
from titan.engine import Engine
from titan.enums import LIMIT_TYPES, Side
from titan.state import decode_state, encode_state

FORMAT = "venue-state/1"


def export_venue_state(titan: Engine, ledger: Ledger) -> dict[str, Any]:
    """Canonical plain-data state of a venue made of ``titan`` and ``ledger``."""
    return {
        "format": FORMAT,
        "titan": titan.export_state(),
        "sentinel": export_ledger(ledger),
    }


def encode_venue_state(state: dict[str, Any]) -> bytes:
    """Canonical bytes of an exported venue state (the same msgpack encoding as Titan's)."""
    return encode_state(state)


def decode_venue_state(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode_venue_state` (ValueError if not a state map)."""
    return decode_state(data)


def load_venue_state(state: dict[str, Any]) -> tuple[Engine, Ledger]:
    """Titan's engine and the ledger rebuilt from :func:`export_venue_state` output,
    the ledger's order mirror and detection index rebuilt from them.

    ValueError names the first problem. The invariants are not checked here: the
    caller checks them (:func:`venue.invariants.check_venue`) before using the parts.
    """
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} state")
    raw = state.get("sentinel")
    if not isinstance(raw, dict) or raw.get("format") != SENTINEL_FORMAT:
        raise ValueError(f"venue state lacks a {SENTINEL_FORMAT} part")
    try:
        contracts = [Contract.from_dict(c) for c in raw["contracts"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"sentinel state has a bad contract: {exc}") from None
    s = Ledger(contracts)
    engine = Engine.restore(state.get("titan"))  # type: ignore[arg-type]
    if [engine.spec(sym) for sym in engine.symbols] != [c.spec for c in contracts]:
        raise ValueError("titan and sentinel states disagree on the symbols")
    try:
        load_ledger(s, raw)
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"sentinel state: {exc}") from None
    rebuild_orders(s, engine)
    for key in s.units():
        s.reindex(key)
    return engine, s


def rebuild_orders(s: Ledger, engine: Engine) -> None:
    """Fill ``s``'s order mirror from Titan's open orders."""
    for sym in engine.symbols:
        views = [v for side in engine.l3(sym).values() for v in side]
        views += engine.pending_triggers(sym)
        for v in sorted(views, key=lambda v: v.order_id):
            s.order_opened(
                v.order_id,
                OpenOrder(
                    v.account,
                    sym,
                    v.side is Side.BUY,
                    v.price,
                    v.qty,
                    v.reduce_only,
                    v.type in LIMIT_TYPES,
                    not v.pending_trigger,
                ),
            )
