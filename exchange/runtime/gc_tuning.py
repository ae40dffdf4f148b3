"""Process-level runtime settings for a long-running exchange process.

CPython's cyclic garbage collector scans every tracked container (each resting
:class:`titan.book.Order`, each event tuple still referenced) on its older-generation
passes. A book with hundreds of thousands of live orders makes those passes dominate
the matching cost (measured in bench/titan_bench.py: about half the time at default
thresholds). The engines create no reference cycles on their hot paths, so the
exchange raises the collection thresholds and freezes the start-up heap; cycles are
still collected, just in fewer, larger passes.
"""

from __future__ import annotations

import gc

# gen0 threshold (allocations between young collections), then how many young / middle
# collections between older ones.
GC_THRESHOLDS = (50_000, 50, 1_000)


def tune_gc() -> tuple[int, int, int]:
    """Apply :data:`GC_THRESHOLDS` and freeze the current heap; return the old thresholds."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return old


def restore_gc(thresholds: tuple[int, int, int]) -> None:
    """Undo :func:`tune_gc` (for benchmarks comparing both settings in one process)."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)
