"""``exchange keys``, ``exchange deposit`` and ``exchange withdraw`` as users meet them.

A secret is printed once, by ``create``, and never again; the key file is 0600 and one
open to others is refused with the ``chmod`` that fixes it; every error is one line with
exit status 2. ``deposit``/``withdraw`` are tested without an exchange: no token file, a
refused connection, and a stand-in admin endpoint (the real one is tested with the API in
tests/exchange/gateway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.cli.main import main
from exchange.gateway.keys import ED25519, HMAC, KeyStore

Capture = pytest.CaptureFixture[str]


def cli(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("exchange: error: "), err
    return lines[0]


def created(out: str) -> tuple[str, str]:
    """The key and the secret ("" if none) that ``keys create`` printed."""
    fields = dict(
        line.split(":", 1) for line in out.splitlines() if line.startswith(("key:", "secret:"))
    )
    return fields["key"].strip(), fields.get("secret", "").strip()


# -- keys -------------------------------------------------------------------------------


def test_create_list_revoke_and_the_secret_is_shown_once(tmp_path: Path, capsys: Capture) -> None:
    journal = str(tmp_path / "events")
    status, out, err = cli(
        capsys, "keys", "create", "--account", "7", "--label", "bot", "--journal", journal
    )
    assert status == 0 and err == ""
    key, secret = created(out)
    assert len(key) == 64 and len(secret) == 64
    assert "not shown again" in out
    path = tmp_path / "events.keys.json"  # beside the journal, as `exchange run` keeps it
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # the exchange's own store reads it, secret and all
    rec = KeyStore(path).get(key)
    assert rec is not None and (rec.account, rec.kind, rec.label) == (7, HMAC, "bot")
    signature = hmac.new(secret.encode(), b"symbol=BTCUSDT", hashlib.sha256).hexdigest()
    assert rec.verify(b"symbol=BTCUSDT", signature)

    outputs = []
    status, out, err = cli(capsys, "keys", "list", "--journal", journal)
    assert status == 0
    [line] = out.splitlines()
    assert line.startswith(key) and "account 7" in line and HMAC in line and "'bot'" in line
    assert line.endswith("active") and "created 20" in line
    outputs.append(out + err)
    status, out, err = cli(capsys, "keys", "list", "--json", "--journal", journal)
    [row] = [json.loads(text) for text in out.splitlines()]
    assert row["key"] == key and row["revoked"] is False and "secret" not in row
    outputs.append(out + err)

    status, out, err = cli(capsys, "keys", "revoke", key, "--account", "7", "--journal", journal)
    assert status == 0 and out.startswith("revoked: ") and key in out
    outputs.append(out + err)
    status, out, err = cli(capsys, "keys", "revoke", key, "--journal", journal)
    assert status == 0 and out.startswith("already revoked: ")
    outputs.append(out + err)
    status, out, err = cli(capsys, "keys", "list", "--account", "7", "--journal", journal)
    assert out.rstrip().endswith("revoked")
    outputs.append(out + err)
    assert KeyStore(path).get(key) is None
    assert all(secret not in text for text in outputs)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keys_file_wins_over_journal(tmp_path: Path, capsys: Capture) -> None:
    keys_file = tmp_path / "elsewhere" / "api.json"
    status, out, _ = cli(
        capsys,
        *"keys create --account 3 --json --journal".split(),
        str(tmp_path / "j"),
        "--keys-file",
        str(keys_file),
    )
    assert status == 0
    shown = json.loads(out)
    assert shown["account"] == 3 and len(shown["secret"]) == 64
    assert keys_file.exists() and not (tmp_path / "j.keys.json").exists()
    status, out, _ = cli(capsys, "keys", "list", "--keys-file", str(keys_file), "--account", "4")
    assert status == 0 and out.startswith("no keys of account 4 in ")


def test_json_create_keeps_the_notice_off_stdout(tmp_path: Path, capsys: Capture) -> None:
    status, out, err = cli(
        capsys, *"keys create --account 2 --json --keys-file".split(), str(tmp_path / "k.json")
    )
    assert status == 0
    assert json.loads(out)["kind"] == HMAC  # stdout is JSON only
    assert "not shown again" in err


def test_list_of_a_missing_file_says_so(tmp_path: Path, capsys: Capture) -> None:
    status, out, _ = cli(capsys, "keys", "list", "--keys-file", str(tmp_path / "none.json"))
    assert status == 0 and "no keys in" in out and "does not exist" in out


def test_revoking_an_unknown_key_fails_in_one_line(tmp_path: Path, capsys: Capture) -> None:
    keys_file = str(tmp_path / "k.json")
    status, out, _ = cli(capsys, "keys", "create", "--account", "7", "--keys-file", keys_file)
    key, secret = created(out)
    for argv in (["Z" * 64], [key, "--account", "8"], [secret]):
        status, out, err = cli(capsys, "keys", "revoke", *argv, "--keys-file", keys_file)
        assert status == 2 and out == ""
        line = one_error_line(err)
        assert "no key" in line and keys_file in line
        assert secret not in err  # a secret pasted by mistake is not echoed whole
    assert KeyStore(keys_file).get(key) is not None


def test_a_key_file_open_to_others_is_refused(tmp_path: Path, capsys: Capture) -> None:
    keys_file = tmp_path / "k.json"
    assert cli(capsys, "keys", "create", "--account", "1", "--keys-file", str(keys_file))[0] == 0
    os.chmod(keys_file, 0o644)
    for action in (["list"], ["create", "--account", "1"]):
        status, out, err = cli(capsys, "keys", *action, "--keys-file", str(keys_file))
        assert status == 2 and out == ""
        line = one_error_line(err)
        assert f"chmod 600 {keys_file}" in line and "0644" in line


def test_account_must_be_positive(tmp_path: Path, capsys: Capture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["keys", "create", "--account", "0", "--keys-file", str(tmp_path / "k.json")])
    assert exc.value.code == 2
    assert "must be positive" in capsys.readouterr().err


def pem_public(private: Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_ed25519_create_prints_the_key_only(tmp_path: Path, capsys: Capture) -> None:
    private = Ed25519PrivateKey.generate()
    pub = tmp_path / "pub.pem"
    pub.write_bytes(pem_public(private))
    keys_file = str(tmp_path / "k.json")
    status, out, err = cli(
        capsys, "keys", "create", "--account", "9", "--ed25519", str(pub), "--keys-file", keys_file
    )
    assert status == 0 and err == ""
    key, secret = created(out)
    assert secret == "" and "secret" not in out.lower()
    rec = KeyStore(keys_file).get(key)
    assert rec is not None and rec.kind == ED25519 and rec.account == 9
    payload = b"symbol=BTCUSDT&timestamp=1"
    assert rec.verify(payload, base64.b64encode(private.sign(payload)).decode())
    status, out, _ = cli(capsys, "keys", "list", "--keys-file", keys_file)
    assert ED25519 in out and "BEGIN" not in out


def bad_pem(kind: str) -> bytes | None:
    if kind == "rsa":
        return pem_public(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    if kind == "private":
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    return {"garbage": b"garbage\n", "binary": b"\xff\xfe\x00", "missing": None}[kind]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("rsa", "not an Ed25519 key"),
        ("garbage", "not a PEM public key"),
        ("private", "holds a private key"),
        ("binary", "not a PEM file"),
        ("missing", "No such file"),
    ],
)
def test_ed25519_refuses_what_is_not_an_ed25519_public_key(
    tmp_path: Path, capsys: Capture, kind: str, expected: str
) -> None:
    content = bad_pem(kind)
    pem = tmp_path / "key.pem"
    if content is not None:
        pem.write_bytes(content)
    keys_file = tmp_path / "k.json"
    status, out, err = cli(
        capsys,
        *"keys create --account 9 --ed25519".split(),
        str(pem),
        "--keys-file",
        str(keys_file),
    )
    assert status == 2 and out == ""
    line = one_error_line(err)
    assert expected in line and str(pem) in line
    assert not keys_file.exists()  # nothing was created


@pytest.mark.slow_io
def test_the_installed_command(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("exchange")
    journal = str(tmp_path / "events")

    def exchange(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), *argv], capture_output=True, text=True, timeout=120, check=False
        )

    made = exchange("keys", "create", "--account", "5", "--journal", journal)
    assert made.returncode == 0, made.stderr
    key, secret = created(made.stdout)
    listed = exchange("keys", "list", "--journal", journal)
    assert listed.returncode == 0 and key in listed.stdout and secret not in listed.stdout
    bad = exchange("keys", "revoke", "nope", "--journal", journal)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    one_error_line(bad.stderr)
    helped = exchange("--help")
    assert all(name in helped.stdout for name in ("keys", "deposit", "withdraw"))


# -- deposit and withdraw ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_token(keys_file: Path, token: str) -> None:
    fd = os.open(f"{keys_file}.admin", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")


TOKEN = "f" * 64


@pytest.mark.parametrize("command", ["deposit", "withdraw"])
def test_no_token_file_says_the_exchange_is_not_running(
    tmp_path: Path, capsys: Capture, command: str
) -> None:
    journal = str(tmp_path / "events")
    status, out, err = cli(
        capsys, command, "--account", "7", "--amount", "10", "--journal", journal
    )
    assert status == 2 and out == ""
    line = one_error_line(err)
    assert f"{journal}.keys.json.admin" in line
    assert "not running with an admin port" in line and "--keys-file" in line


@pytest.mark.slow_io
@pytest.mark.parametrize("command", ["deposit", "withdraw"])
def test_connection_refused_names_the_url(tmp_path: Path, capsys: Capture, command: str) -> None:
    keys_file = tmp_path / "k.json"
    write_token(keys_file, TOKEN)
    url = f"http://127.0.0.1:{free_port()}"
    status, out, err = cli(
        capsys,
        command,
        *"--account 7 --amount 10 --admin-url".split(),
        url,
        "--keys-file",
        str(keys_file),
    )
    assert status == 2 and out == ""
    line = one_error_line(err)
    assert "connection refused" in line and url in line
    assert TOKEN not in err


@pytest.mark.parametrize("url", ["http://example.com:8081", "ftp://127.0.0.1:8081", "8081"])
def test_the_token_goes_to_loopback_http_only(tmp_path: Path, capsys: Capture, url: str) -> None:
    keys_file = tmp_path / "k.json"
    write_token(keys_file, TOKEN)
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "deposit",
                *"--account 7 --amount 1 --admin-url".split(),
                url,
                "--keys-file",
                str(keys_file),
            ]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--admin-url" in err and TOKEN not in err


class _Admin(http.server.BaseHTTPRequestHandler):
    """A stand-in admin endpoint: the answers of exchange.gateway.server's."""

    seen: list[tuple[str, str, dict[str, list[str]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        form = urllib.parse.parse_qs(body.decode())
        self.seen.append((self.path, self.headers.get("X-Admin-Token", ""), form))
        if self.headers.get("X-Admin-Token") != TOKEN:
            self.answer(401, {"code": -2015, "msg": "Invalid admin token."})
        elif form["amount"] == ["999999"]:
            self.answer(400, {"code": -2019, "msg": "Margin is insufficient."})
        else:
            self.answer(
                200,
                {
                    "tranId": 42,
                    "account": int(form["account"][0]),
                    "asset": form["asset"][0],
                    "amount": form["amount"][0],
                },
            )

    def answer(self, status: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def admin() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Admin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Admin.seen.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow_io
def test_the_answers_in_words(tmp_path: Path, capsys: Capture, admin: str) -> None:
    keys_file = tmp_path / "k.json"
    write_token(keys_file, TOKEN)
    where = ["--admin-url", admin + "/", "--keys-file", str(keys_file)]
    status, out, err = cli(capsys, "deposit", "--account", "7", "--amount", "1000.5", *where)
    assert (status, err) == (0, "")
    assert out == "deposited 1000.5 USDT to account 7 (tranId 42)\n"
    status, out, _ = cli(capsys, "withdraw", "--account", "7", "--amount", "20", *where)
    assert out == "withdrew 20 USDT from account 7 (tranId 42)\n"
    assert [(path, token) for path, token, _ in _Admin.seen] == [
        ("/admin/v1/deposit", TOKEN),
        ("/admin/v1/withdraw", TOKEN),
    ]
    assert _Admin.seen[0][2] == {"account": ["7"], "asset": ["USDT"], "amount": ["1000.5"]}

    status, out, err = cli(capsys, "withdraw", "--account", "7", "--amount", "999999", *where)
    assert status == 2 and out == ""
    line = one_error_line(err)
    assert "Margin is insufficient." in line and "-2019" in line and TOKEN not in err

    Path(f"{keys_file}.admin").write_text("another-token\n")
    status, _, err = cli(capsys, "deposit", "--account", "7", "--amount", "1", *where)
    line = one_error_line(err)
    assert status == 2 and "Invalid admin token." in line and "-2015" in line
    assert "another-token" not in err
