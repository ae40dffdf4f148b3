"""``exchange lobster MESSAGES [--orderbook BOOK] [--levels N] [--json]``.

Replays a NASDAQ LOBSTER message file through Titan and, given the orderbook file,
compares the book after every message (:func:`exchange.lobster.replay.replay` has the
rules); prints the report in words, or with ``--json`` as one JSON object.

Rules
-----
- Journal: with ``--journal DIR`` every command and its events are recorded; the
  records still queued are committed even when the replay stops early.
- Exit status: 0 when the replay ran with Titan's invariants intact, 1 when they broke;
  unreadable, malformed or mismatched files are a user error (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from exchange.cli.args import add_journal_options, open_recorder, positive_int
from exchange.lobster.replay import format_report, replay
from exchange.runtime.recorder import Recorder
from titan import Engine
from titan.symbols import SymbolSpec

NAME = "lobster"


def register(sub: Any) -> None:
    """Add ``lobster`` to the CLI's subparsers."""
    lob = sub.add_parser(
        NAME, help="replay a LOBSTER message file through Titan and compare the book"
    )
    lob.add_argument("message_file", help="LOBSTER message CSV")
    lob.add_argument("--orderbook", help="LOBSTER orderbook CSV to compare against")
    lob.add_argument(
        "--levels", type=positive_int, default=None, help="levels to compare (default: all)"
    )
    lob.add_argument("--json", action="store_true", help="print one JSON object")
    add_journal_options(lob)


def run(args: argparse.Namespace) -> int:
    """``exchange lobster`` (see the module docstring); returns the exit status."""
    recorder = None
    made: list[Recorder] = []
    if args.journal:

        def recorder(spec: SymbolSpec, engine: Engine) -> Recorder:
            made.append(open_recorder(args, [spec], engine))
            return made[-1]

    try:
        report = replay(args.message_file, args.orderbook, args.levels, recorder)
    finally:
        for rec in made:  # commits what is queued if the replay stopped early
            rec.close()
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict()) + "\n")
    else:
        sys.stdout.write(format_report(report) + "\n")
    return 1 if report.invariants else 0


__all__ = ["NAME", "register", "run"]
