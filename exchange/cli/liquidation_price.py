"""``exchange liquidation-price``: Binance USDⓈ-M liquidation price of one position.

This module parses the arguments and prints; the arithmetic is
:func:`sentinel.liquidation.calculate`, exact (see that module for the rule and the
bracket choice). Every number from the command line is parsed as a Decimal and turned
into a :class:`~fractions.Fraction`. Isolated margin (the default) has ``TMM1 = UPNL1 =
0``. The brackets are the symbol's contract table (``--config``, else the embedded
defaults); ``--mmr R --maintenance-amount C`` replaces the table by that single bracket
(the FAQ's worked examples give the bracket this way).

Only the display rounds: prices half-up to ``max(2, price decimals)`` decimals, money to
8 decimals, the margin ratio to 0.01%. Every bad flag raises :class:`UserError` naming it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from exchange.config.symbols import load_contracts
from exchange.errors import UserError
from sentinel.brackets import Bracket
from sentinel.contracts import Contract
from sentinel.liquidation import calculate
from sentinel.units import MONEY_DECIMALS, MONEY_ONE, RATE_DECIMALS
from titan.symbols import SpecError, to_units

# Input sanity bounds: |value| < 10**15 and at most 20 decimal places (keeps every exact
# intermediate small; no real position comes near either).
MAX_INTEGER_DIGITS = 15
MAX_DECIMAL_PLACES = 20


# --- display ------------------------------------------------------------------------


def round_half_up(value: Fraction, places: int) -> Decimal:
    """``value`` rounded to ``places`` decimals, halves away from zero (ROUND_HALF_UP)."""
    scaled = abs(value) * 10**places
    units = math.floor(scaled + Fraction(1, 2))
    return Decimal(-units if value < 0 else units).scaleb(-places)


def _money(value: Fraction) -> str:
    """A quote amount, half-up to 8 decimals, trailing zeros dropped (at least 2 kept)."""
    text = f"{round_half_up(value, MONEY_DECIMALS):f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac.ljust(2, '0')}"


def _plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros ("0.1", "16300")."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _rate(units: int) -> str:
    return _plain(Decimal(units).scaleb(-RATE_DECIMALS))


def _percent(units: int) -> str:
    return _plain(Decimal(units).scaleb(2 - RATE_DECIMALS)) + "%"


# --- the command --------------------------------------------------------------------


NAME = "liquidation-price"


def register(sub: Any) -> None:
    """Add ``liquidation-price`` to the CLI's subparsers."""
    p = sub.add_parser(
        NAME,
        help="liquidation price of one position (Binance USDⓈ-M, one-way mode)",
        description="Liquidation and bankruptcy price of one USDⓈ-M position, exactly, with "
        "the symbol's leverage brackets (or one given by --mmr/--maintenance-amount).",
    )
    p.add_argument("--symbol", required=True, help="symbol, e.g. BTCUSDT")
    p.add_argument("--side", required=True, help="long or short")
    p.add_argument("--qty", required=True, help="position size in base units (positive)")
    p.add_argument("--entry", required=True, help="entry price")
    p.add_argument(
        "--wallet",
        required=True,
        help="isolated margin, or with --cross the cross wallet balance (quote, <= 8 decimals)",
    )
    p.add_argument("--cross", action="store_true", help="cross margin (default: isolated)")
    p.add_argument(
        "--other-maintenance",
        help="with --cross: maintenance margin of the other cross positions (TMM1)",
    )
    p.add_argument(
        "--other-upnl", help="with --cross: unrealized PnL of the other cross positions (UPNL1)"
    )
    p.add_argument("--mmr", help="maintenance margin rate, overriding the bracket table")
    p.add_argument(
        "--maintenance-amount", help="maintenance amount (cum) that goes with --mmr, in quote"
    )
    p.add_argument("--config", help="symbols TOML file with contract terms (default: embedded)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _number(text: str, flag: str) -> Decimal:
    """A finite decimal within the sanity bounds; UserError naming ``flag`` otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise UserError(f"{flag}: {text!r} is not a number") from None
    if not value.is_finite():
        raise UserError(f"{flag}: {text!r} is not a finite number")
    if value != 0 and value.adjusted() >= MAX_INTEGER_DIGITS:
        raise UserError(f"{flag}: {text} is too large (at most {MAX_INTEGER_DIGITS} digits)")
    if value.normalize().as_tuple().exponent < -MAX_DECIMAL_PLACES:  # type: ignore[operator]
        raise UserError(f"{flag}: {text} has more than {MAX_DECIMAL_PLACES} decimal places")
    return value


def _units(value: Decimal, decimals: int, flag: str, what: str) -> int:
    """``value`` as an integer count of 10**-decimals; UserError if it is finer."""
    try:
        return to_units(value, decimals, flag)
    except SpecError as exc:
        raise UserError(f"{exc} ({what})") from None


@dataclass(frozen=True, slots=True)
class _Inputs:
    contract: Contract
    long: bool
    qty: Decimal
    entry: Decimal
    wallet: Decimal
    cross: bool
    other_maintenance: Decimal
    other_upnl: Decimal
    override: Bracket | None


def _inputs(args: argparse.Namespace) -> _Inputs:
    side = args.side.strip().lower()
    if side not in ("long", "short"):
        raise UserError(f"--side: {args.side!r} must be long or short")
    qty = _number(args.qty, "--qty")
    if qty <= 0:
        raise UserError(f"--qty: {args.qty} must be positive")
    entry = _number(args.entry, "--entry")
    if entry <= 0:
        raise UserError(f"--entry: {args.entry} must be positive")
    wallet = _number(args.wallet, "--wallet")
    if wallet < 0:
        raise UserError(f"--wallet: {args.wallet} must not be negative")
    _units(wallet, MONEY_DECIMALS, "--wallet", "a balance is in 10**-8 of the quote asset")

    other_mm, other_upnl = Decimal(0), Decimal(0)
    if not args.cross:
        for flag, given in (
            ("--other-maintenance", args.other_maintenance),
            ("--other-upnl", args.other_upnl),
        ):
            if given is not None:
                raise UserError(f"{flag}: only with --cross (isolated margin has no others)")
    else:
        if args.other_maintenance is not None:
            other_mm = _number(args.other_maintenance, "--other-maintenance")
            if other_mm < 0:
                raise UserError(f"--other-maintenance: {args.other_maintenance} is negative")
        if args.other_upnl is not None:
            other_upnl = _number(args.other_upnl, "--other-upnl")

    override = None
    if (args.mmr is None) != (args.maintenance_amount is None):
        given, missing = (
            ("--mmr", "--maintenance-amount")
            if args.maintenance_amount is None
            else ("--maintenance-amount", "--mmr")
        )
        raise UserError(f"{given}: needs {missing} too (the two replace the bracket table)")
    if args.mmr is not None:
        mmr = _number(args.mmr, "--mmr")
        if not 0 < mmr < 1:
            raise UserError(f"--mmr: {args.mmr} must be a rate in (0, 1), e.g. 0.004 = 0.4%")
        mmr_units = _units(mmr, RATE_DECIMALS, "--mmr", "rates are in 10**-8")
        cum = _number(args.maintenance_amount, "--maintenance-amount")
        if cum < 0:
            raise UserError(f"--maintenance-amount: {args.maintenance_amount} is negative")
        cum_units = _units(cum, MONEY_DECIMALS, "--maintenance-amount", "money is in 10**-8")
        override = Bracket(1, 0, 0, mmr_units, cum_units, 0)

    contracts = {c.symbol: c for c in load_contracts(args.config)}
    symbol = args.symbol.strip().upper()
    if symbol not in contracts:
        known = ", ".join(sorted(contracts))
        raise UserError(f"--symbol: unknown symbol {args.symbol!r} (configured: {known})")
    return _Inputs(
        contract=contracts[symbol],
        long=side == "long",
        qty=qty,
        entry=entry,
        wallet=wallet,
        cross=bool(args.cross),
        other_maintenance=other_mm,
        other_upnl=other_upnl,
        override=override,
    )


def _bracket_dict(b: Bracket, override: bool) -> dict[str, Any]:
    if override:
        return {
            "bracket": "override",
            "maintenance_margin_rate": _rate(b.mmr),
            "maintenance_amount": _money(Fraction(b.cum, MONEY_ONE)),
        }
    d = b.to_dict()
    for key, units in (
        ("notional_floor", b.floor),
        ("notional_cap", b.cap),
        ("maintenance_amount", b.cum),
    ):
        d[key] = _money(Fraction(units, MONEY_ONE))
    return d


def run(args: argparse.Namespace) -> int:
    """Run ``exchange liquidation-price``: print the result (text or ``--json``)."""
    inp = _inputs(args)
    contract = inp.contract
    brackets = (inp.override,) if inp.override is not None else contract.brackets.brackets
    calc = calculate(
        long=inp.long,
        qty=Fraction(inp.qty),
        entry=Fraction(inp.entry),
        wallet=Fraction(inp.wallet),
        brackets=brackets,
        other_maintenance=Fraction(inp.other_maintenance),
        other_upnl=Fraction(inp.other_upnl),
    )
    places = max(2, contract.spec.price_decimals)
    is_override = inp.override is not None
    lp = round_half_up(calc.liquidation_price, places)
    bp = round_half_up(calc.bankruptcy_price, places)
    ratio = calc.margin_ratio
    ratio_pct = None if ratio is None else f"{round_half_up(ratio * 100, 2)}"
    side = "long" if inp.long else "short"
    mode = "cross" if inp.cross else "isolated"
    used = _bracket_dict(calc.bracket, is_override)
    tried = [
        {
            **_bracket_dict(a.bracket, is_override),
            "price": str(round_half_up(a.price, places)),
            "notional": _money(a.price * Fraction(inp.qty)),
            "used": a.used,
        }
        for a in calc.attempts
    ]

    if args.json:
        data: dict[str, Any] = {
            "symbol": contract.symbol,
            "side": side,
            "qty": _plain(inp.qty),
            "entry": _plain(inp.entry),
            "wallet": _plain(inp.wallet),
            "cross": inp.cross,
            "other_maintenance": _plain(inp.other_maintenance),
            "other_upnl": _plain(inp.other_upnl),
            "liquidation_price": str(lp),
            "liquidation_price_exact": str(calc.liquidation_price),
            "never_liquidated": calc.never_liquidated,
            "bankruptcy_price": str(bp),
            "bracket": used["bracket"],
            "maintenance_margin_rate": used["maintenance_margin_rate"],
            "maintenance_amount": used["maintenance_amount"],
            "maintenance_margin": _money(calc.maintenance_margin),
            "margin_balance": _money(calc.margin_balance),
            "margin_ratio": None if ratio is None else _money(ratio),
            "margin_ratio_percent": ratio_pct,
            "liquidatable_at_entry": calc.liquidatable_at_entry,
            "brackets_tried": tried,
        }
        sys.stdout.write(json.dumps(data) + "\n")
        return 0

    out: list[str] = [
        f"{contract.symbol} {side} {_plain(inp.qty)} @ {_plain(inp.entry)}, {mode}, "
        f"wallet {_plain(inp.wallet)}"
        + (
            f", other maintenance {_plain(inp.other_maintenance)}, "
            f"other uPnL {_plain(inp.other_upnl)}"
            if inp.cross
            else ""
        )
    ]
    if calc.never_liquidated:
        out.append(f"liquidation price:   none (never liquidated; the formula gives {lp})")
    else:
        out.append(f"liquidation price:   {lp}")
    out.append(f"bankruptcy price:    {bp}")
    what = "override" if is_override else f"{used['bracket']}"
    out.append(
        f"bracket used:        {what} (mmr {_percent(calc.bracket.mmr)}, "
        f"maintenance amount {used['maintenance_amount']})"
    )
    out.append(f"maintenance margin:  {_money(calc.maintenance_margin)} at entry")
    out.append(f"margin balance:      {_money(calc.margin_balance)} at entry")
    if ratio_pct is None:
        out.append("margin ratio:        n/a (margin balance is not positive)")
    else:
        out.append(f"margin ratio:        {ratio_pct}% at entry")
    if calc.liquidatable_at_entry:
        out.append("note: maintenance already reaches the margin balance at the entry price")
    out.append("brackets tried:")
    for a in calc.attempts:
        b = a.bracket
        label = "override" if is_override else f"bracket {b.number}"
        where = ""
        if not is_override and not a.used:
            lo, hi = (_money(Fraction(x, MONEY_ONE)) for x in (b.floor, b.cap))
            where = f", outside ({lo}, {hi}]"
        out.append(
            f"  {label} (mmr {_percent(b.mmr)}, cum {_money(Fraction(b.cum, MONEY_ONE))}): "
            f"{round_half_up(a.price, places)}, notional {_money(a.price * Fraction(inp.qty))}"
            + (where or "  <- used")
        )
    sys.stdout.write("\n".join(out) + "\n")
    return 0
