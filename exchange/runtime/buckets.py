"""Fixed-bucket histograms cheap enough for the sequencer's loop.

prometheus-client's ``Histogram.observe`` takes a lock and walks the buckets; these take
one ``bisect`` and two additions, and the metrics exporter turns them into Prometheus
histograms only when scraped (:func:`exchange.metrics.exporter.histogram_family`). They
live with the sequencer, their main observer; the metrics read them.

Rules: bucket ``i`` counts the observations ``v <= bounds[i]`` that no lower bound took
(Prometheus' ``le``), the last bucket everything above the top bound (``+Inf``). Only
the sequencer's loop thread observes; the exporter's thread reads a copy of the counts
(``list`` copies atomically under the GIL), so the exported buckets are always
cumulative and consistent with their count; the sum may lag by the observation in
flight.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import pairwise


class Buckets:
    """One histogram: ``bounds`` ascending; ``observe`` in the bounds' own unit."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        if not bounds or any(b >= c for b, c in pairwise(bounds)):
            raise ValueError("bounds must be non-empty and strictly ascending")
        self.bounds = list(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total: float = 0

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose bound is >= it."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self, unit: float = 1) -> tuple[list[tuple[str, float]], float]:
        """Prometheus buckets ``[(le, cumulative count), ..., ("+Inf", count)]`` and the
        sum, with bounds and sum divided by ``unit`` (e.g. 1e9: ns to seconds; dividing
        by a power of ten keeps decimal values exact, multiplying would not)."""
        counts = list(self.counts)  # one atomic copy
        total = self.total
        out: list[tuple[str, float]] = []
        running = 0
        for bound, n in zip(self.bounds, counts, strict=False):
            running += n
            out.append((_le(bound / unit), running))
        out.append(("+Inf", running + counts[-1]))
        return out, total / unit


def _le(value: float) -> str:
    """A bound as Prometheus prints it, to 12 significant digits (1e-06, not 1.0...02e-06)."""
    return repr(float(f"{value:.12g}"))


def exponential(start: float, factor: float, count: int) -> list[float]:
    """``count`` bounds ``start, start*factor, ...`` (rounded to 12 significant digits)."""
    if start <= 0 or factor <= 1 or count < 1:
        raise ValueError("start > 0, factor > 1 and count >= 1 are required")
    return [float(f"{start * factor**i:.12g}") for i in range(count)]


def one_two_five(start: float, decades: int) -> list[float]:
    """Bounds 1, 2, 5 x ``start`` x 10**k for ``decades`` decades (``start`` > 0)."""
    if start <= 0 or decades < 1:
        raise ValueError("start > 0 and decades >= 1 are required")
    return [float(f"{m * start * 10**k:.12g}") for k in range(decades) for m in (1, 2, 5)]


#: latency bounds in ns: 1 µs .. ~16.8 s, doubling
LATENCY_NS = [float(1_000 * 2**i) for i in range(25)]
