"""What the running price source is doing, as the platform publishes it to the metrics.

The platform owns one :class:`FeedStatus` and updates it on the loop; the metrics
exporter only reads it. Exactly one of ``walk`` (the simulated prices) and ``feed`` (the
Binance client) is set once the source runs; both are ``None`` before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.feeds.binance import BinanceMarkFeed
    from exchange.feeds.prices import RandomWalk


@dataclass
class FeedStatus:
    """The price source's state and the marks the platform did not use."""

    walk: RandomWalk | None = None  # the simulated walk, once it runs
    feed: BinanceMarkFeed | None = None  # the Binance client, once it runs
    refused: int = 0  # marks the full intake refused
    old: int = 0  # Binance marks not newer than one already taken (skipped)
