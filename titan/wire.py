"""Titan's wire form: how commands and events are journaled and published.

A command or event travels as the pair ``(type name, fields)`` where ``fields`` is the
NamedTuple itself, so MessagePack writes ``["NewOrder", [seq, ts, symbol, ...]]`` with
enums as their string values. Decoding gives the same NamedTuple back. A NewOrder's
enum fields that name a member come back as that member (so replay takes the engine's
fast paths, which test members by identity); any other value is left as it was, and
Titan rejects it exactly as it rejected the original. Event enum fields come back as
plain strings (equal to the members). Either way a decoded command executes exactly as
the original did (the replay audit relies on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from titan.commands import Amend, Cancel, CancelAll, Command, NewOrder, SetMarkPrice
from titan.enums import OrderType, Side, StpMode, TimeInForce, WorkingType
from titan.events import EVENT_TYPES, Event

COMMAND_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (NewOrder, Cancel, CancelAll, Amend, SetMarkPrice)
}
_TAGS: dict[type, str] = {cls: name for name, cls in (COMMAND_TYPES | EVENT_TYPES).items()}
# NewOrder's enum fields: {value: member} tables, and the positions they apply to.
_SIDES = {m.value: m for m in Side}
_TYPES = {m.value: m for m in OrderType}
_TIFS = {m.value: m for m in TimeInForce}
_WORKING = {m.value: m for m in WorkingType}
_STPS = {m.value: m for m in StpMode}
_NEW_ORDER_FIELDS = len(NewOrder._fields)
assert tuple(NewOrder._fields[i] for i in (5, 8, 9, 11, 14)) == (
    "side", "type", "tif", "working_type", "stp"
)  # fmt: skip


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
    if type(wire) is list and len(wire) == 2 and wire[0] == "NewOrder":
        f = wire[1]
        if type(f) is list and len(f) == _NEW_ORDER_FIELDS:
            f = f.copy()
            try:
                f[5] = _SIDES.get(f[5], f[5])
                f[8] = _TYPES.get(f[8], f[8])
                f[9] = _TIFS.get(f[9], f[9])
                f[11] = _WORKING.get(f[11], f[11])
                f[14] = _STPS.get(f[14], f[14])
            except TypeError:  # an unhashable value stays as it is; Titan rejects it
                pass
            return tuple.__new__(NewOrder, f)
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
