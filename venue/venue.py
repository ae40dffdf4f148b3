"""The venue: Titan and Sentinel composed, one command at a time, with no I/O.

``Venue(contracts).apply(command) -> events`` takes Titan's order commands (NewOrder,
Cancel, CancelAll, Amend) and Sentinel's (MarkPrice, Deposit, Withdraw, SetLeverage,
SetMarginType) and returns every event in the order it happened: Sentinel's refusal, or
Titan's events each followed by the clearing it caused, then whatever the command set
off: reduce-only orders trimmed, liquidations (their cancels, the IOC orders sent into
Titan and the trades they made, insurance fund takeovers, ADL) and funding. This is what
the sequencer and the replay drive; the state hash covers Titan and Sentinel together.

After every command the venue *settles*: every unit whose money or positions changed,
and every unit the mark price's index entries flagged, is evaluated exactly; crossed
units are liquidated (which can cross others, and those are liquidated in the same
command), the rest are re-indexed. Invariant: after a command no unit is crossed.

Liquidation of a unit (an isolated position, or an account's cross positions in one asset)
---------------------------------------------------------------------------------------
1. ``LiquidationStarted``; the account's open orders in the unit's symbols are cancelled.
2. Per position, by symbol: an IOC reduce-only LIMIT order for the whole size at the
   bankruptcy price (rounded to the tick in the account's favour) goes into Titan; it
   pays no trading fee. Its fills realize PnL as usual. (In a cross unit a position's
   bankruptcy price is where its share of the unit's margin balance, by notional at
   the mark, is used up: :meth:`Ledger.bankruptcy_price`.)
3. What the book did not fill is taken over by the insurance fund at the bankruptcy price
   (the fund then holds that position), as far as the fund's equity covers the loss of
   taking it at a price worse than the mark; the rest is auto-deleveraged against the
   opposite positions in Binance's ADL order, at the bankruptcy price, with no fee. (If
   no opposite user position is left, the fund takes the rest regardless.)
4. The margin left in the unit (an isolated position's margin, or the cross wallet) goes to
   the fund: first the clearance fee (``liquidation_fee`` x the liquidated notional at the
   bankruptcy price, at most what is left), then the surplus; a deficit is paid by the
   fund. ``LiquidationFinished`` sums it up.

The fund works its positions off: on each mark price of a symbol where it holds one, it
sends an IOC reduce-only order at the mark (rounded in its favour) into the book.

The venue changes the ledger only through :class:`~sentinel.ledger.Ledger`'s methods, and
Titan only through its commands. Typed seams: :data:`venue.types.Command` in,
:data:`venue.types.Event` out; an optional ``titan_probe`` wraps every call into Titan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from heapq import heappop, heappush
from typing import Any

from sentinel.commands import Deposit, MarkPrice, SetLeverage, SetMarginType, Withdraw
from sentinel.contracts import Contract
from sentinel.events import (
    AutoDeleveraged,
    Emitter,
    InsuranceTakeover,
    LeverageSet,
    LiquidationFinished,
    LiquidationOrder,
    LiquidationStarted,
    MarginTypeSet,
    ReduceOnlyCancelled,
    Refusal,
    Refused,
)
from sentinel.ledger import FUND, INTERNAL_ORDER_ID, Ledger, OpenOrder, Position, UnitKey
from sentinel.pretrade import check_amend, check_identity, check_new
from sentinel.units import MAX_DEPOSITS, MAX_MARK_NOTIONAL, MAX_VALUE, RATE_ONE, ceil_div
from titan.commands import Amend, Cancel, CancelAll, NewOrder, SetMarkPrice
from titan.engine import Engine
from titan.enums import CONDITIONAL_TYPES, LIMIT_TYPES, OrderType, Side, TimeInForce
from titan.events import Accepted, Amended, Cancelled, Expired, Trade, Triggered
from venue.invariants import check_venue
from venue.state import encode_venue_state, export_venue_state, load_venue_state
from venue.types import Command, Event, TitanCommand, TitanEvent, TitanProbe

MAX_FUNDING_RATE = RATE_ONE // 10  # |rate| <= 10% per interval
MAX_TS = 1 << 62  # ms; leaves room for the next funding time in int64


class _Output(Emitter):
    """One command's output: ``events``, Titan's and Sentinel's in the order they
    happened, all stamped with the command's ``seq`` and ``ts``. The ledger reports into
    it as an :class:`~sentinel.events.Emitter`; the venue adds Titan's events. A venue
    keeps one and re-arms it (fresh list, seq, ts) at the start of every command."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[Event] = []
        super().__init__(self.events, 0, 0)


class Venue:
    """Titan + Sentinel. Deterministic: equal command streams give equal events.

    ``titan_probe`` (optional, also settable later): called as ``probe(apply, command)``
    instead of ``apply(command)`` for every command the venue sends into Titan, the
    user's and its own; it must return ``apply(command)`` unchanged. It lets a caller
    time Titan (the venue reads no clock) and survives :meth:`attach_titan`.
    """

    def __init__(
        self,
        contracts: Iterable[Contract],
        *,
        titan_probe: TitanProbe | None = None,
        _engines: tuple[Engine, Ledger] | None = None,
    ) -> None:
        """A fresh venue over ``contracts`` (``_engines``: :meth:`restore`'s restored pair)."""
        if _engines is None:
            contracts = list(contracts)
            engine, ledger = Engine(c.spec for c in contracts), Ledger(contracts)
        else:
            engine, ledger = _engines
        self.ledger = ledger
        self.titan_probe: TitanProbe | None = titan_probe
        self._out = _Output()
        # one handler per command type, each typed on its own command (one dict lookup
        # per input instead of a chain of type tests)
        self._handlers: dict[type, Callable[[Any, _Output], None]] = {
            NewOrder: self._new_order,
            MarkPrice: self._mark_price,
            Cancel: self._cancel,
            CancelAll: self._cancel,
            Amend: self._amend,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            SetLeverage: self._set_leverage,
            SetMarginType: self._set_margin_type,
        }
        self.attach_titan(engine)

    # -- public interface ---------------------------------------------------------

    def attach_titan(self, engine: Engine) -> None:
        """Use ``engine`` (e.g. restored from a snapshot) as this venue's Titan, with the
        venue's reduce-only hook installed: without it a restored venue would let a
        reduce-only order trade past the position, unlike the venue it was taken from."""
        engine.reduce_only_cap = self._reducible
        self.titan = engine

    def apply(self, command: Command) -> list[Event]:
        """Execute one command; return every event it produced, in order (TypeError for
        anything that is not a venue command)."""
        handler = self._handlers.get(type(command))
        if handler is None:
            raise TypeError(f"not a venue command: {type(command).__name__}")
        out = self._out  # re-armed for this command (apply is not re-entrant): cheaper
        events: list[Event] = []  # than a new _Output per command, a fresh list each time
        out.events = events
        out.append = events.append
        out.seq = command.seq
        out.ts = command.ts
        handler(command, out)
        return events

    def state_hash(self) -> str:
        """SHA-256 (hex) of the canonical encoding of Titan's and Sentinel's state."""
        return hashlib.sha256(encode_venue_state(self.export_state())).hexdigest()

    def export_state(self) -> dict[str, Any]:
        """Plain-data state of both engines (see :mod:`venue.state`)."""
        return export_venue_state(self.titan, self.ledger)

    @classmethod
    def restore(cls, state: dict[str, Any], *, titan_probe: TitanProbe | None = None) -> Venue:
        """Rebuild a venue from :meth:`export_state` output. ValueError names the first
        problem; the rebuilt venue is checked against every invariant before it is
        returned, so a corrupt snapshot is never silently loaded."""
        engine, ledger = load_venue_state(state)
        problems = check_venue(engine, ledger)
        if problems:
            raise ValueError(f"restored state breaks an invariant: {problems[0]}")
        return cls((), titan_probe=titan_probe, _engines=(engine, ledger))

    def check_invariants(self) -> list[str]:
        """Every violated invariant (see :mod:`venue.invariants`), empty when sound."""
        return check_venue(self.titan, self.ledger)

    # -- Titan commands ------------------------------------------------------------

    def _refuse(self, cmd: Command, reason: Refusal, out: _Output) -> None:
        """Report ``cmd`` refused; its account, symbol and order id where it has them
        with the right type (0 or "" otherwise)."""
        account = getattr(cmd, "account", 0)
        symbol = getattr(cmd, "symbol", "")
        order_id = getattr(cmd, "order_id", 0)
        out.append(
            Refused(
                cmd.seq,
                cmd.ts,
                type(cmd).__name__,
                account if type(account) is int else 0,
                symbol if type(symbol) is str else "",
                order_id if type(order_id) is int else 0,
                reason,
            )
        )

    def _new_order(self, cmd: NewOrder, out: _Output) -> None:
        reason = check_new(self.ledger, self.titan, cmd)
        if reason is not None:
            self._refuse(cmd, reason, out)
            return
        self._run(cmd, out, bool(cmd.reduce_only))
        self._settle(out)

    def _cancel(self, cmd: Cancel | CancelAll, out: _Output) -> None:
        reason = check_identity(cmd.account, cmd.order_id if type(cmd) is Cancel else 0)
        if reason is not None:
            self._refuse(cmd, reason, out)
            return
        self._run(cmd, out)

    def _amend(self, cmd: Amend, out: _Output) -> None:
        reason = check_identity(cmd.account, cmd.order_id) or check_amend(self.ledger, cmd)
        if reason is not None:
            self._refuse(cmd, reason, out)
            return
        self._run(cmd, out)
        self._settle(out)

    def _run(
        self,
        cmd: TitanCommand,
        out: _Output,
        reduce_only: bool = False,
        liquidated: Position | None = None,
    ) -> list[TitanEvent]:
        """Apply a Titan command; mirror its order events and clear its trades; return
        Titan's events. ``reduce_only``: the order it places is reduce-only.
        ``liquidated``: the command is that position's liquidation order, whose trades
        settle as liquidation fills."""
        s = self.ledger
        probe = self.titan_probe
        titan_events = self.titan.apply(cmd) if probe is None else probe(self.titan.apply, cmd)
        events = out.events
        for e in titan_events:
            events.append(e)
            if type(e) is Trade:
                self._clear(e, out, liquidated)
            elif type(e) is Accepted:
                s.order_opened(
                    e.order_id,
                    OpenOrder(
                        e.account,
                        e.symbol,
                        e.side is Side.BUY,
                        e.price,
                        e.qty,
                        reduce_only,
                        e.type in LIMIT_TYPES,
                        e.type not in CONDITIONAL_TYPES,
                    ),
                )
            elif type(e) is Triggered:
                s.order_triggered(e.order_id)
            elif type(e) is Cancelled or type(e) is Expired:
                s.order_closed(e.order_id)
            elif type(e) is Amended:
                s.order_amended(e.order_id, e.price, e.qty)
        return titan_events

    def _reducible(self, account: int, symbol: str, side: Side, events: list[TitanEvent]) -> int:
        """Titan's reduce-only hook: how much an order of ``side`` may still trade now.

        Sentinel's position is the one before the running Titan command (its trades are
        cleared when it returns), so this command's trades so far are added to it."""
        p = self.ledger.position(account, symbol)
        size = p.size if p is not None else 0
        for e in events:
            if type(e) is Trade and e.symbol == symbol:
                bought = e.qty if e.aggressor is Side.BUY else -e.qty
                if e.taker_account == account:
                    size += bought
                if e.maker_account == account:
                    size -= bought
        return max(size, 0) if side is Side.SELL else max(-size, 0)

    def _clear(self, t: Trade, out: _Output, liquidated: Position | None) -> None:
        """A trade changes both positions; Sentinel's own orders pay no fee; the fills of
        the ``liquidated`` position (in the trade's symbol) are liquidation fills."""
        s = self.ledger
        c = s.contracts[t.symbol]
        s.order_reduced(t.maker_order_id, t.qty)
        s.order_reduced(t.taker_order_id, t.qty)
        taker_dq = t.qty if t.aggressor is Side.BUY else -t.qty
        maker_fee = 0 if t.maker_order_id >= INTERNAL_ORDER_ID else c.maker_fee
        taker_fee = 0 if t.taker_order_id >= INTERNAL_ORDER_ID else c.taker_fee
        maker_liq = taker_liq = False
        if liquidated is not None and liquidated.symbol == t.symbol:
            maker_liq = t.maker_account == liquidated.account
            taker_liq = t.taker_account == liquidated.account
        s.fill(
            out, t.maker_account, t.symbol, -taker_dq, t.price,
            fee_rate=maker_fee, trade_id=t.trade_id, liquidation=maker_liq,
        )  # fmt: skip
        s.fill(
            out, t.taker_account, t.symbol, taker_dq, t.price,
            fee_rate=taker_fee, trade_id=t.trade_id, liquidation=taker_liq,
        )  # fmt: skip

    # -- settlement and liquidation --------------------------------------------------

    def _settle(self, out: _Output) -> None:
        """Trim reduce-only orders, then evaluate dirty units exactly, always the smallest
        key next (units dirtied meanwhile join the queue): liquidate the crossed ones,
        re-index the rest, until nothing is left to do.

        The order depends only on the state, never on which index entries happened to
        pop (a false alarm is evaluated and only re-indexed), so a venue restored from a
        snapshot, whose index is rebuilt fresh, emits exactly the same events.
        """
        s = self.ledger
        queue: list[UnitKey] = []
        queued: set[UnitKey] = set()  # membership only, never iterated
        changed = True  # new dirty units may exist (at the start, after a liquidation)
        while True:
            if s.touched:
                for account, symbol in s.take_touched():
                    self._trim_reduce_only(account, symbol, out)
            if changed:
                for key in s.dirty:
                    if key not in queued:
                        queued.add(key)
                        heappush(queue, key)
                changed = False
            if not queue:
                return
            key = heappop(queue)
            queued.discard(key)
            if not s.clean(key):
                continue
            if s.crossed(key):
                self._liquidate(key, out)
                changed = True
            else:
                s.reindex(key)

    def _trim_reduce_only(self, account: int, symbol: str, out: _Output) -> None:
        """Cancel reduce-only orders (newest first) that no longer fit the position."""
        s = self.ledger
        w = s.wallets.get((account, s.contracts[symbol].quote))
        ex = w.exposed(symbol) if w is not None else None
        if ex is None or not (ex.ro_buy or ex.ro_sell):
            return
        p = s.position(account, symbol)
        size = p.size if p is not None else 0
        seq, ts = out.seq, out.ts
        for buy, allowed in ((False, max(size, 0)), (True, max(-size, 0))):
            pending = ex.ro_buy if buy else ex.ro_sell
            for oid in s.reduce_only_orders(account, symbol, buy) if pending > allowed else ():
                if pending <= allowed:
                    break
                pending -= s.orders[oid].qty
                out.append(ReduceOnlyCancelled(seq, ts, account, symbol, oid))
                self._run(Cancel(seq, ts, symbol, account, oid), out)

    def _internal_order(
        self,
        out: _Output,
        account: int,
        symbol: str,
        *,
        buy: bool,
        qty: int,
        price: int,
        liquidated: Position | None = None,
    ) -> None:
        """Send Sentinel's own IOC reduce-only order(s) for ``qty`` limited at ``price``,
        within Titan's filters: the limit is moved inside the price band (only ever to a
        better price for the account), the quantity is split into orders of at most the
        symbol's maximum, and a piece below the minimum notional is not sent (what is not
        sent stays with the position, for the takeover). Stops at the first piece the
        book does not fill completely. ``liquidated``: the position the orders close
        under liquidation (None for the fund's orders)."""
        s = self.ledger
        spec = s.contracts[symbol].spec
        tick = spec.tick
        ref = self.titan.mark_price(symbol) or self.titan.last_price(symbol)
        if spec.band_bps and ref:
            low = ceil_div(ceil_div(ref * (10_000 - spec.band_bps), 10_000), tick) * tick
            high = ref * (10_000 + spec.band_bps) // 10_000 // tick * tick
            price = min(price, high) if buy else max(price, low)
            if not low <= price <= high:
                return  # the band excludes every price at least as good as the limit
        side = Side.BUY if buy else Side.SELL
        piece = spec.max_qty // spec.lot * spec.lot if spec.max_qty else qty
        seq, ts = out.seq, out.ts
        left = qty
        while left:
            q = min(left, piece)
            if q * price < spec.min_notional:
                return
            oid = s.new_order_id()
            if account != FUND:
                out.append(LiquidationOrder(seq, ts, account, symbol, oid, side.value, q, price))
            order = NewOrder(
                seq, ts, symbol, account, oid, side, q, price, OrderType.LIMIT, TimeInForce.IOC,
                reduce_only=True,
            )  # fmt: skip
            events = self._run(order, out, reduce_only=True, liquidated=liquidated)
            filled = sum(e.qty for e in events if type(e) is Trade and e.taker_order_id == oid)
            if filled < q:
                return
            left -= q

    def _liquidate(self, key: UnitKey, out: _Output) -> None:
        """Liquidate a crossed unit (see the module docstring)."""
        s = self.ledger
        account, asset, symbol = key
        seq, ts = out.seq, out.ts
        balance, mm_scaled = s.unit_state(key)
        out.append(
            LiquidationStarted(
                seq, ts, account, asset, symbol, ceil_div(mm_scaled, RATE_ONE), balance
            )
        )
        if symbol:
            cancel = [symbol]
        else:  # every order in the asset draws on the wallet the liquidation takes
            cancel = [sym for sym, c in s.contracts.items() if c.quote == asset]
        for sym in cancel:
            if self.titan.open_orders(account, sym):
                self._run(CancelAll(seq, ts, sym, account), out)
        filled = taken = deleveraged = fee_due = 0
        for p in s.unit_positions(key):
            c = s.contracts[p.symbol]
            bp = s.bankruptcy_price(key, p)
            long = p.size > 0
            qty = abs(p.size)
            fee_due += ceil_div(qty * bp * c.scale * c.liquidation_fee, RATE_ONE)
            self._internal_order(
                out, account, p.symbol, buy=not long, qty=qty, price=bp, liquidated=p
            )
            left = abs(p.size)
            filled += qty - left
            take = s.fund_capacity(asset, p.symbol, long, bp, left) if left else 0
            if take:
                s.transfer(out, p, FUND, take, bp)
                out.append(
                    InsuranceTakeover(seq, ts, account, p.symbol, take if long else -take, bp)
                )
                taken += take
                left -= take
            if left:
                for rank, q in enumerate(s.adl_queue(p.symbol, not long, account), 1):
                    n = min(left, abs(q.size))
                    cp = q.account
                    s.transfer(out, p, cp, n, bp)
                    out.append(AutoDeleveraged(seq, ts, p.symbol, account, cp, n, bp, rank))
                    deleveraged += n
                    left -= n
                    if not left:
                        break
            if left:  # no opposite user position left: the fund takes the rest regardless
                s.transfer(out, p, FUND, left, bp)
                out.append(
                    InsuranceTakeover(seq, ts, account, p.symbol, left if long else -left, bp)
                )
                taken += left
            if not p.isolated:  # closed; an isolated one stays until its margin is settled
                s.drop(p)
        fee, rest = s.settle_liquidation(out, key, fee_due)
        out.append(
            LiquidationFinished(
                seq, ts, account, asset, symbol, filled, taken, deleveraged, fee, rest
            )
        )
        s.reindex(key)  # retire the unit's remaining entries in other symbols' heaps

    def _unwind_fund(self, symbol: str, out: _Output) -> None:
        """The fund offers its position in ``symbol`` to the book at the mark."""
        s = self.ledger
        p = s.position(FUND, symbol)
        if p is None or not p.size:
            return
        tick = s.contracts[symbol].spec.tick
        mark = s.marks[symbol]
        price = max(ceil_div(mark, tick) * tick if p.size > 0 else mark // tick * tick, tick)
        best = self.titan.best_bid(symbol) if p.size > 0 else self.titan.best_ask(symbol)
        if best is None or (best.price < price if p.size > 0 else best.price > price):
            return  # nothing in the book at the mark or better: no order, no noise
        self._internal_order(out, FUND, symbol, buy=p.size < 0, qty=abs(p.size), price=price)
        self._settle(out)

    # -- Sentinel commands -------------------------------------------------------------

    def _mark_price(self, cmd: MarkPrice, out: _Output) -> None:
        s = self.ledger
        symbol, price, rate = cmd.symbol, cmd.price, cmd.funding_rate
        if type(symbol) is not str or symbol not in s.contracts:
            return self._refuse(cmd, Refusal.UNKNOWN_SYMBOL, out)
        if type(price) is not int or not 0 < price <= MAX_VALUE:
            return self._refuse(cmd, Refusal.INVALID_PRICE, out)
        if type(rate) is not int or abs(rate) > MAX_FUNDING_RATE:
            return self._refuse(cmd, Refusal.INVALID_FUNDING_RATE, out)
        if type(cmd.ts) is not int or not 0 <= cmd.ts <= MAX_TS:
            return self._refuse(cmd, Refusal.INVALID_TIMESTAMP, out)
        if s.open_qty[symbol] * price * s.contracts[symbol].scale > MAX_MARK_NOTIONAL:
            return self._refuse(cmd, Refusal.NOTIONAL_TOO_LARGE, out)
        s.set_mark(symbol, price, rate)
        self._run(SetMarkPrice(cmd.seq, cmd.ts, symbol, price), out)
        s.advance_funding(out, symbol)
        s.flag_crossed(symbol, price)
        self._settle(out)
        self._unwind_fund(symbol, out)

    def _account_reason(self, account: object) -> Refusal | None:
        if type(account) is not int or not 0 <= account <= MAX_VALUE:
            return Refusal.INVALID_ACCOUNT
        if account == FUND:
            return Refusal.RESERVED_ACCOUNT
        return None

    def _money_reason(self, cmd: Deposit | Withdraw) -> Refusal | None:
        reason = self._account_reason(cmd.account)
        if reason is not None:
            return reason
        if type(cmd.asset) is not str or cmd.asset not in self.ledger.assets:
            return Refusal.UNKNOWN_ASSET
        if type(cmd.amount) is not int or not 0 < cmd.amount <= MAX_VALUE:
            return Refusal.INVALID_AMOUNT
        return None

    def _deposit(self, cmd: Deposit, out: _Output) -> None:
        s = self.ledger
        reason = self._money_reason(cmd)
        w = s.wallets.get((cmd.account, cmd.asset)) if reason is None else None
        if reason is None and (
            max(w.balance if w is not None else 0, 0) + cmd.amount > MAX_DEPOSITS
            or s.net_deposits[cmd.asset] + cmd.amount > MAX_DEPOSITS
        ):
            reason = Refusal.INVALID_AMOUNT
        if reason is not None:
            return self._refuse(cmd, reason, out)
        s.deposit(out, cmd.account, cmd.asset, cmd.amount)
        self._settle(out)

    def _withdraw(self, cmd: Withdraw, out: _Output) -> None:
        s = self.ledger
        reason = self._money_reason(cmd)
        w = s.wallets.get((cmd.account, cmd.asset)) if reason is None else None
        if reason is None:
            if w is None or cmd.amount > w.balance:
                reason = Refusal.INSUFFICIENT_BALANCE
            elif cmd.amount > s.available(w, for_withdrawal=True):
                reason = Refusal.WITHDRAW_BREACHES_MARGIN
        if reason is not None or w is None:
            return self._refuse(cmd, reason or Refusal.INSUFFICIENT_BALANCE, out)
        s.withdraw(out, w, cmd.amount)
        self._settle(out)

    def _symbol_reason(self, cmd: SetLeverage | SetMarginType) -> Refusal | None:
        reason = self._account_reason(cmd.account)
        if reason is None and (
            type(cmd.symbol) is not str or cmd.symbol not in self.ledger.contracts
        ):
            reason = Refusal.UNKNOWN_SYMBOL
        return reason

    def _set_leverage(self, cmd: SetLeverage, out: _Output) -> None:
        """Binance rules: 1 <= leverage <= the first bracket's maximum; the position's
        notional must be allowed at the new leverage; an isolated position's leverage is
        fixed while it is open; a cross account must keep a non-negative available
        balance when the leverage goes down."""
        s = self.ledger
        reason = self._symbol_reason(cmd)
        lev = cmd.leverage
        if reason is None:
            c = s.contracts[cmd.symbol]
            if type(lev) is not int or not 1 <= lev <= c.max_leverage:
                reason = Refusal.INVALID_LEVERAGE
        if reason is not None:
            return self._refuse(cmd, reason, out)
        c = s.contracts[cmd.symbol]
        w = s.wallets.get((cmd.account, c.quote))
        old_lev, isolated = (
            s.settings(w, cmd.symbol) if w is not None else (c.default_leverage, False)
        )
        p = s.position(cmd.account, cmd.symbol)
        size = p.size if p is not None else 0
        ex = w.exposed(cmd.symbol) if w is not None else None
        if size or ex is not None:
            worst = abs(size)
            if ex is not None:  # every open order on one side filled
                worst = max(worst, abs(size + ex.buy_qty), abs(size - ex.sell_qty))
            mark = s.marks.get(cmd.symbol, 0)
            if worst * mark * c.scale > c.brackets.max_notional(lev):
                return self._refuse(cmd, Refusal.NOTIONAL_ABOVE_LEVERAGE_LIMIT, out)
        if size and isolated:
            return self._refuse(cmd, Refusal.POSITION_OR_ORDERS_OPEN, out)
        if w is not None and lev < old_lev and s.available_at_leverage(w, cmd.symbol, lev) < 0:
            return self._refuse(cmd, Refusal.INSUFFICIENT_MARGIN, out)
        s.store_settings(cmd.account, cmd.symbol, lev, isolated)
        out.append(LeverageSet(cmd.seq, cmd.ts, cmd.account, cmd.symbol, lev))

    def _set_margin_type(self, cmd: SetMarginType, out: _Output) -> None:
        s = self.ledger
        reason = self._symbol_reason(cmd)
        if reason is None and type(cmd.isolated) is not bool:
            reason = Refusal.INVALID_MARGIN_TYPE
        if reason is None:
            p = s.position(cmd.account, cmd.symbol)
            if (p is not None and p.size) or self.titan.open_orders(cmd.account, cmd.symbol):
                reason = Refusal.POSITION_OR_ORDERS_OPEN
        if reason is not None:
            return self._refuse(cmd, reason, out)
        c = s.contracts[cmd.symbol]
        w = s.wallets.get((cmd.account, c.quote))
        lev = s.settings(w, cmd.symbol)[0] if w is not None else c.default_leverage
        s.store_settings(cmd.account, cmd.symbol, lev, cmd.isolated)
        out.append(MarginTypeSet(cmd.seq, cmd.ts, cmd.account, cmd.symbol, cmd.isolated))
