"""``exchange titan FILE``: a JSON-lines command file through Titan alone.

Rules
-----
- Input: the command file (``-`` for standard input) in the format of
  :mod:`exchange.flow.commandfile`, over the symbols of ``--config`` (default: the
  embedded ones). Every line is checked before anything runs; bad lines are all
  reported and nothing is executed (exit status 2).
- Output: one JSON line per event, then per symbol with a book its depth (``--depth``
  levels, asks above bids) as ``#`` comment lines with the state hash.
- Journal: with ``--journal DIR`` every command and its events are recorded; the
  timestamps must then be >= 0 and never go back (checked before anything runs).
- Exit status: 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from exchange.cli.args import add_journal_options, open_recorder
from exchange.config.symbols import load_specs
from exchange.errors import UserError
from exchange.flow.commandfile import event_to_display, parse_lines
from exchange.runtime.recorder import journaled_apply
from titan import Engine
from titan.commands import Command
from titan.events import Event

NAME = "titan"


def register(sub: Any) -> None:
    """Add ``titan`` to the CLI's subparsers."""
    titan = sub.add_parser(NAME, help="run a JSON-lines command file through Titan")
    titan.add_argument("file", help="command file ('-' for standard input)")
    titan.add_argument("--config", help="symbols TOML file (default: embedded symbols)")
    titan.add_argument("--depth", type=int, default=5, help="levels to show at the end")
    add_journal_options(titan)


def run(args: argparse.Namespace) -> int:
    """``exchange titan`` (see the module docstring); returns the exit status."""
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


__all__ = ["NAME", "register", "run"]
