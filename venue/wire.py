"""The venue's wire form: how its commands and events are journaled and published.

The same form as Titan's (:mod:`titan.wire`): the pair ``(type name, fields)``, so
MessagePack writes ``["Deposit", [seq, ts, account, asset, amount]]`` with enums as
their string values. The venue takes Titan's order commands and Sentinel's commands
(Titan's ``SetMarkPrice`` is replaced by Sentinel's ``MarkPrice``, which carries the
funding rate); its events are Titan's and Sentinel's. Decoding gives the NamedTuples
back with enum fields as plain strings, which both engines accept as they accept the
members, so a decoded command executes exactly as the original did.
"""

from __future__ import annotations

from collections.abc import Sequence

from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType, Withdraw
from sentinel.events import SENTINEL_EVENTS
from titan.commands import SetMarkPrice
from titan.events import EVENT_TYPES as TITAN_EVENTS
from titan.wire import COMMAND_TYPES as TITAN_COMMANDS
from titan.wire import decode_pair
from venue.types import Command, Event

COMMAND_TYPES: dict[str, type[Command]] = {
    name: cls for name, cls in TITAN_COMMANDS.items() if cls is not SetMarkPrice
} | {cls.__name__: cls for cls in (MarkPrice, Deposit, Withdraw, SetLeverage, SetMarginType)}
EVENT_TYPES: dict[str, type[Event]] = TITAN_EVENTS | {c.__name__: c for c in SENTINEL_EVENTS}
_COMMAND_TAGS: dict[type, str] = {cls: name for name, cls in COMMAND_TYPES.items()}
_EVENT_TAGS: dict[type, str] = {cls: name for name, cls in EVENT_TYPES.items()}


def command_to_wire(cmd: Command) -> tuple[str, Command]:
    """``(type name, cmd)``; TypeError for anything that is not a venue command."""
    tag = _COMMAND_TAGS.get(type(cmd))
    if tag is None:
        raise TypeError(f"not a venue command: {type(cmd).__name__}")
    return tag, cmd


def events_to_wire(events: Sequence[Event]) -> list[tuple[str, Event]]:
    """``[(type name, event), ...]``."""
    tags = _EVENT_TAGS
    return [(tags[type(e)], e) for e in events]


def command_from_wire(wire: object) -> Command:
    """Inverse of :func:`command_to_wire` (ValueError naming what is wrong)."""
    cmd: Command = decode_pair(wire, COMMAND_TYPES, "command")
    return cmd


def event_from_wire(wire: object) -> Event:
    """Inverse of one element of :func:`events_to_wire` (ValueError naming what is wrong)."""
    event: Event = decode_pair(wire, EVENT_TYPES, "event")
    return event
