"""The synthetic order flow: determinism, validity through Titan, deep-book mode."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections import Counter

import pytest
from helpers.paths import ROOT

from exchange.config.symbols import default_specs
from exchange.flow.synthetic import OrderFlow
from titan import (
    Amend,
    Cancel,
    Command,
    DepthLevel,
    Engine,
    NewOrder,
    Rejected,
    RejectReason,
    SetMarkPrice,
    SymbolSpec,
    Trade,
)


def _run(
    specs: list[SymbolSpec], commands: list[Command]
) -> tuple[Engine, Counter[str], Counter[str]]:
    """Apply ``commands``; return the engine, event kinds and reject reasons."""
    engine = Engine(specs)
    kinds: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for cmd in commands:
        for ev in engine.apply(cmd):
            kinds[type(ev).__name__] += 1
            if isinstance(ev, Rejected):
                reasons[f"{ev.request}:{ev.reason}"] += 1
    return engine, kinds, reasons


def test_same_seed_same_commands_different_seed_different() -> None:
    specs = default_specs()
    a = OrderFlow(specs, seed=7).take(20_000)
    b = OrderFlow(specs, seed=7).take(20_000)
    c = OrderFlow(specs, seed=8).take(20_000)
    assert a == b
    assert a != c


def test_iterator_and_take_agree() -> None:
    specs = default_specs()
    flow = OrderFlow(specs, seed=3)
    it = iter(OrderFlow(specs, seed=3))
    assert flow.take(500) + flow.take(500) == [next(it) for _ in range(1000)]
    assert flow.emitted == 1000


@pytest.mark.slow_io
def test_same_commands_in_another_process_and_hash_seed() -> None:
    """No set iteration or hash-order dependence: a fresh interpreter agrees."""
    code = (
        "import hashlib\n"
        "from exchange.config.symbols import default_specs\n"
        "from exchange.flow.synthetic import OrderFlow\n"
        "cmds = OrderFlow(default_specs(), seed=5).take(5000)\n"
        "print(hashlib.sha256(repr(cmds).encode()).hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_stamps_and_integer_fields() -> None:
    specs = default_specs()
    flow = OrderFlow(specs, seed=11, deep_levels=2, deep_orders=50)
    cmds = flow.take(10_000)
    assert [c.seq for c in cmds] == list(range(1, 10_001))
    assert all(b.ts > a.ts for a, b in itertools.pairwise(cmds))
    for c in cmds:
        for name, value in zip(c._fields, c, strict=True):
            assert not isinstance(value, float), (name, c)
        if isinstance(c, NewOrder):
            assert c.order_id == c.seq
    kinds = Counter(type(c).__name__ for c in cmds)
    assert {"NewOrder", "Cancel", "Amend", "SetMarkPrice"} <= set(kinds)


def test_respects_the_specs() -> None:
    """Tick, lot, min_notional, max_qty and the band around the last mark."""
    specs = [
        SymbolSpec.from_decimals("BTCUSDT", "0.10", "0.001", "5", "1000", "5"),
        SymbolSpec.from_decimals("COARSE", "0.5", "10", "100", "0", "2"),
    ]
    by_symbol = {s.symbol: s for s in specs}
    flow = OrderFlow(specs, seed=2, mids={"BTCUSDT": "30000", "COARSE": "12.5"})
    mark: dict[str, int] = {}
    for c in flow.take(30_000):
        spec = by_symbol[c.symbol]
        if isinstance(c, SetMarkPrice):
            assert c.price > 0 and c.price % spec.tick == 0
            mark[c.symbol] = c.price
        elif isinstance(c, NewOrder | Amend):
            assert c.qty > 0 and c.qty % spec.lot == 0
            assert not spec.max_qty or c.qty <= spec.max_qty
            basis = c.price or mark[c.symbol]
            assert basis * c.qty >= spec.min_notional, c
            if c.price:
                assert c.price % spec.tick == 0
                ref = mark[c.symbol]
                assert c.price * 10_000 <= ref * (10_000 + spec.band_bps), c
                assert c.price * 10_000 >= ref * (10_000 - spec.band_bps), c


def test_default_flow_is_valid_through_titan() -> None:
    """Almost everything is accepted; the only possible rejects are explained ones.

    The flow's shadow of its own orders predicts fills, so a cancel or amend can only
    miss (UNKNOWN_ORDER) if that estimate is wrong; nothing else may be rejected.
    """
    specs = default_specs()
    commands = OrderFlow(specs, seed=1).take(100_000)
    engine, kinds, reasons = _run(specs, commands)
    explained = {"CANCEL:UNKNOWN_ORDER", "AMEND:UNKNOWN_ORDER"}
    unexplained = {r: n for r, n in reasons.items() if r not in explained}
    assert not unexplained, unexplained
    assert sum(reasons.values()) <= 0.01 * len(commands), reasons
    # a realistic mix: trades happen, orders are cancelled and amended
    assert kinds["Trade"] > 1_000
    assert kinds["Cancelled"] > 10_000
    assert kinds["Amended"] > 1_000
    assert kinds["Expired"] > 100  # IOC/FOK/market remainders, post-only that would take
    assert engine.check_invariants() == []


def test_invalid_fraction_is_rejected_for_stated_reasons() -> None:
    specs = default_specs()
    commands = OrderFlow(specs, seed=4, invalid_fraction=0.05).take(40_000)
    _, _, reasons = _run(specs, commands)
    total = sum(reasons.values())
    assert 0.03 * len(commands) < total < 0.08 * len(commands), reasons
    allowed = {
        "NEW:INVALID_QUANTITY",
        "NEW:INVALID_PRICE",
        "NEW:UNKNOWN_SYMBOL",
        "NEW:PRICE_OUTSIDE_BAND",
        "NEW:NOTIONAL_BELOW_MIN",
        "CANCEL:UNKNOWN_ORDER",
        "AMEND:UNKNOWN_ORDER",
    }
    assert set(reasons) <= allowed, reasons
    assert reasons["NEW:" + RejectReason.PRICE_OUTSIDE_BAND] > 0


def test_shadow_estimate_matches_the_book() -> None:
    """The flow's open-order estimate equals Titan's open orders (sole input)."""
    specs = default_specs()
    flow = OrderFlow(specs, seed=9)
    engine, _, _ = _run(specs, flow.take(50_000))
    for spec in specs:
        depth = engine.depth(spec.symbol, 1 << 30)
        open_orders = sum(r.orders for r in depth.bids + depth.asks)
        assert open_orders == flow.open_estimate(spec.symbol)


def test_book_stays_bounded() -> None:
    specs = default_specs()
    flow = OrderFlow(specs, seed=6, max_live=500)
    engine = Engine(specs)
    sizes = []
    for _ in range(6):
        for cmd in flow.take(20_000):
            engine.apply(cmd)
        sizes.append(sum(r.orders for r in _all_levels(engine, specs)))
    assert max(sizes) <= 2 * 500
    assert min(sizes) > 50  # not drained either


def _all_levels(engine: Engine, specs: list[SymbolSpec]) -> list[DepthLevel]:
    rows: list[DepthLevel] = []
    for spec in specs:
        depth = engine.depth(spec.symbol, 1 << 30)
        rows += depth.bids + depth.asks
    return rows


def test_deep_mode_builds_levels_of_10k_orders() -> None:
    specs = default_specs()
    flow = OrderFlow(specs, seed=1, deep_levels=4, deep_orders=10_000)
    opening = flow.opening()
    assert len(opening) == len(specs) * (1 + 4 * 10_000)
    engine, kinds, reasons = _run(specs, opening)
    assert not reasons and kinds["Trade"] == 0
    for spec in specs:
        depth = engine.depth(spec.symbol, 2)
        levels = depth.bids + depth.asks
        assert len(levels) == 4
        assert all(level.orders >= 10_000 for level in levels), depth
    # the mixed flow on top trades against and cancels from the deep queues
    mixed = flow.take(20_000)
    deep_ids = {c.order_id for c in opening if isinstance(c, NewOrder)}
    cancels_deep = sum(1 for c in mixed if isinstance(c, Cancel) and c.order_id in deep_ids)
    assert cancels_deep > 1_000
    hit_deep = 0
    for cmd in mixed:
        for ev in engine.apply(cmd):
            assert not isinstance(ev, Rejected), ev
            if isinstance(ev, Trade) and ev.maker_order_id in deep_ids:
                hit_deep += 1
    assert hit_deep > 1_000
    assert engine.check_invariants() == []
    assert max(level.orders for level in _all_levels(engine, specs)) >= 5_000


def test_bad_arguments() -> None:
    specs = default_specs()
    with pytest.raises(ValueError):
        OrderFlow([], seed=1)
    with pytest.raises(ValueError):
        OrderFlow(specs, accounts=0)
    with pytest.raises(ValueError):
        OrderFlow(specs, invalid_fraction=2.0)
