"""``exchange liquidation-price``: Binance's published vectors, the bracket iteration, bad
input and the display rounding (docs/sentinel.md, Margin). The exact math itself, and its
agreement with Sentinel's integer trigger price, is tested in tests/sentinel/test_liquidation.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from helpers.paths import ROOT

from exchange.cli.liquidation_price import round_half_up
from exchange.cli.main import main

CMD = "liquidation-price"

ETH_CROSS = [
    "--symbol", "ETHUSDT", "--cross", "--wallet", "1535443.01",
    "--other-maintenance", "71200.81144", "--other-upnl", "-56354.57",
    "--maintenance-amount", "135365", "--mmr", "0.10",
    "--side", "long", "--qty", "3683.979", "--entry", "1456.84",
]  # fmt: skip
BTC_CROSS = [
    "--symbol", "BTCUSDT", "--cross", "--wallet", "1535443.01",
    "--other-maintenance", "356512.508", "--other-upnl", "-448192.89",
    "--maintenance-amount", "16300", "--mmr", "0.025",
    "--side", "long", "--qty", "109.488", "--entry", "32481.98",
]  # fmt: skip
BTC_LONG = ["--symbol", "BTCUSDT", "--side", "long", "--qty", "1"]
BTC_LONG += ["--entry", "60000", "--wallet", "600"]
BTC_SHORT = [a if a != "long" else "short" for a in BTC_LONG]

VECTORS = [
    pytest.param(ETH_CROSS, "1153.26", "0.1", "override", id="ETHUSDT-cross"),
    pytest.param(BTC_CROSS, "26316.89", "0.025", "override", id="BTCUSDT-cross"),
    pytest.param(BTC_LONG, "59648.24", "0.005", 2, id="BTCUSDT-isolated-long"),
    pytest.param(BTC_SHORT, "60348.26", "0.005", 2, id="BTCUSDT-isolated-short"),
]


def run_text(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main([CMD, *argv]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def field(text: str, name: str) -> str:
    """The value after ``name:`` on its line of the text report."""
    for line in text.splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name!r} line in:\n{text}")


@pytest.mark.parametrize(("argv", "price", "mmr", "bracket"), VECTORS)
def test_published_vectors_text(
    capsys: pytest.CaptureFixture[str], argv: list[str], price: str, mmr: str, bracket: object
) -> None:
    out = run_text(capsys, argv)
    assert field(out, "liquidation price") == price
    assert field(out, "bracket used").startswith(str(bracket))


@pytest.mark.parametrize(("argv", "price", "mmr", "bracket"), VECTORS)
def test_published_vectors_json(
    capsys: pytest.CaptureFixture[str], argv: list[str], price: str, mmr: str, bracket: object
) -> None:
    data = json.loads(run_text(capsys, [*argv, "--json"]))
    assert data["liquidation_price"] == price
    assert data["maintenance_margin_rate"] == mmr
    assert data["bracket"] == bracket
    assert data["never_liquidated"] is False
    for key in ("bankruptcy_price", "maintenance_margin", "margin_balance", "margin_ratio"):
        assert isinstance(data[key], str)
    assert data["cross"] is ("--cross" in argv)
    assert data["symbol"] == argv[argv.index("--symbol") + 1]


def test_eth_vector_details(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(run_text(capsys, [*ETH_CROSS, "--json"]))
    # Margin balance at entry = W + UPNL1; MM = 3683.979 x 1456.84 x 10% - 135365.
    assert data["margin_balance"] == "1479088.44"
    # Bankruptcy ignores TMM1: 1456.84 - 1479088.44 / 3683.979 = 1055.348...
    assert data["bankruptcy_price"] == "1055.35"
    assert data["maintenance_margin"] == "401331.796636"
    # (71200.81144 + 401331.796636) / 1479088.44 = 31.947...%
    assert data["margin_ratio_percent"] == "31.95"
    assert data["maintenance_amount"] == "135365.00"
    assert data["qty"] == "3683.979" and data["entry"] == "1456.84"
    assert data["other_upnl"] == "-56354.57"


@pytest.mark.slow_io
def test_json_through_a_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exchange", CMD, *BTC_CROSS, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    data = json.loads(proc.stdout)
    assert data["liquidation_price"] == "26316.89"
    assert data["maintenance_margin_rate"] == "0.025"
    assert data["bracket"] == "override"


def test_bracket_iteration_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_text(capsys, BTC_LONG)
    assert field(out, "liquidation price") == "59648.24"
    assert field(out, "bankruptcy price") == "59400.00"
    assert field(out, "bracket used") == "2 (mmr 0.5%, maintenance amount 50.00)"
    assert field(out, "maintenance margin") == "250.00 at entry"  # 60000 x 0.5% - 50
    assert field(out, "margin balance") == "600.00 at entry"
    assert field(out, "margin ratio") == "41.67% at entry"
    tried = out.split("brackets tried:\n", 1)[1].splitlines()
    assert tried == [
        "  bracket 1 (mmr 0.4%, cum 0.00): 59638.55, notional 59638.55421687, "
        "outside (0.00, 50000.00]",
        "  bracket 2 (mmr 0.5%, cum 50.00): 59648.24, notional 59648.24120603  <- used",
    ]


def test_bracket_iteration_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(run_text(capsys, [*BTC_SHORT, "--json"]))
    assert [(t["bracket"], t["price"], t["used"]) for t in data["brackets_tried"]] == [
        (1, "60358.57", False),
        (2, "60348.26", True),
    ]
    assert data["bankruptcy_price"] == "60600.00"


def test_never_liquidated_long(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*BTC_LONG[:-1], "70000"]  # wallet above the notional
    out = run_text(capsys, argv)
    assert field(out, "liquidation price").startswith("none (never liquidated")
    data = json.loads(run_text(capsys, [*argv, "--json"]))
    assert data["never_liquidated"] is True
    assert Fraction(data["liquidation_price_exact"]) <= 0


def test_already_liquidatable_at_entry(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_text(capsys, [*BTC_SHORT[:-1], "100"])  # 100 < maintenance 250
    assert field(out, "margin ratio") == "250.00% at entry"
    assert "already reaches the margin balance at the entry price" in out


def test_brackets_come_from_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "symbols.toml"
    path.write_text(
        '[symbols.BTCUSDT]\ntick_size = "0.10"\nlot_size = "0.001"\n'
        'brackets = [{ cap = "1000000", mmr = "0.01", max_leverage = 50 }]\n'
        "default_leverage = 20\n",
        encoding="utf-8",
    )
    # LP = (6000 - 60000) / (0.01 - 1) = 54545.4545...
    out = run_text(capsys, [*BTC_LONG[:-1], "6000", "--config", str(path)])
    assert field(out, "liquidation price") == "54545.45"
    assert field(out, "bracket used") == "1 (mmr 1%, maintenance amount 0.00)"


def test_override_matches_the_table_bracket(capsys: pytest.CaptureFixture[str]) -> None:
    """--mmr/--maintenance-amount of bracket 2 give bracket 2's (consistent) solution."""
    out = run_text(capsys, [*BTC_LONG, "--mmr", "0.005", "--maintenance-amount", "50"])
    assert field(out, "liquidation price") == "59648.24"
    assert field(out, "bracket used").startswith("override (mmr 0.5%")


def test_prices_use_the_symbol_decimals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "symbols.toml"
    path.write_text('[symbols.DOGEUSDT]\ntick_size = "0.00001"\nlot_size = "1"\n', encoding="utf-8")
    argv = ["--symbol", "DOGEUSDT", "--side", "long", "--qty", "1000"]
    argv += ["--entry", "0.1", "--wallet", "10", "--config", str(path)]
    # LP = (10 - 100) / (0.004 - 1) = 0.0903614457... -> 5 decimals.
    assert field(run_text(capsys, argv), "liquidation price") == "0.09036"


BAD_INPUT = [
    (["--side", "up"], "--side"),
    (["--qty", "abc"], "--qty"),
    (["--qty", "0"], "--qty"),
    (["--qty", "-1"], "--qty"),
    (["--qty", "nan"], "--qty"),
    (["--qty", "inf"], "--qty"),
    (["--qty", "1e30"], "--qty"),
    (["--qty", "1e-30"], "--qty"),
    (["--entry", "0"], "--entry"),
    (["--entry", "-60000"], "--entry"),
    (["--entry", "x"], "--entry"),
    (["--wallet", "1.000000001"], "--wallet"),
    (["--wallet", "-1"], "--wallet"),
    (["--wallet", "lots"], "--wallet"),
    (["--symbol", "XRPUSDT"], "--symbol"),
    (["--mmr", "1", "--maintenance-amount", "0"], "--mmr"),
    (["--mmr", "0", "--maintenance-amount", "0"], "--mmr"),
    (["--mmr", "-0.1", "--maintenance-amount", "0"], "--mmr"),
    (["--mmr", "0.123456789", "--maintenance-amount", "0"], "--mmr"),
    (["--mmr", "x", "--maintenance-amount", "0"], "--mmr"),
    (["--mmr", "0.01"], "--mmr"),
    (["--maintenance-amount", "50"], "--maintenance-amount"),
    (["--mmr", "0.01", "--maintenance-amount", "-5"], "--maintenance-amount"),
    (["--mmr", "0.01", "--maintenance-amount", "0.000000001"], "--maintenance-amount"),
    (["--other-maintenance", "5"], "--other-maintenance"),
    (["--other-upnl", "5"], "--other-upnl"),
    (["--cross", "--other-maintenance", "-5"], "--other-maintenance"),
    (["--cross", "--other-maintenance", "x"], "--other-maintenance"),
    (["--cross", "--other-upnl", "x"], "--other-upnl"),
]


def with_flags(extra: list[str]) -> list[str]:
    """BTC_LONG with the flags in ``extra`` replacing or adding to its own."""
    argv = list(BTC_LONG)
    i = 0
    while i < len(extra):
        flag = extra[i]
        takes_value = flag != "--cross"
        if flag in argv:
            j = argv.index(flag)
            argv[j + 1] = extra[i + 1]
        else:
            argv += extra[i : i + 1 + takes_value]
        i += 1 + takes_value
    return argv


@pytest.mark.parametrize(("extra", "flag"), BAD_INPUT)
def test_bad_input_exits_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], extra: list[str], flag: str
) -> None:
    assert main([CMD, *with_flags(extra)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"exchange: error: {flag}: ")
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("missing", ["--symbol", "--side", "--qty", "--entry", "--wallet"])
def test_missing_required_flag(capsys: pytest.CaptureFixture[str], missing: str) -> None:
    argv = list(BTC_LONG)
    i = argv.index(missing)
    del argv[i : i + 2]
    with pytest.raises(SystemExit) as info:
        main([CMD, *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and missing in err
    assert "Traceback" not in err


@pytest.mark.slow_io
def test_bad_input_in_a_subprocess_has_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exchange", CMD, *with_flags(["--wallet", "1.123456789"])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("exchange: error: --wallet: ")
    assert proc.stderr.count("\n") == 1


def test_round_half_up() -> None:
    assert round_half_up(Fraction(5, 1000), 2) == round_half_up(Fraction(1, 100), 2)
    assert str(round_half_up(Fraction(5, 1000), 2)) == "0.01"
    assert str(round_half_up(Fraction(-5, 1000), 2)) == "-0.01"
    assert str(round_half_up(Fraction(4999, 1000000), 2)) == "0.00"
    assert str(round_half_up(Fraction(123456, 1), 2)) == "123456.00"
