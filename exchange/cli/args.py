"""The CLI's argument types and shared options: argparse ``type=`` callables, ``--journal``.

Holds every argparse ``type=`` callable of the CLI (integers, numbers, ports, ISO 8601
times), the ``--journal`` option group of the commands that execute inputs
(``simulate``, ``titan``, ``lobster``) with the recorder it opens, and the check of a
seq flag against a journal's records.

Rules
-----
- A type callable raises :class:`argparse.ArgumentTypeError` with the message argparse
  prints after the flag (``exchange: error: argument --limit: '0' must be positive``).
- The two positive-int types differ only in what a negative value is told:
  :func:`positive_int` says ``must be positive`` for every value below 1,
  :func:`positive_int` says ``must not be negative`` for a negative value, as
  :func:`nonneg_int` does, and ``must be positive`` for 0. The messages are part of the
  CLI, so each flag keeps the one it has always had.
- Nothing here prints; errors are raised (``UserError``: exit status 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from exchange.audit.records import EPOCH
from exchange.errors import UserError
from exchange.runtime.machines import TitanMachine, titan_genesis
from exchange.runtime.recorder import Recorder
from oracle import Durability, Journal
from oracle.policy import DEFAULT_BATCH, DEFAULT_CHECKPOINT_EVERY, DEFAULT_SNAPSHOT_EVERY
from titan import Engine
from titan.symbols import SymbolSpec

_MS = timedelta(milliseconds=1)

# -- argument types ---------------------------------------------------------------------


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def nonneg_int(text: str) -> int:
    """An integer >= 0 (a seq where 0 is the genesis state, a count where 0 is off)."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1: a negative one is refused as negative, 0 as not positive."""
    value = nonneg_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{what} {text!r} must not be negative")
    return value


def port(text: str) -> int:
    """A TCP port, 0..65535 (0: off)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0..65535)")
    return value


def volatility(text: str) -> float:
    """A finite fraction per step, 0..1."""
    value = _number(text, "volatility")
    if value > 1:
        raise argparse.ArgumentTypeError(f"volatility {text!r} must be at most 1 (100% a step)")
    return value


def seconds(text: str) -> float:
    """A finite number of seconds, more than 0."""
    value = _number(text, "seconds")
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def rate(text: str) -> float:
    """A finite rate, >= 0 (0: as fast as it goes)."""
    return _number(text, "rate")


def parse_time(text: str) -> int:
    """ISO 8601 time or date -> milliseconds since the Unix epoch (floored).

    ``2026-11-21T10:00:00Z``, ``2026-11-21T12:00:00.5+02:00``, ``2026-11-21`` (its
    midnight); a time without an offset is UTC. ArgumentTypeError otherwise.
    """
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-21T10:00:00Z or 2026-11-21)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - EPOCH) // _MS


# -- checks against a journal -----------------------------------------------------------


def check_seq(flag: str, seq: int, journal: Journal) -> None:
    """UserError naming ``flag`` when ``seq`` is beyond the journal's last record."""
    if seq > journal.last_seq:
        holds = f"records 1..{journal.last_seq}" if journal.last_seq else "no records"
        raise UserError(f"{flag} {seq}: the journal holds {holds}")


# -- the --journal option group ---------------------------------------------------------


def add_journal_options(parser: argparse.ArgumentParser) -> None:
    """``--journal DIR`` and its tuning flags, for the commands that execute inputs."""
    g = parser.add_argument_group("journal (Oracle)")
    g.add_argument("--journal", metavar="DIR", help="record every input and its events here")
    g.add_argument(
        "--durability",
        choices=[d.value for d in Durability],
        default=Durability.SYNC.value,
        help="sync: acknowledge a batch once fsynced (default); async: once written",
    )
    g.add_argument(
        "--batch", type=positive_int, default=DEFAULT_BATCH, help="records per group commit"
    )
    g.add_argument(
        "--checkpoint-every",
        type=nonneg_int,
        default=DEFAULT_CHECKPOINT_EVERY,
        help="state hash every N records",
    )
    g.add_argument(
        "--snapshot-every",
        type=nonneg_int,
        default=DEFAULT_SNAPSHOT_EVERY,
        help="snapshot every N records",
    )


def open_recorder(
    args: argparse.Namespace, specs: Iterable[SymbolSpec], engine: Engine
) -> Recorder:
    """A recorder on a new (or empty) journal at ``args.journal`` for a fresh ``engine``."""
    journal = Journal.open(
        args.journal, create=True, durability=args.durability, genesis=titan_genesis(specs)
    )
    if journal.last_seq:
        n = journal.last_seq
        journal.close()
        raise UserError(
            f"journal {args.journal} already holds {n} records; this command starts at seq 1, "
            "so give it a new directory"
        )
    return Recorder(
        journal,
        TitanMachine(engine),
        batch_size=args.batch,
        checkpoint_every=args.checkpoint_every,
        snapshot_every=args.snapshot_every,
    )


__all__ = [
    "add_journal_options",
    "check_seq",
    "nonneg_int",
    "open_recorder",
    "parse_time",
    "port",
    "positive_int",
    "rate",
    "seconds",
    "volatility",
]
