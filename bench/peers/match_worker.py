"""Titan against one peer matching engine, in one process, trials interleaved A B A B.

Usage (run by ``bench/suite.py`` inside the peer's own virtual environment, with the
repository on PYTHONPATH so Titan runs under the peer's interpreter)::

    python bench/peers/match_worker.py --stream FILE --peer NAME [--repeat N]
                                       [--limit N] [--json]

Each trial builds a fresh engine with the stream's seed applied and the timed commands
as the engine's own objects (untimed, then ``gc.collect()`` and ``gc.freeze()`` so the
collector does not rescan the prepared input), times one pass over the commands with
``perf_counter`` (every returned event list, trade list or blotter is consumed: counted),
and then checks the engine's full L2 book, every level of every symbol, against the
reference: the book recorded with the stream (Titan's, verified at derivation), or with
``--limit`` (the first N timed commands only, for slow peers) Titan's own book after the
same prefix. A trial whose book differs fails the run (exit 1): no time is reported for
an engine that did not do the same work.

Output: per engine, commands/s median and range over the trials and events emitted per
pass; ``ratio`` = peer seconds / Titan seconds of the same trial (how many times faster
Titan is), median and range.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from engines import RUNNERS, Runner
from stream import Book, Stream


def _log(msg: str) -> None:
    print(f"match worker: {msg}", file=sys.stderr, flush=True)


def timed_pass(runner: Runner) -> tuple[float, int]:
    """Seconds and events of one pass on a fresh engine (preparation untimed)."""
    runner.fresh()
    gc.collect()
    gc.freeze()
    try:
        t0 = time.perf_counter()
        events = runner.run()
        elapsed = time.perf_counter() - t0
    finally:
        gc.unfreeze()
    return elapsed, events


def check_books(runner: Runner, reference: dict[str, Book]) -> None:
    """Raise AssertionError naming the engine, symbol and first differing level."""
    for symbol, want in reference.items():
        got = runner.book(symbol)
        if got == want:
            continue
        for side, g, w in (("bid", got[0], want[0]), ("ask", got[1], want[1])):
            for i, (a, b) in enumerate(zip(g, w, strict=False)):
                if a != b:
                    raise AssertionError(
                        f"{runner.name} {symbol}: {side} level {i} is {a}, reference {b}"
                    )
            if len(g) != len(w):
                raise AssertionError(
                    f"{runner.name} {symbol}: {len(g)} {side} levels, reference {len(w)}"
                )


def _stats(values: list[float], digits: int = 0) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def compare(stream: Stream, peer: str, repeat: int, limit: int | None) -> dict[str, Any]:
    """Interleaved trials of Titan and ``peer`` on ``stream``; see the module docstring."""
    if limit is not None:
        stream = stream._replace(commands=stream.commands[:limit])
    titan = RUNNERS["titan"](stream)
    other = RUNNERS[peer](stream)
    reference = stream.books
    trials: list[dict[str, Any]] = []
    for i in range(repeat):
        row: dict[str, Any] = {}
        for runner in (titan, other):
            elapsed, events = timed_pass(runner)
            if runner is titan and limit is not None and i == 0:
                reference = {s: titan.book(s) for s, _, _ in stream.symbols}
            check_books(runner, reference)
            row[f"{runner.name}_s"] = elapsed
            row[f"{runner.name}_events"] = events
            _log(f"{stream.name} trial {i + 1}: {runner.name} {elapsed:.3f} s, {events} events")
        row["ratio"] = row[f"{peer}_s"] / row["titan_s"]
        trials.append(row)
    n = len(stream.commands)
    return {
        "flow": stream.name,
        "peer": peer,
        "peer_version": other.version,
        "python": platform.python_version(),
        "commands": n,
        "seed_commands": len(stream.seed),
        "limited": limit is not None,
        "repeat": repeat,
        "books_checked": True,
        "titan_cps": _stats([n / t["titan_s"] for t in trials]),
        "peer_cps": _stats([n / t[f"{peer}_s"] for t in trials]),
        "titan_events": trials[-1]["titan_events"],
        "peer_events": trials[-1][f"{peer}_events"],
        "ratio": _stats([t["ratio"] for t in trials], 2),
        "trials": trials,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stream", required=True, type=Path, help="a stream file (stream.py)")
    p.add_argument("--peer", required=True, choices=sorted(set(RUNNERS) - {"titan"}))
    p.add_argument("--repeat", type=int, default=3, help="trials per engine (default 3)")
    p.add_argument("--limit", type=int, default=None, help="time only the first N commands")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.repeat < 1 or (args.limit is not None and args.limit < 1):
        p.error("--repeat and --limit must be positive")
    try:
        stream = Stream.load(args.stream)
    except (OSError, ValueError, TypeError, EOFError) as exc:
        print(f"match worker: cannot read the stream {args.stream}: {exc}", file=sys.stderr)
        return 2
    try:
        out = compare(stream, args.peer, args.repeat, args.limit)
    except AssertionError as exc:
        print(f"match worker: books differ: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out))
    else:
        r = out["ratio"]
        print(
            f"{out['flow']}: titan {out['titan_cps']['median']:,.0f}/s, {args.peer} "
            f"{out['peer_cps']['median']:,.0f}/s, titan/peer {r['median']}x "
            f"({r['min']}-{r['max']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
