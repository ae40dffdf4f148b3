"""The generated traders driven flat out against a real sequencer, the walk moving the marks.

Two test modules drive the platform's order flow this way; the walk steps once per
``step_every`` inputs *sent* (never per loop turn: while the queue is full nothing is
sent, and the marks must not run away from the traders meanwhile).
"""

from __future__ import annotations

import asyncio

from exchange.feeds.prices import RandomWalk, mark_command
from exchange.flow.traders import Traders
from exchange.runtime.sequencer import Sequencer
from venue.venue import Venue

__all__ = ["drive_flat_out"]


async def drive_flat_out(
    seq: Sequencer,
    venue: Venue,
    traders: Traders,
    walk: RandomWalk,
    *,
    n_inputs: int,
    step_every: int,
    budget: int,
) -> None:
    """Marks, the traders' bootstrap, then their inputs as fast as the queue takes them,
    until the sequencer has accepted ``n_inputs``. The sequencer must be running."""
    for symbol, price in walk.last.items():
        await seq.submit(mark_command(symbol, price))
    for cmd in traders.bootstrap(venue, 0):
        await seq.submit(cmd)
    sent, next_step = 0, 0
    while seq.stats.accepted < n_inputs:
        if sent >= next_step:
            next_step += step_every
            for symbol, price in walk.step().items():
                await seq.submit(mark_command(symbol, price))
        for cmd in traders.next_inputs(min(budget, seq.queue_size - seq.backlog)):
            if not seq.offer(cmd):
                traders.refused(cmd)
            sent += 1
        await asyncio.sleep(0)
