"""The API's security rules, tested with raw HTTP requests against a live exchange.

Binding (loopback by default), keys (-2014, -2015, revoked keys), signatures over the
exact bytes (query, form body, Binance's totalParams concatenation), the timestamp and
recvWindow rule, account isolation, parameter checking, oversized bodies, rate limits,
the admin endpoint and its token, and that no secret or signature reaches the log. Every
refusal is checked to leave the venue's state hash unchanged; a Hypothesis test throws
random parameters and bodies at signed endpoints and checks the same of every answer.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import stat
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.gateway import MAKER, LiveExchange, Reply, Signer, free_port, http, sign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.config.settings import ApiSettings
from exchange.gateway.keys import KeyRecord
from exchange.gateway.service import admin_token_path
from titan.commands import NewOrder
from titan.enums import Side

pytestmark = pytest.mark.slow_io

SYMBOL = "BTCUSDT"
BALANCE = "/fapi/v2/balance"
ORDER = "/fapi/v1/order"
ACCOUNT_B = 20_002
ACCOUNT_C = 20_003
ACCOUNT_FUZZ = 20_009


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveExchange]:
    root: Path = tmp_path_factory.mktemp("security")
    ex = LiveExchange(root, ApiSettings(port=0, admin_port=free_port())).start()
    ex.mark(SYMBOL, 500_000)
    ex.fund(MAKER, 10_000_000)
    for i in range(5):  # the maker's book: 1 BTC a level, 49,990.0 .. 50,010.0 and out
        ex.submit(NewOrder(0, 0, SYMBOL, MAKER, 0, Side.BUY, 1_000, 499_900 - 10 * i))
        ex.submit(NewOrder(0, 0, SYMBOL, MAKER, 0, Side.SELL, 1_000, 500_100 + 10 * i))
    yield ex
    ex.stop()


def settled_hash(live: LiveExchange) -> str:
    """The venue's state hash once everything sequenced is durable (computed on the
    server's loop, so never while it handles a request)."""

    async def settle() -> str:
        await live.seq.durable(live.seq.last_seq)
        return live.venue.state_hash()

    return live.call(settle())


def demo(live: LiveExchange) -> Signer:
    return Signer(live.base, live.api.demo.key, live.api.demo.secret)


def new_key(live: LiveExchange, account: int) -> KeyRecord:
    return live.api.keys.create(account, now_ms=int(time.time() * 1000), label="test")


def signer_of(live: LiveExchange, rec: KeyRecord) -> Signer:
    return Signer(live.base, rec.key, rec.secret)


def is_error(reply: Reply, status: int, code: int) -> dict[str, Any]:
    """Assert that ``reply`` is Binance's error JSON with ``status`` and ``code``."""
    assert reply.status == status, (reply.status, reply.body)
    body = reply.json()
    assert set(body) == {"code", "msg"} and body["code"] == code, body
    assert isinstance(body["msg"], str) and body["msg"]
    return body


def limit_buy(qty: str = "0.010", price: str = "49000", cid: str = "") -> list[tuple[str, str]]:
    pairs = [
        ("symbol", SYMBOL),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", qty),
        ("price", price),
    ]
    return [*pairs, ("newClientOrderId", cid)] if cid else pairs


def usdt_balance(signer: Signer) -> str:
    r = signer.call("GET", BALANCE)
    assert r.status == 200, r.body
    (row,) = [b for b in r.json() if b["asset"] == "USDT"]
    return str(row["balance"])


# -- binding ---------------------------------------------------------------------------------


def _non_loopback_ipv4() -> list[str]:
    addrs: set[str] = set()
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addrs.add(str(info[4][0]))
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks a route
        addrs.add(s.getsockname()[0])
    return sorted(a for a in addrs if not a.startswith("127.") and a != "0.0.0.0")


def test_servers_bind_loopback_only(live: LiveExchange) -> None:
    assert ApiSettings().host == "127.0.0.1"
    bound = [addr for runner in live.api.gateway._runners for addr in runner.addresses]
    assert [a[0] for a in bound] == ["127.0.0.1", "127.0.0.1"]  # the API, then the admin
    assert sorted(int(a[1]) for a in bound) == sorted([live.api.port, live.api.admin_port])
    assert http("GET", live.base + "/fapi/v1/ping").status == 200
    for ip in _non_loopback_ipv4():  # this machine's other addresses, where it has any
        for port in (live.api.port, live.api.admin_port):
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((ip, port)) != 0, f"{ip}:{port} accepted a connection"


# -- keys ------------------------------------------------------------------------------------


def test_missing_malformed_unknown_and_revoked_keys_are_refused(live: LiveExchange) -> None:
    d = demo(live)
    before = settled_hash(live)
    signed = d.query()
    no_key = http("GET", f"{live.base}{BALANCE}?{signed}")
    assert is_error(no_key, 401, -2014)["msg"] == "API-key format invalid."
    for bad in ("abc", "A" * 63, "A" * 65, "A" * 63 + "-"):
        r = http("GET", f"{live.base}{BALANCE}?{signed}", headers={"X-MBX-APIKEY": bad})
        is_error(r, 401, -2014)
    unknown = http("GET", f"{live.base}{BALANCE}?{signed}", headers={"X-MBX-APIKEY": "A" * 64})
    assert is_error(unknown, 401, -2015)["msg"] == (
        "Invalid API-key, IP, or permissions for action."
    )
    # an order with no key, or an unknown one, places nothing
    order = d.query(limit_buy())
    is_error(http("POST", f"{live.base}{ORDER}?{order}"), 401, -2014)
    r = http("POST", f"{live.base}{ORDER}?{order}", headers={"X-MBX-APIKEY": "B" * 64})
    is_error(r, 401, -2015)
    # the listen key endpoint needs a key too
    is_error(http("POST", live.base + "/fapi/v1/listenKey"), 401, -2014)
    # a revoked key: it worked, and after revoking it, it is refused
    rec = new_key(live, ACCOUNT_B)
    s = signer_of(live, rec)
    assert usdt_balance(s) == "0.00000000"
    live.api.keys.revoke(rec.key)
    is_error(s.call("GET", BALANCE), 401, -2015)
    is_error(s.call("POST", ORDER, limit_buy()), 401, -2015)
    is_error(s.send("POST", "/fapi/v1/listenKey"), 401, -2015)
    assert settled_hash(live) == before
    assert live.api.gateway.stats.auth_failures >= 9


# -- signatures and the time rule ------------------------------------------------------------


def test_bad_and_missing_signatures_are_refused(live: LiveExchange) -> None:
    d = demo(live)
    before = settled_hash(live)
    text = d.stamped(limit_buy())
    wrong = sign("x" * 64, text)
    r = d.send("POST", ORDER, f"{text}&signature={wrong}")
    assert is_error(r, 400, -1022)["msg"] == "Signature for this request is not valid."
    # a signature of other parameters: the quantity changed after signing
    good = sign(d.secret, text)
    tampered = text.replace("quantity=0.010", "quantity=0.020")
    assert tampered != text
    is_error(d.send("POST", ORDER, f"{tampered}&signature={good}"), 400, -1022)
    # the same signature in the body, the parameters in the query: still over the query
    is_error(d.send("POST", ORDER, tampered, f"signature={good}".encode()), 400, -1022)
    # not hex at all, and empty
    is_error(d.send("POST", ORDER, f"{text}&signature=zz"), 400, -1022)
    missing = is_error(d.send("POST", ORDER, text), 400, -1102)
    assert "'signature'" in missing["msg"]
    is_error(d.send("POST", ORDER, f"{text}&signature="), 400, -1102)
    # upper-case hex of the right HMAC is accepted (Binance takes either case)
    text = d.stamped()
    r = d.send("GET", BALANCE, f"{text}&signature={sign(d.secret, text).upper()}")
    assert r.status == 200, r.body
    assert settled_hash(live) == before


def test_timestamp_and_recv_window_rule(live: LiveExchange) -> None:
    d = demo(live)
    before = settled_hash(live)
    now = int(time.time() * 1000)
    future = d.send("GET", BALANCE, d.query([], now + 2_000))
    assert is_error(future, 400, -1021)["msg"] == (
        "Timestamp for this request is outside of the recvWindow."
    )
    is_error(d.send("GET", BALANCE, d.query([], now - 6_000)), 400, -1021)  # default 5000
    old = d.query([("recvWindow", "3000")], int(time.time() * 1000) - 4_000)
    is_error(d.send("GET", BALANCE, old), 400, -1021)
    is_error(d.send("POST", ORDER, d.query(limit_buy(), now + 5_000)), 400, -1021)
    too_wide = d.send("GET", BALANCE, d.query([("recvWindow", "70000")]))
    assert is_error(too_wide, 400, -1131)["msg"] == "recvWindow must be less than 60000"
    is_error(d.send("GET", BALANCE, d.query([("recvWindow", "60001")])), 400, -1131)
    is_error(d.send("GET", BALANCE, d.query([("recvWindow", "abc")])), 400, -1130)
    no_ts = d.send("GET", BALANCE, "signature=" + sign(d.secret, ""))
    assert "'timestamp'" in is_error(no_ts, 400, -1102)["msg"]
    # the same age inside a wider window passes; and a little ahead (< 1 s) passes
    wide = d.query([("recvWindow", "60000")], int(time.time() * 1000) - 6_000)
    assert d.send("GET", BALANCE, wide).status == 200
    assert d.send("GET", BALANCE, d.query([], int(time.time() * 1000) + 300)).status == 200
    assert settled_hash(live) == before


def test_signature_over_form_body_and_over_query_plus_body(live: LiveExchange) -> None:
    d = demo(live)
    account = live.api.demo.account
    placed: list[int] = []
    # everything in the form body, signed over the body
    r = d.call("POST", ORDER, limit_buy(cid="sec-body-1"), in_body=True)
    assert r.status == 200, r.body
    placed.append(r.json()["orderId"])
    # Binance's totalParams: the query string, then the body, concatenated as they are
    query = urllib.parse.urlencode(limit_buy(cid="sec-total-1")[:3])
    body = d.stamped(limit_buy(cid="sec-total-1")[3:])
    sig = sign(d.secret, query + body)
    r = d.send("POST", ORDER, query, f"{body}&signature={sig}".encode())
    assert r.status == 200, r.body
    placed.append(r.json()["orderId"])
    # the signature in the query, everything else in the body
    body = d.stamped(limit_buy(cid="sec-body-2"))
    r = d.send("POST", ORDER, f"signature={sign(d.secret, body)}", body.encode())
    assert r.status == 200, r.body
    placed.append(r.json()["orderId"])
    # joining query and body with "&" is not Binance's rule: refused, nothing placed
    before = settled_hash(live)
    body = d.stamped(limit_buy(cid="sec-total-2")[3:])
    wrong = sign(d.secret, query.replace("sec-total-1", "sec-total-2") + "&" + body)
    r = d.send("POST", ORDER, query, f"{body}&signature={wrong}".encode())
    is_error(r, 400, -1022)
    # a body signed but then changed: refused
    body = d.stamped(limit_buy(cid="sec-body-3"))
    changed = body.replace("price=49000", "price=49500")
    r = d.send("POST", ORDER, body=f"{changed}&signature={sign(d.secret, body)}".encode())
    is_error(r, 400, -1022)
    assert settled_hash(live) == before
    cids = []
    for oid in placed:
        view = live.venue.titan.order(oid)
        assert view is not None and view.account == account
        assert (view.price, view.qty) == (490_000, 10)
        q = d.call("GET", ORDER, [("symbol", SYMBOL), ("orderId", str(oid))])
        cids.append(q.json()["clientOrderId"])
        assert d.call("DELETE", ORDER, [("symbol", SYMBOL), ("orderId", str(oid))]).status == 200
        assert live.venue.titan.order(oid) is None
    assert cids == ["sec-body-1", "sec-total-1", "sec-body-2"]


# -- account isolation -----------------------------------------------------------------------


def test_an_account_cannot_touch_or_see_another_accounts_orders(live: LiveExchange) -> None:
    a = demo(live)
    account_a = live.api.demo.account
    live.fund(ACCOUNT_C, 50_000)
    b = signer_of(live, new_key(live, ACCOUNT_C))
    # A: a resting order, and a fill against the maker (so A has a trade)
    r = a.call("POST", ORDER, limit_buy(cid="iso-a-1"))
    assert r.status == 200, r.body
    oid = r.json()["orderId"]
    fill = a.call(
        "POST",
        ORDER,
        [("symbol", SYMBOL), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.005")],
    )
    assert fill.status == 200, fill.body
    a_trades = a.call("GET", "/fapi/v1/userTrades", [("symbol", SYMBOL)]).json()
    assert fill.json()["orderId"] in [t["orderId"] for t in a_trades]
    # B: an order of its own
    r = b.call("POST", ORDER, limit_buy(qty="0.002", price="48500", cid="iso-b-1"))
    assert r.status == 200, r.body
    b_oid = r.json()["orderId"]

    before = settled_hash(live)
    by_id = [("symbol", SYMBOL), ("orderId", str(oid))]
    by_cid = [("symbol", SYMBOL), ("origClientOrderId", "iso-a-1")]
    for ref in (by_id, by_cid):
        is_error(b.call("DELETE", ORDER, ref), 400, -2011)
        is_error(b.call("GET", ORDER, ref), 400, -2013)
        is_error(b.call("GET", "/fapi/v1/openOrder", ref), 400, -2013)
        amend = [*ref, ("side", "BUY"), ("quantity", "0.020"), ("price", "48000")]
        is_error(b.call("PUT", ORDER, amend), 400, -2013)
    is_error(
        b.call("DELETE", ORDER, [("symbol", SYMBOL), ("orderId", str(b_oid + 99))]), 400, -2011
    )
    assert settled_hash(live) == before
    view = live.venue.titan.order(oid)
    assert view is not None and view.account == account_a
    assert (view.price, view.qty) == (490_000, 10)

    # B's lists show B's order only; A's show A's
    b_open = b.call("GET", "/fapi/v1/openOrders", [("symbol", SYMBOL)]).json()
    assert [o["orderId"] for o in b_open] == [b_oid]
    b_all = b.call("GET", "/fapi/v1/allOrders", [("symbol", SYMBOL)]).json()
    assert [o["orderId"] for o in b_all] == [b_oid]
    assert b.call("GET", "/fapi/v1/openOrders").json() == b_open
    assert b.call("GET", "/fapi/v1/userTrades", [("symbol", SYMBOL)]).json() == []
    a_open = [o["orderId"] for o in a.call("GET", "/fapi/v1/openOrders").json()]
    assert oid in a_open and b_oid not in a_open
    a_all = [o["orderId"] for o in a.call("GET", "/fapi/v1/allOrders", [("symbol", SYMBOL)]).json()]
    assert oid in a_all and b_oid not in a_all

    # B cancelling all its open orders leaves A's alone
    r = b.call("DELETE", "/fapi/v1/allOpenOrders", [("symbol", SYMBOL)])
    assert r.status == 200, r.body
    assert live.venue.titan.order(b_oid) is None
    assert live.venue.titan.order(oid) is not None
    # and A can still cancel its own
    assert a.call("DELETE", ORDER, by_id).json()["status"] == "CANCELED"
    assert live.venue.titan.order(oid) is None


# -- logging ---------------------------------------------------------------------------------


def test_no_secret_or_signature_reaches_the_log(
    live: LiveExchange, caplog: pytest.LogCaptureFixture
) -> None:
    d = demo(live)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="exchange")
    sent: list[str] = []

    def send(method: str, path: str, params: list[tuple[str, str]], ok: bool) -> Reply:
        text = d.stamped(params)
        sig = sign(d.secret, text) if ok else sign("y" * 64, text)
        sent.append(sig)
        return d.send(method, path, f"{text}&signature={sig}")

    is_error(send("GET", BALANCE, [], ok=False), 400, -1022)
    assert send("GET", BALANCE, [], ok=True).status == 200
    r = send("POST", ORDER, limit_buy(cid="log-1"), ok=True)
    assert r.status == 200, r.body
    oid = r.json()["orderId"]
    assert send("DELETE", ORDER, [("symbol", SYMBOL), ("orderId", str(oid))], ok=True).status == 200
    is_error(send("POST", ORDER, limit_buy(qty="1e3"), ok=True), 400, -1130)
    # an unexpected exception in a handler: logged (with the traceback), answered -1000
    routes = live.api.gateway.rest.routes
    handler, security, weight, order = routes[("GET", BALANCE)]

    async def broken(*args: Any) -> Any:
        raise RuntimeError("a bug in the handler")

    routes[("GET", BALANCE)] = (broken, security, weight, order)
    try:
        r = send("GET", BALANCE, [], ok=True)
    finally:
        routes[("GET", BALANCE)] = (handler, security, weight, order)
    body = is_error(r, 400, -1000)
    assert "Traceback" not in r.body.decode() and "a bug" not in body["msg"]
    text = caplog.text
    assert f"request GET {BALANCE} failed" in text and "RuntimeError: a bug in the handler" in text
    assert d.secret not in text and d.key not in text
    for sig in sent:
        assert sig not in text
    assert "timestamp=" not in text and "signature" not in text


# -- parameters ------------------------------------------------------------------------------


def test_paths_and_parameters_are_checked(live: LiveExchange) -> None:
    d = demo(live)
    before = settled_hash(live)
    nowhere = http("GET", live.base + "/fapi/v1/nowhere")
    assert is_error(nowhere, 404, -5000)["msg"] == "Path /fapi/v1/nowhere, Method GET is invalid"
    is_error(d.send("PATCH", ORDER, d.query(limit_buy())), 404, -5000)
    is_error(http("GET", live.base + "/"), 404, -5000)
    unknown = d.call("GET", BALANCE, [("foo", "1")])
    assert is_error(unknown, 400, -1103)["msg"] == "An unknown parameter was sent: 'foo'."
    dup = d.call("POST", ORDER, [*limit_buy(), ("symbol", SYMBOL)])
    assert is_error(dup, 400, -1101)["msg"] == "Duplicate parameter 'symbol'."
    # the same name once in the query and once in the body is a duplicate too
    query = "symbol=BTCUSDT"
    body = d.stamped(limit_buy())
    r = d.send("POST", ORDER, query, f"{body}&signature={sign(d.secret, query + body)}".encode())
    is_error(r, 400, -1101)
    big = d.send("POST", ORDER, d.query(limit_buy()), b"a=" + b"1" * (64 * 1024 + 10))
    assert 400 <= big.status < 500
    assert big.json()["code"] < 0 and isinstance(big.json()["msg"], str)
    sci = d.call("POST", ORDER, limit_buy(qty="1e3"))
    assert "'quantity'" in is_error(sci, 400, -1130)["msg"]
    fine = d.call("POST", ORDER, limit_buy(qty="0.0015"))
    assert "'quantity'" in is_error(fine, 400, -1111)["msg"]
    is_error(d.call("POST", ORDER, limit_buy(price="49000.05")), 400, -1111)
    is_error(d.call("POST", ORDER, [("symbol", "FOOUSDT"), *limit_buy()[1:]]), 400, -1121)
    is_error(d.call("GET", "/fapi/v1/openOrders", [("symbol", "btcusdt")]), 400, -1121)
    is_error(d.call("POST", ORDER, limit_buy()[:-1]), 400, -1102)  # no price
    is_error(d.call("POST", ORDER, limit_buy(qty="-0.010")), 400, -1130)
    is_error(d.call("POST", ORDER, limit_buy(qty="0")), 400, -1130)
    is_error(
        d.call("POST", ORDER, [*limit_buy()[:1], ("side", "UP"), *limit_buy()[2:]]), 400, -1130
    )
    nul = d.call("POST", ORDER, [*limit_buy()[:-1], ("price", "49000\x00")])
    is_error(nul, 400, -1100)
    not_utf8 = d.send("POST", ORDER, body=b"symbol=\xff\xfe&" + d.query().encode())
    is_error(not_utf8, 400, -1100)
    as_json = d.send(
        "POST", ORDER, d.query(limit_buy()), b'{"a": 1}', {"Content-Type": "application/json"}
    )
    is_error(as_json, 400, -1100)
    assert settled_hash(live) == before


# -- rate limits ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveExchange]:
    root: Path = tmp_path_factory.mktemp("limited")
    settings = ApiSettings(port=0, admin_port=0, request_weight_per_minute=20)
    ex = LiveExchange(root, settings).start()
    yield ex
    ex.stop()


def test_a_burst_over_the_request_weight_gets_429_then_418(limited: LiveExchange) -> None:
    assert limited.api.admin_port == 0  # admin_port=0: no admin endpoint
    d = demo(limited)
    into_minute = time.time() % 60
    if into_minute > 55:  # the limiter's windows are calendar minutes: start in a fresh one
        time.sleep(60.2 - into_minute)
    used = []
    for _ in range(15):
        r = http("GET", limited.base + "/fapi/v1/ping")
        assert r.status == 200 and r.json() == {}
        used.append(r.header("X-MBX-USED-WEIGHT-1M"))
    balance = d.call("GET", BALANCE)  # weight 5: 20 of 20
    assert balance.status == 200, balance.body
    assert used == [str(n) for n in range(1, 16)]
    assert balance.header("X-MBX-USED-WEIGHT-1M") == "20"
    assert balance.header("X-MBX-ORDER-COUNT-1M") == "0"
    before = settled_hash(limited)
    r = http("GET", limited.base + "/fapi/v1/ping")
    seconds_left = 60 - time.time() % 60
    body = is_error(r, 429, -1003)
    assert body["msg"] == (
        "Too many requests; current limit of IP(127.0.0.1) request weight per 1 MINUTE is 20. "
        "Please use WebSocket Streams for live updates to avoid polling the API."
    )
    retry = int(r.header("Retry-After") or "0")
    assert 1 <= retry <= 60 and abs(retry - seconds_left) <= 2
    assert r.header("X-MBX-USED-WEIGHT-1M") == "20"  # a refusal consumes nothing
    # a signed read is refused the same way; an order (weight 0) passes the weight limit
    is_error(d.call("GET", BALANCE), 429, -1003)
    order = d.call("POST", ORDER, limit_buy(qty="0.0001"))
    is_error(order, 400, -1111)
    assert order.header("X-MBX-USED-WEIGHT-1M") == "20"
    assert order.header("X-MBX-ORDER-COUNT-1M") == "1"
    # the client was told to stop: 4 refusals in all are 429s, the next one starts a ban
    is_error(http("GET", limited.base + "/fapi/v1/ping"), 429, -1003)
    is_error(http("GET", limited.base + "/fapi/v1/time"), 429, -1003)
    ban = http("GET", limited.base + "/fapi/v1/ping")
    assert is_error(ban, 418, -1003)["msg"].startswith("Way too many requests; IP(127.0.0.1)")
    assert int(ban.header("Retry-After") or "0") in (119, 120)  # the first ban: 2 minutes
    assert is_error(d.call("GET", BALANCE), 418, -1003)
    assert settled_hash(limited) == before
    assert limited.api.gateway.limiter.banned_418 == 2


# -- the admin endpoint ----------------------------------------------------------------------


def test_admin_deposits_need_the_token_and_loopback_port(live: LiveExchange) -> None:
    token_file = admin_token_path(live.api.keys.path)
    token = token_file.read_text(encoding="utf-8").strip()
    assert len(token) == 64
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(live.api.keys.path).stat().st_mode) == 0o600
    account = 20_004
    rec = new_key(live, account)
    s = signer_of(live, rec)
    assert usdt_balance(s) == "0.00000000"
    url = f"http://127.0.0.1:{live.api.admin_port}/admin/v1/deposit"
    body = f"account={account}&asset=USDT&amount=250.5".encode()
    before = settled_hash(live)
    is_error(http("POST", url, body=body), 401, -2015)
    for wrong in ("", "0" * 64, token[:-1], token + "0", token.upper(), "t\u00e9st"):
        header = wrong.encode().decode("latin-1")  # how the bytes go on the wire
        r = http("POST", url, body=body, headers={"X-Admin-Token": header})
        assert is_error(r, 401, -2015)["msg"] == "Invalid admin token.", wrong
    # the admin endpoint is not served on the public port, token or not
    public = f"{live.base}/admin/v1/deposit"
    is_error(http("POST", public, body=body, headers={"X-Admin-Token": token}), 404, -5000)
    # a withdrawal of more than the wallet holds is refused
    withdraw = f"http://127.0.0.1:{live.api.admin_port}/admin/v1/withdraw"
    r = http("POST", withdraw, body=body, headers={"X-Admin-Token": token})
    is_error(r, 400, -2018)
    r = http("POST", url, body=body + b"&extra=1", headers={"X-Admin-Token": token})
    is_error(r, 400, -1103)
    r = http(
        "POST", url, body=f"account={account}&amount=1e3".encode(), headers={"X-Admin-Token": token}
    )
    is_error(r, 400, -1130)
    assert settled_hash(live) == before
    assert usdt_balance(s) == "0.00000000"
    # with the token: the deposit lands, journaled, and shows over REST
    r = http("POST", url, body=body, headers={"X-Admin-Token": token})
    assert r.status == 200, r.body
    out = r.json()
    assert out["account"] == account and out["asset"] == "USDT"
    assert out["amount"] == "250.50000000" and out["tranId"] == live.seq.last_seq
    assert settled_hash(live) != before
    assert usdt_balance(s) == "250.50000000"
    income = s.call("GET", "/fapi/v1/income").json()
    assert [(i["incomeType"], i["income"]) for i in income] == [("TRANSFER", "250.50000000")]
    r = http("POST", withdraw, body=body.replace(b"250.5", b"50"), headers={"X-Admin-Token": token})
    assert r.status == 200, r.body
    assert usdt_balance(s) == "200.50000000"
    is_error(http("GET", f"http://127.0.0.1:{live.api.admin_port}/admin/v1/x"), 404, -5000)


# -- random requests -------------------------------------------------------------------------

#: each endpoint with a request that it would accept (or refuse only for the state it
#: finds); the test drops, replaces and adds parameters to it, and moves some to the body
ENDPOINTS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("POST", ORDER): limit_buy(qty="0.001", price="49100"),
    ("POST", "/fapi/v1/algoOrder"): [
        ("algoType", "CONDITIONAL"),
        ("symbol", SYMBOL),
        ("side", "SELL"),
        ("type", "STOP_MARKET"),
        ("quantity", "0.001"),
        ("triggerPrice", "45000"),
    ],
    ("PUT", ORDER): [
        ("symbol", SYMBOL),
        ("orderId", "1"),
        ("side", "BUY"),
        ("quantity", "0.002"),
        ("price", "49000"),
    ],
    ("DELETE", ORDER): [("symbol", SYMBOL), ("orderId", "1")],
    ("GET", ORDER): [("symbol", SYMBOL), ("origClientOrderId", "x")],
    ("GET", "/fapi/v1/openOrders"): [("symbol", SYMBOL)],
    ("GET", "/fapi/v1/allOrders"): [("symbol", SYMBOL), ("limit", "10")],
    ("DELETE", "/fapi/v1/allOpenOrders"): [("symbol", SYMBOL)],
    ("POST", "/fapi/v1/leverage"): [("symbol", SYMBOL), ("leverage", "10")],
    ("GET", BALANCE): [],
}
NAMES = st.sampled_from(
    [
        "symbol", "side", "type", "timeInForce", "quantity", "price", "orderId",
        "origClientOrderId", "newClientOrderId", "leverage", "reduceOnly", "recvWindow",
        "timestamp", "signature", "limit", "algoType", "triggerPrice", "selfTradePreventionMode",
    ]
) | st.text(max_size=12)  # fmt: skip
VALUES = st.sampled_from(
    [
        "", "0", "-1", "1", "1e3", "0.001", "0.0001", "49000", "49000.0", "NaN", "Infinity",
        "9" * 25, "-0", "BTCUSDT", "ETHUSDT", "FOOUSDT", "BUY", "SELL", "LIMIT", "MARKET", "STOP",
        "GTC", "IOC", "GTX", "true", "false", "CONDITIONAL", "%00", "\x00", " 1", "1 ",
    ]
) | st.text(max_size=30)  # fmt: skip
#: raw query text, sent as it is (printable ASCII: what an HTTP request line can carry)
RAW = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#"),
    max_size=40,
)


@pytest.fixture(scope="module")
def fuzzer(live: LiveExchange) -> Signer:
    live.fund(ACCOUNT_FUZZ, 100_000)
    return signer_of(live, new_key(live, ACCOUNT_FUZZ))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, str, bytes | None, str]:
    """(method, path, query without timestamp, body, content type)."""
    method, path = draw(st.sampled_from(sorted(ENDPOINTS)))
    base = ENDPOINTS[(method, path)]
    dropped = draw(st.sets(st.sampled_from([n for n, _ in base] or ["-"]), max_size=2))
    changed = draw(st.dictionaries(NAMES, VALUES, max_size=3))
    merged = {n: v for n, v in base if n not in dropped}
    merged.update(changed)
    pairs = list(merged.items())
    if draw(st.booleans()):  # sometimes a name twice
        pairs += draw(st.lists(st.tuples(NAMES, VALUES), max_size=2))
    split = draw(st.integers(0, len(pairs)))
    query = urllib.parse.urlencode(pairs[:split])
    raw = draw(st.one_of(st.just(""), st.just(""), RAW))
    query = "&".join(p for p in (raw, query) if p)
    kind = draw(st.sampled_from(["form", "form", "none", "bytes"]))
    body: bytes | None = None
    if kind == "form" and pairs[split:]:
        body = urllib.parse.urlencode(pairs[split:]).encode()
    elif kind == "bytes":
        body = draw(st.binary(max_size=200))
    else:
        query = "&".join(p for p in (query, urllib.parse.urlencode(pairs[split:])) if p)
    content_type = draw(
        st.sampled_from(
            ["application/x-www-form-urlencoded"] * 4 + ["text/plain", "application/json"]
        )
    )
    return method, path, query, body, content_type


def send_signed(fuzzer: Signer, request: tuple[str, str, str, bytes | None, str]) -> Reply:
    """``request`` with a timestamp (last, in the body when there is one, as ccxt sends
    it) and the signature over the exact query and body."""
    method, path, query, body, content_type = request
    stamp = f"timestamp={int(time.time() * 1000)}"
    if body is not None:
        body = body + b"&" + stamp.encode() if body else stamp.encode()
    else:
        query = f"{query}&{stamp}" if query else stamp
    sig = sign(fuzzer.secret, query.encode() + (body or b""))
    headers = {"Content-Type": content_type} if body is not None else {}
    return fuzzer.send(method, path, f"{query}&signature={sig}", body, headers)


def test_random_requests_get_binance_answers_and_errors_change_nothing(
    live: LiveExchange, fuzzer: Signer
) -> None:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(request=requests())
    def check(request: tuple[str, str, str, bytes | None, str]) -> None:
        before = settled_hash(live)
        r = send_signed(fuzzer, request)
        assert r.status < 500, (r.status, r.body)
        answer = r.json()
        if r.status == 200:
            assert isinstance(answer, dict | list)
            if isinstance(answer, dict):
                assert not (type(answer.get("code")) is int and answer["code"] < 0), answer
            outcomes["ok"] += 1
            return
        assert 400 <= r.status < 500, (r.status, r.body)
        assert set(answer) == {"code", "msg"}, answer
        assert type(answer["code"]) is int and answer["code"] < 0, answer
        assert isinstance(answer["msg"], str) and answer["msg"]
        assert answer["code"] != -1000, answer  # -1000: an exception the gateway did not expect
        assert settled_hash(live) == before
        outcomes[str(answer["code"])] += 1

    check()
    # the requests reached the endpoints: most were signed right, and some succeeded
    unsigned = outcomes["-1022"] + outcomes["-2014"] + outcomes["-2015"]
    assert unsigned < outcomes.total() / 2, outcomes
    assert outcomes["ok"] >= 1, outcomes
