"""The ``exchange`` command line (also ``python -m exchange``).

Every user error ends in one line ``exchange: error: ...`` naming the file, line or
field, and exit status 2; a traceback is never shown (set EXCHANGE_DEBUG=1 to see one
for an internal error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from exchange.cli.audit import add_audit_parsers, run_hash, run_inspect, run_replay
from exchange.cli.journal import (
    add_journal_options,
    add_journal_parser,
    open_recorder,
    run_journal,
)
from exchange.cli.liquidation_price import add_parser as add_calculator_parser
from exchange.cli.liquidation_price import run as run_liquidation_price
from exchange.config.symbols import ConfigError, load_specs
from exchange.errors import UserError
from exchange.flow.commandfile import CommandFileError, event_to_display, parse_lines
from exchange.runtime.platform import add_run_parser
from oracle import JournalCorrupt, JournalError, SnapshotError, StorageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="exchange",
        description="Event-sourced exchange simulator: Titan matching, Sentinel margin, "
        "Oracle journal.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    add_run_parser(sub)
    sim = sub.add_parser(
        "simulate", help="a seeded synthetic order flow through Titan alone (deterministic)"
    )
    sim.add_argument("--config", help="symbols TOML file (default: embedded BTCUSDT, ETHUSDT)")
    sim.add_argument("--seed", type=int, default=1, help="order-flow seed (default 1)")
    sim.add_argument("--commands", type=_positive_int, default=None, help="stop after N commands")
    sim.add_argument(
        "--report-every", type=_positive_int, default=50_000, help="status line every N commands"
    )

    titan = sub.add_parser("titan", help="run a JSON-lines command file through Titan")
    titan.add_argument("file", help="command file ('-' for standard input)")
    titan.add_argument("--config", help="symbols TOML file (default: embedded symbols)")
    titan.add_argument("--depth", type=int, default=5, help="levels to show at the end")

    lob = sub.add_parser(
        "lobster", help="replay a LOBSTER message file through Titan and compare the book"
    )
    lob.add_argument("message_file", help="LOBSTER message CSV")
    lob.add_argument("--orderbook", help="LOBSTER orderbook CSV to compare against")
    lob.add_argument(
        "--levels", type=_positive_int, default=None, help="levels to compare (default: all)"
    )
    lob.add_argument("--json", action="store_true", help="print one JSON object")
    for p in (sim, titan, lob):
        add_journal_options(p)
    add_journal_parser(sub)
    add_calculator_parser(sub)
    add_audit_parsers(sub)
    return parser


def _cmd_titan(args: argparse.Namespace) -> int:
    from exchange.runtime.recorder import journaled_apply
    from titan import Engine
    from titan.commands import Command
    from titan.events import Event

    specs = {s.symbol: s for s in load_specs(args.config)}
    if args.file == "-":
        lines = sys.stdin.read().splitlines()
        origin = "<stdin>"
    else:
        path = Path(args.file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8 text") from None
        origin = str(path)
    commands = parse_lines(lines, specs, origin)
    engine = Engine(specs.values())
    apply: Callable[[Command], list[Event]] = engine.apply
    recorder = None
    if args.journal:
        _check_journal_times(commands, origin)
        recorder = open_recorder(args, specs.values(), engine)
        apply = journaled_apply(engine, recorder)
    out = sys.stdout
    try:
        for cmd in commands:
            for event in apply(cmd):
                out.write(json.dumps(event_to_display(event, specs[event.symbol])) + "\n")
    finally:
        if recorder is not None:
            recorder.close()
    for symbol, spec in specs.items():
        depth = engine.depth(symbol, args.depth)
        if not depth.bids and not depth.asks:
            continue
        out.write(f"# {symbol} depth (price qty orders), hash {engine.state_hash()[:16]}\n")
        for row in reversed(depth.asks):
            out.write(
                f"#   ask {spec.price_decimal(row.price)} "
                f"{spec.qty_decimal(row.qty)} {row.orders}\n"
            )
        for row in depth.bids:
            out.write(
                f"#   bid {spec.price_decimal(row.price)} "
                f"{spec.qty_decimal(row.qty)} {row.orders}\n"
            )
    return 0


def _check_journal_times(commands: Sequence[Any], origin: str) -> None:
    """A journal needs ts >= 0 and never decreasing: check before anything runs."""
    prev = 0
    for line, cmd in enumerate(commands, 1):
        if cmd.ts < prev:
            what = "negative" if cmd.ts < 0 else f"before the previous command's {prev}"
            raise UserError(
                f"{origin}: command {line}: ts {cmd.ts} is {what}; a journal needs "
                "timestamps that never go back (nothing was executed)"
            )
        prev = cmd.ts


def _cmd_lobster(args: argparse.Namespace) -> int:
    from exchange.lobster.replay import run_cli

    return run_cli(args)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from exchange.cli.simulate import run_simulation

    return run_simulation(args)


def _cmd_run(args: argparse.Namespace) -> int:
    from exchange.runtime.platform import run_platform

    return run_platform(args)


_COMMANDS = {
    "titan": _cmd_titan,
    "lobster": _cmd_lobster,
    "run": _cmd_run,
    "simulate": _cmd_simulate,
    "journal": run_journal,
    "liquidation-price": run_liquidation_price,
    "replay": run_replay,
    "hash": run_hash,
    "inspect": run_inspect,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``exchange`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _COMMANDS[args.command](args)
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
