"""The seeded venue command stream several test modules share, and its digests.

:func:`command_stream` is :mod:`exchange.flow.venue_stream`'s seeded mixed venue stream
(the venue benchmark draws the same one); this module runs it and digests its events.

Run as ``python -m helpers.streams SEED N`` (with tests/ on ``PYTHONPATH``, see
:func:`helpers.paths.subprocess_env`) it prints :func:`summary` of one run as JSON.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import msgpack

from exchange.flow.venue_stream import INTERVAL, command_stream, make_contracts
from venue.venue import Venue

__all__ = ["INTERVAL", "N_COMMANDS", "SEED", "command_stream", "event_digest", "run", "summary"]

SEED = 2  # a seed whose stream liquidates cross units in two symbols, too
N_COMMANDS = 3_000


def run(commands: list[Any], venue: Venue | None = None) -> tuple[Venue, list[Any]]:
    venue = venue if venue is not None else Venue(make_contracts())
    events: list[Any] = []
    for cmd in commands:
        events += venue.apply(cmd)
    return venue, events


def event_digest(events: list[Any]) -> str:
    h = hashlib.sha256()
    for e in events:
        h.update(msgpack.packb([type(e).__name__, *e], use_bin_type=True))
    return h.hexdigest()


def summary(seed: int, n: int) -> dict[str, Any]:
    venue, events = run(command_stream(seed, n))
    return {
        "state_hash": venue.state_hash(),
        "event_digest": event_digest(events),
        "events": len(events),
        "str_hash": hash("sentinel"),  # proves the interpreter's hash seed really differs
    }


if __name__ == "__main__":
    print(json.dumps(summary(int(sys.argv[1]), int(sys.argv[2]))))
