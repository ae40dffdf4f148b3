"""API keys: each bound to one account, kept in a file only its owner can read.

Rules
-----
- A key is 64 letters and digits (as Binance's). An HMAC key has a secret of 64 letters
  and digits, shown once, when it is created; an Ed25519 key holds the public half of a
  key pair the user made (PEM), and the user signs with the private half, as Binance
  offers them.
- The file is JSON, written atomically (a temporary file renamed over it) with mode
  0600; a file that others can read or write is refused, naming the file and the
  ``chmod`` that fixes it, as ssh does. It is never the journal: keys are not part of the
  exchange's state and a journal can be shared without them.
- Revoking keeps the entry (marked revoked) so that a key is never re-issued.
- :meth:`KeyStore.reload` re-reads the file when it changed on disk, so ``exchange keys``
  takes effect on a running exchange without a restart.
- Nothing here logs or prints a secret; :meth:`KeyRecord.public` is the form for lists.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import string
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from exchange.errors import UserError

ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64
HMAC, ED25519 = "HMAC_SHA256", "ED25519"


class KeyFileError(UserError):
    """The key file cannot be used (unreadable, malformed, or open to others)."""


@dataclass(frozen=True)
class KeyRecord:
    """One API key. ``secret`` is the HMAC secret, or the Ed25519 public key's PEM."""

    key: str
    account: int
    kind: str
    secret: str
    label: str = ""
    created_ms: int = 0
    revoked: bool = False

    def public(self) -> dict[str, Any]:
        """What a listing shows: never the secret."""
        return {
            "key": self.key,
            "account": self.account,
            "kind": self.kind,
            "label": self.label,
            "created_ms": self.created_ms,
            "revoked": self.revoked,
        }

    def verify(self, payload: bytes, signature: str) -> bool:
        """Whether ``signature`` signs ``payload`` with this key (constant time for HMAC):
        HMAC-SHA256 as lowercase or uppercase hex, Ed25519 as base64."""
        if self.kind == HMAC:
            expected = hmac.new(self.secret.encode(), payload, hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, signature.lower())
        try:
            raw = base64.b64decode(signature, validate=True)
        except ValueError:
            return False
        public = load_pem_public_key(self.secret.encode())
        if not isinstance(public, Ed25519PublicKey):
            return False
        try:
            public.verify(raw, payload)
        except InvalidSignature:
            return False
        return True


def well_formed_key(key: str) -> bool:
    """A key as Binance issues them: 64 ASCII letters and digits."""
    return len(key) == KEY_LENGTH and all(ch in ALPHABET for ch in key)


def _token() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(KEY_LENGTH))


def ed25519_public_pem(text: str) -> str:
    """The PEM of an Ed25519 public key (UserError naming what is wrong otherwise)."""
    try:
        public = load_pem_public_key(text.encode())
    except (ValueError, TypeError) as exc:
        raise UserError(f"not a PEM public key: {exc}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise UserError("the public key is not an Ed25519 key")
    return text.strip() + "\n"


class KeyStore:
    """The keys in one file (see the module rules)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._keys: dict[str, KeyRecord] = {}
        self._stamp: tuple[int, int] | None = None
        self.reload()

    # -- reading ------------------------------------------------------------------------

    def reload(self) -> bool:
        """Re-read the file if it changed (True if it did); a missing file is no keys."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            changed = self._stamp is not None or bool(self._keys)
            self._keys, self._stamp = {}, None
            return changed
        except OSError as exc:
            raise KeyFileError(f"key file {self.path}: {exc.strerror or exc}") from None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return False
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                f"key file {self.path} is open to other users (mode "
                f"{stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {self.path}"
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            rows = data["keys"]
            keys = {}
            for row in rows:
                rec = KeyRecord(**row)
                if not well_formed_key(rec.key) or type(rec.account) is not int:
                    raise ValueError(f"malformed entry for account {rec.account!r}")
                keys[rec.key] = rec
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"key file {self.path} cannot be read: {exc}") from None
        self._keys, self._stamp = keys, stamp
        return True

    def get(self, key: str) -> KeyRecord | None:
        """The live (not revoked) key, or None."""
        rec = self._keys.get(key)
        return rec if rec is not None and not rec.revoked else None

    def records(self, account: int | None = None) -> list[KeyRecord]:
        """Every key (revoked ones too), of one account or all, oldest first."""
        rows = [r for r in self._keys.values() if account is None or r.account == account]
        return sorted(rows, key=lambda r: (r.created_ms, r.key))

    def accounts(self) -> list[int]:
        """The accounts that hold a live key."""
        return sorted({r.account for r in self._keys.values() if not r.revoked})

    # -- changing -----------------------------------------------------------------------

    def create(
        self, account: int, *, now_ms: int, label: str = "", ed25519_pem: str = ""
    ) -> KeyRecord:
        """A new key for ``account`` (HMAC, or Ed25519 with the given public key)."""
        if type(account) is not int or account < 1:
            raise UserError(f"account {account!r} must be a positive integer (0 is the fund)")
        self.reload()
        key = _token()
        while key in self._keys:
            key = _token()
        if ed25519_pem:
            rec = KeyRecord(key, account, ED25519, ed25519_public_pem(ed25519_pem), label, now_ms)
        else:
            rec = KeyRecord(key, account, HMAC, _token(), label, now_ms)
        self._keys[key] = rec
        self._write()
        return rec

    def revoke(self, key: str, account: int | None = None) -> KeyRecord:
        """Revoke ``key`` (of ``account``, when given); UserError if there is no such key."""
        self.reload()
        rec = self._keys.get(key)
        if rec is None or (account is not None and rec.account != account):
            raise UserError(f"no key {key[:8]}... " + (f"of account {account}" if account else ""))
        if not rec.revoked:
            rec = KeyRecord(**{**asdict(rec), "revoked": True})
            self._keys[key] = rec
            self._write()
        return rec

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        body = json.dumps({"keys": [asdict(r) for r in self.records()]}, indent=1)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        st = self.path.stat()
        self._stamp = (st.st_mtime_ns, st.st_size)


__all__ = [
    "ED25519",
    "HMAC",
    "KeyFileError",
    "KeyRecord",
    "KeyStore",
    "ed25519_public_pem",
    "well_formed_key",
]
