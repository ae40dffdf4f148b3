"""``exchange run``: the assembled platform on one asyncio loop.

Rules
-----
- Start-up: open (or create) the journal; a journal that already holds records is
  resumed: the venue is rebuilt from its newest valid snapshot plus the tail, and the
  sequencer continues at the next seq. A journal another process writes, or one made
  with other contracts, is refused with one line naming it (exit status 2).
- Sources: the price feed (simulated walk or Binance), the order-flow generator
  (:mod:`exchange.flow.traders`) and the start-up requests (deposits, settings) all enter the
  sequencer's one intake. The generator starts quoting a symbol once a mark price of it
  is durable.
- Output: a banner saying what runs where, a status line every ``status_interval``
  seconds, a line per liquidation (printed once durable), a summary at the end.
- Stopping: after ``--duration`` seconds, or on Ctrl+C / SIGTERM: the sources stop, the
  intake closes, every input taken is executed and committed, a final snapshot is
  written, the journal is closed and its location printed. Exit status 0; 1 if the
  journal refused a batch or a feed failed for good.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from exchange.config.settings import Settings, environment_overrides, finish, load_settings
from exchange.config.symbols import ConfigError
from exchange.errors import UserError
from exchange.feeds.prices import RandomWalk, mark_command, price_units, rate_units
from exchange.feeds.status import FeedStatus
from exchange.flow.traders import Traders
from exchange.metrics.telemetry import Telemetry
from exchange.runtime.gc_tuning import tune_gc
from exchange.runtime.machines import VenueFactory, VenueMachine, parse_genesis, venue_genesis
from exchange.runtime.sequencer import Committed, IntakeClosed, Sequencer, SequencerFailed
from oracle import Journal
from oracle.errors import GenesisMismatch, JournalInUse
from oracle.replay import rebuild
from sentinel.events import LiquidationFinished, LiquidationStarted
from sentinel.units import MONEY_ONE
from venue.venue import Venue

if TYPE_CHECKING:  # imported when the endpoint starts: no prometheus_client without it
    from exchange.gateway.service import Api
    from exchange.metrics.exporter import MetricsServer

log = logging.getLogger("exchange")
FLOW_TURN = 1_024  # most inputs the generator makes per turn of the loop


def resolve(args: argparse.Namespace, env: dict[str, str] | None = None) -> Settings:
    """Defaults < config file < environment < flags, checked."""
    settings, selection = load_settings(args.config)
    changes: dict[str, Any] = environment_overrides(env)
    flag_map = {
        "feed": "feed",
        "journal": "journal",
        "metrics_port": "metrics_port",
        "metrics_host": "metrics_host",
        "volatility": "volatility",
        "step_interval": "step_interval",
        "binance_url": "binance_url",
        "durability": "durability",
        "duration": "duration",
        "status_interval": "status_interval",
    }
    for flag, name in flag_map.items():
        value = getattr(args, flag, None)
        if value is not None:
            changes[name] = value
    flow = settings.flow
    if args.seed is not None:
        flow = replace(flow, seed=args.seed)
    if args.rate is not None:
        flow = replace(flow, rate=args.rate)
    if args.no_demo:
        flow = replace(flow, demo=False)
    changes["flow"] = flow
    api = replace(
        settings.api, **({"port": changes.pop("api_port")} if "api_port" in changes else {})
    )
    for flag, name in (("api_port", "port"), ("api_host", "host"), ("admin_port", "admin_port")):
        value = getattr(args, flag, None)
        if value is not None:
            api = replace(api, **{name: value})
    changes["api"] = api
    if args.symbols is not None:
        selection = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        if not selection:
            raise ConfigError(f"--symbols {args.symbols!r} names no symbol")
    return finish(replace(settings, **changes), selection)


def _money(units: int) -> str:
    return f"{Decimal(units) / MONEY_ONE:,.2f}"


class Platform:
    """One running exchange: journal, venue, sequencer, sources, reporting."""

    def __init__(self, settings: Settings, out: TextIO) -> None:
        self.s = settings
        self.out = out
        self.specs = {c.spec.symbol: c.spec for c in settings.contracts}
        self.venue: Venue | None = None
        self.liquidations = 0
        #: the metrics' counters (None with the endpoint off: nothing is counted)
        self.telemetry: Telemetry | None = None
        if settings.metrics_port:
            self.telemetry = Telemetry(settings.contracts, settings.feed)
        self.stop_reason = ""
        self.failed = ""
        self._stop = asyncio.Event()
        #: the price source, as the metrics read it
        self.prices = FeedStatus()

    # -- start-up -----------------------------------------------------------------------

    def open(self) -> tuple[Venue, Journal, int]:
        """Open or resume the journal; the venue at its last record."""
        path = Path(self.s.journal)
        if path.exists() and not path.is_dir():
            raise UserError(f"journal {path} exists and is not a directory")
        genesis = venue_genesis(self.s.contracts)
        try:
            journal = Journal.open(path, create=True, durability=self.s.durability, genesis=genesis)
        except JournalInUse:
            raise UserError(
                f"journal {path} is in use by another running platform; stop it first, "
                "or give this one another --journal"
            ) from None
        except GenesisMismatch:
            raise UserError(self._mismatch(path)) from None
        start = journal.last_seq
        if start == 0:
            return Venue(self.s.contracts), journal, 0
        every = 10_000
        progress = None
        if self.telemetry is not None:
            progress = self.telemetry.replay_progress(time.perf_counter())
        try:
            built = rebuild(journal, VenueFactory(), progress=progress, progress_every=every)
        except BaseException:
            journal.close()
            raise
        assert isinstance(built.machine, VenueMachine)
        if self.telemetry is not None:
            self.telemetry.replayed(built.replayed, built.seconds)
        for why in built.skipped:
            print(f"  skipped snapshot: {why}", file=self.out)
        print(
            f"  resumed journal at seq {start:,} (snapshot {built.snapshot_seq or 'none'} "
            f"+ {built.replayed:,} records in {built.seconds:.2f} s), "
            f"state hash {built.machine.state_hash()[:16]}",
            file=self.out,
        )
        return built.machine.venue, journal, start

    def _mismatch(self, path: Path) -> str:
        """Why the journal at ``path`` is not this platform's (its genesis differs)."""
        with Journal.open(path, read_only=True) as journal:
            genesis = journal.genesis
        try:
            machine, specs = parse_genesis(genesis)
        except UserError as exc:
            return f"journal {path} is not a platform journal: {exc}"
        if machine != "venue":
            return (
                f"journal {path} records a {machine} machine (written by exchange simulate, "
                "titan or lobster), not the platform; give exchange run another --journal"
            )
        theirs = ", ".join(s.symbol for s in specs)
        ours = ", ".join(c.spec.symbol for c in self.s.contracts)
        what = "symbols" if theirs != ours else "symbol rules or contract terms"
        return (
            f"journal {path} was written with other {what} (journal: {theirs}; now: {ours}); "
            "run with the same --config/--symbols, or give a new --journal"
        )

    def banner(self, start_seq: int) -> None:
        s, out = self.s, self.out
        print("exchange run: Titan matching + Sentinel margin + Oracle journal", file=out)
        for c in s.contracts:
            spec = c.spec
            print(
                f"  {spec.symbol}: tick {spec.price_decimal(spec.tick)}, lot "
                f"{spec.qty_decimal(spec.lot)}, margin in {c.quote}, default leverage "
                f"{c.default_leverage}x",
                file=out,
            )
        if s.feed == "sim":
            prices = ", ".join(
                f"{c.spec.symbol} {s.initial_prices[c.spec.symbol]}" for c in s.contracts
            )
            print(
                f"  prices: simulated walk (seed {s.flow.seed}, volatility {s.volatility:.4%} "
                f"per {s.step_interval:g} s step) from {prices}",
                file=out,
            )
        else:
            print(f"  prices: Binance USDⓈ-M mark prices from {s.binance_url}", file=out)
        rate = "flat out" if s.flow.rate == 0 else f"{s.flow.rate:g} inputs/s"
        print(
            f"  order flow: {s.flow.makers} market makers, {s.flow.takers} takers, {rate}"
            + (", demo accounts 1001-1003 (0.5 BTC 10x isolated longs)" if s.flow.demo else ""),
            file=out,
        )
        print(
            f"  journal: {Path(s.journal).resolve()} ({s.durability}, "
            f"{'new' if start_seq == 0 else f'resuming after seq {start_seq:,}'}; checkpoint "
            f"every {s.checkpoint_every:,}, snapshot every {s.snapshot_every:,})",
            file=out,
        )
        host = s.metrics_host if ":" not in s.metrics_host else f"[{s.metrics_host}]"
        host = "localhost" if host == "127.0.0.1" else host
        metrics = f"http://{host}:{s.metrics_port}/metrics" if s.metrics_port else "off"
        print(f"  metrics: {metrics}", file=out)
        stop = f"after {s.duration:g} s or on Ctrl+C" if s.duration else "on Ctrl+C or SIGTERM"
        print(f"  stops {stop}", file=out, flush=True)

    # -- the run ------------------------------------------------------------------------

    async def main(self) -> int:
        exporter = self._start_metrics()  # a taken port is refused before the journal opens
        try:
            venue, journal, start = self.open()
        except BaseException:
            if exporter is not None:
                exporter.close()
            raise
        self.venue = venue
        seq = Sequencer(
            venue,
            journal,
            max_batch=self.s.batch,
            max_pending=max(65_536, self.s.batch),
            checkpoint_every=self.s.checkpoint_every,
            snapshot_every=self.s.snapshot_every,
        )
        traders = Traders(self.s.contracts, self.s.flow)
        seq.subscribe(traders.on_committed)
        seq.subscribe(self._report_committed)
        if self.telemetry is not None:
            self.telemetry.attach(venue, seq)
        try:
            api = await self._start_api(seq, venue, journal)
        except BaseException:
            if exporter is not None:
                exporter.close()
            journal.close()
            raise
        self.banner(start)
        if api is not None:
            self.api_banner(api)
        loop = asyncio.get_running_loop()
        for signum, name in ((signal.SIGINT, "Ctrl+C"), (signal.SIGTERM, "SIGTERM")):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.request_stop, name)
        if exporter is not None:
            exporter.attach(seq, self.prices, loop)
        runner = asyncio.create_task(seq.run(), name="sequencer")
        sources = [
            asyncio.create_task(self._prices(seq, venue), name="prices"),
            asyncio.create_task(self._flow(seq, traders, venue, start), name="flow"),
            asyncio.create_task(self._status(seq, venue), name="status"),
        ]
        started = time.monotonic()
        try:
            stop_wait = asyncio.create_task(self._stop.wait())
            waits: set[asyncio.Future[Any]] = {stop_wait, runner, *sources}
            timeout = self.s.duration
            done, _ = await asyncio.wait(
                waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                self.stop_reason = f"--duration {self.s.duration:g} s"
            for task in done:
                if task is stop_wait or task.cancelled() or task.exception() is None:
                    continue
                if not self.failed:
                    name = task.get_name() if isinstance(task, asyncio.Task) else "task"
                    self.failed = f"{name} failed: {task.exception()}"
            stop_wait.cancel()
        finally:
            for task in sources:
                task.cancel()
            await asyncio.gather(*sources, return_exceptions=True)
            if api is not None:  # requests in flight finish: the sequencer still runs
                await api.gateway.close()
            seq.stop()
            try:
                await runner
            except SequencerFailed as exc:
                self.failed = f"stopped by a failure: {exc}"
            except Exception as exc:  # a bug: report it, still close the journal
                log.critical("the sequencer failed", exc_info=True)
                self.failed = f"internal error in the sequencer: {exc!r}"
            if exporter is not None:
                exporter.close()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
            journal.close()
        self._summary(seq, venue, time.monotonic() - started)
        return 1 if self.failed else 0

    async def _start_api(self, seq: Sequencer, venue: Venue, journal: Journal) -> Api | None:
        s = self.s
        if not s.api.port:
            return None
        from exchange.gateway.service import start_api

        def server_time() -> int:  # the sequencer's clock: never behind its last stamp
            return max(time.time_ns() // 1_000_000, seq.last_ts)

        try:
            return await start_api(s.api, s.journal, s.contracts, seq, venue, journal, server_time)
        except OSError as exc:
            raise UserError(
                f"API endpoint {s.api.host}:{s.api.port} (admin 127.0.0.1:{s.api.admin_port}): "
                f"{exc.strerror or exc} (choose others with --api-port/--admin-port, 0 = off)"
            ) from None

    def api_banner(self, api: Api) -> None:
        out, s = self.out, self.s
        host = s.api.host if ":" not in s.api.host else f"[{s.api.host}]"
        host = "localhost" if host == "127.0.0.1" else host
        base = f"http://{host}:{api.port}"
        print(
            f"  API (Binance USDⓈ-M): REST {base}/fapi/v1/..., user stream "
            f"ws://{host}:{api.port}/private/ws?listenKey=...",
            file=out,
        )
        if api.admin_port:
            print(f"  admin: http://127.0.0.1:{api.admin_port} (exchange deposit ...)", file=out)
        print(f"  demo account {api.demo.account}: API key {api.demo.key}", file=out)
        print(f"                       secret  {api.demo.secret}", file=out)
        print(
            "  ccxt: ex = ccxt.binanceusdm({'apiKey': KEY, 'secret': SECRET, "
            "'options': {'fetchCurrencies': False}})",
            file=out,
        )
        print(
            f"        for k in ('fapiPublic', 'fapiPrivate'): ex.urls['api'][k] = "
            f"'{base}/fapi/v1'",
            file=out,
        )
        print(
            f"        (and fapiPublicV2/V3, fapiPrivateV2/V3 = '{base}/fapi/v2', "
            f"'{base}/fapi/v3'; docs/gateway.md)",
            file=out,
            flush=True,
        )

    def request_stop(self, reason: str) -> None:
        """First signal: stop and drain. A second: leave at once (what was acknowledged
        is durable already; the inputs still queued were never acknowledged)."""
        if self._stop.is_set():
            print(
                f"\n{reason} again: exiting now without draining; everything acknowledged "
                "is durable (a restart resumes from the journal)",
                file=self.out,
                flush=True,
            )
            os._exit(130)
        self.stop_reason = self.stop_reason or reason
        print(f"\nstopping ({reason}): draining the intake ...", file=self.out, flush=True)
        self._stop.set()

    def _start_metrics(self) -> MetricsServer | None:
        if self.telemetry is None:
            return None
        from exchange.metrics.exporter import MetricsServer

        s = self.s
        try:
            return MetricsServer(
                s.metrics_port, self.telemetry, s.metrics_host, warning=s.margin_ratio_warning
            )
        except OSError as exc:  # taken, or an address this machine does not have
            raise UserError(
                f"metrics endpoint {s.metrics_host}:{s.metrics_port}: {exc.strerror or exc} "
                "(choose another with --metrics-port/--metrics-host or PROMETHEUS_PORT, "
                "0 = off)"
            ) from None

    async def _prices(self, seq: Sequencer, venue: Venue) -> None:
        if self.s.feed == "binance":
            await self._binance(seq)
            return
        initial = {}
        for c in self.s.contracts:
            sym = c.spec.symbol
            initial[sym] = venue.titan.mark_price(sym) or price_units(
                c.spec, self.s.initial_prices[sym]
            )
        walk = RandomWalk(self.specs.values(), initial, self.s.volatility, self.s.flow.seed)
        self.prices.walk = walk
        rate = rate_units(self.s.funding_rate)
        prices = walk.last if not any(venue.titan.mark_price(s) for s in self.specs) else None
        telemetry = self.telemetry
        while True:
            if prices is not None:
                for symbol, price in prices.items():
                    await seq.submit(mark_command(symbol, price, rate))
                    if telemetry is not None:
                        telemetry.mark_received(symbol)
            await asyncio.sleep(self.s.step_interval)
            prices = walk.step()

    async def _binance(self, seq: Sequencer) -> None:
        from exchange.feeds.binance import BinanceMarkFeed, MarkUpdate

        last_event: dict[str, int] = {}

        def on_mark(update: MarkUpdate) -> None:
            spec = self.specs.get(update.symbol)
            if spec is None:
                return
            # after a reconnect a peer may send marks already seen: only newer ones count
            if update.event_time_ms <= last_event.get(update.symbol, -1):
                self.prices.old += 1
                return
            last_event[update.symbol] = update.event_time_ms
            try:
                cmd = mark_command(
                    update.symbol, price_units(spec, update.price), rate_units(update.funding_rate)
                )
            except ValueError as exc:
                log.warning("binance mark for %s not used: %s", update.symbol, exc)
                return
            if not seq.offer(cmd):
                self.prices.refused += 1
            elif self.telemetry is not None:
                latency = update.received_ns / 1e9 - update.event_time_ms / 1000
                self.telemetry.mark_received(update.symbol, latency)

        feed = BinanceMarkFeed(list(self.specs), on_mark, base_url=self.s.binance_url)
        self.prices.feed = feed
        try:
            await feed.run()
        finally:
            feed.stop()

    async def _flow(self, seq: Sequencer, traders: Traders, venue: Venue, start: int) -> None:
        for cmd in traders.bootstrap(venue, start):
            await seq.submit(cmd)
        rate = traders.settings.rate
        tick = 0.01
        credit = 0.0
        last = time.monotonic()
        # the flow may fill at most half the intake, so prices always find room
        share = max(1, seq.queue_size // 2)
        while True:
            if rate == 0:
                await asyncio.sleep(0)
                budget = min(FLOW_TURN, share - seq.backlog)
            else:
                await asyncio.sleep(tick)
                now = time.monotonic()
                # at most 1 s of catch-up (and at least one input, for rates below 1/s)
                credit = min(credit + rate * (now - last), max(rate, 1.0))
                last = now
                budget = min(int(credit), FLOW_TURN, share - seq.backlog)
                credit -= max(0, budget)
            if budget <= 0:
                continue
            for cmd in traders.next_inputs(budget):
                try:
                    if not seq.offer(cmd):
                        traders.refused(cmd)
                except IntakeClosed:
                    return

    def _report_committed(self, batch: list[Committed]) -> None:
        out = self.out
        for rec in batch:
            for ev in rec.events:
                if type(ev) is LiquidationStarted:
                    self.liquidations += 1
                    what = ev.symbol or f"cross {ev.asset}"
                    print(
                        f"[LIQUIDATION] seq {rec.seq}: account {ev.account} {what}: "
                        f"maintenance {_money(ev.maintenance)} >= margin balance "
                        f"{_money(ev.balance)}",
                        file=out,
                    )
                elif type(ev) is LiquidationFinished:
                    lspec = self.specs.get(ev.symbol)
                    if lspec is not None:
                        print(
                            f"    filled {lspec.qty_decimal(ev.filled)} in the book, "
                            f"{lspec.qty_decimal(ev.taken_over)} taken over by the fund, "
                            f"{lspec.qty_decimal(ev.deleveraged)} auto-deleveraged; fee "
                            f"{_money(ev.fee)}, to the fund {_money(ev.remainder)}",
                            file=out,
                        )
        out.flush()

    async def _status(self, seq: Sequencer, venue: Venue) -> None:
        def orders() -> int:  # new orders made durable
            return seq.stats.inputs_by_kind.get("NewOrder", 0)

        last_orders, last_time = orders(), time.monotonic()
        while True:
            await asyncio.sleep(self.s.status_interval)
            now = time.monotonic()
            rate = (orders() - last_orders) / (now - last_time)
            last_orders, last_time = orders(), now
            # show the venue only while it holds nothing that is not durable yet
            for _ in range(200):
                if seq.settled():
                    break
                await asyncio.sleep(0.005)
            line = self.status_line(seq, venue, rate)
            if not seq.settled():
                line += f"  (state {seq.last_seq - seq.durable_seq:,} inputs ahead of the journal)"
            print(line, file=self.out, flush=True)

    def status_line(self, seq: Sequencer, venue: Venue, orders_per_s: float) -> str:
        s = venue.ledger
        accounts = len({a for a, _ in s.wallets})
        positions = sum(len(h) for h in s.holders.values())
        collateral = sum(w.balance for (a, _), w in s.wallets.items() if a != 0)
        prices = []
        for sym, spec in self.specs.items():
            last = venue.titan.last_price(sym)
            mark = venue.titan.mark_price(sym)
            shown = spec.price_decimal(last) if last else "-"
            prices.append(f"{sym} {shown} (mark {spec.price_decimal(mark) if mark else '-'})")
        return (
            f"[seq {seq.durable_seq:>10,}] accounts {accounts}  positions {positions}  "
            f"collateral {_money(collateral)}  |  {'  '.join(prices)}  |  "
            f"{orders_per_s:,.0f} orders/s  liquidations {self.liquidations}"
        )

    def _summary(self, seq: Sequencer, venue: Venue, elapsed: float) -> None:
        out = self.out
        why = self.failed or self.stop_reason or "done"
        st = seq.stats
        print(
            f"stopped ({why}) after {elapsed:.1f} s: {st.committed:,} inputs committed in "
            f"{st.batches:,} batches, {self.liquidations} liquidations",
            file=out,
        )
        if self.prices.refused:
            print(f"  feed marks refused by a full intake: {self.prices.refused:,}", file=out)
        if self.prices.old:
            print(f"  feed marks skipped as not newer than the last: {self.prices.old:,}", file=out)
        if seq.settled():
            print(f"  {self.status_line(seq, venue, 0.0)}", file=out)
            print(f"  state hash {venue.state_hash()}", file=out)
        else:  # the venue ran ahead of what the journal holds: its state is not the record
            print(
                f"  {seq.last_seq - seq.durable_seq:,} executed inputs were never made durable "
                "(nor acknowledged); a restart rebuilds the state from the journal",
                file=out,
            )
        print(
            f"  journal: {Path(self.s.journal).resolve()} holds records 1..{seq.durable_seq:,}"
            f" (replay: exchange replay {self.s.journal} --verify)",
            file=out,
            flush=True,
        )


def run_platform(args: argparse.Namespace) -> int:
    """``exchange run``: resolve the settings, run until stopped; returns the exit status."""
    settings = resolve(args)
    logging.basicConfig(
        level=getattr(logging, settings.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    tune_gc()
    platform = Platform(settings, sys.stdout)
    return asyncio.run(platform.main())
