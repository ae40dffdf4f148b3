"""Where the real recordings are (NASDAQ LOBSTER files, Binance frames).

They are not part of the repository: ``$EXCHANGE_DATA_DIR`` names the directory holding
``lobster/`` and ``binance/``; without it, ``../shared/data`` beside the checkout (the
development layout). Nothing in the exchange needs them; the replay server's default
recording, the benchmarks and the tests that read real data look here.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the checkout's root (this file is exchange/data.py)
CHECKOUT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """``$EXCHANGE_DATA_DIR``, or ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("EXCHANGE_DATA_DIR") or CHECKOUT.parent / "shared" / "data")
