"""Helpers for tests that run real external tools (promtool, docker-compose)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """The absolute path of ``name`` on PATH; skip the test without it (fail it in CI)."""
    path = shutil.which(name)
    if path is not None:
        return os.path.abspath(path)
    hint = f"{name} is not installed: `make test` installs it with apt-get (as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(hint)
    pytest.skip(hint)
