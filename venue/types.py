"""The venue's typed seams: what :meth:`venue.venue.Venue.apply` takes and returns.

- :data:`Command`: Titan's order commands (NewOrder, Cancel, CancelAll, Amend) and
  Sentinel's (:data:`sentinel.commands.SentinelCommand`: MarkPrice, Deposit, Withdraw,
  SetLeverage, SetMarginType). Titan's ``SetMarkPrice`` is not one: the venue sends it to
  Titan itself, from Sentinel's ``MarkPrice``, which also carries the funding rate.
- :data:`Event`: Titan's events and Sentinel's (:data:`sentinel.events.SentinelEvent`),
  in one list in the order they happened.
- :data:`TitanProbe`: the optional hook the venue calls around each of its calls into
  Titan (telemetry times Titan with it; the venue itself reads no clock).

The wire form (:mod:`venue.wire`) and the journal use the same unions.
"""

from __future__ import annotations

from collections.abc import Callable

from sentinel.commands import SentinelCommand
from sentinel.events import SentinelEvent
from titan.commands import Amend, Cancel, CancelAll, NewOrder
from titan.commands import Command as TitanCommand
from titan.events import Event as TitanEvent

OrderCommand = NewOrder | Cancel | CancelAll | Amend
Command = OrderCommand | SentinelCommand
Event = TitanEvent | SentinelEvent

#: Titan's ``Engine.apply``: one Titan command in, its events out.
TitanApply = Callable[[TitanCommand], list[TitanEvent]]
#: ``probe(apply, command)`` must return ``apply(command)`` (it may time the call).
TitanProbe = Callable[[TitanApply, TitanCommand], list[TitanEvent]]

__all__ = [
    "Command",
    "Event",
    "OrderCommand",
    "TitanApply",
    "TitanCommand",
    "TitanEvent",
    "TitanProbe",
]
