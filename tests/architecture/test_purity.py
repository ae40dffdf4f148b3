"""Purity: Titan, Sentinel and the venue do no I/O and read no clock, randomness or identity.

This module proves that:

- importing ``titan``, ``sentinel`` and ``venue`` (and every submodule of each) in a fresh
  interpreter loads none of asyncio, rocksdict, websockets, aiohttp or prometheus_client;
- no source file under ``titan/``, ``sentinel/`` or ``venue/`` imports time, random, uuid,
  datetime, secrets or an I/O library (directly, ``from``-style, or through
  ``__import__`` / ``importlib``), nor the outer layers ``oracle`` and ``exchange``, nor
  calls the builtins ``hash()`` or ``id()`` (whose values change between processes);
- the static scanner itself flags each of those patterns in a planted source.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.paths import ROOT

import sentinel
import titan
import venue

TITAN = Path(titan.__file__).resolve().parent  # the sources actually imported
SENTINEL = Path(sentinel.__file__).resolve().parent
VENUE = Path(venue.__file__).resolve().parent
IO_MODULES = ("asyncio", "rocksdict", "websockets", "aiohttp", "prometheus_client")
FORBIDDEN_IMPORTS = frozenset(
    {"time", "random", "uuid", "datetime", "secrets", "oracle", "exchange", *IO_MODULES}
)
FORBIDDEN_CALLS = frozenset({"hash", "id"})

_PROBE = """
import importlib, json, pkgutil, sys
import titan, sentinel, venue
for pkg in (titan, sentinel, venue):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
io = {io!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in io)
titan_modules = sorted(m for m in sys.modules if m.startswith("titan"))
print(json.dumps({{"loaded": loaded, "titan": titan_modules}}))
"""


@pytest.mark.slow_io
def test_fresh_import_loads_no_io_modules() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(io=IO_MODULES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "titan.engine" in result["titan"] and "titan.state" in result["titan"]
    assert result["loaded"] == [], f"importing titan/sentinel loaded {result['loaded']}"


def violations(source: str, filename: str = "<src>") -> list[str]:
    """Every forbidden import or call in ``source``, as ``file:line: what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{filename}:{node.lineno}: calls {func.id}()")
            dynamic = (isinstance(func, ast.Name) and func.id == "__import__") or (
                isinstance(func, ast.Attribute) and func.attr == "import_module"
            )
            if dynamic and node.args and isinstance(node.args[0], ast.Constant):
                names = [str(node.args[0].value)]
        for name in names:
            if name.split(".")[0] in FORBIDDEN_IMPORTS:
                found.append(f"{filename}:{getattr(node, 'lineno', 0)}: imports {name}")
    return found


def core_sources() -> list[Path]:
    roots = (TITAN, SENTINEL, VENUE)
    files = [p for root in roots for p in sorted(root.rglob("*.py"))]
    for root in roots:
        assert any(p.is_relative_to(root) for p in files), f"no sources under {root}"
    return files


@pytest.mark.parametrize("path", core_sources(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_core_source_is_pure(path: Path) -> None:
    assert violations(path.read_text(), f"{path.parent.name}/{path.name}") == []


@pytest.mark.parametrize(
    "source",
    [
        "import time",
        "import os, random",
        "from datetime import datetime",
        "from uuid import uuid4",
        "import asyncio.events",
        "from oracle import journal",
        "x = hash('a')",
        "def f(o):\n    return id(o)",
        "m = __import__('time')",
        "import importlib\nm = importlib.import_module('random')",
    ],
)
def test_scanner_flags_impure_source(source: str) -> None:
    assert violations(source), f"scanner missed: {source!r}"


def test_scanner_passes_pure_source() -> None:
    pure = (
        "from __future__ import annotations\n"
        "import hashlib\nfrom bisect import insort\nfrom titan.book import Order\n"
        "def f(x):\n    return hashlib.sha256(x).hexdigest(), x.id, obj.hash()\n"
    )
    assert violations(pure) == []


@pytest.mark.slow_io
def test_platform_folder_never_shadows_the_stdlib_module() -> None:
    assert not (ROOT / "platform" / "__init__.py").exists()
    proc = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.__file__)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(ROOT / "platform") not in proc.stdout
