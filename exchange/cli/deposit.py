"""``exchange deposit --account N --amount X [--asset USDT] [--admin-url URL]``.

Asks a running exchange (``exchange run``) to deposit X of the asset to account N,
through its admin endpoint (``POST /admin/v1/deposit`` on 127.0.0.1, the admin port),
and prints what it did. ``exchange withdraw`` (:mod:`exchange.cli.withdraw`) is the same
with ``/admin/v1/withdraw``: both are :func:`add_transfer_parser` and :func:`transfer`.

Rules
-----
- The admin token is read from ``<key file>.admin``, which ``exchange run`` writes at
  every start; the key file is found as ``exchange keys`` finds it (``--keys-file``,
  else ``<--journal DIR>.keys.json``; :func:`exchange.cli.keys.keys_path`).
- The token goes only to a loopback address (the admin endpoint listens on 127.0.0.1
  only): ``--admin-url`` naming another host is refused, no proxy is used and no
  redirect followed. The token is never printed.
- Every failure is one line (:class:`UserError`: exit status 2): no token file (the
  exchange is not running with an admin port, or the key file is elsewhere), the
  connection refused (naming the URL), the exchange's refusal (its code and message).
- Exit status: 0 once the exchange has journaled the transfer.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from exchange.cli.args import positive_int
from exchange.cli.keys import add_location_options, keys_path
from exchange.config.settings import ApiSettings
from exchange.errors import UserError
from exchange.gateway.service import admin_token_path

NAME = "deposit"
DEFAULT_ADMIN_URL = f"http://127.0.0.1:{ApiSettings().admin_port}"
TIMEOUT_S = 30.0  # a deposit is answered once durable: well under a second


def admin_url(text: str) -> str:
    """An ``http://`` URL of a loopback address (argparse type), without a trailing /."""
    url = urllib.parse.urlsplit(text.strip())
    try:
        host, _port = url.hostname, url.port  # .port raises ValueError for a bad port
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: bad port") from None
    if url.scheme != "http" or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// URL ({DEFAULT_ADMIN_URL})")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the admin endpoint listens on 127.0.0.1 only, so the URL must name a "
            "loopback address (127.0.0.1, ::1 or localhost)"
        )
    return text.strip().rstrip("/")


def add_transfer_parser(sub: Any, name: str, help: str) -> None:
    """Add the parser of ``deposit`` or ``withdraw`` (``name``) to the subparsers ``sub``."""
    p = sub.add_parser(
        name,
        help=help,
        description=f"{help[0].upper()}{help[1:]}: a request to the admin endpoint of "
        "`exchange run` (127.0.0.1, its admin port) with the token it writes beside its key "
        "file (<key file>.admin).",
    )
    p.add_argument("--account", type=positive_int, required=True, metavar="N")
    p.add_argument("--amount", required=True, metavar="X", help="a plain decimal, e.g. 1000.50")
    p.add_argument("--asset", default="USDT", help="the asset (default USDT)")
    p.add_argument(
        "--admin-url",
        type=admin_url,
        default=DEFAULT_ADMIN_URL,
        metavar="URL",
        help=f"the exchange's admin endpoint (default {DEFAULT_ADMIN_URL})",
    )
    add_location_options(p)


def register(sub: Any) -> None:
    """Add ``deposit`` to the CLI's subparsers."""
    add_transfer_parser(sub, NAME, "deposit money to an account of a running exchange")


def run(args: argparse.Namespace) -> int:
    """``exchange deposit`` (see the module docstring); returns the exit status."""
    return transfer(args, deposit=True)


# -- the request ------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Answers a redirect with its own status: the token is not sent anywhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _token(args: argparse.Namespace) -> tuple[str, Path]:
    path = admin_token_path(keys_path(args))
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise UserError(
            f"no admin token at {path}: the exchange is not running with an admin port for "
            "this key file (`exchange run` writes the token at start unless --admin-port 0), "
            "or its key file is elsewhere: give --keys-file F or --journal DIR"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UserError(f"admin token {path} cannot be read: {reason}") from None
    if not token:
        raise UserError(f"admin token {path} is empty: restart `exchange run`")
    return token, path


def transfer(args: argparse.Namespace, *, deposit: bool) -> int:
    """Deposit (or withdraw) as ``args`` say and print the result; UserError on failure."""
    what = "deposit" if deposit else "withdraw"
    token, token_path = _token(args)
    url = f"{args.admin_url}/admin/v1/{what}"
    body = urllib.parse.urlencode(
        {"account": args.account, "asset": args.asset, "amount": args.amount}
    ).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "X-Admin-Token": token,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            answer = _json_body(response.read())
    except urllib.error.HTTPError as exc:
        raise UserError(_refusal(what, url, exc, token_path)) from None
    except urllib.error.URLError as exc:
        raise UserError(_unreachable(args.admin_url, exc.reason)) from None
    except TimeoutError:
        raise UserError(f"{what}: no answer from {url} within {TIMEOUT_S:g} s") from None
    except OSError as exc:  # the connection dropped mid-answer
        raise UserError(f"{what}: the connection to {url} failed: {exc}") from None
    if not isinstance(answer, dict) or not {"tranId", "amount", "asset"} <= answer.keys():
        raise UserError(f"{what}: unexpected answer from {url} (is it the admin endpoint?)")
    if deposit:
        done = f"deposited {answer['amount']} {answer['asset']} to account {args.account}"
    else:
        done = f"withdrew {answer['amount']} {answer['asset']} from account {args.account}"
    print(f"{done} (tranId {answer['tranId']})")
    return 0


def _refusal(what: str, url: str, exc: urllib.error.HTTPError, token_path: Path) -> str:
    try:
        error = _json_body(exc.read())
    except OSError:
        error = None
    finally:
        exc.close()
    if not (isinstance(error, dict) and "code" in error and "msg" in error):
        return f"{what}: {url} answered HTTP {exc.code} {exc.reason}"
    hint = ""
    if exc.code == 401:
        hint = f" (the token at {token_path} is not of the exchange at this URL?)"
    return f"{what} refused by {url}: {error['msg']} (code {error['code']}){hint}"


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _unreachable(url: str, reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return (
            f"cannot connect to {url}: connection refused (is `exchange run` running with "
            "its admin port there? see --admin-url)"
        )
    if isinstance(reason, TimeoutError):
        return f"no answer from {url} within {TIMEOUT_S:g} s"
    text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
    return f"cannot connect to {url}: {text}"


__all__ = [
    "DEFAULT_ADMIN_URL",
    "NAME",
    "add_transfer_parser",
    "admin_url",
    "register",
    "run",
    "transfer",
]
