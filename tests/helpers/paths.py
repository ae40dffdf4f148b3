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
DATA = Path(os.environ.get("EXCHANGE_DATA_DIR") or ROOT.parent / "shared" / "data")
LOBSTER = DATA / "lobster"
BINANCE = DATA / "binance"

WHERE = {
    "lobster": "the LOBSTER sample files (https://lobsterdata.com/info/DataSamples.php)",
    "binance": "the Binance USD-M recordings of the project's shared data",
}


def data_file(relative: str) -> Path:
    """``DATA / relative``; skip the calling test when it is missing (fail under CI=true)."""
    path = DATA / relative
    if path.exists():
        return path
    kind = WHERE.get(relative.split("/", 1)[0], "the project's shared data")
    hint = (
        f"needs {path} ({kind}); set EXCHANGE_DATA_DIR to the directory holding "
        "lobster/ and binance/"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(hint)
    pytest.skip(hint)
