"""Where the repository and the real data sets are.

The real recordings (NASDAQ LOBSTER files, Binance frames) are not part of the
repository: they sit in ``../shared/data`` beside a development checkout, or wherever
``EXCHANGE_DATA_DIR`` points. :func:`data_file` skips a test whose file is absent, naming
the file and where to get it, and fails it instead under ``CI=true``, where the data is
always there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
DATA = Path(os.environ.get("EXCHANGE_DATA_DIR") or ROOT.parent / "shared" / "data")
LOBSTER = DATA / "lobster"
BINANCE = DATA / "binance"

WHERE = {
    "lobster": (
        "the LOBSTER sample files, AAPL 2012-06-21 (https://lobsterdata.com/info/"
        "DataSamples.php; the cut files as in github.com/bigfatwhale/orderbook)"
    ),
    "binance/usdm_btcusdt_2023-04-04_streams.jsonl.gz": (
        "a Binance USD-M recording from github.com/nkaz001/hftbacktest"
    ),
    "binance": "the Binance USD-M sample data of github.com/bmoscon/cryptofeed (sample_data/)",
}


def data_file(relative: str | Path) -> Path:
    """``DATA / relative`` (``relative`` may also be a path under DATA already); skip the
    calling test when it is missing, naming it and where to get it (fail under CI=true)."""
    path = DATA / relative
    if path.exists():
        return path
    name = path.relative_to(DATA).as_posix() if path.is_relative_to(DATA) else str(path)
    kind = WHERE.get(name) or WHERE.get(name.split("/", 1)[0], "the project's shared data")
    hint = (
        f"needs {path}: {kind}; set EXCHANGE_DATA_DIR to the directory holding "
        "lobster/ and binance/ (default ../shared/data beside the checkout)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(hint)
    pytest.skip(hint)


def subprocess_env(**extra: str) -> dict[str, str]:
    """``os.environ`` with the repository and then tests/ first on ``PYTHONPATH``, so a
    subprocess imports ``helpers`` (as conftest.py arranges for pytest) and the real
    packages, never tests/titan/ and the like as namespace packages; updated with
    ``extra``."""
    roots = (str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", ""))
    path = os.pathsep.join(p for p in roots if p)
    return {**os.environ, "PYTHONPATH": path, **extra}
