"""The ``exchange`` command line (also ``python -m exchange``): parser and dispatch.

The parser is built from :data:`COMMANDS`, the subcommand modules in the order
``exchange --help`` lists them; :func:`main` runs the one named and turns what it raises
into one line on stderr and an exit status.

Rules
-----
- Every user error ends in one line ``exchange: error: ...`` naming the file, line or
  field, and exit status 2; a damaged journal exits 1, Ctrl+C 130, an internal error
  70. A traceback is never shown (set EXCHANGE_DEBUG=1 to see one for an internal
  error).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from exchange.cli import (
    deposit,
    journal,
    keys,
    liquidation_price,
    lobster,
    replay,
    run,
    simulate,
    titan,
    withdraw,
)
from exchange.cli import hash as hash_command
from exchange.cli import inspect as inspect_command
from exchange.config.symbols import ConfigError
from exchange.errors import UserError
from exchange.flow.commandfile import CommandFileError
from oracle import JournalCorrupt, JournalError, SnapshotError, StorageError


class Subcommand(Protocol):
    """What a subcommand module has."""

    NAME: str  # the subcommand, as typed

    def register(self, sub: Any) -> None:
        """Add the subcommand's parser to the subparsers ``sub``."""

    def run(self, args: argparse.Namespace) -> int:
        """Run it on the parsed ``args``; returns the exit status."""


COMMANDS: tuple[Subcommand, ...] = (
    run,
    simulate,
    titan,
    lobster,
    journal,
    liquidation_price,
    replay,
    hash_command,
    inspect_command,
    keys,
    deposit,
    withdraw,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="exchange",
        description="Event-sourced exchange simulator: Titan matching, Sentinel margin, "
        "Oracle journal.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


_BY_NAME = {command.NAME: command for command in COMMANDS}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``exchange`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _BY_NAME[args.command].run(args)
    except (JournalCorrupt, SnapshotError) as exc:
        print(f"exchange: {exc}", file=sys.stderr)
        return 1
    except StorageError as exc:  # RocksDB found damage (or an I/O error) in the files
        print(f"exchange: journal unreadable: {exc}", file=sys.stderr)
        return 1
    except (UserError, ConfigError, JournalError) as exc:
        print(f"exchange: error: {exc}", file=sys.stderr)
        return 2
    except CommandFileError as exc:
        for problem in exc.problems:
            print(f"exchange: error: {problem}", file=sys.stderr)
        print(f"exchange: {len(exc.problems)} bad line(s); nothing was executed", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("exchange: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("EXCHANGE_DEBUG"):
            raise
        print(
            f"exchange: internal error: {type(exc).__name__}: {exc} "
            "(set EXCHANGE_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 70
