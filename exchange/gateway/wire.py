"""Binance USDⓈ-M's wire formats: every JSON object the API sends, in one place.

Rules
-----
- Prices, quantities and money are decimal *strings* (as Binance sends them): a price
  with the symbol's price decimals, a quantity with its quantity decimals, money with 8
  decimals; ids and times (ms) are integers. Field names, nesting and enum spellings
  are Binance's, so ccxt, Binance's SDK and python-binance parse them unchanged.
- The figures are Sentinel's, to the unit: initial and maintenance margin, liquidation
  price, unrealized PnL at the mark, available balance (:class:`sentinel.ledger.Ledger`).
  The liquidation price is exact (a fraction) and shown rounded to the price decimals.
- Nothing here reads a clock or changes state: callers pass the server time.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from exchange.gateway.history import Change, History, IncomeRow, OrderRow, TradeRow
from exchange.gateway.limits import LimitSettings
from sentinel.contracts import Contract
from sentinel.ledger import Ledger, Position, Wallet
from sentinel.units import MONEY_DECIMALS, RATE_DECIMALS, RATE_ONE, ceil_div
from titan.symbols import SymbolSpec

JSON = dict[str, Any]


class AssetFigures(NamedTuple):
    """One asset of one account, in money units (what ``account`` and ``balance`` show)."""

    wallet: int  # cross wallet + isolated margins
    upnl: int
    maintenance: int
    position_im: int
    order_im: int
    cross_wallet: int
    cross_upnl: int
    available: int
    max_withdraw: int


FAR_FUTURE = 4_133_404_800_000  # Binance's deliveryDate of a perpetual (2100-12-25)
ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"]
TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX"]
MAX_NUM_ORDERS = 200  # open orders per account and symbol (Binance's MAX_NUM_ORDERS)
MAX_NUM_ALGO_ORDERS = 10
MAX_PRICE = 10**18  # price units: PRICE_FILTER's maxPrice (Titan itself bounds at 2**63 - 1)


def units(value: int, decimals: int) -> str:
    """An integer count of 10**-decimals as a fixed-point string (``150, 2 -> "1.50"``)."""
    if decimals == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    digits = str(abs(value)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def money(value: int) -> str:
    """Money units (10**-8 of the quote) as Binance writes balances: 8 decimals."""
    return units(value, MONEY_DECIMALS)


def rate(value: int) -> str:
    return units(value, RATE_DECIMALS)


def exact(value: Fraction, decimals: int) -> str:
    """An exact value (price units as a fraction) rounded half-even to ``decimals``."""
    scaled = Decimal(value.numerator) / Decimal(value.denominator)
    return str(scaled.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN))


class Wire:
    """Binance's objects for one set of contracts (see the module rules)."""

    def __init__(self, contracts: list[Contract]) -> None:
        self.contracts = {c.spec.symbol: c for c in contracts}
        self.assets = sorted({c.quote for c in contracts})

    def spec(self, symbol: str) -> SymbolSpec:
        return self.contracts[symbol].spec

    def price(self, symbol: str, value: int) -> str:
        return units(value, self.contracts[symbol].spec.price_decimals)

    def price_exact(self, symbol: str, value: Fraction) -> str:
        """An exact price in price units (a fraction), rounded half-even to the decimals."""
        decimals = self.contracts[symbol].spec.price_decimals
        return exact(value / 10**decimals, decimals)

    def entry_price(self, symbol: str, size: int, cost: int) -> str:
        """A position's entry price, cost / size, in the quote ("0..." when flat)."""
        if not size:
            return self.price(symbol, 0)
        return self.price_exact(symbol, Fraction(cost, size * self.contracts[symbol].scale))

    def qty(self, symbol: str, value: int) -> str:
        return units(value, self.contracts[symbol].spec.qty_decimals)

    def notional(self, symbol: str, value: int) -> str:
        """A Titan notional (price units x quantity units) in the quote, 8 decimals."""
        return money(value * self.contracts[symbol].scale)

    def avg_price(self, symbol: str, cum_quote: int, qty: int) -> str:
        """cumQuote / executedQty in price units, rounded half-even; "0" with no fill."""
        if not qty:
            return self.price(symbol, 0)
        return self.price_exact(symbol, Fraction(cum_quote, qty))

    # -- market data --------------------------------------------------------------------

    def exchange_info(self, limits: LimitSettings, server_time: int) -> JSON:
        return {
            "timezone": "UTC",
            "serverTime": server_time,
            "futuresType": "U_MARGINED",
            "rateLimits": limits.rate_limits(),
            "exchangeFilters": [],
            "assets": [
                {"asset": a, "marginAvailable": True, "autoAssetExchange": "-10000"}
                for a in self.assets
            ],
            "symbols": [self.symbol_info(c) for c in self.contracts.values()],
        }

    def symbol_info(self, c: Contract) -> JSON:
        spec = c.spec
        base = spec.symbol[: -len(c.quote)] if spec.symbol.endswith(c.quote) else spec.symbol
        p, q = spec.price_decimals, spec.qty_decimals
        band = spec.band_bps
        filters: list[JSON] = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": units(spec.tick, p),
                "maxPrice": units(MAX_PRICE, p),
                "tickSize": units(spec.tick, p),
            },
            {
                "filterType": "LOT_SIZE",
                "stepSize": units(spec.lot, q),
                "maxQty": units(spec.max_qty or 10**15, q),
                "minQty": units(spec.lot, q),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "stepSize": units(spec.lot, q),
                "maxQty": units(spec.max_qty or 10**15, q),
                "minQty": units(spec.lot, q),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": MAX_NUM_ORDERS},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": MAX_NUM_ALGO_ORDERS},
            {"filterType": "MIN_NOTIONAL", "notional": units(spec.min_notional, p + q)},
        ]
        if band:
            filters.append(
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": units(10_000 + band, 4),
                    "multiplierDown": units(10_000 - band, 4),
                    "multiplierDecimal": "4",
                }
            )
        first = c.brackets.brackets[0]
        return {
            "symbol": spec.symbol,
            "pair": spec.symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": FAR_FUTURE,
            "onboardDate": 1_569_398_400_000,
            "status": "TRADING",
            "maintMarginPercent": units(first.mmr * 100 // 10**4, 4),
            "requiredMarginPercent": units(RATE_ONE * 100 // first.max_leverage // 10**4, 4),
            "baseAsset": base,
            "quoteAsset": c.quote,
            "marginAsset": c.quote,
            "pricePrecision": p,
            "quantityPrecision": q,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "triggerProtect": "0.0500",
            "liquidationFee": rate(c.liquidation_fee),
            "marketTakeBound": units(band, 4) if band else "0.05",
            "maxMoveOrderLimit": 10_000,
            "filters": filters,
            "orderTypes": ORDER_TYPES,
            "timeInForce": TIME_IN_FORCE,
            "permissionSets": [],
        }

    def leverage_brackets(self, symbol: str) -> JSON:
        c = self.contracts[symbol]
        return {
            "symbol": symbol,
            "notionalCoef": 1.0,
            "brackets": [
                {
                    "bracket": b.number,
                    "initialLeverage": b.max_leverage,
                    "notionalCap": float(Decimal(b.cap).scaleb(-MONEY_DECIMALS)),
                    "notionalFloor": float(Decimal(b.floor).scaleb(-MONEY_DECIMALS)),
                    "maintMarginRatio": float(Decimal(b.mmr).scaleb(-RATE_DECIMALS)),
                    "cum": float(Decimal(b.cum).scaleb(-MONEY_DECIMALS)),
                }
                for b in c.brackets.brackets
            ],
        }

    # -- orders -------------------------------------------------------------------------

    def order(self, row: OrderRow) -> JSON:
        """An order as ``GET /fapi/v1/order`` returns it (POST/PUT/DELETE: the same)."""
        s = row.symbol
        return {
            "orderId": row.order_id,
            "symbol": s,
            "status": row.status,
            "clientOrderId": row.client_order_id,
            "price": self.price(s, row.price),
            "avgPrice": self.avg_price(s, row.cum_quote, row.executed_qty),
            "origQty": self.qty(s, row.orig_qty),
            "executedQty": self.qty(s, row.executed_qty),
            "cumQty": self.qty(s, row.executed_qty),
            "cumQuote": self.notional(s, row.cum_quote),
            "timeInForce": row.tif,
            "type": row.type,
            "reduceOnly": row.reduce_only,
            "closePosition": False,
            "side": row.side,
            "positionSide": "BOTH",
            "stopPrice": self.price(s, row.stop_price),
            "workingType": row.working_type,
            "priceProtect": False,
            "origType": row.orig_type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": row.stp,
            "goodTillDate": 0,
            "time": row.time,
            "updateTime": row.update_time,
        }

    def order_ack(self, row: OrderRow) -> JSON:
        """``newOrderRespType=ACK``: the order as it was accepted, before any fill."""
        out = self.order(row)
        s = row.symbol
        out.update(
            status="NEW",
            avgPrice=self.price(s, 0),
            executedQty=self.qty(s, 0),
            cumQty=self.qty(s, 0),
            cumQuote=self.notional(s, 0),
            updateTime=row.time,
        )
        return out

    def algo_status(self, row: OrderRow) -> str:
        if row.triggered:
            return "FINISHED" if not row.is_open else "TRIGGERED"
        if row.status == "CANCELED":
            return "CANCELED"
        if row.status in ("EXPIRED", "EXPIRED_IN_MATCH"):
            return "EXPIRED"
        return "NEW"

    def algo_order(self, row: OrderRow) -> JSON:
        """A conditional order as the Algo Service (``/fapi/v1/algoOrder``) reports it."""
        s = row.symbol
        return {
            "algoId": row.order_id,
            "clientAlgoId": row.client_order_id,
            "algoType": "CONDITIONAL",
            "orderType": row.orig_type,
            "symbol": s,
            "side": row.side,
            "positionSide": "BOTH",
            "timeInForce": row.tif,
            "quantity": self.qty(s, row.orig_qty),
            "algoStatus": self.algo_status(row),
            "actualOrderId": str(row.order_id) if row.triggered else "",
            "actualPrice": self.avg_price(s, row.cum_quote, row.executed_qty),
            "triggerPrice": self.price(s, row.stop_price),
            "price": self.price(s, row.price),
            "icebergQuantity": None,
            "tpTriggerPrice": "0.000",
            "tpPrice": "0.000",
            "slTriggerPrice": "0.000",
            "slPrice": "0.000",
            "tpOrderType": "",
            "selfTradePreventionMode": row.stp,
            "workingType": row.working_type,
            "priceMatch": "NONE",
            "closePosition": False,
            "priceProtect": False,
            "reduceOnly": row.reduce_only,
            "createTime": row.time,
            "updateTime": row.update_time,
            "triggerTime": row.trigger_time,
            "goodTillDate": 0,
        }

    def trade(self, t: TradeRow, account_quote: str) -> JSON:
        s = t.symbol
        return {
            "buyer": t.side == "BUY",
            "commission": money(t.commission),
            "commissionAsset": account_quote,
            "id": t.trade_id,
            "maker": t.maker,
            "orderId": t.order_id,
            "price": self.price(s, t.price),
            "qty": self.qty(s, t.qty),
            "quoteQty": self.notional(s, t.qty * t.price),
            "realizedPnl": money(t.realized_pnl),
            "side": t.side,
            "positionSide": "BOTH",
            "symbol": s,
            "time": t.time,
            "marginAsset": account_quote,
        }

    def income(self, row: IncomeRow) -> JSON:
        return {
            "symbol": row.symbol,
            "incomeType": row.income_type,
            "income": money(row.amount),
            "asset": row.asset,
            "info": row.income_type,
            "time": row.time,
            "tranId": row.tran_id,
            "tradeId": str(row.trade_id) if row.trade_id else "",
        }

    # -- accounts and positions ---------------------------------------------------------

    def position_fields(
        self, ledger: Ledger, w: Wallet, symbol: str, p: Position | None, update_time: int
    ) -> JSON:
        """The figures of one (possibly flat) position, shared by every version."""
        c = self.contracts[symbol]
        mark = ledger.marks.get(symbol, 0)
        leverage, isolated = ledger.settings(w, symbol)
        size = p.size if p is not None else 0
        cost = p.cost if p is not None else 0
        notional = size * mark * c.scale  # money, signed
        upnl = ledger.upnl(p) if p is not None and size else 0
        mm = ceil_div(ledger.maintenance_scaled(p), RATE_ONE) if p is not None and size else 0
        im = ledger.position_margin(w, p) if p is not None and size else 0
        order_im = ledger.order_margin(w, symbol)
        margin = p.margin if p is not None and isolated else 0
        entry = self.entry_price(symbol, size, cost)
        liq = ledger.liquidation_price(p) if p is not None and size else Fraction(0)
        ex = w.exposed(symbol)
        return {
            "symbol": symbol,
            "positionSide": "BOTH",
            "positionAmt": self.qty(symbol, size),
            "entryPrice": entry,
            "breakEvenPrice": entry,
            "markPrice": self.price(symbol, mark),
            "unRealizedProfit": money(upnl),
            "liquidationPrice": self.price_exact(symbol, liq),
            "isolatedMargin": money(margin + upnl if isolated and size else 0),
            "notional": money(notional),
            "marginAsset": c.quote,
            "isolatedWallet": money(margin),
            "initialMargin": money(im + order_im),
            "maintMargin": money(mm),
            "positionInitialMargin": money(im),
            "openOrderInitialMargin": money(order_im),
            "adl": 0,
            "bidNotional": money(ex.buy_notional * c.scale if ex is not None else 0),
            "askNotional": money(ex.sell_notional * c.scale if ex is not None else 0),
            "updateTime": update_time,
            "leverage": str(leverage),
            "marginType": "isolated" if isolated else "cross",
            "isAutoAddMargin": "false",
            "maxNotionalValue": money(c.brackets.max_notional(leverage)),
        }

    V2_POSITION = (
        "symbol", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice",
        "unRealizedProfit", "liquidationPrice", "leverage", "maxNotionalValue",
        "marginType", "isolatedMargin", "isAutoAddMargin", "positionSide", "notional",
        "isolatedWallet", "updateTime",
    )  # fmt: skip
    V3_POSITION = (
        "symbol", "positionSide", "positionAmt", "entryPrice", "breakEvenPrice",
        "markPrice", "unRealizedProfit", "liquidationPrice", "isolatedMargin", "notional",
        "marginAsset", "isolatedWallet", "initialMargin", "maintMargin",
        "positionInitialMargin", "openOrderInitialMargin", "adl", "bidNotional",
        "askNotional", "updateTime",
    )  # fmt: skip

    def position_risk(
        self, ledger: Ledger, history: History, account: int, version: int, symbol: str = ""
    ) -> list[JSON]:
        """``positionRisk``: v2 lists every symbol; v3 only those with a position or orders."""
        out = []
        for sym, c in self.contracts.items():
            if symbol and sym != symbol:
                continue
            w = ledger.wallet_view(account, c.quote)
            p = ledger.position(account, sym)
            if version == 3 and (p is None or not p.size) and not w.exposed(sym):
                continue
            fields = self.position_fields(ledger, w, sym, p, history.position_time(account, sym))
            keys = self.V2_POSITION if version == 2 else self.V3_POSITION
            out.append({k: fields[k] for k in keys})
        return out

    @staticmethod
    def figures(ledger: Ledger, account: int, asset: str) -> AssetFigures:
        """One asset of an account as Sentinel values it (money units)."""
        w = ledger.wallet_view(account, asset)
        wallet, upnl, cross_upnl, pos_im, mm = w.balance, 0, 0, 0, 0
        for p in w.position_list():
            if not p.size:
                continue
            u = ledger.upnl(p)
            upnl += u
            if p.isolated:
                wallet += p.margin
            else:
                cross_upnl += u
            pos_im += ledger.position_margin(w, p)
            mm += ceil_div(ledger.maintenance_scaled(p), RATE_ONE)
        order_im = sum(ledger.order_margin(w, sym) for sym in w.exposure or ())
        withdraw = ledger.available(w, for_withdrawal=True)
        return AssetFigures(
            wallet, upnl, mm, pos_im, order_im, w.balance, cross_upnl, ledger.available(w),
            max(0, min(withdraw, w.balance)),
        )  # fmt: skip

    def asset_json(self, asset: str, f: AssetFigures, update_time: int) -> JSON:
        return {
            "asset": asset,
            "walletBalance": money(f.wallet),
            "unrealizedProfit": money(f.upnl),
            "marginBalance": money(f.wallet + f.upnl),
            "maintMargin": money(f.maintenance),
            "initialMargin": money(f.position_im + f.order_im),
            "positionInitialMargin": money(f.position_im),
            "openOrderInitialMargin": money(f.order_im),
            "crossWalletBalance": money(f.cross_wallet),
            "crossUnPnl": money(f.cross_upnl),
            "availableBalance": money(f.available),
            "maxWithdrawAmount": money(f.max_withdraw),
            "marginAvailable": True,
            "updateTime": update_time,
        }

    def balances(self, ledger: Ledger, history: History, account: int) -> list[JSON]:
        """``/fapi/v2|v3/balance`` (the two versions are the same)."""
        out = []
        for asset in self.assets:
            f = self.figures(ledger, account, asset)
            out.append(
                {
                    "accountAlias": f"SIM{account}",
                    "asset": asset,
                    "balance": money(f.wallet),
                    "crossWalletBalance": money(f.cross_wallet),
                    "crossUnPnl": money(f.cross_upnl),
                    "availableBalance": money(f.available),
                    "maxWithdrawAmount": money(f.max_withdraw),
                    "marginAvailable": True,
                    "updateTime": history.balance_time(account, asset),
                }
            )
        return out

    V3_ACCOUNT_POSITION = (
        "symbol", "positionSide", "positionAmt", "unRealizedProfit", "isolatedMargin",
        "notional", "isolatedWallet", "initialMargin", "maintMargin", "updateTime",
    )  # fmt: skip
    V2_ACCOUNT_POSITION = {  # v2 account position field -> the position figure it shows
        "symbol": "symbol", "initialMargin": "initialMargin", "maintMargin": "maintMargin",
        "unrealizedProfit": "unRealizedProfit",
        "positionInitialMargin": "positionInitialMargin",
        "openOrderInitialMargin": "openOrderInitialMargin", "leverage": "leverage",
        "entryPrice": "entryPrice", "breakEvenPrice": "breakEvenPrice",
        "maxNotional": "maxNotionalValue", "positionSide": "positionSide",
        "positionAmt": "positionAmt", "notional": "notional",
        "isolatedWallet": "isolatedWallet", "updateTime": "updateTime",
        "bidNotional": "bidNotional", "askNotional": "askNotional",
    }  # fmt: skip

    def account(self, ledger: Ledger, history: History, account: int, version: int) -> JSON:
        """``/fapi/v2|v3/account``: the totals are the assets' figures summed; v2 lists
        every symbol, v3 those with a position or open orders."""
        per_asset = [(a, self.figures(ledger, account, a)) for a in self.assets]
        t = AssetFigures(*(sum(column) for column in zip(*(f for _, f in per_asset), strict=True)))
        positions: list[JSON] = []
        for sym, c in self.contracts.items():
            w = ledger.wallet_view(account, c.quote)
            p = ledger.position(account, sym)
            if version == 3:
                if (p is None or not p.size) and not w.exposed(sym):
                    continue
                f = self.position_fields(ledger, w, sym, p, history.position_time(account, sym))
                positions.append({k: f[k] for k in self.V3_ACCOUNT_POSITION})
            else:
                f = self.position_fields(ledger, w, sym, p, history.position_time(account, sym))
                row = {k: f[name] for k, name in self.V2_ACCOUNT_POSITION.items()}
                row["isolated"] = f["marginType"] == "isolated"
                positions.append(row)
        out: JSON = {}
        if version == 2:
            out.update(
                feeTier=0, feeBurn=False, canTrade=True, canDeposit=True, canWithdraw=True,
                updateTime=0, multiAssetsMargin=False, tradeGroupId=-1,
            )  # fmt: skip
        out.update(
            {
                "totalInitialMargin": money(t.position_im + t.order_im),
                "totalMaintMargin": money(t.maintenance),
                "totalWalletBalance": money(t.wallet),
                "totalUnrealizedProfit": money(t.upnl),
                "totalMarginBalance": money(t.wallet + t.upnl),
                "totalPositionInitialMargin": money(t.position_im),
                "totalOpenOrderInitialMargin": money(t.order_im),
                "totalCrossWalletBalance": money(t.cross_wallet),
                "totalCrossUnPnl": money(t.cross_upnl),
                "availableBalance": money(t.available),
                "maxWithdrawAmount": money(t.max_withdraw),
                "assets": [
                    self.asset_json(a, f, history.balance_time(account, a)) for a, f in per_asset
                ],
                "positions": positions,
            }
        )
        return out

    # -- the user data stream -----------------------------------------------------------

    def order_update(self, change: Change, quote: str) -> JSON:
        """ORDER_TRADE_UPDATE for one order change."""
        row = change.order
        assert row is not None
        s = row.symbol
        t = change.trade
        return {
            "e": "ORDER_TRADE_UPDATE",
            "E": change.ts,
            "T": change.ts,
            "o": {
                "s": s,
                "c": row.client_order_id,
                "S": row.side,
                "o": row.type,
                "f": row.tif,
                "q": self.qty(s, row.orig_qty),
                "p": self.price(s, row.price),
                "ap": self.avg_price(s, row.cum_quote, row.executed_qty),
                "sp": self.price(s, row.stop_price),
                "x": change.exec_type,
                "X": row.status,
                "i": row.order_id,
                "l": self.qty(s, t.qty if t is not None else 0),
                "z": self.qty(s, row.executed_qty),
                "L": self.price(s, t.price if t is not None else 0),
                "N": quote,
                "n": money(t.commission if t is not None else 0),
                "T": change.ts,
                "t": t.trade_id if t is not None else 0,
                "b": money(0),
                "a": money(0),
                "m": t.maker if t is not None else False,
                "R": row.reduce_only,
                "wt": row.working_type,
                "ot": row.orig_type,
                "ps": "BOTH",
                "cp": False,
                "rp": money(t.realized_pnl if t is not None else 0),
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": row.stp,
                "pm": "NONE",
                "gtd": 0,
            },
        }

    def algo_update(self, change: Change) -> JSON:
        row = change.order
        assert row is not None
        s = row.symbol
        return {
            "e": "ALGO_UPDATE",
            "T": change.ts,
            "E": change.ts,
            "o": {
                "caid": row.client_order_id,
                "aid": row.order_id,
                "at": "CONDITIONAL",
                "o": row.orig_type,
                "s": s,
                "S": row.side,
                "ps": "BOTH",
                "f": row.tif,
                "q": self.qty(s, row.orig_qty),
                "X": self.algo_status(row),
                "ai": str(row.order_id) if row.triggered else "",
                "ap": self.avg_price(s, row.cum_quote, row.executed_qty),
                "aq": self.qty(s, row.executed_qty),
                "act": row.type if row.triggered else "",
                "tp": self.price(s, row.stop_price),
                "p": self.price(s, row.price),
                "V": row.stp,
                "wt": row.working_type,
                "pm": "NONE",
                "cp": False,
                "pP": False,
                "R": row.reduce_only,
                "tt": row.trigger_time,
                "gtd": 0,
                "rm": "",
            },
        }

    def account_update(self, change: Change, history: History, account: int) -> JSON:
        """ACCOUNT_UPDATE: the changed assets and positions as the durable record left
        them (unrealized PnL at the durable mark)."""
        assets = dict.fromkeys(change.assets)
        for sym in change.symbols:
            assets[self.contracts[sym].quote] = None
        balances = []
        for asset in assets:
            isolated = 0
            for sym, c in self.contracts.items():
                if c.quote == asset:
                    isolated += history.position(account, sym)[2]
            cross = history.balance(account, asset)
            balances.append(
                {"a": asset, "wb": money(cross + isolated), "cw": money(cross), "bc": "0"}
            )
        positions = []
        for sym in change.symbols:
            c = self.contracts[sym]
            size, cost, margin, isolated_type = history.position(account, sym)
            mark = history.marks.get(sym, 0)
            entry = self.entry_price(sym, size, cost)
            positions.append(
                {
                    "s": sym,
                    "pa": self.qty(sym, size),
                    "ep": entry,
                    "bep": entry,
                    "cr": money(0),
                    "up": money(size * mark * c.scale - cost if size else 0),
                    "mt": "isolated" if isolated_type else "cross",
                    "iw": money(margin),
                    "ps": "BOTH",
                }
            )
        return {
            "e": "ACCOUNT_UPDATE",
            "E": change.ts,
            "T": change.ts,
            "a": {"m": change.reason, "B": balances, "P": positions},
        }

    def config_update(self, change: Change) -> JSON:
        return {
            "e": "ACCOUNT_CONFIG_UPDATE",
            "E": change.ts,
            "T": change.ts,
            "ac": {"s": change.symbol, "l": change.leverage},
        }


__all__ = ["JSON", "Wire", "exact", "money", "units"]
