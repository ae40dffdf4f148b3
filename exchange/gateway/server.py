"""The API's transport: one aiohttp server for REST and the user-data WebSocket.

Rules
-----
- Binds ``host`` (127.0.0.1 unless told otherwise). The admin endpoint (deposits and
  withdrawals) is a second listener that binds 127.0.0.1 only and takes the admin token
  in ``X-Admin-Token``; it is never served on the public port.
- Every request: its weight is counted against the caller's IP (and an order against
  its account) before anything runs (:mod:`exchange.gateway.limits`); the answer
  carries ``X-MBX-USED-WEIGHT-1M`` (and the order counts), a refusal 429 or 418 with
  ``Retry-After``.
- Keys and signatures: an endpoint that needs a key reads ``X-MBX-APIKEY`` (-2014 if
  malformed, -2015 if unknown or revoked); a signed one also checks ``signature`` over
  the exact bytes received: the query string, then the body, each without its
  ``signature=`` field (Binance's totalParams), and, for clients that sign the
  unencoded form (python-binance), the same with percent-escapes decoded. Then Binance's
  time rule: ``timestamp < server time + 1000`` and ``server time - timestamp <=
  recvWindow`` (default 5000, at most 60000), else -1021.
- Every failure is Binance's error JSON with its code and a 4xx status; an unexpected
  exception is logged and answered -1000 with status 400, never a traceback.
- Nothing logs a secret, a signature or a request's parameters.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote_plus

from aiohttp import WSMsgType, web

from exchange.gateway.errors import (
    BAD_API_KEY_FMT,
    BAD_RECV_WINDOW,
    INVALID_LISTEN_KEY,
    INVALID_SIGNATURE,
    INVALID_TIMESTAMP,
    PATH_NOT_FOUND,
    REJECTED_MBX_KEY,
    UNKNOWN,
    ApiError,
    missing,
)
from exchange.gateway.keys import KeyRecord, KeyStore, well_formed_key
from exchange.gateway.limits import RateLimiter, Verdict
from exchange.gateway.params import Params
from exchange.gateway.rest import Caller, Rest
from exchange.gateway.userstream import Connection, UserStreams
from exchange.runtime.sequencer import IntakeClosed, SequencerFailed

log = logging.getLogger("exchange.gateway")
MAX_BODY = 64 * 1024
LISTEN_KEY_PATH = "/fapi/v1/listenKey"
STREAM_PATHS = ("/private/ws", "/private/stream", "/ws", "/stream")


def _strip_signature(raw: bytes) -> bytes:
    """``raw`` (a query string or form body) without its ``signature=`` field(s)."""
    if b"signature=" not in raw:
        return raw
    return b"&".join(p for p in raw.split(b"&") if not p.startswith(b"signature="))


class GatewayStats:
    """Counters for the metrics exporter."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}  # (endpoint, status) -> count
        self.latency_s: dict[str, float] = {}  # endpoint -> total seconds
        self.auth_failures = 0


class Gateway:
    """The REST and WebSocket API of one running exchange (see the module rules)."""

    def __init__(
        self,
        rest: Rest,
        keys: KeyStore,
        limiter: RateLimiter,
        streams: UserStreams,
        *,
        admin_token: str,
        clock_ms: Callable[[], int],
    ) -> None:
        self.rest = rest
        self.keys = keys
        self.limiter = limiter
        self.streams = streams
        self.admin_token = admin_token
        self.clock_ms = clock_ms
        self.stats = GatewayStats()
        self.paths = {path for _, path in rest.routes} | {LISTEN_KEY_PATH}
        self._runners: list[web.AppRunner] = []
        self._sockets: set[web.WebSocketResponse] = set()
        self._expiry: asyncio.Task[None] | None = None

    # -- serving ------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        for path in STREAM_PATHS:
            app.router.add_get(path, self.user_stream)
        app.router.add_get("/ws/{key}", self.user_stream)
        app.router.add_get("/private/ws/{key}", self.user_stream)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    def admin_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/admin/v1/deposit", self.admin_transfer)
        app.router.add_post("/admin/v1/withdraw", self.admin_transfer)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    async def start(self, host: str, port: int, admin_port: int | None = None) -> tuple[int, int]:
        """Listen on ``host:port``, and on 127.0.0.1:``admin_port`` unless it is None
        (0: any free port); the bound ports (0 for an admin endpoint that is off)."""
        api = await self._listen(self.app(), host, port)
        admin = 0
        if admin_port is not None:
            admin = await self._listen(self.admin_app(), "127.0.0.1", admin_port)
        self._expiry = asyncio.create_task(self._expire_keys(), name="listen-key-expiry")
        return api, admin

    async def _listen(self, app: web.Application, host: str, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError:
            await runner.cleanup()
            await self.close()
            raise
        self._runners.append(runner)
        address = runner.addresses[0]
        return int(address[1])

    async def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    async def _expire_keys(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.streams.expire()

    # -- REST ---------------------------------------------------------------------------

    async def not_found(self, request: web.Request) -> web.Response:
        return self._error(
            ApiError(
                PATH_NOT_FOUND, f"Path {request.path}, Method {request.method} is invalid", 404
            ),
            {},
        )

    def _error(self, err: ApiError, headers: dict[str, str]) -> web.Response:
        return web.json_response(err.body(), status=err.status, headers=headers)

    def _count(self, endpoint: str, status: int, started: float) -> None:
        key = (endpoint, status)
        self.stats.requests[key] = self.stats.requests.get(key, 0) + 1
        self.stats.latency_s[endpoint] = self.stats.latency_s.get(endpoint, 0.0) + (
            time.perf_counter() - started
        )

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        path, method = request.path, request.method
        endpoint = path if path in self.paths else "unknown"
        headers: dict[str, str] = {}
        try:
            response = await self._handle(request, path, method, headers)
        except ApiError as err:
            response = self._error(err, headers)
        except (IntakeClosed, SequencerFailed):
            response = self._error(
                ApiError(UNKNOWN, "The exchange is stopping; the request was not executed."),
                headers,
            )
        except web.HTTPException as exc:  # aiohttp's own (e.g. a body over the limit)
            status = exc.status if 400 <= exc.status < 500 else 400
            code = -1000 if status != 413 else -1101
            response = self._error(ApiError(code, exc.reason or "Bad request.", status), headers)
        except Exception:  # a bug: logged, answered as Binance would, never a traceback
            log.exception("request %s %s failed", method, endpoint)
            response = self._error(
                ApiError(UNKNOWN, "An unknown error occurred while processing the request."),
                headers,
            )
        self._count(endpoint, response.status, started)
        return response

    async def _handle(
        self, request: web.Request, path: str, method: str, headers: dict[str, str]
    ) -> web.StreamResponse:
        if path == LISTEN_KEY_PATH:
            return await self._listen_key(request, method, headers)
        route = self.rest.routes.get((method, path))
        if route is None:
            raise ApiError(PATH_NOT_FOUND, f"Path {path}, Method {method} is invalid", 404)
        handler, security, weight, order = route
        raw_query = request.rel_url.raw_query_string.encode("latin-1", "replace")
        body = await request.read()
        params = self._params(raw_query, body, request.content_type)
        account = 0
        if security != "public":
            rec = self._key(request)
            self._verify(rec, params, raw_query, body)
            account = rec.account
        verdict = self.limiter.check(
            request.remote or "?", weight, self.clock_ms(), account or None, order
        )
        self._limit(verdict, headers)
        if account:
            self.rest.history.follow([account])
        result = await handler(params, Caller(account, request.remote or "?"))
        return web.json_response(result, headers=headers, dumps=_dumps)

    def _params(self, raw_query: bytes, body: bytes, content_type: str) -> Params:
        pairs: list[tuple[str, str]] = []
        try:
            pairs += parse_qsl(
                raw_query.decode("utf-8"), keep_blank_values=True, strict_parsing=False
            )
            if body:
                if content_type not in (
                    "application/x-www-form-urlencoded",
                    "",
                    "application/octet-stream",
                    "text/plain",
                ):
                    raise ApiError(
                        -1100, f"The request body must be form-encoded, not {content_type}."
                    )
                pairs += parse_qsl(
                    body.decode("utf-8"), keep_blank_values=True, strict_parsing=False
                )
        except UnicodeDecodeError:
            raise ApiError(-1100, "Illegal characters found in a parameter.") from None
        except ValueError:
            raise ApiError(-1100, "Illegal characters found in a parameter.") from None
        return Params(pairs)

    def _key(self, request: web.Request) -> KeyRecord:
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key or not well_formed_key(key):
            self.stats.auth_failures += 1
            raise ApiError(BAD_API_KEY_FMT, "API-key format invalid.", 401)
        rec = self.keys.get(key)
        if rec is None and self.keys.reload():
            rec = self.keys.get(key)
        if rec is None:
            self.stats.auth_failures += 1
            raise ApiError(REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.", 401)
        return rec

    def _verify(self, rec: KeyRecord, params: Params, raw_query: bytes, body: bytes) -> None:
        signature = params.text("signature", False)
        if not signature:
            raise missing("signature")
        payload = _strip_signature(raw_query) + _strip_signature(body)
        ok = rec.verify(payload, signature)
        if not ok:
            decoded = unquote_plus(payload.decode("utf-8", "replace")).encode()
            ok = decoded != payload and rec.verify(decoded, signature)
        if not ok:
            self.stats.auth_failures += 1
            raise ApiError(INVALID_SIGNATURE, "Signature for this request is not valid.")
        timestamp = params.integer("timestamp", 0)
        window = params.integer("recvWindow", 0, required=False, default=5000)
        if window > 60_000:
            raise ApiError(BAD_RECV_WINDOW, "recvWindow must be less than 60000")
        now = self.clock_ms()
        if not (timestamp < now + 1000 and now - timestamp <= window):
            raise ApiError(
                INVALID_TIMESTAMP, "Timestamp for this request is outside of the recvWindow."
            )

    def _limit(self, verdict: Verdict, headers: dict[str, str]) -> None:
        headers.update(verdict.headers)
        if not verdict.allowed:
            headers["Retry-After"] = str(verdict.retry_after_s)
            raise ApiError(verdict.code, verdict.msg, verdict.status)

    async def _listen_key(
        self, request: web.Request, method: str, headers: dict[str, str]
    ) -> web.StreamResponse:
        rec = self._key(request)
        self._limit(self.limiter.check(request.remote or "?", 1, self.clock_ms()), headers)
        self.rest.history.follow([rec.account])
        if method == "POST":
            return web.json_response(
                {"listenKey": self.streams.create(rec.account)}, headers=headers
            )
        if method == "PUT":
            if not self.streams.keepalive(rec.account):
                raise ApiError(INVALID_LISTEN_KEY, "This listenKey does not exist.")
            return web.json_response({}, headers=headers)
        if method == "DELETE":
            self.streams.close_account(rec.account)
            return web.json_response({}, headers=headers)
        raise ApiError(PATH_NOT_FOUND, f"Path {LISTEN_KEY_PATH}, Method {method} is invalid", 404)

    # -- the user data stream -----------------------------------------------------------

    async def user_stream(self, request: web.Request) -> web.StreamResponse:
        """``/private/ws?listenKey=K``, ``/ws/K``, or ``/private/stream`` then SUBSCRIBE K."""
        key = request.match_info.get("key") or request.query.get("listenKey", "")
        streams = request.query.get("streams", "")
        if not key and streams:
            key = streams.split("/")[0]
        ws = web.WebSocketResponse(heartbeat=180.0)
        await ws.prepare(request)
        self._sockets.add(ws)
        conn: Connection | None = None
        sender: asyncio.Task[None] | None = None
        try:
            if key:
                conn = self.streams.connect(key)
                if conn is None:
                    await ws.send_str(
                        json.dumps({"code": INVALID_LISTEN_KEY, "msg": "Invalid listenKey."})
                    )
                    return ws
                sender = asyncio.create_task(self._send(ws, conn))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                reply, new_key = self._control(msg.data, conn)
                if new_key and conn is None:
                    conn = self.streams.connect(new_key)
                    if conn is not None:
                        sender = asyncio.create_task(self._send(ws, conn))
                    else:
                        reply = {
                            "id": reply.get("id"),
                            "error": {"code": 2, "msg": "Invalid listenKey."},
                        }
                await ws.send_str(json.dumps(reply))
        finally:
            if sender is not None:
                sender.cancel()
            if conn is not None:
                self.streams.disconnect(conn)
            self._sockets.discard(ws)
        return ws

    def _control(self, text: str, conn: Connection | None) -> tuple[dict[str, object], str]:
        """A SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS frame: (reply, listen key)."""
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
            return {"error": {"code": 3, "msg": "Invalid JSON"}}, ""
        if not isinstance(frame, dict):
            return {"error": {"code": 3, "msg": "Invalid request"}}, ""
        rid = frame.get("id")
        method = frame.get("method")
        params = frame.get("params", [])
        if method == "LIST_SUBSCRIPTIONS":
            return {"id": rid, "result": [conn.key] if conn is not None else []}, ""
        if method in ("SUBSCRIBE", "UNSUBSCRIBE") and isinstance(params, list):
            keys = [p for p in params if isinstance(p, str)]
            if method == "SUBSCRIBE" and keys:
                return {"id": rid, "result": None}, keys[0]
            return {"id": rid, "result": None}, ""
        return {
            "id": rid,
            "error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"},
        }, ""

    async def _send(self, ws: web.WebSocketResponse, conn: Connection) -> None:
        try:
            while True:
                text = await conn.queue.get()
                if text is None:
                    break
                await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    # -- admin --------------------------------------------------------------------------

    async def admin_transfer(self, request: web.Request) -> web.Response:
        token = request.headers.get("X-Admin-Token", "")
        # as bytes: compare_digest refuses a str with non-ASCII characters (TypeError, a 500)
        sent = token.encode("utf-8", "surrogateescape")
        if not self.admin_token or not hmac.compare_digest(sent, self.admin_token.encode()):
            return self._error(ApiError(REJECTED_MBX_KEY, "Invalid admin token.", 401), {})
        if not ipaddress.ip_address(request.remote or "0.0.0.0").is_loopback:
            return self._error(
                ApiError(REJECTED_MBX_KEY, "Admin requests come from loopback only.", 401), {}
            )
        try:
            params = self._params(b"", await request.read(), request.content_type)
            params.allow(("account", "asset", "amount"))
            account = params.integer("account", 1)
            self.rest.history.follow([account])  # before the deposit: its history counts
            asset = params.text("asset", False, "USDT")
            amount = params.text("amount")
            result = await self.rest.transfer(
                account, asset, amount, request.path.endswith("deposit")
            )
        except ApiError as err:
            return self._error(err, {})
        except (IntakeClosed, SequencerFailed):
            return self._error(ApiError(UNKNOWN, "The exchange is stopping."), {})
        return web.json_response(result)


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


__all__ = ["MAX_BODY", "Gateway", "GatewayStats"]
