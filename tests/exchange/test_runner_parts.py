"""The platform's parts on their own: the price walk, mark conversion, settings
resolution, and the generated traders driving a real sequencer and venue.

The traders learn everything from durable records only, so after a run their view of
their own resting orders and positions must equal the venue's state exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers.flow import drive_flat_out
from helpers.paths import ROOT

from exchange.cli.run import register as add_run_parser
from exchange.config.symbols import ConfigError, default_contracts
from exchange.feeds.prices import RandomWalk, mark_command, price_units, rate_units
from exchange.flow.traders import DEMO_ACCOUNTS, FlowSettings, Traders
from exchange.runner import resolve
from exchange.runtime.machines import venue_genesis
from exchange.runtime.sequencer import Sequencer
from oracle import Journal
from sentinel.events import Refused
from sentinel.units import RATE_ONE
from titan.events import Rejected
from venue.venue import MAX_FUNDING_RATE, Venue

SPECS = [c.spec for c in default_contracts()]
BTC = SPECS[0]


def _walk(seed: int, vol: float = 0.002) -> RandomWalk:
    return RandomWalk(SPECS, {"BTCUSDT": 500_000, "ETHUSDT": 300_000}, vol, seed)


def test_walk_is_seeded_on_the_grid_and_has_the_volatility() -> None:
    a, b, c = _walk(7), _walk(7), _walk(8)
    path_a = [a.step() for _ in range(5_000)]
    assert path_a == [b.step() for _ in range(5_000)]
    assert path_a != [c.step() for _ in range(5_000)]
    for prices in path_a:
        for spec in SPECS:
            assert prices[spec.symbol] % spec.tick == 0 and prices[spec.symbol] > 0
    btc = [p["BTCUSDT"] for p in path_a]
    steps = [math.log(y / x) for x, y in itertools.pairwise(btc)]
    sd = math.sqrt(sum(s * s for s in steps) / len(steps))
    assert 0.0018 < sd < 0.0022
    flat = _walk(1, 0.0)
    assert {flat.step()["BTCUSDT"] for _ in range(100)} == {500_000}


@pytest.mark.slow_io
def test_walk_is_the_same_in_every_process() -> None:
    code = (
        "from exchange.config.symbols import default_contracts;"
        "from exchange.feeds.prices import RandomWalk;"
        "w = RandomWalk([c.spec for c in default_contracts()],"
        " {'BTCUSDT': 500000, 'ETHUSDT': 300000}, 0.01, 3);"
        "print([w.step() for _ in range(50)][-1])"
    )
    outs = set()
    for hashseed in ("0", "1", "12345"):
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": hashseed, "PATH": "/usr/bin:/bin"},
            cwd=ROOT,
            check=True,
        )
        outs.add(proc.stdout)
    assert len(outs) == 1


def test_walk_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="volatility"):
        RandomWalk(SPECS, {"BTCUSDT": 1, "ETHUSDT": 1}, float("nan"), 1)
    with pytest.raises(ValueError, match="no initial price for ETHUSDT"):
        RandomWalk(SPECS, {"BTCUSDT": 1}, 0.1, 1)


def test_binance_strings_to_units() -> None:
    # BTCUSDT: price in 0.1 units, tick 0.1; half-even on the tick
    assert price_units(BTC, "28147.27373413") == 281_473
    assert price_units(BTC, "28147.25") == 281_472  # a tie goes to the even tick
    assert price_units(BTC, "28147.35") == 281_474
    for bad in ("abc", "-1", "0", "0.01", "inf", "NaN", "1e300"):
        with pytest.raises(ValueError, match="price"):
            price_units(BTC, bad)
    assert rate_units("0.00002754") == 2754
    assert rate_units("-0.0001") == -RATE_ONE // 10_000
    assert rate_units("0.5") == MAX_FUNDING_RATE and rate_units("-3") == -MAX_FUNDING_RATE
    with pytest.raises(ValueError, match="funding rate"):
        rate_units("x")


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["run", *argv])


def test_settings_precedence_file_env_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "platform.toml"
    cfg.write_text(
        '[feed]\nvolatility = 0.01\n[feed.initial_prices]\nBTCUSDT = "42000"\n'
        '[journal]\npath = "from-file"\ncheckpoint_every = 500\n'
        '[platform]\nmetrics_port = 9100\nsymbols = ["BTCUSDT"]\n[flow]\nrate = 50.0\ntakers = 3\n',
        encoding="utf-8",
    )
    s = resolve(_args("--config", str(cfg)), env={})
    assert (s.volatility, s.journal, s.checkpoint_every, s.metrics_port) == (
        0.01,
        "from-file",
        500,
        9100,
    )
    assert [c.spec.symbol for c in s.contracts] == ["BTCUSDT"]
    assert s.initial_prices["BTCUSDT"] == "42000" and s.flow.takers == 3 and s.flow.rate == 50
    s = resolve(_args("--config", str(cfg)), env={"ROCKSDB_PATH": "env", "PROMETHEUS_PORT": "1"})
    assert (s.journal, s.metrics_port) == ("env", 1)
    s = resolve(
        _args("--config", str(cfg), "--journal", "flag", "--metrics-port", "0", "--rate", "7"),
        env={"ROCKSDB_PATH": "env", "PROMETHEUS_PORT": "1", "LOG_LEVEL": "debug"},
    )
    assert (s.journal, s.metrics_port, s.flow.rate, s.log_level) == ("flag", 0, 7, "DEBUG")
    s = resolve(_args(), env={})
    assert (s.journal, s.metrics_port, s.feed, s.volatility) == (
        "./platform_events",
        9000,
        "sim",
        0.002,
    )
    assert s.initial_prices["BTCUSDT"] == "50000" and s.flow.demo
    assert (s.metrics_host, s.margin_ratio_warning) == ("127.0.0.1", 0.8)  # loopback only


def test_metrics_host_and_warning_from_file_and_flag(tmp_path: Path) -> None:
    cfg = tmp_path / "platform.toml"
    cfg.write_text('[platform]\nmetrics_host = "0.0.0.0"\nmargin_ratio_warning = 0.5\n')
    s = resolve(_args("--config", str(cfg)), env={})
    assert (s.metrics_host, s.margin_ratio_warning) == ("0.0.0.0", 0.5)
    s = resolve(_args("--config", str(cfg), "--metrics-host", "::1"), env={})
    assert s.metrics_host == "::1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[bogus]\n", "unknown section(s) bogus"),
        ("[feed]\nspeed = 1\n", "[feed] unknown field(s) speed"),
        ('[feed]\nvolatility = "high"\n', "feed.volatility must be a float"),
        ("[feed]\nvolatility = -0.1\n", "feed.volatility must be >= 0"),
        ('[feed.initial_prices]\nBTCUSDT = "-5"\n', "feed.initial_prices.BTCUSDT"),
        ("[journal]\nbatch = 0\n", "journal.batch must be >= 1"),
        ('[journal]\ndurability = "maybe"\n', "durability 'maybe'"),
        ('[platform]\nsymbols = ["XRPUSDT"]\n', "XRPUSDT not configured"),
        ("[flow]\nmakers = 1.5\n", "flow.makers must be a int"),
        ('[feed]\nkind = "fax"\n', "feed 'fax' is not sim or binance"),
        ("[platform]\nmetrics_host = 7\n", "platform.metrics_host must be a str"),
        ('[platform]\nmetrics_host = "a b"\n', "metrics host 'a b' is not an address"),
        ("[platform]\nmargin_ratio_warning = 1.5\n", "margin ratio warning 1.5 must lie in"),
        ("[platform]\nmargin_ratio_warning = 0\n", "margin ratio warning 0.0 must lie in"),
        ("[feed\n", "invalid TOML"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        resolve(_args("--config", str(cfg)), env={})
    assert message in str(info.value)
    assert (
        str(cfg) in str(info.value)
        or "not sim" in message
        or "durability" in message
        or "not configured" in message
        or "metrics host" in message
        or "margin ratio" in message
    )


def _drive(n_inputs: int, vol: float) -> tuple[Venue, Traders, list[Any]]:
    """Traders flat out against a real sequencer and venue, the walk moving the marks."""
    contracts = default_contracts()
    venue = Venue(contracts)
    journal = Journal.memory(venue_genesis(contracts))
    seq = Sequencer(venue, journal, queue_size=512, max_batch=256)
    traders = Traders(contracts, FlowSettings(rate=0, seed=5))
    seq.subscribe(traders.on_committed)
    records: list[Any] = []
    seq.subscribe(records.extend)
    walk = RandomWalk(SPECS, {"BTCUSDT": 500_000, "ETHUSDT": 300_000}, vol, 5)

    async def main() -> None:
        task = asyncio.create_task(seq.run())
        await drive_flat_out(
            seq, venue, traders, walk, n_inputs=n_inputs, step_every=400, budget=64
        )
        # then only upkeep, each round durable before the next, until the ladders stand
        for symbol, price in walk.last.items():
            await seq.request(mark_command(symbol, price))  # all before it is durable too
        for _ in range(10):
            cmds = traders.upkeep(1_000)
            if not cmds:
                break
            for cmd in cmds[:-1]:
                await seq.submit(cmd)
            await seq.request(cmds[-1])
        seq.stop()
        await task

    asyncio.run(main())
    return venue, traders, records


def test_traders_view_from_durable_records_equals_the_venue() -> None:
    venue, traders, records = _drive(12_000, 0.001)
    assert not venue.check_invariants()
    # resting orders, as the traders learnt them from the stream, are exactly the book's
    mine = {
        o.order_id: (o.account, o.symbol, o.side, o.price, o.qty)
        for account in traders.accounts
        for symbol in traders.contracts
        for o in venue.titan.open_orders(account, symbol)
    }
    theirs = {
        oid: (o.account, o.symbol, o.side, o.price, o.qty) for oid, o in traders.orders.items()
    }
    levels = traders.settings.levels
    assert theirs == mine and len(mine) >= levels * 2 * len(traders.makers) * len(SPECS)
    for (account, symbol), size in traders.positions.items():
        pos = venue.ledger.position(account, symbol)
        assert size == (pos.size if pos is not None else 0), (account, symbol)
    # the demo longs were opened through real trades, at about the start price
    for account in DEMO_ACCOUNTS:
        pos = venue.ledger.position(account, "BTCUSDT")
        assert pos is not None and pos.size == 500 and pos.isolated
    # every input belongs to an account; makers are never refused, rejects are rare
    refusals: Counter[tuple[str, int]] = Counter()
    rejects: Counter[str] = Counter()
    for rec in records:
        for ev in rec.events:
            if type(ev) is Refused:
                refusals[(str(ev.reason), getattr(rec.command, "account", -1))] += 1
            elif type(ev) is Rejected:
                rejects[str(ev.reason)] += 1
    assert not [k for k in refusals if k[1] in traders.makers], refusals
    # the only rejections are races of a client acting on news still in flight: a cancel
    # or amend of an order that filled meanwhile, or an amend to what a partial fill
    # already made it (flat out, hundreds of inputs are in flight)
    assert set(rejects) <= {"UNKNOWN_ORDER", "AMEND_NO_CHANGE"}, rejects
    assert rejects.total() < len(records) // 10, rejects
    kinds = Counter(type(r.command).__name__ for r in records)
    assert kinds["NewOrder"] > 3_000 and kinds["Cancel"] > 200 and kinds["Amend"] > 500


def test_makers_quote_both_sides_around_the_mark() -> None:
    venue, traders, _ = _drive(4_000, 0.0)
    for symbol in traders.contracts:
        mark = venue.titan.mark_price(symbol)
        for maker in traders.makers:
            orders = venue.titan.open_orders(maker, symbol)
            bids = [o.price for o in orders if str(o.side) == "BUY"]
            asks = [o.price for o in orders if str(o.side) == "SELL"]
            assert min(len(bids), len(asks)) >= traders.settings.levels, (symbol, maker)
            assert max(bids) < mark < min(asks)
