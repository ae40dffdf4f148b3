"""The REST endpoints' logic: Binance's parameters in, sequencer inputs, Binance's JSON out.

Rules
-----
- A request that changes state becomes one or more sequencer inputs
  (:meth:`Sequencer.request`), stamped with the key's account, never an account taken
  from the request; its answer is built only once the input's record is durable.
- A request that only reads computes its answer from the venue as it stands (state up
  to ``last_seq``) and the durable read model, then waits until ``last_seq`` is durable
  before answering (:meth:`Sequencer.durable`): nothing a client sees can be lost.
- Every parameter is checked before anything is submitted (:mod:`exchange.gateway.params`);
  the engines check the rest, and their rejections map to Binance's codes
  (:mod:`exchange.gateway.errors`). A refused request changes no state; a request the
  engines reject is journaled as the input it was (the audit shows it) and changes
  nothing either.
- Conditional orders (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET) are placed
  through ``/fapi/v1/algoOrder``; on ``/fapi/v1/order`` they get -4120, as on Binance
  since 2025-12-09. A triggered algo order works under the same id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from exchange.gateway.errors import (
    CANCEL_REJECTED,
    FOK_ORDER_REJECT,
    INVALID_ORDER_TYPE,
    NO_NEED_TO_CHANGE_MARGIN_TYPE,
    NO_NEED_TO_CHANGE_POSITION_SIDE,
    NO_SUCH_ORDER,
    OPTIONAL_PARAMS_BAD_COMBO,
    UNSUPPORTED_OPERATION,
    USE_ALGO_ORDER_API,
    ApiError,
    invalid,
    missing,
    sentinel_error,
    titan_error,
)
from exchange.gateway.history import History, OrderRow
from exchange.gateway.limits import LimitSettings
from exchange.gateway.params import SIGNED, Params
from exchange.gateway.wire import JSON, MAX_NUM_ALGO_ORDERS, MAX_NUM_ORDERS, Wire, money, rate
from exchange.runtime.sequencer import Sequencer
from sentinel.commands import Deposit, SetLeverage, SetMarginType, Withdraw
from sentinel.events import Refused
from sentinel.units import MONEY_DECIMALS
from titan.commands import Amend, Cancel, NewOrder
from titan.enums import (
    CONDITIONAL_TYPES,
    ExpireReason,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
    WorkingType,
)
from titan.events import Expired, Rejected
from venue.types import Command, Event
from venue.venue import Venue

STP_MODES = [m.value for m in StpMode]
TIFS = [t.value for t in TimeInForce]
ALGO_TYPES = sorted(t.value for t in CONDITIONAL_TYPES)
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
ORDER_LIST_LIMIT = 1000


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the account its key belongs to (0: a public request)."""

    account: int
    ip: str


Handler = Callable[[Params, Caller], Awaitable[JSON | list[JSON]]]


class Rest:
    """The endpoints (see the module rules); :attr:`routes` is what the server serves."""

    def __init__(
        self,
        seq: Sequencer,
        venue: Venue,
        history: History,
        wire: Wire,
        limits: LimitSettings,
        clock_ms: Callable[[], int],
    ) -> None:
        self.seq = seq
        self.venue = venue
        self.history = history
        self.wire = wire
        self.limits = limits
        self.clock_ms = clock_ms
        self.symbols = list(wire.contracts)
        #: (method, path) -> (handler, security, weight, counts as an order)
        self.routes: dict[tuple[str, str], tuple[Handler, str, int, bool]] = {}
        v1 = "/fapi/v1/"
        for method, path, handler, security, weight, order in (
            ("GET", v1 + "ping", self.ping, "public", 1, False),
            ("GET", v1 + "time", self.time, "public", 1, False),
            ("GET", v1 + "exchangeInfo", self.exchange_info, "public", 1, False),
            ("GET", v1 + "depth", self.depth, "public", 5, False),
            ("GET", v1 + "premiumIndex", self.premium_index, "public", 1, False),
            ("GET", v1 + "ticker/price", self.ticker_price, "public", 1, False),
            ("GET", "/fapi/v2/ticker/price", self.ticker_price, "public", 1, False),
            ("GET", v1 + "ticker/bookTicker", self.book_ticker, "public", 2, False),
            ("POST", v1 + "order", self.new_order, "signed", 0, True),
            ("PUT", v1 + "order", self.amend_order, "signed", 0, True),
            ("DELETE", v1 + "order", self.cancel_order, "signed", 1, False),
            ("GET", v1 + "order", self.query_order, "signed", 1, False),
            ("GET", v1 + "openOrder", self.query_open_order, "signed", 1, False),
            ("GET", v1 + "openOrders", self.open_orders, "signed", 1, False),
            ("DELETE", v1 + "allOpenOrders", self.cancel_all, "signed", 1, False),
            ("GET", v1 + "allOrders", self.all_orders, "signed", 5, False),
            ("POST", v1 + "algoOrder", self.new_algo_order, "signed", 0, True),
            ("DELETE", v1 + "algoOrder", self.cancel_algo_order, "signed", 1, False),
            ("GET", v1 + "algoOrder", self.query_algo_order, "signed", 1, False),
            ("GET", v1 + "openAlgoOrders", self.open_algo_orders, "signed", 1, False),
            ("DELETE", v1 + "algoOpenOrders", self.cancel_all_algo, "signed", 1, False),
            ("GET", v1 + "userTrades", self.user_trades, "signed", 5, False),
            ("POST", v1 + "leverage", self.leverage, "signed", 1, False),
            ("POST", v1 + "marginType", self.margin_type, "signed", 1, False),
            ("POST", v1 + "positionMargin", self.position_margin, "signed", 1, False),
            ("GET", v1 + "leverageBracket", self.leverage_bracket, "signed", 1, False),
            ("GET", "/fapi/v2/account", self.account_v2, "signed", 5, False),
            ("GET", "/fapi/v3/account", self.account_v3, "signed", 5, False),
            ("GET", "/fapi/v2/balance", self.balance, "signed", 5, False),
            ("GET", "/fapi/v3/balance", self.balance, "signed", 5, False),
            ("GET", "/fapi/v2/positionRisk", self.position_risk_v2, "signed", 5, False),
            ("GET", "/fapi/v3/positionRisk", self.position_risk_v3, "signed", 5, False),
            ("GET", v1 + "income", self.income, "signed", 30, False),
            ("GET", v1 + "commissionRate", self.commission_rate, "signed", 20, False),
            ("GET", v1 + "positionSide/dual", self.get_dual, "signed", 30, False),
            ("POST", v1 + "positionSide/dual", self.set_dual, "signed", 1, False),
        ):
            self.routes[(method, path)] = (handler, security, weight, order)

    # -- helpers ------------------------------------------------------------------------

    async def _read(self) -> None:
        """Wait until the state the answer was computed from is durable."""
        await self.seq.durable(self.seq.last_seq)

    async def _submit(self, cmd: Command) -> tuple[int, list[Event]]:
        return await self.seq.request(cmd)

    def _row(self, account: int, p: Params, id_name: str, cid_name: str) -> OrderRow | None:
        if p.has(id_name):
            return self.history.order(account, order_id=p.integer(id_name, 1))
        if p.has(cid_name):
            return self.history.order(account, client_order_id=p.text(cid_name))
        raise missing(f"{id_name}' or '{cid_name}")

    def _refusal(
        self, events: list[Event], orders_open: bool = False, price: int = 0
    ) -> ApiError | None:
        """The error of a refused or rejected input (``price``: the order's, to tell a
        band rejection above the mark from one below), or None."""
        for ev in events:
            if type(ev) is Refused:
                return sentinel_error(ev.reason, orders_open=orders_open)
            if type(ev) is Rejected:
                mark = (
                    self.venue.titan.mark_price(ev.symbol)
                    if ev.symbol in self.wire.contracts
                    else 0
                )
                return titan_error(ev.reason, above_mark=price > mark if price and mark else None)
        return None

    # -- public -------------------------------------------------------------------------

    async def ping(self, p: Params, who: Caller) -> JSON:
        p.allow(())
        return {}

    async def time(self, p: Params, who: Caller) -> JSON:
        p.allow(())
        return {"serverTime": self.clock_ms()}

    async def exchange_info(self, p: Params, who: Caller) -> JSON:
        p.allow(())
        return self.wire.exchange_info(self.limits, self.clock_ms())

    async def depth(self, p: Params, who: Caller) -> JSON:
        p.allow(("symbol", "limit"))
        symbol = p.symbol(self.symbols)
        limit = p.integer("limit", 1, 1000, required=False, default=500)
        if limit not in DEPTH_LIMITS:
            raise invalid("limit", "one of 5, 10, 20, 50, 100, 500, 1000")
        book = self.venue.titan.depth(symbol, limit)
        at = self.seq.last_seq
        w = self.wire
        out = {
            "lastUpdateId": at,
            "E": self.clock_ms(),
            "T": self.seq.last_ts,
            "bids": [[w.price(symbol, lv.price), w.qty(symbol, lv.qty)] for lv in book.bids],
            "asks": [[w.price(symbol, lv.price), w.qty(symbol, lv.qty)] for lv in book.asks],
        }
        await self._read()
        return out

    async def _each(self, p: Params, one: Callable[[str], JSON]) -> JSON | list[JSON]:
        """A per-symbol answer: of ``symbol``, or a list of every symbol's without it."""
        p.allow(("symbol",))
        symbol = p.symbol(self.symbols, required=False)
        out: JSON | list[JSON] = one(symbol) if symbol else [one(s) for s in self.symbols]
        await self._read()
        return out

    def _premium(self, symbol: str) -> JSON:
        ledger, w = self.venue.ledger, self.wire
        mark = ledger.marks.get(symbol, 0)
        return {
            "symbol": symbol,
            "markPrice": w.price(symbol, mark),
            "indexPrice": w.price(symbol, mark),
            "estimatedSettlePrice": w.price(symbol, mark),
            "lastFundingRate": rate(ledger.funding_rate.get(symbol, 0)),
            "interestRate": "0.00010000",
            "nextFundingTime": ledger.next_funding.get(symbol, 0),
            "time": self.seq.last_ts,
        }

    async def premium_index(self, p: Params, who: Caller) -> JSON | list[JSON]:
        return await self._each(p, self._premium)

    def _price(self, symbol: str) -> JSON:
        last = self.venue.titan.last_price(symbol)
        return {"symbol": symbol, "price": self.wire.price(symbol, last), "time": self.seq.last_ts}

    async def ticker_price(self, p: Params, who: Caller) -> JSON | list[JSON]:
        return await self._each(p, self._price)

    def _book_ticker(self, symbol: str) -> JSON:
        titan, w = self.venue.titan, self.wire
        bid, ask = titan.best_bid(symbol), titan.best_ask(symbol)
        return {
            "symbol": symbol,
            "bidPrice": w.price(symbol, bid.price if bid else 0),
            "bidQty": w.qty(symbol, bid.qty if bid else 0),
            "askPrice": w.price(symbol, ask.price if ask else 0),
            "askQty": w.qty(symbol, ask.qty if ask else 0),
            "time": self.seq.last_ts,
            "lastUpdateId": self.seq.last_seq,
        }

    async def book_ticker(self, p: Params, who: Caller) -> JSON | list[JSON]:
        return await self._each(p, self._book_ticker)

    # -- orders -------------------------------------------------------------------------

    ORDER_PARAMS = (
        "symbol", "side", "type", "timeInForce", "quantity", "price", "reduceOnly",
        "newClientOrderId", "selfTradePreventionMode", "newOrderRespType", "positionSide",
        "priceMatch", "goodTillDate", "closePosition", "priceProtect", "workingType",
        *SIGNED,
    )  # fmt: skip

    def _common(self, p: Params) -> tuple[str, Side, int, bool, str]:
        symbol = p.symbol(self.symbols)
        side = Side(p.choice("side", ("BUY", "SELL")))
        if p.text("positionSide", False, "BOTH") != "BOTH":
            raise ApiError(-4061, "Order's position side does not match user's setting.")
        if p.text("priceMatch", False, "NONE") != "NONE":
            raise invalid("priceMatch", "only NONE: price matching is not supported")
        if p.has("goodTillDate") or p.boolean("closePosition"):
            raise ApiError(
                OPTIONAL_PARAMS_BAD_COMBO,
                "goodTillDate and closePosition are not supported by this exchange.",
            )
        p.boolean("priceProtect")
        spec = self.wire.spec(symbol)
        qty = p.units("quantity", spec.qty_decimals)
        reduce_only = p.boolean("reduceOnly")
        stp = p.choice("selfTradePreventionMode", STP_MODES, required=False, default="NONE")
        return symbol, side, qty, reduce_only, stp

    def _open_limit(self, account: int, symbol: str, algo: bool) -> None:
        rows = [r for r in self.history.open_orders(account, symbol) if r.algo == algo]
        if len(rows) >= (MAX_NUM_ALGO_ORDERS if algo else MAX_NUM_ORDERS):
            raise ApiError(-2025, "Reach max open order limit.")

    async def _place(self, cmd: NewOrder, account: int) -> OrderRow:
        seq, events = await self._submit(cmd)
        refusal = self._refusal(events, price=cmd.price)
        if refusal is not None:
            raise refusal
        for ev in events:  # refused at entry on Binance; accepted and expired here
            if type(ev) is Expired and ev.order_id == seq:
                if ev.reason is ExpireReason.POST_ONLY_WOULD_TAKE:
                    raise titan_error("POST_ONLY_WOULD_TAKE")
                if ev.reason is ExpireReason.FOK_NOT_FILLABLE:
                    raise ApiError(
                        FOK_ORDER_REJECT,
                        "Due to the order could not be filled immediately, the FOK order has "
                        "been rejected. The order will not be recorded in the order history",
                    )
        row = self.history.order(account, order_id=seq)
        if row is None:  # accepted and gone in one record, and not kept: should not happen
            raise ApiError(-1000, f"order {seq} was executed but is not in the history")
        return row

    async def new_order(self, p: Params, who: Caller) -> JSON:
        p.allow(self.ORDER_PARAMS)
        kind = p.text("type")
        if kind in ALGO_TYPES or kind == "TRAILING_STOP_MARKET":
            raise ApiError(
                USE_ALGO_ORDER_API,
                "Order type not supported for this endpoint. Please use the Algo Order API "
                "endpoints instead.",
            )
        if kind not in ("LIMIT", "MARKET"):
            raise ApiError(INVALID_ORDER_TYPE, "Invalid orderType.")
        symbol, side, qty, reduce_only, stp = self._common(p)
        spec = self.wire.spec(symbol)
        resp = p.choice("newOrderRespType", ("ACK", "RESULT"), required=False, default="ACK")
        cid = p.client_id("newClientOrderId")
        if kind == "LIMIT":
            tif = TimeInForce(p.choice("timeInForce", TIFS))
            price = p.units("price", spec.price_decimals)
            otype = OrderType.LIMIT
        else:
            if p.has("price"):
                raise ApiError(-1106, "Parameter 'price' sent when not required.")
            tif = TimeInForce(p.choice("timeInForce", ("GTC", "IOC", "FOK"), False, "GTC"))
            tif = TimeInForce.IOC if tif is TimeInForce.GTC else tif
            price, otype = 0, OrderType.MARKET
        self._open_limit(who.account, symbol, algo=False)
        cmd = NewOrder(
            0, 0, symbol, who.account, 0, side, qty, price, otype, tif,
            reduce_only=reduce_only, client_order_id=cid,
            stp=StpMode(stp),
        )  # fmt: skip
        row = await self._place(cmd, who.account)
        return self.wire.order(row) if resp == "RESULT" else self.wire.order_ack(row)

    async def new_algo_order(self, p: Params, who: Caller) -> JSON:
        p.allow(
            (
                *[n for n in self.ORDER_PARAMS if n not in ("newClientOrderId", "type")],
                "algoType",
                "type",
                "triggerPrice",
                "clientAlgoId",
                "activatePrice",
                "callbackRate",
                "newOrderRespType",
            )  # fmt: skip
        )
        if p.text("algoType") != "CONDITIONAL":
            raise invalid("algoType", "CONDITIONAL")
        kind = p.text("type")
        if kind == "TRAILING_STOP_MARKET":
            raise ApiError(
                INVALID_ORDER_TYPE, "TRAILING_STOP_MARKET is not supported by this exchange."
            )
        if kind not in ALGO_TYPES:
            raise ApiError(INVALID_ORDER_TYPE, "Invalid orderType.")
        symbol, side, qty, reduce_only, stp = self._common(p)
        spec = self.wire.spec(symbol)
        trigger = p.units("triggerPrice", spec.price_decimals)
        working = WorkingType(
            p.choice("workingType", ("CONTRACT_PRICE", "MARK_PRICE"), False, "CONTRACT_PRICE")
        )
        cid = p.client_id("clientAlgoId")
        otype = OrderType(kind)
        if otype in (OrderType.STOP, OrderType.TAKE_PROFIT):
            tif = TimeInForce(p.choice("timeInForce", TIFS, False, "GTC"))
            price = p.units("price", spec.price_decimals)
        else:
            if p.has("price"):
                raise ApiError(-1106, "Parameter 'price' sent when not required.")
            tif, price = TimeInForce.IOC, 0
        self._open_limit(who.account, symbol, algo=True)
        cmd = NewOrder(
            0, 0, symbol, who.account, 0, side, qty, price, otype, tif, trigger, working,
            reduce_only, cid, StpMode(stp),
        )  # fmt: skip
        row = await self._place(cmd, who.account)
        return self.wire.algo_order(row)

    AMEND_PARAMS = (
        "symbol",
        "orderId",
        "origClientOrderId",
        "side",
        "quantity",
        "price",
        "priceMatch",
        *SIGNED,
    )

    async def amend_order(self, p: Params, who: Caller) -> JSON:
        p.allow(self.AMEND_PARAMS)
        symbol = p.symbol(self.symbols)
        spec = self.wire.spec(symbol)
        side = p.choice("side", ("BUY", "SELL"))
        qty = p.units("quantity", spec.qty_decimals)
        price = p.units("price", spec.price_decimals)
        if p.text("priceMatch", False, "NONE") != "NONE":
            raise invalid("priceMatch", "only NONE")
        row = self._row(who.account, p, "orderId", "origClientOrderId")
        if row is None or row.symbol != symbol:
            raise ApiError(NO_SUCH_ORDER, "Order does not exist.")
        if row.side != side:
            raise invalid("side", f"the order is a {row.side} order")
        if not row.is_open:
            raise ApiError(-4000, "Invalid order status.")
        if qty <= row.executed_qty:
            raise invalid("quantity", "more than the quantity already executed")
        _, events = await self._submit(
            Amend(0, 0, symbol, who.account, row.order_id, price, qty - row.executed_qty)
        )
        refusal = self._refusal(events, price=price)
        if refusal is not None:
            raise refusal
        return self.wire.order(row)

    async def _cancel(self, account: int, symbol: str, row: OrderRow) -> OrderRow:
        _, events = await self._submit(Cancel(0, 0, symbol, account, row.order_id))
        for ev in events:
            if type(ev) is Rejected:
                raise ApiError(CANCEL_REJECTED, "Unknown order sent.")
        return row

    async def cancel_order(self, p: Params, who: Caller) -> JSON:
        p.allow(("symbol", "orderId", "origClientOrderId", *SIGNED))
        symbol = p.symbol(self.symbols)
        row = self._row(who.account, p, "orderId", "origClientOrderId")
        if row is None or row.symbol != symbol or not row.is_open or row.algo:
            raise ApiError(CANCEL_REJECTED, "Unknown order sent.")
        return self.wire.order(await self._cancel(who.account, symbol, row))

    async def cancel_algo_order(self, p: Params, who: Caller) -> JSON:
        p.allow(("symbol", "algoId", "clientAlgoId", *SIGNED))
        symbol = p.symbol(self.symbols, required=False)
        row = self._row(who.account, p, "algoId", "clientAlgoId")
        if (
            row is None
            or not row.conditional
            or row.triggered
            or not row.is_open
            or (symbol and row.symbol != symbol)
        ):
            raise ApiError(CANCEL_REJECTED, "Unknown order sent.")
        await self._cancel(who.account, row.symbol, row)
        return {
            "algoId": row.order_id,
            "clientAlgoId": row.client_order_id,
            "code": "200",
            "msg": "success",
        }

    async def _cancel_all(self, p: Params, who: Caller, algo: bool) -> JSON:
        """Cancel the open regular (or algo) orders of a symbol, one input each: Titan's
        CancelAll would take both kinds, Binance's endpoints take one kind each."""
        p.allow(("symbol", *SIGNED))
        symbol = p.symbol(self.symbols)
        for row in self.history.open_orders(who.account, symbol):
            if row.algo == algo:
                await self._submit(Cancel(0, 0, symbol, who.account, row.order_id))
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    async def cancel_all(self, p: Params, who: Caller) -> JSON:
        return await self._cancel_all(p, who, algo=False)

    async def cancel_all_algo(self, p: Params, who: Caller) -> JSON:
        return await self._cancel_all(p, who, algo=True)

    async def query_order(self, p: Params, who: Caller) -> JSON:
        p.allow(("symbol", "orderId", "origClientOrderId", *SIGNED))
        symbol = p.symbol(self.symbols)
        row = self._row(who.account, p, "orderId", "origClientOrderId")
        if row is None or row.symbol != symbol or row.algo:
            raise ApiError(NO_SUCH_ORDER, "Order does not exist.")
        out = self.wire.order(row)
        await self._read()
        return out

    async def query_open_order(self, p: Params, who: Caller) -> JSON:
        p.allow(("symbol", "orderId", "origClientOrderId", *SIGNED))
        symbol = p.symbol(self.symbols)
        row = self._row(who.account, p, "orderId", "origClientOrderId")
        if row is None or row.symbol != symbol or not row.is_open or row.algo:
            raise ApiError(-2013, "Order does not exist.")
        out = self.wire.order(row)
        await self._read()
        return out

    async def query_algo_order(self, p: Params, who: Caller) -> JSON:
        p.allow(("algoId", "clientAlgoId", *SIGNED))
        row = self._row(who.account, p, "algoId", "clientAlgoId")
        if row is None or not row.conditional:
            raise ApiError(NO_SUCH_ORDER, "Order does not exist.")
        out = self.wire.algo_order(row)
        await self._read()
        return out

    async def open_orders(self, p: Params, who: Caller) -> list[JSON]:
        p.allow(("symbol", *SIGNED))
        symbol = p.symbol(self.symbols, required=False)
        rows = [
            self.wire.order(r) for r in self.history.open_orders(who.account, symbol) if not r.algo
        ]
        await self._read()
        return rows

    async def open_algo_orders(self, p: Params, who: Caller) -> list[JSON]:
        p.allow(("symbol", "algoType", *SIGNED))
        symbol = p.symbol(self.symbols, required=False)
        rows = [
            self.wire.algo_order(r) for r in self.history.open_orders(who.account, symbol) if r.algo
        ]
        await self._read()
        return rows

    def _window(self, p: Params) -> tuple[int, int, int]:
        start = p.integer("startTime", 0, required=False)
        end = p.integer("endTime", 0, required=False, default=(1 << 62))
        limit = p.integer("limit", 1, ORDER_LIST_LIMIT, required=False, default=500)
        if start and end and end < start:
            raise invalid("endTime", "not before startTime")
        return start, end, limit

    async def all_orders(self, p: Params, who: Caller) -> list[JSON]:
        p.allow(("symbol", "orderId", "startTime", "endTime", "limit", *SIGNED))
        symbol = p.symbol(self.symbols)
        start, end, limit = self._window(p)
        from_id = p.integer("orderId", 0, required=False)
        rows = [
            r
            for r in self.history.all_orders(who.account, symbol)
            if r.order_id >= from_id and start <= r.time <= end and not r.algo
        ]
        out = [self.wire.order(r) for r in (rows[:limit] if from_id else rows[-limit:])]
        await self._read()
        return out

    async def user_trades(self, p: Params, who: Caller) -> list[JSON]:
        p.allow(("symbol", "orderId", "startTime", "endTime", "fromId", "limit", *SIGNED))
        symbol = p.symbol(self.symbols)
        start, end, limit = self._window(p)
        order_id = p.integer("orderId", 1, required=False)
        from_id = p.integer("fromId", 0, required=False)
        quote = self.wire.contracts[symbol].quote
        rows = [
            t
            for t in self.history.trades(who.account, symbol)
            if start <= t.time <= end
            and (not order_id or t.order_id == order_id)
            and t.trade_id >= from_id
        ]
        out = [self.wire.trade(t, quote) for t in (rows[:limit] if from_id else rows[-limit:])]
        await self._read()
        return out

    async def income(self, p: Params, who: Caller) -> list[JSON]:
        p.allow(("symbol", "incomeType", "startTime", "endTime", "page", "limit", *SIGNED))
        symbol = p.symbol(self.symbols, required=False)
        kind = p.text("incomeType", False)
        start, end, _ = self._window(p)
        limit = p.integer("limit", 1, 1000, required=False, default=100)
        p.integer("page", 1, required=False)
        rows = [
            r
            for r in self.history.income(who.account)
            if (not symbol or r.symbol == symbol)
            and (not kind or r.income_type == kind)
            and start <= r.time <= end
        ]
        out = [self.wire.income(r) for r in rows[:limit]]
        await self._read()
        return out

    # -- account settings ---------------------------------------------------------------

    async def leverage(self, p: Params, who: Caller) -> JSON:
        p.allow(("symbol", "leverage", *SIGNED))
        symbol = p.symbol(self.symbols)
        lev = p.integer("leverage", 1, 125)
        _, events = await self._submit(SetLeverage(0, 0, who.account, symbol, lev))
        refusal = self._refusal(events)
        if refusal is not None:
            raise refusal
        c = self.wire.contracts[symbol]
        return {
            "leverage": lev,
            "maxNotionalValue": money(c.brackets.max_notional(lev)).rstrip("0").rstrip("."),
            "symbol": symbol,
        }

    async def margin_type(self, p: Params, who: Caller) -> JSON:
        p.allow(("symbol", "marginType", *SIGNED))
        symbol = p.symbol(self.symbols)
        kind = p.choice("marginType", ("ISOLATED", "CROSSED"))
        ledger = self.venue.ledger
        w = ledger.wallet_view(who.account, self.wire.contracts[symbol].quote)
        if ledger.settings(w, symbol)[1] == (kind == "ISOLATED"):
            raise ApiError(NO_NEED_TO_CHANGE_MARGIN_TYPE, "No need to change margin type.")
        orders_open = bool(self.venue.titan.open_orders(who.account, symbol))
        _, events = await self._submit(SetMarginType(0, 0, who.account, symbol, kind == "ISOLATED"))
        refusal = self._refusal(events, orders_open=orders_open)
        if refusal is not None:
            raise refusal
        return {"code": 200, "msg": "success"}

    async def position_margin(self, p: Params, who: Caller) -> JSON:
        raise ApiError(
            UNSUPPORTED_OPERATION,
            "Adjusting an isolated position's margin is not supported by this exchange "
            "(its margin is set by leverage when the position opens).",
        )

    async def leverage_bracket(self, p: Params, who: Caller) -> JSON | list[JSON]:
        p.allow(("symbol", *SIGNED))
        symbol = p.symbol(self.symbols, required=False)
        if symbol:
            return self.wire.leverage_brackets(symbol)
        return [self.wire.leverage_brackets(s) for s in self.symbols]

    async def get_dual(self, p: Params, who: Caller) -> JSON:
        p.allow(SIGNED)
        return {"dualSidePosition": False}

    async def set_dual(self, p: Params, who: Caller) -> JSON:
        p.allow(("dualSidePosition", *SIGNED))
        if not p.boolean("dualSidePosition"):
            raise ApiError(NO_NEED_TO_CHANGE_POSITION_SIDE, "No need to change position side.")
        raise ApiError(
            UNSUPPORTED_OPERATION, "Hedge mode is not supported: this exchange runs one-way mode."
        )

    async def commission_rate(self, p: Params, who: Caller) -> JSON:
        p.allow(("symbol", *SIGNED))
        symbol = p.symbol(self.symbols)
        c = self.wire.contracts[symbol]
        return {
            "symbol": symbol,
            "makerCommissionRate": rate(c.maker_fee),
            "takerCommissionRate": rate(c.taker_fee),
            "rpiCommissionRate": rate(c.maker_fee),
        }

    # -- account and positions ----------------------------------------------------------

    async def _account(self, p: Params, who: Caller, version: int) -> JSON:
        p.allow(SIGNED)
        out = self.wire.account(self.venue.ledger, self.history, who.account, version)
        await self._read()
        return out

    async def account_v2(self, p: Params, who: Caller) -> JSON:
        return await self._account(p, who, 2)

    async def account_v3(self, p: Params, who: Caller) -> JSON:
        return await self._account(p, who, 3)

    async def balance(self, p: Params, who: Caller) -> list[JSON]:
        p.allow(SIGNED)
        out = self.wire.balances(self.venue.ledger, self.history, who.account)
        await self._read()
        return out

    async def _positions(self, p: Params, who: Caller, version: int) -> list[JSON]:
        p.allow(("symbol", *SIGNED))
        symbol = p.symbol(self.symbols, required=False)
        out = self.wire.position_risk(self.venue.ledger, self.history, who.account, version, symbol)
        await self._read()
        return out

    async def position_risk_v2(self, p: Params, who: Caller) -> list[JSON]:
        return await self._positions(p, who, 2)

    async def position_risk_v3(self, p: Params, who: Caller) -> list[JSON]:
        return await self._positions(p, who, 3)

    # -- money in and out (the admin endpoint) -----------------------------------------

    async def transfer(self, account: int, asset: str, amount: str, deposit: bool) -> JSON:
        """A deposit or withdrawal for ``account`` (admin only), once durable."""
        if asset not in self.wire.assets:
            raise invalid("asset", f"one of {', '.join(self.wire.assets)}")
        units = Params([("amount", amount)]).units("amount", MONEY_DECIMALS)
        cmd = (Deposit if deposit else Withdraw)(0, 0, account, asset, units)
        seq, events = await self._submit(cmd)
        refusal = self._refusal(events)
        if refusal is not None:
            raise refusal
        return {"tranId": seq, "account": account, "asset": asset, "amount": money(units)}


__all__ = ["Caller", "Handler", "Rest"]
