"""The API driven by ccxt's ``binanceusdm`` (installed from PyPI), as a bot would drive Binance.

One exchange runs for the module (a real RocksDB journal, sequencer and aiohttp server);
a maker account quotes through the sequencer, and the demo account trades over REST.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest
from helpers.gateway import MAKER, LiveExchange, Signer, free_port

from exchange.config.settings import ApiSettings
from exchange.runtime.machines import VenueFactory
from oracle import Journal
from oracle.replay import audit
from titan.commands import NewOrder
from titan.enums import Side

pytestmark = pytest.mark.slow_io


def client(base: str, key: str, secret: str) -> Any:
    ex = ccxt.binanceusdm({"apiKey": key, "secret": secret, "options": {"fetchCurrencies": False}})
    api = ex.urls["api"]
    for name in ("fapiPublic", "fapiPrivate"):
        api[name] = f"{base}/fapi/v1"
    for name in ("fapiPublicV2", "fapiPrivateV2"):
        api[name] = f"{base}/fapi/v2"
    for name in ("fapiPublicV3", "fapiPrivateV3"):
        api[name] = f"{base}/fapi/v3"
    api["fapiData"] = f"{base}/futures/data"
    ex.exceptions["exact"].update(ex.exceptions["linear"]["exact"])
    return ex


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveExchange]:
    root: Path = tmp_path_factory.mktemp("gateway")
    ex = LiveExchange(root, ApiSettings(port=0, admin_port=free_port())).start()
    ex.mark("BTCUSDT", 500_000)
    ex.mark("ETHUSDT", 300_000)
    ex.fund(MAKER, 10_000_000)
    for i in range(5):  # the maker's book: 1 BTC a level, 49,990.0 .. 50,010.0 and out
        ex.submit(NewOrder(0, 0, "BTCUSDT", MAKER, 0, Side.BUY, 1_000, 499_900 - 10 * i))
        ex.submit(NewOrder(0, 0, "BTCUSDT", MAKER, 0, Side.SELL, 1_000, 500_100 + 10 * i))
    yield ex
    ex.stop()


@pytest.fixture(scope="module")
def bot(live: LiveExchange) -> Any:
    demo = live.api.demo
    ex = client(live.base, demo.key, demo.secret)
    ex.load_markets()
    return ex


def test_markets_time_and_balance(live: LiveExchange, bot: Any) -> None:
    market = bot.market("BTC/USDT:USDT")
    assert market["id"] == "BTCUSDT" and market["linear"] and market["swap"]
    assert market["precision"]["price"] == 0.1 and market["precision"]["amount"] == 0.001
    assert market["limits"]["cost"]["min"] == 5
    assert abs(bot.fetch_time() - live.seq.last_ts) < 5_000
    balance = bot.fetch_balance()
    assert balance["USDT"]["total"] == 100_000.0 and balance["USDT"]["free"] == 100_000.0


def test_limit_order_rests_then_cancels(live: LiveExchange, bot: Any) -> None:
    order = bot.create_order(
        "BTC/USDT:USDT", "limit", "buy", 0.01, 49_000, {"clientOrderId": "x-rest-1"}
    )
    assert order["status"] == "open" and order["clientOrderId"] == "x-rest-1"
    oid = order["id"]
    assert [o["id"] for o in bot.fetch_open_orders("BTC/USDT:USDT")] == [oid]
    fetched = bot.fetch_order(oid, "BTC/USDT:USDT")
    assert fetched["price"] == 49_000 and fetched["amount"] == 0.01 and fetched["filled"] == 0
    # the venue holds it, under the demo account, at the price asked
    view = live.venue.titan.order(int(oid))
    assert view is not None and view.account == live.api.demo.account and view.price == 490_000
    cancelled = bot.cancel_order(oid, "BTC/USDT:USDT")
    assert cancelled["status"] == "canceled"
    assert bot.fetch_open_orders("BTC/USDT:USDT") == []
    assert live.venue.titan.order(int(oid)) is None


def test_market_order_fills_and_shows_in_positions_and_trades(live: LiveExchange, bot: Any) -> None:
    order = bot.create_order("BTC/USDT:USDT", "market", "buy", 0.5)
    assert order["status"] == "closed" and order["filled"] == 0.5
    assert order["average"] == 50_010.0  # the best ask, 50,010.0, had 1 BTC
    trades = bot.fetch_my_trades("BTC/USDT:USDT")
    assert trades[-1]["order"] == order["id"] and trades[-1]["amount"] == 0.5
    assert trades[-1]["fee"]["cost"] == pytest.approx(50_010 * 0.5 * 0.0005)
    positions = [p for p in bot.fetch_positions(["BTC/USDT:USDT"]) if p["contracts"]]
    assert len(positions) == 1
    p = positions[0]
    assert p["side"] == "long" and p["contracts"] == 0.5 and p["entryPrice"] == 50_010.0
    ledger = live.venue.ledger
    pos = ledger.position(live.api.demo.account, "BTCUSDT")
    assert pos is not None and pos.size == 500
    upnl = ledger.upnl(pos) / 10**8
    assert p["unrealizedPnl"] == pytest.approx(upnl)
    # 100,000 USDT of cross margin behind 0.5 BTC: no mark above zero liquidates it
    assert ledger.liquidation_price(pos) == 0 and not p["liquidationPrice"]


def test_account_figures_are_sentinels_to_the_unit(live: LiveExchange, bot: Any) -> None:
    # after the market buy above: a 0.5 BTC cross long and 100,000 USDT less fees
    demo = live.api.demo
    signer = Signer(live.base, demo.key, demo.secret)
    v2 = signer.call("GET", "/fapi/v2/account").json()
    v3 = signer.call("GET", "/fapi/v3/account").json()
    ledger = live.venue.ledger
    w = ledger.wallets[(demo.account, "USDT")]
    pos = ledger.position(demo.account, "BTCUSDT")
    assert pos is not None and pos.size == 500
    upnl = ledger.upnl(pos)
    im = ledger.position_margin(w, pos)
    mm = -(-ledger.maintenance_scaled(pos) // 10**8)
    expect = {
        "totalWalletBalance": w.balance,
        "totalUnrealizedProfit": upnl,
        "totalMarginBalance": w.balance + upnl,
        "totalPositionInitialMargin": im,
        "totalMaintMargin": mm,
        "availableBalance": ledger.available(w),
    }
    for account in (v2, v3):
        for field, units in expect.items():
            assert account[field] == f"{Decimal(units).scaleb(-8):.8f}", field
    assert [p["symbol"] for p in v3["positions"]] == ["BTCUSDT"]  # v3: only what is open
    assert [p["symbol"] for p in v2["positions"]] == ["BTCUSDT", "ETHUSDT"]  # v2: every symbol
    assert v2["positions"][0]["positionAmt"] == v3["positions"][0]["positionAmt"] == "0.500"
    assert "feeTier" in v2 and "feeTier" not in v3
    assert v2["assets"][0]["walletBalance"] == v2["totalWalletBalance"]


def test_errors_raise_ccxt_exception_classes(live: LiveExchange, bot: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        bot.create_order("BTC/USDT:USDT", "limit", "buy", 45, 49_000)  # 110,250 USDT at 20x
    with pytest.raises(ccxt.OrderNotFound):
        bot.cancel_order("123456789", "BTC/USDT:USDT")
    with pytest.raises(ccxt.InvalidOrder):
        bot.create_order("BTC/USDT:USDT", "limit", "buy", 0.0001, 49_000)


def test_leverage_margin_mode_and_funding_rate(live: LiveExchange, bot: Any) -> None:
    assert bot.set_leverage(7, "ETH/USDT:USDT")["leverage"] == 7
    bot.set_margin_mode("isolated", "ETH/USDT:USDT")
    account = live.api.demo.account
    w = live.venue.ledger.wallets[(account, "USDT")]
    assert live.venue.ledger.settings(w, "ETHUSDT") == (7, True)
    rate = bot.fetch_funding_rate("BTC/USDT:USDT")
    assert rate["fundingRate"] == 0.0001 and rate["markPrice"] == 50_000.0


def test_the_session_replays_to_the_same_state(live: LiveExchange, bot: Any) -> None:
    live.call(live.seq.durable(live.seq.last_seq))
    with Journal.open(live.journal_path, read_only=True) as journal:
        report = audit(journal, VenueFactory())
    assert report.ok, report
