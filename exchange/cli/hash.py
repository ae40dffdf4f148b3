"""``exchange hash DIR [--at SEQ] [--json]``: the state hash after a record.

The state hash after record SEQ (default: the last; 0 is the genesis state), rebuilt
from the newest valid snapshot plus the tail (:func:`exchange.audit.verify.hash_report`).
When that record carries a checkpoint the two are compared.

Rules
-----
- The journal is opened read-only. A progress line is drawn on stderr for a long
  rebuild (:class:`exchange.cli.progress.Progress`).
- JSON (``--json``): ``{seq, state_hash, checkpoint, checkpoint_matches, snapshot_seq,
  replayed}``; ``checkpoint_matches`` is null when there is nothing to compare.
- Exit status: 0; 1 when the checkpoint does not match. Errors (no journal, a seq
  beyond the end, ...) are one line on stderr (:func:`exchange.cli.main.main`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from exchange.audit.records import json_text
from exchange.audit.verify import hash_lines, hash_report
from exchange.audit.views import rebuild_state
from exchange.cli.args import check_seq, nonneg_int
from exchange.cli.progress import Progress
from exchange.runtime.machines import factory_for
from oracle import Journal

NAME = "hash"


def register(sub: Any) -> None:
    """Add ``hash`` to the CLI's subparsers."""
    hsh = sub.add_parser(
        NAME,
        help="the state hash after a seq, compared with the record's checkpoint",
        description="Print the state hash after record SEQ (snapshot + tail) and compare it "
        "with the checkpoint that record carries, if any (a mismatch exits 1).",
    )
    hsh.add_argument("dir", help="journal directory")
    hsh.add_argument(
        "--at", type=nonneg_int, metavar="SEQ", help="after record SEQ (default: last)"
    )
    hsh.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """``exchange hash`` (see the module docstring); returns the exit status."""
    with Journal.open(args.dir, read_only=True) as journal:
        factory = factory_for(journal.genesis)  # GenesisError if it names no machine
        seq = journal.last_seq if args.at is None else args.at
        check_seq("--at", seq, journal)
        progress = Progress()
        try:
            built = rebuild_state(journal, factory, seq, progress)
        finally:
            progress.close()
        data = hash_report(journal, seq, built)
        if args.json:
            sys.stdout.write(json_text(data) + "\n")
        else:
            sys.stdout.write("\n".join(hash_lines(data)) + "\n")
        return 1 if data["checkpoint_matches"] is False else 0


__all__ = ["NAME", "register", "run"]
