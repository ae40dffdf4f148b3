"""Shared pytest set-up for every test module.

- The package ``helpers`` (tests/helpers/) is imported here by its file, so test modules
  import it by plain name (test modules never import one another). tests/ itself is
  not put on ``sys.path``: its folders titan/, oracle/, ... (no ``__init__.py``) would be
  found there as namespace packages ahead of the real ones wherever those come only
  from the editable install's finder (``.venv/bin/pytest``, a script).
- The Hypothesis profiles, registered here only: ``dev`` (the default) and ``ci`` (loaded
  when ``CI=true``); ``HYPOTHESIS_PROFILE`` picks one explicitly. Neither has a deadline:
  the suite runs on shared machines, where a wall-clock deadline is noise.
- ``bounded_shrinking``: shrinking is capped at 30 s for every test.
- ``@pytest.mark.data("lobster/FILE", ...)``: the test reads these files of the real
  recordings; it is skipped, naming the missing file and where to get it, before any
  fixture runs (and fails under ``CI=true``), see :func:`helpers.paths.data_file`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.internal.conjecture import engine as conjecture_engine


def _import_helpers() -> None:
    if "helpers" in sys.modules:
        return
    init = Path(__file__).resolve().parent / "helpers" / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        "helpers", init, submodule_search_locations=[str(init.parent)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["helpers"] = module
    spec.loader.exec_module(module)


_import_helpers()

from helpers.paths import data_file  # noqa: E402

# `exchange run` serves its API on 8080/8081 by default; the platforms that tests start
# in subprocesses keep those ports free unless a test asks for the API (with a flag, or
# its own API_PORT), so that tests never collide with each other or a running exchange.
os.environ.setdefault("API_PORT", "0")

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, database=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


@pytest.fixture(autouse=True)
def bounded_shrinking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cap shrinking at 30 s (Hypothesis's own cap is 300 s and has no public setting):
    a failure then still reports within a minute, with a shrunk, readable example."""
    if hasattr(conjecture_engine, "MAX_SHRINKING_SECONDS"):
        monkeypatch.setattr(conjecture_engine, "MAX_SHRINKING_SECONDS", 30)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, under CI=true, fail) a ``data``-marked test whose files are missing."""
    for mark in item.iter_markers("data"):
        for relative in mark.args:
            data_file(relative)
