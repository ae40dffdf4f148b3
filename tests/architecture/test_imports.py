"""The import graph: one way, no cycles, no reaching into another module's privates.

Every ``import`` of every module of the project's packages counts, wherever it is written
(module level, inside a function, under ``TYPE_CHECKING``): a cycle hidden in a function
is still a cycle. The rules, as docs/architecture.md draws them:

- no cycle between modules, and none between the sub-packages of ``exchange``, which
  form layers (``EXCHANGE_LAYERS``): each imports only from the layers below it;
- between packages: ``titan`` <- ``sentinel`` <- ``venue`` <- ``exchange``, and ``oracle``
  imports none of them;
- ``exchange.cli`` is the top: only ``exchange.__main__`` imports it;
- no module reads or writes another module's ``_private`` attributes: ``x._name`` is
  allowed only for a ``_name`` the module defines for its own classes (a classmethod
  filling the instance it built), on ``self``/``cls``, and for the public namedtuple API
  (``_replace``, ``_fields``, ...) and ``os._exit``; nor imports a ``_name`` of another.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.paths import ROOT

PACKAGES = ("titan", "sentinel", "venue", "oracle", "exchange")
ALLOWED = {
    "titan": set(),
    "sentinel": {"titan"},
    "venue": {"titan", "sentinel"},
    "oracle": set(),
    "exchange": {"titan", "sentinel", "venue", "oracle"},
}
# The sub-packages (and top modules) of exchange, lowest first: each imports only from
# lower layers (docs/architecture.md draws the same picture).
EXCHANGE_LAYERS = (
    ("errors", "data"),
    ("runtime", "feeds"),
    ("flow", "lobster", "audit", "metrics"),
    ("config",),
    ("gateway",),
    ("runner",),
    ("cli",),
    ("__main__",),
)
NAMEDTUPLE_API = {"_replace", "_fields", "_field_defaults", "_asdict", "_make"}
PUBLIC_UNDERSCORED = {"os._exit"}  # standard library API whose name starts with _


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = modules()


def imported(name: str, path: Path) -> Iterator[str]:
    """Every project module ``name`` imports, by its full name."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    yield _known(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                yield full if full in MODULES else _known(target)


def _known(target: str) -> str:
    while target not in MODULES and "." in target:
        target = target.rpartition(".")[0]
    return target


GRAPH = {name: sorted(set(imported(name, path)) - {name}) for name, path in MODULES.items()}


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_scan_sees_function_local_and_type_checking_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from titan.engine import Engine\n"
        "def f():\n    from titan import book\n    import oracle.codec\n"
    )
    path = ROOT / "titan" / "__scan_probe__.py"
    try:
        path.write_text(source, encoding="utf-8")
        assert sorted(set(imported("titan.__scan_probe__", path))) == [
            "oracle.codec",
            "titan.book",
            "titan.engine",
        ]
    finally:
        path.unlink()


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert cycles({"a": ["b"], "b": []}) == []


def test_no_module_cycles() -> None:
    assert cycles(GRAPH) == []


def test_no_cycles_between_the_exchange_subpackages() -> None:
    def sub(name: str) -> str:
        return ".".join(name.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        if name.startswith("exchange."):
            for target in targets:
                if target.startswith("exchange.") and sub(target) != sub(name):
                    packages.setdefault(sub(name), set()).add(sub(target))
    assert cycles({k: sorted(v) for k, v in packages.items()}) == []


def test_exchange_layers_import_only_downward() -> None:
    layer = {name: i for i, names in enumerate(EXCHANGE_LAYERS) for name in names}
    parts = {name.split(".")[1] for name in MODULES if name.startswith("exchange.")}
    assert parts <= set(layer), f"put {sorted(parts - set(layer))} in EXCHANGE_LAYERS"
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name.startswith("exchange.")
        for target in targets
        if target.startswith("exchange.")
        and target.split(".")[1] != name.split(".")[1]
        and layer[target.split(".")[1]] >= layer[name.split(".")[1]]
    )
    assert wrong == []


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_inward(package: str) -> None:
    wrong = {
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name.split(".")[0] == package
        for target in targets
        if target.split(".")[0] not in ALLOWED[package] | {package}
    }
    assert sorted(wrong) == []


def test_only_the_entry_point_imports_the_cli() -> None:
    importers = {
        name
        for name, targets in GRAPH.items()
        if not name.startswith("exchange.cli")
        and any(t.startswith("exchange.cli") for t in targets)
    }
    assert importers <= {"exchange.__main__"}


def own_privates(tree: ast.AST) -> set[str]:
    """The ``_names`` a module defines for its own classes: methods, class attributes,
    ``__slots__`` entries and ``self._name = ...`` assignments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(item.name)
                elif isinstance(item, ast.Assign | ast.AnnAssign):
                    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                    names.update(t.id for t in targets if isinstance(t, ast.Name))
                    slots = any(isinstance(t, ast.Name) and t.id == "__slots__" for t in targets)
                    if slots and item.value is not None:
                        names.update(
                            c.value
                            for c in ast.walk(item.value)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str)
                        )
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            names.add(node.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def private_reads(source: str, filename: str) -> list[str]:
    """``x._name`` of a ``_name`` this module does not define for its own classes
    (``self``/``cls``/``super()`` are always the object's own), and
    ``from <project module> import _name``."""
    tree = ast.parse(source)
    own = own_privates(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
            found += [
                f"{filename}:{node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
            continue
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if not attr.startswith("_") or attr.startswith("__") or attr in NAMEDTUPLE_API:
            continue
        if attr in own:  # the module's own class: its privates are its business
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in {"self", "cls"}:
            continue
        if isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super":
            continue
        if ast.unparse(node) in PUBLIC_UNDERSCORED:
            continue
        found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_private_scan_tells_own_privates_from_anothers() -> None:
    source = (
        "from titan.engine import _helper\n"
        "class Box:\n    __slots__ = ('_items',)\n"
        "    def _fill(self): ...\n"
        "    @classmethod\n    def make(cls):\n"
        "        box = cls(); box._fill(); box._items = []; return box\n"
        "def peek(engine):\n    return engine._orders, self_like._fill\n"
    )
    assert private_reads(source, "probe.py") == [
        "probe.py:1: from titan.engine import _helper",
        "probe.py:9: engine._orders",
    ]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_touches_another_objects_privates(name: str) -> None:
    path = MODULES[name]
    assert private_reads(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))) == []


@pytest.mark.parametrize(
    "path", sorted((ROOT / "bench").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_benchmark_imports_a_private_name(path: Path) -> None:
    found = private_reads(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert [r for r in found if " import " in r] == []


TEST_MODULES = sorted((ROOT / "tests").rglob("test_*.py"))


@pytest.mark.parametrize("path", TEST_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_test_module_imports_another(path: Path) -> None:
    """Shared test code lives in tests/helpers; a test module is never imported."""
    stems = {p.stem for p in TEST_MODULES}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        found += [n for n in names if n.split(".")[0] in stems or n.startswith("tests.")]
    assert found == []
