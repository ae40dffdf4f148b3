"""Titan's wire form: how commands and events are journaled and published.

A command or event travels as the pair ``(type name, fields)`` where ``fields`` is the
NamedTuple itself, so MessagePack writes ``["NewOrder", [seq, ts, symbol, ...]]`` with
enums as their string values. Decoding gives the same NamedTuple back with enum fields
as plain strings, which Titan normalises exactly as it does for members, so a decoded
command executes exactly as the original did (the replay audit relies on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from titan.commands import Amend, Cancel, CancelAll, Command, NewOrder, SetMarkPrice
from titan.events import EVENT_TYPES, Event

COMMAND_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (NewOrder, Cancel, CancelAll, Amend, SetMarkPrice)
}
_TAGS: dict[type, str] = {cls: name for name, cls in (COMMAND_TYPES | EVENT_TYPES).items()}


def command_to_wire(cmd: Command) -> tuple[str, Command]:
    """``(type name, cmd)``; TypeError for anything that is not a Titan command."""
    tag = _TAGS.get(type(cmd))
    if tag is None or tag not in COMMAND_TYPES:
        raise TypeError(f"not a Titan command: {type(cmd).__name__}")
    return tag, cmd


def events_to_wire(events: Sequence[Event]) -> list[tuple[str, Event]]:
    """``[(type name, event), ...]``."""
    tags = _TAGS
    return [(tags[type(e)], e) for e in events]


def decode_pair(wire: Any, table: dict[str, type[Any]], what: str) -> Any:
    """``table[tag](*fields)`` from a ``[tag, fields]`` pair (ValueError naming the problem)."""
    if not isinstance(wire, list | tuple) or len(wire) != 2:
        raise ValueError(f"a wire {what} is a [type, fields] pair, got {wire!r}")
    tag, fields = wire
    cls = table.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise ValueError(f"unknown {what} type {tag!r}")
    if not isinstance(fields, list | tuple) or len(fields) != len(cls._fields):
        raise ValueError(f"{tag} needs {len(cls._fields)} fields, got {fields!r}")
    return cls(*fields)


def command_from_wire(wire: Any) -> Command:
    """Inverse of :func:`command_to_wire` (ValueError naming what is wrong)."""
    cmd: Command = decode_pair(wire, COMMAND_TYPES, "command")
    return cmd


def event_from_wire(wire: Any) -> Event:
    """Inverse of one element of :func:`events_to_wire` (ValueError naming what is wrong)."""
    event: Event = decode_pair(wire, EVENT_TYPES, "event")
    return event


__all__ = [
    "COMMAND_TYPES",
    "command_from_wire",
    "command_to_wire",
    "decode_pair",
    "event_from_wire",
    "events_to_wire",
]
