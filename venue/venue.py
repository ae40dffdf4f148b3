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
   the mark, is used up: :meth:`Sentinel.bankruptcy_price`.)
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
    BalanceReason,
    FundReason,
    InsuranceTakeover,
    IsolatedMarginChanged,
    LeverageSet,
    LiquidationFinished,
    LiquidationOrder,
    LiquidationStarted,
    MarginTypeSet,
    ReduceOnlyCancelled,
    Refusal,
    Refused,
)
from sentinel.ledger import FUND, INTERNAL_ORDER_ID, OpenOrder, Position, Sentinel, UnitKey
from sentinel.pretrade import check_amend, check_identity, check_new
from sentinel.units import MAX_DEPOSITS, MAX_MARK_NOTIONAL, MAX_VALUE, RATE_ONE, ceil_div
from titan.commands import Amend, Cancel, CancelAll, NewOrder, SetMarkPrice
from titan.engine import Engine
from titan.enums import OrderType, Side, TimeInForce
from titan.events import Accepted, Amended, Cancelled, Expired, Trade, Triggered
from titan.validation import CONDITIONAL_TYPES

_LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT})
MAX_FUNDING_RATE = RATE_ONE // 10  # |rate| <= 10% per interval
MAX_TS = 1 << 62  # ms; leaves room for the next funding time in int64


class Venue:
    """Titan + Sentinel. Deterministic: equal command streams give equal events."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        contracts = list(contracts)
        self.sentinel = Sentinel(contracts)
        self.attach_titan(Engine(c.spec for c in contracts))
        self._handlers: dict[type, Callable[[Any, list[Any]], None]] = {
            NewOrder: self._new_order,
            Cancel: self._cancel,
            CancelAll: self._cancel,
            Amend: self._amend,
            MarkPrice: self._mark_price,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            SetLeverage: self._set_leverage,
            SetMarginType: self._set_margin_type,
        }

    # -- public interface ---------------------------------------------------------

    def attach_titan(self, engine: Engine) -> None:
        """Use ``engine`` (e.g. restored from a snapshot) as this venue's Titan, with the
        venue's reduce-only hook installed: without it a restored venue would let a
        reduce-only order trade past the position, unlike the venue it was taken from."""
        engine.reduce_only_cap = self._reducible
        self.titan = engine

    def apply(self, command: Any) -> list[Any]:
        """Execute one command; return every event it produced, in order."""
        handler = self._handlers.get(type(command))
        if handler is None:
            raise TypeError(f"not a venue command: {type(command).__name__}")
        out: list[Any] = []
        handler(command, out)
        return out

    def state_hash(self) -> str:
        """SHA-256 (hex) of the canonical encoding of Titan's and Sentinel's state."""
        from venue.state import encode_venue_state

        return hashlib.sha256(encode_venue_state(self.export_state())).hexdigest()

    def export_state(self) -> dict[str, Any]:
        """Plain-data state of both engines (see :mod:`venue.state`)."""
        from venue.state import export_venue_state

        return export_venue_state(self)

    @classmethod
    def restore(cls, state: dict[str, Any]) -> Venue:
        """Rebuild a venue from :meth:`export_state` output (ValueError if malformed)."""
        from venue.state import restore_venue_state

        return restore_venue_state(state)

    def check_invariants(self) -> list[str]:
        """Every violated invariant (see :mod:`venue.invariants`), empty when sound."""
        from venue.invariants import check_venue

        return check_venue(self)

    # -- Titan commands ------------------------------------------------------------

    def _refuse(self, cmd: Any, reason: Refusal, out: list[Any]) -> None:
        def field(name: str, kind: type, default: Any) -> Any:
            value = getattr(cmd, name, default)
            return value if type(value) is kind else default

        out.append(
            Refused(
                cmd.seq,
                cmd.ts,
                type(cmd).__name__,
                field("account", int, 0),
                field("symbol", str, ""),
                field("order_id", int, 0),
                reason,
            )
        )

    def _new_order(self, cmd: NewOrder, out: list[Any]) -> None:
        reason = check_new(self.sentinel, self.titan, cmd)
        if reason is not None:
            self._refuse(cmd, reason, out)
            return
        self._run(cmd, out, bool(cmd.reduce_only))
        self._settle(out, cmd.seq, cmd.ts)

    def _cancel(self, cmd: Cancel | CancelAll, out: list[Any]) -> None:
        reason = check_identity(cmd.account, getattr(cmd, "order_id", 0))
        if reason is not None:
            self._refuse(cmd, reason, out)
            return
        self._run(cmd, out)

    def _amend(self, cmd: Amend, out: list[Any]) -> None:
        reason = check_identity(cmd.account, cmd.order_id) or check_amend(self.sentinel, cmd)
        if reason is not None:
            self._refuse(cmd, reason, out)
            return
        self._run(cmd, out)
        self._settle(out, cmd.seq, cmd.ts)

    def _run(self, cmd: Any, out: list[Any], reduce_only: bool = False) -> None:
        """Apply a Titan command; mirror its order events and clear its trades."""
        s = self.sentinel
        for e in self.titan.apply(cmd):
            out.append(e)
            if type(e) is Trade:
                self._clear(e, out)
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
                        e.type in _LIMIT_TYPES,
                        e.type not in CONDITIONAL_TYPES,
                    ),
                )
            elif type(e) is Triggered:
                s.order_triggered(e.order_id)
            elif type(e) is Cancelled or type(e) is Expired:
                s.order_closed(e.order_id)
            elif type(e) is Amended:
                s.order_amended(e.order_id, e.price, e.qty)

    def _reducible(self, account: int, symbol: str, side: Side, events: list[Any]) -> int:
        """Titan's reduce-only hook: how much an order of ``side`` may still trade now.

        Sentinel's position is the one before the running Titan command (its trades are
        cleared when it returns), so this command's trades so far are added to it."""
        p = self.sentinel.position(account, symbol)
        size = p.size if p is not None else 0
        for e in events:
            if type(e) is Trade and e.symbol == symbol:
                bought = e.qty if e.aggressor is Side.BUY else -e.qty
                if e.taker_account == account:
                    size += bought
                if e.maker_account == account:
                    size -= bought
        return max(size, 0) if side is Side.SELL else max(-size, 0)

    def _clear(self, t: Trade, out: list[Any]) -> None:
        """A trade changes both positions; Sentinel's own orders pay no fee."""
        s = self.sentinel
        c = s.contracts[t.symbol]
        s.order_reduced(t.maker_order_id, t.qty)
        s.order_reduced(t.taker_order_id, t.qty)
        taker_dq = t.qty if t.aggressor is Side.BUY else -t.qty
        maker_fee = 0 if t.maker_order_id >= INTERNAL_ORDER_ID else c.maker_fee
        taker_fee = 0 if t.taker_order_id >= INTERNAL_ORDER_ID else c.taker_fee
        s.fill(
            t.maker_account, t.symbol, -taker_dq, t.price, maker_fee, t.trade_id, out, t.seq, t.ts
        )
        s.fill(
            t.taker_account, t.symbol, taker_dq, t.price, taker_fee, t.trade_id, out, t.seq, t.ts
        )

    # -- settlement and liquidation --------------------------------------------------

    def _settle(self, out: list[Any], seq: int, ts: int) -> None:
        """Trim reduce-only orders, then evaluate dirty units exactly, always the smallest
        key next (units dirtied meanwhile join the queue): liquidate the crossed ones,
        re-index the rest, until nothing is left to do.

        The order depends only on the state, never on which index entries happened to
        pop (a false alarm is evaluated and only re-indexed), so a venue restored from a
        snapshot, whose index is rebuilt fresh, emits exactly the same events.
        """
        s = self.sentinel
        queue: list[UnitKey] = []
        queued: set[UnitKey] = set()  # membership only, never iterated
        changed = True  # new dirty units may exist (at the start, after a liquidation)
        while True:
            if s.touched:
                touched = sorted(s.touched)
                s.touched.clear()
                for account, symbol in touched:
                    self._trim_reduce_only(account, symbol, out, seq, ts)
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
            if key not in s.dirty:
                continue
            del s.dirty[key]
            if s.crossed(key):
                self._liquidate(key, out, seq, ts)
                changed = True
            else:
                s.reindex(key)

    def _trim_reduce_only(
        self, account: int, symbol: str, out: list[Any], seq: int, ts: int
    ) -> None:
        """Cancel reduce-only orders (newest first) that no longer fit the position."""
        s = self.sentinel
        w = s.wallets.get((account, s.contracts[symbol].quote))
        ex = w.exposed(symbol) if w is not None else None
        if ex is None or not (ex.ro_buy or ex.ro_sell):
            return
        p = s.position(account, symbol)
        size = p.size if p is not None else 0
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
        account: int,
        symbol: str,
        buy: bool,
        qty: int,
        price: int,
        out: list[Any],
        seq: int,
        ts: int,
    ) -> None:
        """Send Sentinel's own IOC reduce-only order(s) for ``qty`` limited at ``price``,
        within Titan's filters: the limit is moved inside the price band (only ever to a
        better price for the account), the quantity is split into orders of at most the
        symbol's maximum, and a piece below the minimum notional is not sent (what is not
        sent stays with the position, for the takeover). Stops at the first piece the
        book does not fill completely."""
        s = self.sentinel
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
        left = qty
        while left:
            q = min(left, piece)
            if q * price < spec.min_notional:
                return
            oid = s.next_order_id
            s.next_order_id += 1
            if account != FUND:
                out.append(LiquidationOrder(seq, ts, account, symbol, oid, side.value, q, price))
            order = NewOrder(
                seq, ts, symbol, account, oid, side, q, price, OrderType.LIMIT, TimeInForce.IOC,
                reduce_only=True,
            )  # fmt: skip
            start = len(out)
            self._run(order, out, True)
            filled = sum(e.qty for e in out[start:] if type(e) is Trade and e.taker_order_id == oid)
            if filled < q:
                return
            left -= q

    def _transfer(
        self, p: Position, to: int, qty: int, price: int, out: list[Any], seq: int, ts: int
    ) -> None:
        """Move ``qty`` of ``p`` to account ``to`` at ``price`` (takeover or ADL; no fee)."""
        dq = qty if p.size > 0 else -qty
        self.sentinel.fill(p.account, p.symbol, -dq, price, 0, 0, out, seq, ts)
        self.sentinel.fill(to, p.symbol, dq, price, 0, 0, out, seq, ts)

    def _liquidate(self, key: UnitKey, out: list[Any], seq: int, ts: int) -> None:
        """Liquidate a crossed unit (see the module docstring)."""
        s = self.sentinel
        account, asset, symbol = key
        balance, mm_scaled = s.unit_state(key)
        out.append(
            LiquidationStarted(
                seq, ts, account, asset, symbol, ceil_div(mm_scaled, RATE_ONE), balance
            )
        )
        w = s.wallets[(account, asset)]
        if symbol:
            cancel = [symbol]
        else:  # every order in the asset draws on the wallet the liquidation takes
            cancel = [sym for sym, c in s.contracts.items() if c.quote == asset]
        for sym in cancel:
            if self.titan.open_orders(account, sym):
                self._run(CancelAll(seq, ts, sym, account), out)
        filled = taken = deleveraged = fee_due = 0
        positions = s.unit_positions(key)
        for p in positions:
            c = s.contracts[p.symbol]
            s.liquidating = p
            bp = s.bankruptcy_price(key, p)
            long = p.size > 0
            qty = abs(p.size)
            fee_due += ceil_div(qty * bp * c.scale * c.liquidation_fee, RATE_ONE)
            self._internal_order(account, p.symbol, not long, qty, bp, out, seq, ts)
            left = abs(p.size)
            filled += qty - left
            take = s.fund_capacity(asset, p.symbol, long, bp, left) if left else 0
            if take:
                self._transfer(p, FUND, take, bp, out, seq, ts)
                out.append(
                    InsuranceTakeover(seq, ts, account, p.symbol, take if long else -take, bp)
                )
                taken += take
                left -= take
            if left:
                for rank, q in enumerate(s.adl_queue(p.symbol, not long, account), 1):
                    n = min(left, abs(q.size))
                    cp = q.account
                    self._transfer(p, cp, n, bp, out, seq, ts)
                    out.append(AutoDeleveraged(seq, ts, p.symbol, account, cp, n, bp, rank))
                    deleveraged += n
                    left -= n
                    if not left:
                        break
            if left:  # no opposite user position left: the fund takes the rest regardless
                self._transfer(p, FUND, left, bp, out, seq, ts)
                out.append(
                    InsuranceTakeover(seq, ts, account, p.symbol, left if long else -left, bp)
                )
                taken += left
            s.liquidating = None
            if not p.isolated:
                s.drop(p)
        if symbol:
            p = positions[0]
            left_margin = p.margin
            p.margin = 0
            s.drop(p)
            out.append(
                IsolatedMarginChanged(
                    seq, ts, account, symbol, BalanceReason.LIQUIDATION, -left_margin, 0
                )
            )
        else:
            left_margin = w.balance
            if left_margin:
                s.credit(w, -left_margin, BalanceReason.LIQUIDATION, out, seq, ts)
        fee = min(fee_due, max(left_margin, 0))
        if fee:
            s.to_fund(asset, fee, FundReason.LIQUIDATION_FEE, out, seq, ts, account, symbol)
        rest = left_margin - fee
        if rest:
            reason = FundReason.LIQUIDATION_SURPLUS if rest > 0 else FundReason.LIQUIDATION_DEFICIT
            s.to_fund(asset, rest, reason, out, seq, ts, account, symbol)
        out.append(
            LiquidationFinished(
                seq, ts, account, asset, symbol, filled, taken, deleveraged, fee, rest
            )
        )
        s.reindex(key)  # retire the unit's remaining entries in other symbols' heaps

    def _unwind_fund(self, symbol: str, out: list[Any], seq: int, ts: int) -> None:
        """The fund offers its position in ``symbol`` to the book at the mark."""
        s = self.sentinel
        p = s.position(FUND, symbol)
        if p is None or not p.size:
            return
        tick = s.contracts[symbol].spec.tick
        mark = s.marks[symbol]
        price = max(ceil_div(mark, tick) * tick if p.size > 0 else mark // tick * tick, tick)
        best = self.titan.best_bid(symbol) if p.size > 0 else self.titan.best_ask(symbol)
        if best is None or (best.price < price if p.size > 0 else best.price > price):
            return  # nothing in the book at the mark or better: no order, no noise
        self._internal_order(FUND, symbol, p.size < 0, abs(p.size), price, out, seq, ts)
        self._settle(out, seq, ts)

    # -- Sentinel commands -------------------------------------------------------------

    def _mark_price(self, cmd: MarkPrice, out: list[Any]) -> None:
        s = self.sentinel
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
        seq, ts = cmd.seq, cmd.ts
        s.marks[symbol] = price
        s.funding_rate[symbol] = rate
        self._run(SetMarkPrice(seq, ts, symbol, price), out)
        interval = s.contracts[symbol].funding_interval
        due = s.next_funding.get(symbol)
        if due is not None and ts >= due:
            s.settle_funding(symbol, out, seq, ts)
        if due is None or ts >= due:
            s.next_funding[symbol] = (ts // interval + 1) * interval
        for key in s.pop_crossed(symbol, price):
            s.dirty[key] = None
        self._settle(out, seq, ts)
        self._unwind_fund(symbol, out, seq, ts)

    def _account_reason(self, account: Any) -> Refusal | None:
        if type(account) is not int or not 0 <= account <= MAX_VALUE:
            return Refusal.INVALID_ACCOUNT
        if account == FUND:
            return Refusal.RESERVED_ACCOUNT
        return None

    def _money_reason(self, cmd: Deposit | Withdraw) -> Refusal | None:
        reason = self._account_reason(cmd.account)
        if reason is not None:
            return reason
        if type(cmd.asset) is not str or cmd.asset not in self.sentinel.assets:
            return Refusal.UNKNOWN_ASSET
        if type(cmd.amount) is not int or not 0 < cmd.amount <= MAX_VALUE:
            return Refusal.INVALID_AMOUNT
        return None

    def _deposit(self, cmd: Deposit, out: list[Any]) -> None:
        s = self.sentinel
        reason = self._money_reason(cmd)
        w = s.wallets.get((cmd.account, cmd.asset)) if reason is None else None
        if reason is None and (
            max(w.balance if w is not None else 0, 0) + cmd.amount > MAX_DEPOSITS
            or s.net_deposits[cmd.asset] + cmd.amount > MAX_DEPOSITS
        ):
            reason = Refusal.INVALID_AMOUNT
        if reason is not None:
            return self._refuse(cmd, reason, out)
        s.net_deposits[cmd.asset] += cmd.amount
        s.credit(
            s.wallet(cmd.account, cmd.asset),
            cmd.amount,
            BalanceReason.DEPOSIT,
            out,
            cmd.seq,
            cmd.ts,
        )
        self._settle(out, cmd.seq, cmd.ts)

    def _withdraw(self, cmd: Withdraw, out: list[Any]) -> None:
        s = self.sentinel
        reason = self._money_reason(cmd)
        w = s.wallets.get((cmd.account, cmd.asset)) if reason is None else None
        if reason is None:
            if w is None or cmd.amount > w.balance:
                reason = Refusal.INSUFFICIENT_BALANCE
            elif cmd.amount > s.available(w, for_withdrawal=True):
                reason = Refusal.WITHDRAW_BREACHES_MARGIN
        if reason is not None or w is None:
            return self._refuse(cmd, reason or Refusal.INSUFFICIENT_BALANCE, out)
        s.net_deposits[cmd.asset] -= cmd.amount
        s.credit(w, -cmd.amount, BalanceReason.WITHDRAW, out, cmd.seq, cmd.ts)
        self._settle(out, cmd.seq, cmd.ts)

    def _symbol_reason(self, cmd: SetLeverage | SetMarginType) -> Refusal | None:
        reason = self._account_reason(cmd.account)
        if reason is None and (
            type(cmd.symbol) is not str or cmd.symbol not in self.sentinel.contracts
        ):
            reason = Refusal.UNKNOWN_SYMBOL
        return reason

    def _set_leverage(self, cmd: SetLeverage, out: list[Any]) -> None:
        """Binance rules: 1 <= leverage <= the first bracket's maximum; the position's
        notional must be allowed at the new leverage; an isolated position's leverage is
        fixed while it is open; a cross account must keep a non-negative available
        balance when the leverage goes down."""
        s = self.sentinel
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
        if w is not None and lev < old_lev:
            s.store_settings(cmd.account, cmd.symbol, lev, isolated)
            short = s.available(w) < 0
            s.store_settings(cmd.account, cmd.symbol, old_lev, isolated)
            if short:
                return self._refuse(cmd, Refusal.INSUFFICIENT_MARGIN, out)
        s.store_settings(cmd.account, cmd.symbol, lev, isolated)
        out.append(LeverageSet(cmd.seq, cmd.ts, cmd.account, cmd.symbol, lev))

    def _set_margin_type(self, cmd: SetMarginType, out: list[Any]) -> None:
        s = self.sentinel
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
