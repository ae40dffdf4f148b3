"""``exchange keys create|list|revoke``: the API keys of the Binance-compatible API.

``create --account N [--label L] [--ed25519 PUBKEY.pem]`` makes a key bound to account N
(HMAC-SHA256, or Ed25519 with the public half of a key pair the user made), ``list
[--account N]`` shows the keys, ``revoke KEY [--account N]`` revokes one. Each takes
``--json`` (one JSON object per key) and the location of the key file, which
:func:`add_location_options` and :func:`keys_path` also give ``exchange deposit`` and
``exchange withdraw``.

Rules
-----
- The key file: ``--keys-file F`` if given, else the one ``exchange run`` keeps beside
  its journal, ``<--journal DIR>.keys.json`` (:meth:`ApiSettings.keys_path`), the journal
  defaulting to that of ``exchange run`` (``./platform_events``). A running exchange
  re-reads the file when it changes, so a key works (or stops working) at once.
- An HMAC secret is printed once, by ``create``, with a line saying it is not shown
  again (on stderr under ``--json``, so that stdout stays JSON); ``list`` and ``revoke``
  never print a secret (:meth:`KeyRecord.public`). An Ed25519 key has no secret here:
  ``create`` prints the key only.
- Every error (a key file open to other users, an unknown key, a file that is not an
  Ed25519 public key) is one line (:class:`UserError`: exit status 2).
- Exit status: 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from exchange.audit.records import iso_time
from exchange.cli.args import positive_int
from exchange.config.settings import ApiSettings, Settings
from exchange.errors import UserError
from exchange.gateway.keys import HMAC, KeyRecord, KeyStore, ed25519_public_pem

NAME = "keys"

# the journal of `exchange run` when none is given (its settings' default)
DEFAULT_JOURNAL = str(next(f.default for f in fields(Settings) if f.name == "journal"))


# -- the key file's location (shared with deposit and withdraw) -------------------------


def add_location_options(parser: argparse.ArgumentParser) -> None:
    """``--journal DIR`` and ``--keys-file F``: where the key file is."""
    g = parser.add_argument_group("key file")
    g.add_argument(
        "--journal",
        metavar="DIR",
        default=DEFAULT_JOURNAL,
        help=f"the exchange's journal; its key file is DIR.keys.json (default {DEFAULT_JOURNAL})",
    )
    g.add_argument(
        "--keys-file",
        metavar="F",
        help="the key file itself (as [api] keys_file of the config); wins over --journal",
    )


def keys_path(args: argparse.Namespace) -> Path:
    """The key file that ``--keys-file`` / ``--journal`` name (see the module rules)."""
    return Path(ApiSettings(keys_file=args.keys_file or "").keys_path(args.journal))


# -- the parser -------------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add ``keys`` (with its actions create, list and revoke) to the CLI's subparsers."""
    p = sub.add_parser(
        NAME,
        help="API keys: create, list, revoke (each bound to one account)",
        description="Manage the API keys of the Binance-compatible API. The key file is "
        "the one `exchange run` keeps beside its journal (DIR.keys.json), or --keys-file; "
        "a running exchange picks up changes at once.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create",
        help="a new key for an account (prints an HMAC secret once)",
        description="Create a key bound to --account: HMAC-SHA256 (the secret is printed "
        "once, now), or Ed25519 with --ed25519 PUBKEY.pem (sign with its private half).",
    )
    create.add_argument("--account", type=positive_int, required=True, metavar="N")
    create.add_argument("--label", default="", metavar="L", help="a name to recognise it by")
    create.add_argument(
        "--ed25519",
        metavar="PUBKEY.pem",
        help="an Ed25519 public key (PEM), e.g. from: openssl pkey -in key.pem -pubout",
    )

    listing = actions.add_parser(
        "list",
        help="the keys (never their secrets)",
        description="One line per key: key, account, kind, label, created, state.",
    )
    listing.add_argument("--account", type=positive_int, metavar="N", help="only this account")

    revoke = actions.add_parser(
        "revoke",
        help="revoke a key (it stays listed, as revoked)",
        description="Revoke KEY; a running exchange refuses it from then on.",
    )
    revoke.add_argument("key", metavar="KEY")
    revoke.add_argument(
        "--account", type=positive_int, metavar="N", help="refuse unless KEY is of account N"
    )

    for action in (create, listing, revoke):
        add_location_options(action)
        action.add_argument("--json", action="store_true", help="JSON output")


# -- running ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """``exchange keys ACTION`` (see the module docstring); returns the exit status."""
    path = keys_path(args)
    store = KeyStore(path)
    if args.action == "create":
        _create(store, args)
    elif args.action == "list":
        _list(store, args)
    else:
        _revoke(store, args)
    return 0


def _public_pem(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--ed25519 {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"--ed25519 {path}: not a PEM file (not text)") from None
    if "PRIVATE KEY" in text:
        raise UserError(
            f"--ed25519 {path} holds a private key: give its public half "
            f"(openssl pkey -in {path} -pubout -out pub.pem) and keep the private one to sign"
        )
    try:
        return ed25519_public_pem(text)
    except UserError as exc:
        raise UserError(f"--ed25519 {path}: {' '.join(str(exc).split())}") from None


def _create(store: KeyStore, args: argparse.Namespace) -> None:
    pem = _public_pem(args.ed25519) if args.ed25519 else ""
    rec = store.create(
        args.account, now_ms=time.time_ns() // 1_000_000, label=args.label, ed25519_pem=pem
    )
    hmac = rec.kind == HMAC
    notice = "the secret is not shown again: store it now (`exchange keys list` never shows it)"
    if args.json:
        shown = _json(rec) | ({"secret": rec.secret} if hmac else {})
        print(json.dumps(shown))
        if hmac:
            print(f"exchange: {notice}", file=sys.stderr)
        return
    label = f", label {rec.label!r}" if rec.label else ""
    print(f"created a key for account {rec.account} ({rec.kind}{label}) in {store.path}")
    print(f"key:    {rec.key}")
    if hmac:
        print(f"secret: {rec.secret}")
        print(notice[0].upper() + notice[1:] + ".")
    else:
        print(f"sign requests with the private key that {args.ed25519} is the public half of")


def _list(store: KeyStore, args: argparse.Namespace) -> None:
    rows = store.records(args.account)
    if args.json:
        for rec in rows:
            print(json.dumps(_json(rec)))
        return
    if not rows:
        whose = f" of account {args.account}" if args.account is not None else ""
        missing = "" if store.path.exists() else " (the file does not exist)"
        print(f"no keys{whose} in {store.path}{missing}")
        return
    for rec in rows:
        print(_line(rec))


def _revoke(store: KeyStore, args: argparse.Namespace) -> None:
    before = next((r for r in store.records(args.account) if r.key == args.key), None)
    if before is None:
        whose = f" of account {args.account}" if args.account is not None else ""
        shown = args.key[:8] + ("..." if len(args.key) > 8 else "")  # a pasted secret, perhaps
        raise UserError(f"no key {shown}{whose} in {store.path}")
    rec = store.revoke(args.key, args.account)
    if args.json:
        print(json.dumps(_json(rec)))
    elif before.revoked:
        print(f"already revoked: {_line(rec)}")
    else:
        print(f"revoked: {_line(rec)}")


def _json(rec: KeyRecord) -> dict[str, Any]:
    return rec.public() | {"created": iso_time(rec.created_ms)}


def _line(rec: KeyRecord) -> str:
    created = iso_time(rec.created_ms) or str(rec.created_ms)
    state = "revoked" if rec.revoked else "active"
    return (
        f"{rec.key}  account {rec.account}  {rec.kind}  label {rec.label!r}  "
        f"created {created}  {state}"
    )


__all__ = ["DEFAULT_JOURNAL", "NAME", "add_location_options", "keys_path", "register", "run"]
