"""The user data stream, driven by ccxt.pro's ``binanceusdm`` and by a raw WebSocket client.

One exchange runs for the module (in its own thread); each test runs its clients in an
asyncio loop of its own. A maker account quotes through the sequencer; the demo account
trades over REST and watches its stream: ORDER_TRADE_UPDATE (NEW, then TRADE) and
ACCOUNT_UPDATE, in seq order; listen keys are created, kept alive and closed over REST.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro as ccxtpro
import pytest
from helpers.gateway import MAKER, LiveExchange, Signer

from exchange.config.settings import ApiSettings
from exchange.gateway.keys import KeyRecord
from exchange.gateway.wire import money
from titan.commands import NewOrder
from titan.enums import Side

pytestmark = pytest.mark.slow_io

SYMBOL = "BTCUSDT"
UNIFIED = "BTC/USDT:USDT"
LISTEN_KEY = "/fapi/v1/listenKey"
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveExchange]:
    root: Path = tmp_path_factory.mktemp("userstream")
    ex = LiveExchange(root, ApiSettings(port=0, admin_port=0)).start()
    ex.mark(SYMBOL, 500_000)
    ex.fund(MAKER, 10_000_000)
    for i in range(5):  # the maker's book: 1 BTC a level, 49,990.0 .. 50,010.0 and out
        ex.submit(NewOrder(0, 0, SYMBOL, MAKER, 0, Side.BUY, 1_000, 499_900 - 10 * i))
        ex.submit(NewOrder(0, 0, SYMBOL, MAKER, 0, Side.SELL, 1_000, 500_100 + 10 * i))
    yield ex
    ex.stop()


def pro_client(live: LiveExchange, key: str, secret: str) -> Any:
    """ccxt.pro's binanceusdm pointed at the live exchange (REST and the user stream)."""
    base = live.base
    ex = ccxtpro.binanceusdm(
        {"apiKey": key, "secret": secret, "options": {"fetchCurrencies": False}}
    )
    api = ex.urls["api"]
    for name in ("fapiPublic", "fapiPrivate"):
        api[name] = f"{base}/fapi/v1"
    for name in ("fapiPublicV2", "fapiPrivateV2"):
        api[name] = f"{base}/fapi/v2"
    for name in ("fapiPublicV3", "fapiPrivateV3"):
        api[name] = f"{base}/fapi/v3"
    api["fapiData"] = f"{base}/futures/data"
    api["ws"]["linear"] = f"ws://127.0.0.1:{live.api.port}/ws"
    ex.exceptions["exact"].update(ex.exceptions["linear"]["exact"])
    return ex


async def until(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def streams_of(live: LiveExchange, account: int) -> int:
    return len(live.api.gateway.streams.connections.get(account, []))


def demo(live: LiveExchange) -> Signer:
    return Signer(live.base, live.api.demo.key, live.api.demo.secret)


def new_key(live: LiveExchange, account: int) -> KeyRecord:
    return live.api.keys.create(account, now_ms=int(time.time() * 1000), label="stream")


async def rest(signer: Signer, method: str, path: str, params: list[tuple[str, str]]) -> Any:
    """A signed REST call from the test's loop (urllib, in a worker thread)."""
    r = await asyncio.to_thread(signer.call, method, path, params)
    assert r.status == 200, (r.status, r.body)
    return r.json()


async def listen_key(session: aiohttp.ClientSession, base: str, key: str, method: str) -> Any:
    async with session.request(method, base + LISTEN_KEY, headers={"X-MBX-APIKEY": key}) as r:
        return r.status, await r.json()


async def frames(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        msg = await ws.receive(timeout=TIMEOUT)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        out.append(json.loads(msg.data))
    return out


async def silent(ws: aiohttp.ClientWebSocketResponse, seconds: float = 0.5) -> None:
    with pytest.raises(asyncio.TimeoutError):
        msg = await ws.receive(timeout=seconds)
        raise AssertionError(f"unexpected frame {msg}")


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 60))


# -- ccxt.pro --------------------------------------------------------------------------------


def test_ccxt_pro_watches_its_orders_and_balance(live: LiveExchange) -> None:
    account = live.api.demo.account

    async def scenario() -> None:
        ex = pro_client(live, live.api.demo.key, live.api.demo.secret)
        try:
            await ex.load_markets()
            first = asyncio.ensure_future(ex.watch_orders(UNIFIED))
            await until(lambda: streams_of(live, account) == 1, "ccxt.pro's stream")
            # a bid between the maker's best bid (49,990.0) and best ask (50,010.0): it rests
            order = await ex.create_order(
                UNIFIED, "limit", "buy", 0.01, 50_000, {"clientOrderId": "pro-1"}
            )
            oid = order["id"]
            # ccxt updates its cached order in place: keep a copy of each update as it comes
            seen = [dict(o) for o in await asyncio.wait_for(first, TIMEOUT) if o["id"] == oid]
            assert [(o["status"], o["filled"]) for o in seen] == [("open", 0.0)]
            new = seen[0]
            assert new["clientOrderId"] == "pro-1" and new["side"] == "buy"
            assert (new["price"], new["amount"], new["type"]) == (50_000.0, 0.01, "limit")
            # the maker sells into it: the demo order fills, as maker, at its price
            nxt = asyncio.ensure_future(ex.watch_orders(UNIFIED))
            await asyncio.to_thread(
                live.submit, NewOrder(0, 0, SYMBOL, MAKER, 0, Side.SELL, 10, 500_000)
            )
            seen += [dict(o) for o in await asyncio.wait_for(nxt, TIMEOUT) if o["id"] == oid]
            while seen[-1]["status"] != "closed":
                batch = await asyncio.wait_for(ex.watch_orders(UNIFIED), TIMEOUT)
                seen += [dict(o) for o in batch if o["id"] == oid]
            filled = seen[-1]
            assert [o["status"] for o in seen] == ["open", "closed"]
            assert (filled["filled"], filled["remaining"], filled["average"]) == (0.01, 0, 50_000)
            trades = await ex.fetch_my_trades(UNIFIED)
            (trade,) = [t for t in trades if t["order"] == oid]
            assert trade["fee"]["cost"] > 0
            assert filled["fee"]["cost"] == trade["fee"]["cost"]  # "n" in the TRADE update
            assert filled["fee"]["currency"] == "USDT"

            # the balance: a deposit shows on the stream as the new wallet balance
            before = (await ex.fetch_balance())["USDT"]["total"]
            watching = asyncio.ensure_future(ex.watch_balance())
            await asyncio.sleep(0.05)
            await asyncio.to_thread(live.fund, account, 1_000)
            balance = await asyncio.wait_for(watching, TIMEOUT)
            while balance["USDT"]["total"] != before + 1_000:
                balance = await asyncio.wait_for(ex.watch_balance(), TIMEOUT)
            assert balance["info"]["a"]["m"] == "DEPOSIT"
            assert (await ex.fetch_balance())["USDT"]["total"] == before + 1_000
            assert streams_of(live, account) == 1  # one connection served both watches
        finally:
            await ex.close()

    run(scenario)


# -- a raw WebSocket client ------------------------------------------------------------------


def test_raw_stream_sends_order_updates_then_account_update_in_seq_order(
    live: LiveExchange,
) -> None:
    live.fund(20_010, 100_000)  # a fresh account: no position yet
    trader = new_key(live, 20_010)
    d = Signer(live.base, trader.key, trader.secret)
    account = trader.account
    other = new_key(live, 20_011)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            status, body = await listen_key(session, live.base, d.key, "POST")
            assert status == 200 and set(body) == {"listenKey"}
            key = body["listenKey"]
            assert len(key) == 64 and key.isalnum()
            assert await listen_key(session, live.base, d.key, "POST") == (200, {"listenKey": key})
            status, body = await listen_key(session, live.base, other.key, "POST")
            other_key = body["listenKey"]
            assert status == 200 and other_key != key

            url = f"ws://127.0.0.1:{live.api.port}"
            ws = await session.ws_connect(f"{url}/private/ws?listenKey={key}")
            other_ws = await session.ws_connect(f"{url}/ws/{other_key}")
            await until(lambda: streams_of(live, account) == 1, "the demo stream")
            await until(lambda: streams_of(live, other.account) == 1, "the other stream")

            wallet_before = live.venue.ledger.wallets[(account, "USDT")].balance
            first = await rest(d, "POST", "/fapi/v1/order", market_buy("0.005"))
            second = await rest(d, "POST", "/fapi/v1/order", market_buy("0.003"))
            got = await frames(ws, 6)
            kinds = [(f["e"], f["o"]["x"] if "o" in f else f["a"]["m"]) for f in got]
            assert (
                kinds
                == [
                    ("ORDER_TRADE_UPDATE", "NEW"),
                    ("ORDER_TRADE_UPDATE", "TRADE"),
                    ("ACCOUNT_UPDATE", "ORDER"),
                ]
                * 2
            )
            assert [f["o"]["i"] for f in got if "o" in f] == [first["orderId"]] * 2 + [
                second["orderId"]
            ] * 2
            assert first["orderId"] < second["orderId"]
            times = [f["E"] for f in got]
            assert times == sorted(times)

            new, trade, update = got[:3]
            assert new["o"]["X"] == "NEW" and new["o"]["z"] == "0.000"
            assert (new["o"]["s"], new["o"]["S"], new["o"]["o"]) == (SYMBOL, "BUY", "MARKET")
            assert new["o"]["q"] == "0.005" and new["o"]["t"] == 0
            o = trade["o"]
            assert (o["X"], o["l"], o["z"], o["L"], o["ap"]) == (
                "FILLED", "0.005", "0.005", "50010.0", "50010.0",
            )  # fmt: skip
            assert o["m"] is False and o["N"] == "USDT" and o["t"] > 0
            trades = await rest(d, "GET", "/fapi/v1/userTrades", [("symbol", SYMBOL)])
            (row,) = [t for t in trades if t["id"] == o["t"]]
            assert o["n"] == row["commission"] == "0.12502500"  # 250.05 x 0.05%
            assert o["rp"] == row["realizedPnl"] == "0.00000000"
            (balance,) = update["a"]["B"]
            fee = 12_502_500  # money units: 10**-8 USDT
            assert balance["a"] == "USDT"
            assert wallet_before == 100_000 * 10**8
            assert balance["cw"] == balance["wb"] == money(wallet_before - fee) == "99999.87497500"
            (position,) = update["a"]["P"]
            assert (position["s"], position["pa"], position["ep"]) == (SYMBOL, "0.005", "50010.0")
            last = got[5]["a"]["P"][0]
            assert last["pa"] == "0.008"  # both buys
            wallet_after = live.venue.ledger.wallets[(account, "USDT")].balance
            assert wallet_after == wallet_before - fee - 7_501_500  # 150.03 x 0.05%
            assert got[5]["a"]["B"][0]["cw"] == money(wallet_after)

            # the other account's stream saw none of it, and sees its own deposit
            await silent(other_ws)
            await asyncio.to_thread(live.fund, other.account, 500)
            (deposit,) = await frames(other_ws, 1)
            assert deposit["e"] == "ACCOUNT_UPDATE" and deposit["a"]["m"] == "DEPOSIT"
            assert deposit["a"]["B"] == [
                {"a": "USDT", "wb": "500.00000000", "cw": "500.00000000", "bc": "0"}
            ]
            await silent(ws, 0.2)
            await ws.close()
            await other_ws.close()

    run(scenario)


def market_buy(qty: str) -> list[tuple[str, str]]:
    return [("symbol", SYMBOL), ("side", "BUY"), ("type", "MARKET"), ("quantity", qty)]


def test_bad_listen_keys_get_an_error_frame(live: LiveExchange) -> None:
    d = demo(live)

    async def scenario() -> None:
        url = f"ws://127.0.0.1:{live.api.port}"
        bogus = "x" * 64
        async with aiohttp.ClientSession() as session:
            for path in (
                f"/private/ws?listenKey={bogus}",
                f"/ws/{bogus}",
                f"/stream?streams={bogus}",
            ):
                ws = await session.ws_connect(url + path)
                assert await frames(ws, 1) == [{"code": -1125, "msg": "Invalid listenKey."}]
                msg = await ws.receive(timeout=TIMEOUT)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
                await ws.close()
            # /private/stream, then SUBSCRIBE: a bad key is refused, a good one subscribes
            ws = await session.ws_connect(url + "/private/stream")
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": [bogus], "id": 1}))
            assert await frames(ws, 1) == [
                {"id": 1, "error": {"code": 2, "msg": "Invalid listenKey."}}
            ]
            await ws.send_str("not json")
            assert await frames(ws, 1) == [{"error": {"code": 3, "msg": "Invalid JSON"}}]
            await ws.send_str(json.dumps({"method": "NOPE", "id": 2}))
            (reply,) = await frames(ws, 1)
            assert reply["id"] == 2 and reply["error"]["code"] == 2
            _, body = await listen_key(session, live.base, d.key, "POST")
            key = body["listenKey"]
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": [key], "id": 3}))
            assert await frames(ws, 1) == [{"id": 3, "result": None}]
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 4}))
            assert await frames(ws, 1) == [{"id": 4, "result": [key]}]
            await asyncio.to_thread(live.fund, live.api.demo.account, 10)
            (update,) = await frames(ws, 1)
            assert update["e"] == "ACCOUNT_UPDATE" and update["a"]["m"] == "DEPOSIT"
            await ws.close()
            # a listen key needs an API key
            async with session.post(live.base + LISTEN_KEY) as r:
                assert r.status == 401 and (await r.json())["code"] == -2014

    run(scenario)


def test_put_keeps_the_listen_key_alive_and_delete_closes_it(live: LiveExchange) -> None:
    rec = new_key(live, 20_012)
    streams = live.api.gateway.streams

    async def scenario() -> None:
        url = f"ws://127.0.0.1:{live.api.port}/private/ws?listenKey="
        async with aiohttp.ClientSession() as session:
            # no listen key yet: PUT has nothing to keep alive
            status, body = await listen_key(session, live.base, rec.key, "PUT")
            assert (status, body["code"]) == (400, -1125)
            _, body = await listen_key(session, live.base, rec.key, "POST")
            key = body["listenKey"]
            account, expiry = streams.keys[key]
            assert account == rec.account
            assert expiry - int(time.time() * 1000) > 59 * 60 * 1000  # 60 minutes
            ws = await session.ws_connect(url + key)
            await until(lambda: streams_of(live, rec.account) == 1, "the stream")
            await asyncio.sleep(0.05)
            assert await listen_key(session, live.base, rec.key, "PUT") == (200, {})
            account, renewed = streams.keys[key]
            assert renewed > expiry
            # still the same key, still streaming
            assert await listen_key(session, live.base, rec.key, "POST") == (
                200,
                {"listenKey": key},
            )
            await asyncio.to_thread(live.fund, rec.account, 5)
            (update,) = await frames(ws, 1)
            assert update["a"]["B"][0]["cw"] == "5.00000000"
            # DELETE closes the key and its connections
            assert await listen_key(session, live.base, rec.key, "DELETE") == (200, {})
            msg = await ws.receive(timeout=TIMEOUT)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
            await until(lambda: streams_of(live, rec.account) == 0, "the stream to close")
            assert key not in streams.keys
            again = await session.ws_connect(url + key)
            assert await frames(again, 1) == [{"code": -1125, "msg": "Invalid listenKey."}]
            await again.close()
            status, body = await listen_key(session, live.base, rec.key, "PUT")
            assert (status, body["code"]) == (400, -1125)
            _, body = await listen_key(session, live.base, rec.key, "POST")
            assert body["listenKey"] != key and len(body["listenKey"]) == 64

    run(scenario)
