"""Shared pytest set-up: make the helper modules in tests/ importable by plain name.

``tests`` is not a package, so ``strategies`` is imported as a top-level module; pytest's
default (prepend) import mode already puts this directory on ``sys.path``, and this keeps
it so under other import modes and when a test module is run as a script.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
