"""Contract terms in the symbols config: defaults, overrides, and every bad field named.

``[symbols.NAME]`` tables carry Titan's filters and, optionally, Sentinel's contract
terms; ``load_specs`` accepts (and ignores) the terms, ``load_contracts`` checks them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.cli.main import main
from exchange.config.symbols import (
    ConfigError,
    contracts_from_mapping,
    default_contracts,
    default_specs,
    load_contracts,
    load_specs,
    specs_from_mapping,
)
from sentinel.brackets import BTCUSDT_BRACKETS, BracketTable

FILTERS = 'tick_size = "0.10"\nlot_size = "0.001"\n'
TWO_BRACKETS = (
    "brackets = [\n"
    '  { cap = "100000", mmr = "0.01", max_leverage = 50 },\n'
    '  { cap = "1000000", mmr = "0.02", max_leverage = 25, maintenance_amount = "1000" },\n'
    "]\n"
)


def write_config(tmp_path: Path, body: str, symbol: str = "BTCUSDT") -> Path:
    path = tmp_path / "symbols.toml"
    path.write_text(f"[symbols.{symbol}]\n{FILTERS}{body}", encoding="utf-8")
    return path


def test_default_contracts_take_the_default_terms() -> None:
    contracts = default_contracts()
    assert [c.symbol for c in contracts] == ["BTCUSDT", "ETHUSDT"]
    assert [c.spec for c in contracts] == default_specs()
    table = BracketTable.from_decimals(BTCUSDT_BRACKETS, "BTCUSDT brackets").to_rows()
    for c in contracts:
        assert c.quote == "USDT"
        assert c.maker_fee == 20_000  # 0.02% in 10**-8
        assert c.taker_fee == 50_000  # 0.05%
        assert c.liquidation_fee == 500_000  # 0.5%
        assert c.funding_interval == 8 * 3600 * 1000
        assert c.default_leverage == 20
        assert c.brackets.to_rows() == table
    # BTCUSDT: 0.1 price x 0.001 qty units -> 10**-4 quote, 10**4 money units.
    assert contracts[0].scale == 10**4
    assert contracts[1].scale == 10**3


def test_load_contracts_none_is_the_defaults() -> None:
    assert [c.to_dict() for c in load_contracts(None)] == [c.to_dict() for c in default_contracts()]


def test_every_term_overridden(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        'quote = "USDC"\nmaker_fee = "0"\ntaker_fee = "0.0004"\nliquidation_fee = "0.0125"\n'
        f"funding_interval_hours = 4\ndefault_leverage = 10\n{TWO_BRACKETS}",
    )
    (c,) = load_contracts(path)
    assert c.symbol == "BTCUSDT"
    assert c.quote == "USDC"
    assert (c.maker_fee, c.taker_fee, c.liquidation_fee) == (0, 40_000, 1_250_000)
    assert c.funding_interval == 4 * 3600 * 1000
    assert c.default_leverage == 10
    b1, b2 = c.brackets.brackets
    assert (b1.floor, b1.cap, b1.mmr, b1.cum, b1.max_leverage) == (0, 10**13, 10**6, 0, 50)
    # cum_2 = floor_2 x (mmr_2 - mmr_1) = 100000 x 0.01 = 1000 quote.
    assert (b2.floor, b2.cap, b2.mmr, b2.cum, b2.max_leverage) == (
        10**13,
        10**14,
        2 * 10**6,
        1000 * 10**8,
        25,
    )


def test_missing_terms_take_the_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'taker_fee = "0.0004"\n')
    (c,) = load_contracts(path)
    assert c.taker_fee == 40_000
    assert c.maker_fee == 20_000
    assert c.quote == "USDT"
    assert (
        c.brackets.to_rows()
        == BracketTable.from_decimals(BTCUSDT_BRACKETS, "BTCUSDT brackets").to_rows()
    )


def test_specs_accept_and_ignore_the_terms(tmp_path: Path) -> None:
    plain = write_config(tmp_path, "")
    specs = load_specs(plain)
    with_terms = write_config(tmp_path, f'maker_fee = "0.0001"\n{TWO_BRACKETS}')
    assert load_specs(with_terms) == specs
    mapping = {"BTCUSDT": {"tick_size": "0.10", "lot_size": "0.001", "default_leverage": 5}}
    assert specs_from_mapping(mapping) == specs


def test_contracts_from_mapping_names_origin() -> None:
    mapping = {"BTCUSDT": {"tick_size": "0.10", "lot_size": "0.001", "maker_fee": "x"}}
    with pytest.raises(ConfigError, match=r"^mine: symbols\.BTCUSDT\.maker_fee: "):
        contracts_from_mapping(mapping, "mine")


def test_unknown_field_rejected_by_both(tmp_path: Path) -> None:
    path = write_config(tmp_path, "leverage = 5\n")
    for load in (load_specs, load_contracts):
        with pytest.raises(ConfigError, match=r"symbols\.BTCUSDT: unknown field\(s\) leverage"):
            load(path)


BAD_TERMS = [
    ("quote = 5\n", "quote"),
    ('quote = ""\n', "quote"),
    ('quote = "US-DT"\n', "quote"),
    ('maker_fee = "abc"\n', "maker_fee"),
    ("maker_fee = 0.0002\n", "maker_fee"),
    ('maker_fee = "-0.0001"\n', "maker_fee"),
    ('taker_fee = "0.5"\n', "taker_fee"),
    ('taker_fee = "0.000000001"\n', "taker_fee"),
    ("liquidation_fee = true\n", "liquidation_fee"),
    ("funding_interval_hours = 0\n", "funding_interval_hours"),
    ('funding_interval_hours = "8"\n', "funding_interval_hours"),
    ('default_leverage = "20"\n', "default_leverage"),
    ("default_leverage = 500\n", "leverage"),
    ("default_leverage = 0\n", "leverage"),
    ("brackets = []\n", "brackets"),
    ('brackets = "x"\n', "brackets"),
    ('brackets = ["x"]\n', "brackets[1]"),
    ('brackets = [{ cap = "100", mmr = 0.1, max_leverage = 10 }]\n', "brackets[1].mmr"),
    ('brackets = [{ cap = "abc", mmr = "0.1", max_leverage = 10 }]\n', "brackets[1].cap"),
    ('brackets = [{ cap = "100", mmr = "0.1" }]\n', "max_leverage"),
    ('brackets = [{ cap = "100", mmr = "0.1", max_leverage = "10" }]\n', "max_leverage"),
    ('brackets = [{ cap = "100", mmr = "0.1", max_leverage = 10, x = 1 }]\n', "brackets[1]"),
    ('brackets = [{ cap = "100", mmr = "0.6", max_leverage = 1 }]\n', "bracket 1"),
    ('brackets = [{ cap = "100", mmr = "0.1", max_leverage = 10 }]\n', "max leverage"),
    (
        'brackets = [{ cap = "100", mmr = "0.1", max_leverage = 5 },'
        ' { cap = "50", mmr = "0.2", max_leverage = 2 }]\n',
        "bracket 2",
    ),
    (
        'brackets = [{ cap = "100", mmr = "0.2", max_leverage = 4 },'
        ' { cap = "500", mmr = "0.1", max_leverage = 2 }]\n',
        "bracket 2",
    ),
    (
        'brackets = [{ cap = "100000", mmr = "0.01", max_leverage = 50 },'
        ' { cap = "1000000", mmr = "0.02", max_leverage = 25, maintenance_amount = "999" }]\n',
        "brackets[2].maintenance_amount",
    ),
]


@pytest.mark.parametrize(("body", "field"), BAD_TERMS)
def test_bad_term_names_file_symbol_and_field(tmp_path: Path, body: str, field: str) -> None:
    path = write_config(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_contracts(path)
    message = str(info.value)
    assert message.startswith(f"{path}: symbols.BTCUSDT")
    assert field in message.replace("default leverage", "default_leverage")
    load_specs(path)  # the filters alone are fine


def test_bad_term_through_the_cli_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, 'maker_fee = "abc"\n')
    argv = ["liquidation-price", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1"]
    argv += ["--entry", "60000", "--wallet", "600", "--config", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("exchange: error: ")
    assert "symbols.BTCUSDT.maker_fee" in err
    assert "Traceback" not in err


def test_symbol_without_filters_still_rejected(tmp_path: Path) -> None:
    path = tmp_path / "symbols.toml"
    path.write_text('[symbols.BTCUSDT]\nmaker_fee = "0.0002"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"symbols\.BTCUSDT: missing tick_size"):
        load_contracts(path)


def test_file_problems_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="cannot read"):
        load_contracts(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("[symbols\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_contracts(bad)
    other = tmp_path / "other.toml"
    other.write_text("[venue]\nx = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown section\(s\) venue"):
        load_contracts(other)
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="at least one symbol"):
        load_contracts(empty)
