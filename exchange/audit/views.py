"""The state at a seq, rebuilt from a journal, and what is shown of it.

:func:`rebuild_state` rebuilds a journal's machine after a record (newest valid snapshot
plus the tail); :func:`state_view` turns a venue (or Titan) machine's state into the JSON
that ``exchange replay`` shows, and :func:`state_lines` into its text tables.

Rules
-----
- Positions: every open position, by symbol then account (account 0 is the insurance
  fund, shown as ``fund`` in the table); the entry price is cost / size rounded
  half-even to 8 decimals, with at least the tick's decimals.
- Balances: the wallets (the fund's excepted) that hold money or back a position, by
  account and asset. Open orders: resting and pending (untriggered stop) orders, per
  symbol. Marks: the last mark price per symbol (and, on a venue, its funding rate).
  A Titan machine has no positions, balances or fund: those are empty.
- Amounts are decimal strings (:mod:`exchange.audit.records`).
- Progress of a rebuild goes to a :class:`Phases` (every :data:`PROGRESS_EVERY`
  records); nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol

from exchange.audit.records import PROGRESS_EVERY, money_text, plain
from exchange.runtime.machines import TitanMachine, VenueMachine
from oracle import Journal
from oracle.replay import Machine, MachineFactory, Rebuilt, rebuild
from sentinel.ledger import FUND
from sentinel.units import MONEY_DECIMALS, rate_decimal
from titan.engine import Engine
from titan.symbols import SymbolSpec

STATE_KEYS = (
    "positions",
    "balances",
    "open_orders",
    "open_orders_by_symbol",
    "insurance_fund",
    "marks",
)


class Phases(Protocol):
    """Progress of a long run, told in phases (the CLI draws it on stderr)."""

    def phase(self, label: str, total: int) -> Callable[[int], None]:
        """Start a phase of ``total`` records (0: no count); returns the callback that
        is given the seq reached."""
        ...


def rebuild_state(
    journal: Journal, factory: MachineFactory, seq: int, progress: Phases | None
) -> Rebuilt:
    """The machine after record ``seq`` (0: genesis), from a snapshot plus the tail."""
    callback = None if progress is None else progress.phase("replaying", seq)
    return rebuild(journal, factory, seq, progress=callback, progress_every=PROGRESS_EVERY)


def _entry_price(cost: int, size: int, scale: int, spec: SymbolSpec) -> str:
    """cost / size as a price, rounded half-even to 8 decimals, at least the tick's."""
    price = (Decimal(cost) / Decimal(size * scale)).scaleb(-spec.price_decimals)
    text = plain(price.quantize(Decimal(1).scaleb(-MONEY_DECIMALS), rounding=ROUND_HALF_EVEN))
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(spec.price_decimals, "0")
    return f"{whole}.{frac}" if frac else whole


def _open_orders(engine: Engine) -> dict[str, int]:
    out = {}
    for symbol in engine.symbols:
        l3 = engine.l3(symbol)
        out[symbol] = len(l3["bids"]) + len(l3["asks"]) + len(engine.pending_triggers(symbol))
    return out


def state_view(machine: Machine) -> dict[str, Any]:
    """What replay shows of a machine's state: positions, balances, orders, fund, marks.

    Positions: every open position, by symbol then account (account 0 is the insurance
    fund); balances: the wallets (the fund's excepted) that hold money or back a
    position, by account and asset.
    """
    if isinstance(machine, VenueMachine):
        engine = machine.venue.titan
        s = machine.venue.ledger
        positions = []
        for symbol, contract in s.contracts.items():
            spec = contract.spec
            for account, p in sorted(s.holders[symbol].items()):
                if not p.size:
                    continue
                settings = s.account_settings.get((account, symbol))
                leverage = settings[0] if settings else contract.default_leverage
                positions.append(
                    {
                        "account": account,
                        "symbol": symbol,
                        "size": plain(spec.qty_decimal(p.size)),
                        "entry_price": _entry_price(p.cost, p.size, contract.scale, spec),
                        "mark_price": plain(spec.price_decimal(s.marks[symbol])),
                        "unrealized_pnl": money_text(s.upnl(p)),
                        "margin_type": "isolated" if p.isolated else "cross",
                        "isolated_margin": money_text(p.margin) if p.isolated else None,
                        "leverage": leverage,
                    }
                )
        balances = [
            {"account": account, "asset": asset, "balance": money_text(w.balance)}
            for (account, asset), w in sorted(s.wallets.items())
            if account != FUND and (w.balance or w.positions)
        ]
        fund = {asset: money_text(s.fund_balance(asset)) for asset in s.assets}
        marks = {
            symbol: {
                "price": plain(s.contracts[symbol].spec.price_decimal(s.marks[symbol])),
                "funding_rate": plain(rate_decimal(s.funding_rate.get(symbol, 0))),
            }
            for symbol in s.contracts
            if s.marks.get(symbol)
        }
    else:
        assert isinstance(machine, TitanMachine)
        engine = machine.engine
        positions, balances, fund = [], [], {}
        marks = {
            symbol: {"price": plain(engine.spec(symbol).price_decimal(engine.mark_price(symbol)))}
            for symbol in engine.symbols
            if engine.mark_price(symbol)
        }
    orders = _open_orders(engine)
    return {
        "positions": positions,
        "balances": balances,
        "open_orders": sum(orders.values()),
        "open_orders_by_symbol": orders,
        "insurance_fund": fund,
        "marks": marks,
    }


def _table(rows: list[list[str]], indent: str = "    ") -> list[str]:
    """Rows as aligned columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(indent + "  ".join(cells))
    return lines


def state_lines(view: Mapping[str, Any], machine: str) -> list[str]:
    """The text of a :func:`state_view` (open orders, marks, fund, positions and
    balances tables); ``machine`` is the journal's (a venue says when it has no
    positions)."""
    lines = []
    per = ", ".join(f"{s} {n:,}" for s, n in view["open_orders_by_symbol"].items())
    lines.append(f"  open orders: {view['open_orders']:,} ({per})")
    marks = [
        f"{s} {m['price']}" + (f" (funding {m['funding_rate']})" if "funding_rate" in m else "")
        for s, m in view["marks"].items()
    ]
    lines.append(f"  marks: {', '.join(marks) or 'none'}")
    if view["insurance_fund"]:
        fund = ", ".join(f"{v} {a}" for a, v in view["insurance_fund"].items())
        lines.append(f"  insurance fund: {fund}")
    if view["positions"]:
        lines.append(f"  positions ({len(view['positions'])}):")
        head = ["account", "symbol", "size", "entry", "mark", "unrealized PnL", "margin", "lev"]
        rows = [
            [
                "fund" if p["account"] == FUND else str(p["account"]),
                p["symbol"],
                p["size"],
                p["entry_price"],
                p["mark_price"],
                p["unrealized_pnl"],
                p["margin_type"]
                + (f" {p['isolated_margin']}" if p["isolated_margin"] is not None else ""),
                f"{p['leverage']}x",
            ]
            for p in view["positions"]
        ]
        lines += _table([head, *rows])
    elif machine == "venue":
        lines.append("  positions: none")
    if view["balances"]:
        lines.append(f"  balances ({len(view['balances'])}):")
        rows = [[str(b["account"]), b["asset"], b["balance"]] for b in view["balances"]]
        lines += _table([["account", "asset", "balance"], *rows])
    return lines


__all__ = ["STATE_KEYS", "Phases", "rebuild_state", "state_lines", "state_view"]
