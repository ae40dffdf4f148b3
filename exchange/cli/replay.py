"""``exchange replay DIR [--to-seq N | --to-time ISO8601] [--verify] [--json]``.

Rebuilds the state after record N (default: the last record), or at a time (the state
after the last record with ``ts`` <= that time; before the first record it is the
genesis state, seq 0), from the newest valid snapshot plus the tail. It shows the state
hash, the positions (account 0 is the insurance fund), the wallet balances that hold
money or back a position, the open orders (resting and pending), the insurance fund,
the last mark prices, the journaled inputs per kind in records 1..N and the liquidations
(``LiquidationStarted`` events) among them.

``--verify`` checks the integrity of the *whole* journal, then re-executes every input of
records 1..N from genesis and compares every event, checkpoint and snapshot hash, and
finally checks that the state rebuilt from the snapshot equals the re-executed one
(:mod:`exchange.audit.verify` has the rules). A progress line is drawn on stderr when
stderr is a terminal, or when the run lasts more than a couple of seconds.

Rules
-----
- The journal is opened read-only, so it can be audited while the platform writes it (a
  reader sees the journal as it was when opened). A Titan journal works too, but its
  timestamps have no defined unit, so ``--to-time`` is refused for it.
- JSON (``--json``): ``verified`` is true only when ``--verify`` ran and everything
  passed (false without ``--verify``); ``records`` is the number of records in the
  journal and ``last_seq`` the seq the state is after; ``first_divergence`` is the seq
  of the first problem found (null when none was found or none was looked for) and
  ``divergence`` its detail ``{seq, what, detail, ...}``; ``inputs_by_kind`` counts the
  inputs of records 1..``last_seq`` by kind (:data:`exchange.audit.records.INPUT_KINDS`,
  plus ``other``). Amounts are decimal strings: prices and sizes in the symbol's
  decimals, money in the quote asset.
- Exit status: 0; with ``--verify`` 0 only if verified, else 1. Errors (no journal, not
  a journal, in use, damaged, a seq beyond the end) are one line on stderr
  (:func:`exchange.cli.main.main`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from exchange.audit.records import journal_wire, json_text
from exchange.audit.verify import replay_lines, replay_report, replay_state
from exchange.cli.args import check_seq, nonneg_int, parse_time
from exchange.cli.progress import Progress
from exchange.errors import UserError
from exchange.runtime.machines import factory_for
from oracle import Journal

NAME = "replay"


def register(sub: Any) -> None:
    """Add ``replay`` to the CLI's subparsers."""
    rep = sub.add_parser(
        NAME,
        help="rebuild the state at a seq or time (positions, balances, fund) and verify it",
        description="Rebuild a journal's state at a point (snapshot + tail) and show it; "
        "--verify re-executes every input and checks the journal's integrity.",
    )
    rep.add_argument("dir", help="journal directory")
    at = rep.add_mutually_exclusive_group()
    at.add_argument(
        "--to-seq", type=nonneg_int, metavar="N", help="state after record N (default: last)"
    )
    at.add_argument(
        "--to-time",
        type=parse_time,
        metavar="ISO8601",
        help="state at this time (e.g. 2026-11-21T10:00:00Z; no offset = UTC)",
    )
    rep.add_argument(
        "--verify",
        action="store_true",
        help="check integrity, re-execute records 1..N and compare every event and checkpoint",
    )
    rep.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """``exchange replay`` (see the module docstring); returns the exit status."""
    with Journal.open(args.dir, read_only=True) as journal:
        wire = journal_wire(journal)
        factory = factory_for(journal.genesis)
        if args.to_time is not None:
            if wire.machine != "venue":
                raise UserError(
                    f"--to-time: the journal records a {wire.machine} machine, whose "
                    "timestamps are not epoch milliseconds (use --to-seq, or "
                    "exchange journal replay --time)"
                )
            target = journal.seq_at_time(args.to_time)
        elif args.to_seq is not None:
            check_seq("--to-seq", args.to_seq, journal)
            target = args.to_seq
        else:
            target = journal.last_seq
        progress = Progress()
        try:
            state = replay_state(journal, factory, target, check=args.verify, progress=progress)
        finally:
            progress.close()
        data = replay_report(args.dir, journal, wire, target, state)
        if args.json:
            sys.stdout.write(json_text(data) + "\n")
        else:
            sys.stdout.write("\n".join(replay_lines(data, state)) + "\n")
        if state.checked is None:
            return 0
        return 0 if data["verified"] else 1


__all__ = ["NAME", "register", "run"]
