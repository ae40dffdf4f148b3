"""``exchange simulate``: the seeded synthetic order flow through one Titan engine.

Rules
-----
- Input: :class:`exchange.flow.synthetic.OrderFlow` over the configured symbols (``--config`` TOML
  or the embedded defaults), seeded with ``--seed``; equal seeds and configs give equal
  command streams and so the same final state hash.
- Output: a banner, a status line every ``--report-every`` commands (commands, events,
  trades, rejects, commands/s over the last interval, best bid/ask per symbol as
  decimals, open orders), and a final summary with the state hash and the result of
  ``Engine.check_invariants()``.
- Stopping: after ``--commands`` commands, or on Ctrl+C (SIGINT) or SIGTERM. A signal
  only raises a flag that the loop reads between chunks of commands, so the engine is
  never interrupted in the middle of a command; the summary is printed and the exit
  status is 0. A second Ctrl+C while stopping interrupts at once (the CLI then reports
  "interrupted", without a traceback).
- Journal: with ``--journal DIR`` every command and its events go to an Oracle journal
  (group commit of ``--batch`` records, ``--durability`` sync or async, checkpoints and
  snapshots); the records still queued are committed when the run stops.
- Exit status: 0, or 1 if the engine's invariants are violated at the end.
- Memory: events are counted, not kept, and the flow keeps the book bounded (cancels
  and fills balance placements), so an endless run stays flat. The run uses the
  exchange's garbage-collector setting (:func:`exchange.runtime.gc_tuning.tune_gc`).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from types import FrameType
from typing import Any, TextIO

from exchange.cli.args import add_journal_options, open_recorder, positive_int
from exchange.config.symbols import load_specs
from exchange.errors import UserError
from exchange.flow.synthetic import OrderFlow
from exchange.runtime.gc_tuning import restore_gc, tune_gc
from exchange.runtime.recorder import Recorder, journaled_apply
from titan import Engine, Rejected, SymbolSpec, Trade
from titan.commands import Command
from titan.events import Event

NAME = "simulate"
CHUNK = 1_000  # commands between two looks at the stop flag


class _StopFlag:
    """Set by SIGINT/SIGTERM; restores the previous handlers when closed."""

    def __init__(self) -> None:
        self.reason = ""
        self._saved: list[tuple[int, Any]] = []

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            # ValueError/OSError: not the main thread, or not supported here
            with contextlib.suppress(ValueError, OSError):
                self._saved.append((signum, signal.signal(signum, self._handle)))

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.reason = "Ctrl+C" if signum == signal.SIGINT else "SIGTERM"
        # a second signal while stopping acts at once
        for saved_signum, handler in self._saved:
            if saved_signum == signum:
                signal.signal(signum, handler)

    def close(self) -> None:
        for signum, handler in self._saved:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, handler)
        self._saved.clear()


class _Tally:
    """Running counts of what the engine reported."""

    def __init__(self) -> None:
        self.commands = 0
        self.events = 0
        self.trades = 0
        self.rejects = 0
        self.reasons: Counter[str] = Counter()


def _fmt_decimal(value: Decimal) -> str:
    return format(value, "f")


def _describe_spec(spec: SymbolSpec) -> str:
    notional = Decimal(spec.min_notional).scaleb(-(spec.price_decimals + spec.qty_decimals))
    parts = [
        f"tick {_fmt_decimal(spec.price_decimal(spec.tick))}",
        f"lot {_fmt_decimal(spec.qty_decimal(spec.lot))}",
    ]
    if spec.min_notional:
        parts.append(f"min notional {_fmt_decimal(notional.normalize())}")
    if spec.band_bps:
        parts.append(f"band {_fmt_decimal((Decimal(spec.band_bps) / 100).normalize())}%")
    return f"{spec.symbol} ({', '.join(parts)})"


def _open_orders(engine: Engine, symbol: str) -> int:
    depth = engine.depth(symbol, 1 << 30)
    return sum(row.orders for row in depth.bids) + sum(row.orders for row in depth.asks)


def _quote(engine: Engine, spec: SymbolSpec) -> str:
    bid = engine.best_bid(spec.symbol)
    ask = engine.best_ask(spec.symbol)
    b = _fmt_decimal(spec.price_decimal(bid.price)) if bid else "-"
    a = _fmt_decimal(spec.price_decimal(ask.price)) if ask else "-"
    return f"{spec.symbol} {b}/{a}"


def _status(engine: Engine, specs: list[SymbolSpec], t: _Tally, rate: float) -> str:
    quotes = "  ".join(_quote(engine, s) for s in specs)
    open_total = sum(_open_orders(engine, s.symbol) for s in specs)
    return (
        f"[{t.commands:>11,}] events {t.events:,}  trades {t.trades:,}  "
        f"rejects {t.rejects:,}  |  {rate:,.0f} cmd/s  |  {quotes}  |  open {open_total:,}"
    )


def _summary(
    engine: Engine, specs: list[SymbolSpec], t: _Tally, elapsed: float, why: str
) -> tuple[str, bool]:
    lines = [f"stopped: {why} after {t.commands:,} commands in {elapsed:.1f} s"]
    rate = t.commands / elapsed if elapsed > 0 else 0.0
    lines.append(
        f"  commands {t.commands:,}  events {t.events:,}  trades {t.trades:,}  "
        f"rejects {t.rejects:,}  ({rate:,.0f} cmd/s overall)"
    )
    if t.reasons:
        detail = ", ".join(f"{reason} {n:,}" for reason, n in sorted(t.reasons.items()))
        lines.append(f"  rejects by reason: {detail}")
    for spec in specs:
        last = engine.last_price(spec.symbol)
        mark = engine.mark_price(spec.symbol)
        last_text = _fmt_decimal(spec.price_decimal(last)) if last else "-"
        mark_text = _fmt_decimal(spec.price_decimal(mark)) if mark else "-"
        lines.append(
            f"  {_quote(engine, spec)}  last {last_text}  mark {mark_text}"
            f"  open orders {_open_orders(engine, spec.symbol):,}"
        )
    lines.append(f"  state hash: {engine.state_hash()}")
    errors = engine.check_invariants()
    if errors:
        lines.append(f"  invariants: {len(errors)} violation(s)")
        lines.extend(f"    - {e}" for e in errors[:10])
    else:
        lines.append("  invariants: ok (no violations)")
    return "\n".join(lines), not errors


def simulate(
    specs: list[SymbolSpec],
    seed: int,
    commands: int | None,
    report_every: int,
    out: TextIO,
    should_stop: Callable[[], str] = lambda: "",
    recorder: Callable[[Engine], Recorder] | None = None,
) -> int:
    """Run the flow through a fresh engine, printing to ``out``; returns the exit status.

    ``should_stop`` is polled between chunks; a non-empty answer names why it stops.
    """
    try:
        flow = OrderFlow(specs, seed=seed)
    except ValueError as exc:
        raise UserError(f"cannot simulate these symbols: {exc}") from None
    engine = Engine(specs)
    apply: Callable[[Command], list[Event]] = engine.apply
    rec = None if recorder is None else recorder(engine)
    if rec is not None:
        apply = journaled_apply(engine, rec)
    target = f"{commands:,} commands" if commands is not None else "until stopped"
    print(
        "exchange simulate: a seeded synthetic order flow through the Titan matching engine",
        file=out,
    )
    print(f"  symbols: {', '.join(_describe_spec(s) for s in specs)}", file=out)
    print(
        f"  seed {seed}: limit orders near a drifting mid, crossing and market orders, "
        "cancels, amends, mark prices",
        file=out,
    )
    print(
        f"  running {target}, status every {report_every:,} commands. Ctrl+C to stop.",
        file=out,
        flush=True,
    )
    t = _Tally()
    why = "done"
    start = last_time = time.perf_counter()
    last_count = 0
    next_report = report_every
    try:
        while True:
            if commands is not None and t.commands >= commands:
                break
            reason = should_stop()
            if reason:
                why = reason
                break
            n = min(CHUNK, next_report - t.commands)
            if commands is not None:
                n = min(n, commands - t.commands)
            trades = rejects = events = 0
            for cmd in flow.take(n):
                evs = apply(cmd)
                events += len(evs)
                for ev in evs:
                    if type(ev) is Trade:
                        trades += 1
                    elif isinstance(ev, Rejected):
                        rejects += 1
                        t.reasons[str(ev.reason)] += 1
            t.commands += n
            t.events += events
            t.trades += trades
            t.rejects += rejects
            if t.commands >= next_report:
                now = time.perf_counter()
                rate = (t.commands - last_count) / (now - last_time) if now > last_time else 0.0
                print(_status(engine, specs, t, rate), file=out, flush=True)
                last_time, last_count = now, t.commands
                next_report += report_every
    except KeyboardInterrupt:
        # only if a KeyboardInterrupt got past the stop flag (no signal handler)
        why = "Ctrl+C"
    if rec is not None:
        head = rec.close()
        print(
            f"  journal: records 1..{head.seq} committed, chain head {head.chain.hex()[:16]}",
            file=out,
        )
    elapsed = time.perf_counter() - start
    text, sound = _summary(engine, specs, t, elapsed, why)
    print(text, file=out, flush=True)
    return 0 if sound else 1


def register(sub: Any) -> None:
    """Add ``simulate`` to the CLI's subparsers."""
    sim = sub.add_parser(
        NAME, help="a seeded synthetic order flow through Titan alone (deterministic)"
    )
    sim.add_argument("--config", help="symbols TOML file (default: embedded BTCUSDT, ETHUSDT)")
    sim.add_argument("--seed", type=int, default=1, help="order-flow seed (default 1)")
    sim.add_argument("--commands", type=positive_int, default=None, help="stop after N commands")
    sim.add_argument(
        "--report-every", type=positive_int, default=50_000, help="status line every N commands"
    )
    add_journal_options(sim)


def run(args: argparse.Namespace) -> int:
    """``exchange simulate``: ``args.config``, ``args.seed``, ``args.commands``,
    ``args.report_every`` (see the module docstring). Returns the exit status."""
    specs = load_specs(args.config)
    stop = _StopFlag()
    stop.install()
    saved_gc = tune_gc()
    recorder = None
    if args.journal:

        def recorder(engine: Engine) -> Recorder:
            return open_recorder(args, specs, engine)

    try:
        return simulate(
            specs,
            seed=args.seed,
            commands=args.commands,
            report_every=args.report_every,
            out=sys.stdout,
            should_stop=lambda: stop.reason,
            recorder=recorder,
        )
    finally:
        restore_gc(saved_gc)
        stop.close()


__all__ = ["NAME", "register", "run", "simulate"]
