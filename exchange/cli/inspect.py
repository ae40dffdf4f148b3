"""``exchange inspect DIR [--from SEQ] [--limit N] [--kind K]... [--account A] [--json]``.

The audit trail from record SEQ on: one line per record (seq, ISO time, the input in
words with decimals, ``->`` its events), or with ``--json`` one JSON object per record
(:func:`exchange.audit.records.record_json`).

Rules
-----
- ``--kind`` (repeatable; a record matching any is kept) takes the input kinds of
  :data:`exchange.audit.records.INPUT_KINDS` and the event kinds ``trades`` (a Trade),
  ``liquidations`` (a LiquidationStarted), ``rejections`` (Rejected or Refused) and
  ``funding`` (FundingSettled). ``--account`` keeps the records whose input or any
  event names the account (fields ``account``, ``maker_account``, ``taker_account``,
  ``counterparty``). ``--limit`` stops after N printed records.
- The journal is opened read-only; records are printed as they are read.
- Exit status: 0. Errors (no journal, a damaged record, a seq beyond the end) are one
  line on stderr (:func:`exchange.cli.main.main`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from exchange.audit.records import (
    EVENT_KINDS,
    INPUT_KINDS,
    journal_wire,
    json_text,
    record_json,
    record_text,
    select_records,
)
from exchange.cli.args import check_seq, positive_int
from oracle import Journal

NAME = "inspect"


def register(sub: Any) -> None:
    """Add ``inspect`` to the CLI's subparsers."""
    ins = sub.add_parser(
        NAME,
        help="the audit trail: records in words (or JSON lines), filtered",
        description="Print records with their inputs and events in words, decimals "
        "included; --json prints one JSON object per record.",
    )
    ins.add_argument("dir", help="journal directory")
    ins.add_argument(
        "--from",
        dest="start",
        type=positive_int,
        metavar="SEQ",
        help="first seq (default 1)",
    )
    ins.add_argument("--limit", type=positive_int, metavar="N", help="print at most N records")
    ins.add_argument(
        "--kind",
        action="append",
        choices=[*INPUT_KINDS, *EVENT_KINDS],
        metavar="KIND",
        help=f"keep records of this kind (repeatable): {', '.join([*INPUT_KINDS, *EVENT_KINDS])}",
    )
    ins.add_argument(
        "--account", type=int, metavar="A", help="keep records whose input or events name A"
    )
    ins.add_argument("--json", action="store_true", help="one JSON object per record")


def run(args: argparse.Namespace) -> int:
    """``exchange inspect`` (see the module docstring); returns the exit status."""
    with Journal.open(args.dir, read_only=True) as journal:
        wire = journal_wire(journal)
        if args.start is not None:
            check_seq("--from", args.start, journal)
        out = sys.stdout
        start = args.start or 1
        for printed, (rec, shown) in enumerate(
            select_records(journal, wire, start, args.kind, args.account), 1
        ):  # the records are read (and decoded) only as far as they are printed
            if args.json:
                out.write(json_text(record_json(rec, shown, wire)) + "\n")
            else:
                out.write(record_text(rec, shown, wire) + "\n")
            if printed == args.limit:
                break
        return 0


__all__ = ["NAME", "register", "run"]
