"""The deployment files: prometheus.yml, docker-compose.yml, platform/ (Dockerfile, Grafana).

Real tools where they exist: ``promtool check config`` and ``promtool check rules`` (every
dashboard query parses as PromQL), ``docker-compose config`` (Debian's 1.29 validates the
compose file offline), ``/bin/sh`` running the prometheus service's own ``sed`` rewrite of
prometheus.yml (then ``promtool check config`` of the copy). The dashboards are checked
against the metric catalog in docs/metrics.md: every name a query uses is documented, every
documented metric is on its component's dashboard, and gauges (the margin-ratio gauge
histogram included) are never rated.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers.paths import ROOT
from helpers.tools import require_tool

GRAFANA = ROOT / "platform" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
BUILDER = GRAFANA / "build_dashboards.py"
DATASOURCE = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDER = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
COMPOSE = ROOT / "docker-compose.yml"
CATALOG = ROOT / "docs" / "metrics.md"

STEMS = ("overview", "titan", "sentinel", "oracle", "feed", "process")
# docs/metrics.md section heading (its start) -> the dashboard that must show its metrics
SECTIONS = {
    "Titan": "titan",
    "Sentinel": "sentinel",
    "Oracle": "oracle",
    "Sequencer": "process",
    "Price feed": "feed",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
GAUGE_HISTOGRAM_SUFFIXES = ("_bucket", "_gsum", "_gcount")
CLIENT_PREFIXES = ("process_", "python_")  # prometheus-client's default collectors
PANEL_TYPES = {"timeseries", "stat", "gauge", "heatmap", "bargauge"}
VARIABLES = {"$symbol", "$__rate_interval"}
LOCAL_TARGET, STACK_TARGET = '"127.0.0.1:9000"', '"platform:9000"'  # prometheus.yml's target
# The prometheus service's entrypoint script: copy the mounted top-level prometheus.yml with
# its one target rewritten, check that it was, and exec Prometheus on the copy.
ENTRYPOINT = re.compile(
    r"sed '(?P<expr>[^']*)' (?P<src>\S+) > (?P<copy>\S+)"
    r" && grep -q '(?P<check>[^']*)' (?P=copy)"
    r" && exec /bin/prometheus (?P<args>.*)"
)


# --- helpers ------------------------------------------------------------------------------


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("EXCHANGE_FEED", "GRAFANA_ADMIN_PASSWORD")
    }
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def catalog() -> dict[str, tuple[str, str]]:
    """Documented metric name -> (type, section heading), from the tables of docs/metrics.md."""
    out: dict[str, tuple[str, str]] = {}
    section = ""
    for line in CATALOG.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            section = line[4:].strip()
        elif line.startswith("|") and section:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 2:
                continue
            for name in re.findall(r"`([a-z_:][a-z0-9_:]*)`", cells[0]):
                out[name] = (cells[1], section)
    return out


def dashboard(stem: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DASHBOARDS / f"{stem}.json").read_text(encoding="utf-8"))
    return data


def exprs(board: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in p["targets"]]


_NOT_METRICS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # range selectors
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][\w:]*", e):
        if e[m.end() :].lstrip().startswith("("):
            continue  # a function call
        if m.group().lower() not in _NOT_METRICS:
            names.add(m.group())
    return names


def resolve(name: str, documented: dict[str, tuple[str, str]]) -> str | None:
    """The documented metric a series name belongs to (None: undocumented)."""
    if name in documented:
        return name
    for suffixes, kind in (
        (HISTOGRAM_SUFFIXES, "histogram"),
        (GAUGE_HISTOGRAM_SUFFIXES, "gauge histogram"),
    ):
        for suffix in suffixes:
            base = name.removesuffix(suffix)
            if base != name and documented.get(base, ("", ""))[0] == kind:
                return base
    return None


def is_counter_like(name: str, documented: dict[str, tuple[str, str]]) -> bool:
    """May rate()/increase() take it: a counter, or a (non-gauge) histogram's series."""
    if name.startswith(CLIENT_PREFIXES):
        return name.endswith("_total")
    base = resolve(name, documented)
    if base is None:
        return False
    kind = documented[base][0]
    return (kind == "counter" and name == base) or (kind == "histogram" and name != base)


def compose_services(text: str) -> dict[str, str]:
    """Service name -> its block of ``docker-compose config`` output (two-space YAML)."""
    blocks: dict[str, str] = {}
    current = None
    in_services = False
    for line in text.splitlines():
        if not line.startswith(" "):
            in_services = line.rstrip() == "services:"
            current = None
            continue
        m = re.fullmatch(r"  ([\w.-]+):", line.rstrip())
        if in_services and m:
            current = m.group(1)
            blocks[current] = ""
        elif in_services and current:
            blocks[current] += line + "\n"
    return blocks


def compose_list(block: str, key: str) -> list[str]:
    """The items of a service's list option in ``docker-compose config`` output; a long item
    is a plain scalar folded onto indented lines, joined here with spaces as YAML does."""
    m = re.search(rf"^    {key}:\n((?:    - .*\n|      .*\n)+)", block, re.M)
    assert m, f"no {key} in {block}"
    items: list[str] = []
    for line in m.group(1).splitlines():
        if line.startswith("    - "):
            items.append(line.removeprefix("    - "))
        else:
            items[-1] += " " + line.strip()
    assert not [i for i in items if i[:1] in ("'", '"', "|", ">")], items  # plain scalars only
    return items


def prometheus_entrypoint() -> list[str]:
    """The prometheus service's entrypoint, as ``docker-compose config`` resolves it."""
    compose = require_tool("docker-compose")
    result = run(compose, "-f", str(COMPOSE), "config")
    assert result.returncode == 0, result.stderr
    return compose_list(compose_services(result.stdout)["prometheus"], "entrypoint")


def provider_path() -> str:
    m = re.search(r"^\s+path:\s*(\S+)\s*$", PROVIDER.read_text(encoding="utf-8"), re.M)
    assert m, "no options.path in the dashboards provider"
    return m.group(1)


def datasource_uid() -> str:
    m = re.search(r"^\s+uid:\s*(\S+)\s*$", DATASOURCE.read_text(encoding="utf-8"), re.M)
    assert m, "no uid in the provisioned datasource"
    return m.group(1)


# --- the helpers themselves ---------------------------------------------------------------


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (command, le) (rate(titan_match_seconds_bucket{le!="1e3",'
        'symbol=~"$symbol"}[$__rate_interval]))) / on (job) group_left (x) up'
        " - time() + foo_total offset 1m > bool 1e-9"
    )
    assert metric_names(expr) == {"titan_match_seconds_bucket", "up", "foo_total"}
    documented = catalog()
    assert resolve("titan_match_seconds_bucket", documented) == "titan_match_seconds"
    assert resolve("sentinel_margin_ratio_bucket", documented) == "sentinel_margin_ratio"
    assert resolve("sentinel_mark_price_bucket", documented) is None  # a gauge has no buckets
    assert resolve("up", documented) is None
    assert is_counter_like("titan_orders_total", documented)
    assert is_counter_like("oracle_commit_seconds_count", documented)
    assert not is_counter_like("sentinel_margin_ratio_bucket", documented)  # gauge histogram
    assert not is_counter_like("sentinel_mark_price", documented)


def test_catalog_is_parsed() -> None:
    documented = catalog()
    sections = {section for _, section in documented.values()}
    for prefix in SECTIONS:
        assert any(s.startswith(prefix) for s in sections), f"no section {prefix} in {CATALOG}"
    assert documented["titan_orders_total"][0] == "counter"
    assert documented["titan_best_ask_price"][0] == "gauge"
    assert documented["sentinel_margin_ratio"][0] == "gauge histogram"
    assert len(documented) >= 50


# --- prometheus.yml -----------------------------------------------------------------------


@pytest.mark.external
@pytest.mark.slow_io
def test_promtool_accepts_prometheus_yml() -> None:
    promtool = require_tool("promtool")
    result = run(promtool, "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    text = (ROOT / "prometheus.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+scrape_interval:\s*1s\b", text, re.M)
    assert re.search(r"^\s+evaluation_interval:\s*1s\b", text, re.M)
    assert re.search(r"job_name:\s*[\"']?exchange[\"']?\s*$", text, re.M)
    assert '"127.0.0.1:9000"' in text


@pytest.mark.external
@pytest.mark.slow_io
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("scrape_interval: 1s", "scrape_interval: one second"),  # not a duration
        ("metrics_path: /metrics", "metrics_path: /metrics\n    scrape_timeout: 5s"),  # > 1s
        ("job_name: exchange", "job_nam: exchange"),  # unknown field
    ],
)
def test_promtool_rejects_a_broken_copy(tmp_path: Path, old: str, new: str) -> None:
    promtool = require_tool("promtool")
    text = (ROOT / "prometheus.yml").read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "prometheus.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = run(promtool, "check", "config", str(broken))
    assert result.returncode != 0, result.stdout + result.stderr


def _rules_file(path: Path, queries: list[str]) -> None:
    rules = [
        {"record": f"dashboard:query_{i}", "expr": q.replace("$__rate_interval", "4s")}
        for i, q in enumerate(queries)
    ]
    rules = [{**r, "expr": r["expr"].replace("$symbol", ".*")} for r in rules]
    # JSON is YAML: promtool reads it as a rules file.
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}), "utf-8")


@pytest.mark.external
@pytest.mark.slow_io
def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    queries = [q for stem in STEMS for q in exprs(dashboard(stem))]
    assert len(queries) > 100
    rules = tmp_path / "rules.yml"
    _rules_file(rules, queries)
    result = run(promtool, "check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(queries)} rules found" in result.stdout


@pytest.mark.external
@pytest.mark.slow_io
def test_promtool_rejects_a_bad_query(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yml"
    _rules_file(rules, ["sum(rate(titan_orders_total[$__rate_interval])"])  # unbalanced
    assert run(promtool, "check", "rules", str(rules)).returncode != 0


# --- docker-compose.yml -------------------------------------------------------------------


@pytest.mark.external
@pytest.mark.slow_io
def test_compose_file_is_valid() -> None:
    compose = require_tool("docker-compose")
    result = run(compose, "-f", str(COMPOSE), "config")
    assert result.returncode == 0, result.stderr
    services = run(compose, "-f", str(COMPOSE), "config", "--services")
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == {"platform", "prometheus", "grafana"}
    volumes = run(compose, "-f", str(COMPOSE), "config", "--volumes")
    assert volumes.returncode == 0, volumes.stderr
    assert set(volumes.stdout.split()) == {"platform_events", "prometheus_data", "grafana_data"}

    blocks = compose_services(result.stdout)
    try:  # PyYAML is optional: the block parsing below checks the same without it
        yaml = importlib.import_module("yaml")
    except ImportError:
        yaml = None
    if yaml is not None:
        config = yaml.safe_load(result.stdout)
        svc = config["services"]
        assert "network_mode" not in svc["prometheus"]
        assert svc["prometheus"]["entrypoint"] == compose_list(blocks["prometheus"], "entrypoint")
        assert svc["platform"]["build"]["dockerfile"] == "platform/Dockerfile"
        assert Path(svc["platform"]["build"]["context"]) == ROOT
    assert set(blocks) == {"platform", "prometheus", "grafana"}
    platform, prometheus, grafana = blocks["platform"], blocks["prometheus"], blocks["grafana"]

    # An ordinary service on the compose network: its own namespace, its own port.
    assert "network_mode:" not in result.stdout
    assert re.search(r"^    image: prom/prometheus:v2\.\d+\.\d+$", prometheus, re.M)
    assert re.findall(r"^    - (?:[\d.]+:)?(\d+):\d+/tcp$", prometheus, re.M) == ["9090"]
    assert re.search(r"^    - 127\.0\.0\.1:9090:9090/tcp$", prometheus, re.M)
    assert re.search(r"^    restart: \S+$", prometheus, re.M)
    assert re.search(r"^      platform:$", prometheus, re.M)  # depends_on
    # The top-level prometheus.yml itself, read-only; the data volume on /prometheus.
    mounts = re.findall(
        rf"^    - {re.escape(str(ROOT / 'prometheus.yml'))}:(\S+):ro$", prometheus, re.M
    )
    assert len(mounts) == 1, prometheus
    assert re.search(r"^    - prometheus_data:/prometheus(?::rw)?$", prometheus, re.M)
    entrypoint = compose_list(prometheus, "entrypoint")
    assert entrypoint[:2] == ["/bin/sh", "-c"] and len(entrypoint) == 3, entrypoint
    script = ENTRYPOINT.fullmatch(entrypoint[2])
    assert script, entrypoint[2]
    assert script["expr"] == r's/"127\.0\.0\.1:9000"/"platform:9000"/'  # that target only
    assert script["src"] == mounts[0]  # rewrites the mounted top-level file
    assert script["copy"].startswith("/prometheus/")  # the writable data dir (user nobody)
    assert script["check"] == STACK_TARGET
    args = script["args"].split()
    assert f"--config.file={script['copy']}" in args
    assert "--storage.tsdb.path=/prometheus" in args
    assert "--storage.tsdb.retention.time=15d" in args
    assert "command:" not in prometheus  # the entrypoint holds Prometheus' whole argv

    assert f"context: {ROOT}\n" in platform
    assert "dockerfile: platform/Dockerfile\n" in platform
    assert "platform_events:/data" in platform
    assert re.findall(r"^    - (?:[\d.]+:)?(\d+):\d+/tcp$", platform, re.M) == ["9000"]
    assert "stop_grace_period: 30s" in platform
    assert re.search(r"^    restart: \S+$", platform, re.M)
    assert "healthcheck:" in platform and "http://127.0.0.1:9000/metrics" in platform
    command = re.search(r"^    command:\n((?:    - .*\n)+)", platform, re.M)
    assert command, platform
    args = [line.removeprefix("    - ") for line in command.group(1).splitlines()]
    assert args[:2] == ["exchange", "run"]
    assert args[args.index("--metrics-host") + 1] == "0.0.0.0"
    assert args[args.index("--journal") + 1] == "/data/platform_events"

    assert re.search(r"^    image: grafana/grafana:\d+\.\d+\.\d+$", grafana, re.M)
    assert re.search(r"^    - (?:[\d.]+:)?3000:3000/tcp$", grafana, re.M)
    assert "GF_AUTH_ANONYMOUS_ENABLED: 'true'" in grafana or (
        'GF_AUTH_ANONYMOUS_ENABLED: "true"' in grafana
    )
    assert "GF_AUTH_ANONYMOUS_ORG_ROLE: Viewer" in grafana
    assert "GF_SECURITY_ADMIN_PASSWORD: admin" in grafana  # the default, env unset
    assert f"{GRAFANA / 'provisioning'}:/etc/grafana/provisioning:ro" in grafana
    assert f"{DASHBOARDS}:{provider_path()}:ro" in grafana  # where the provider looks
    assert "grafana_data:/var/lib/grafana" in grafana


@pytest.mark.external
@pytest.mark.slow_io
def test_compose_admin_password_comes_from_the_environment() -> None:
    compose = require_tool("docker-compose")
    env = {**os.environ, "GRAFANA_ADMIN_PASSWORD": "s3cret-test", "EXCHANGE_FEED": "binance"}
    result = subprocess.run(
        [compose, "-f", str(COMPOSE), "config"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "GF_SECURITY_ADMIN_PASSWORD: s3cret-test" in result.stdout
    assert "    - binance\n" in compose_services(result.stdout)["platform"]


@pytest.mark.external
@pytest.mark.slow_io
@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("    entrypoint:\n", "    entrypont:\n", "'entrypont'"),  # a misspelled option
        (  # an undefined service in depends_on
            "    depends_on:\n      - platform\n",
            "    depends_on:\n      - nowhere\n",
            "'nowhere' which is undefined",
        ),
    ],
)
def test_compose_rejects_a_broken_copy(tmp_path: Path, old: str, new: str, error: str) -> None:
    compose = require_tool("docker-compose")
    text = COMPOSE.read_text(encoding="utf-8")
    assert text.count(old) == 1
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = run(compose, "-f", str(broken), "config", cwd=tmp_path)
    assert result.returncode != 0, result.stdout
    assert error in result.stderr


def _rewrite(tmp_path: Path, text: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the prometheus entrypoint's sed and check, as compose gives them to /bin/sh -c,
    on ``text`` in tmp_path instead of the container's paths."""
    entrypoint = prometheus_entrypoint()
    script = ENTRYPOINT.fullmatch(entrypoint[2])
    assert script, entrypoint
    src, copy = tmp_path / "exchange.yml", tmp_path / "prometheus.yml"
    src.write_text(text, encoding="utf-8")
    q = shlex.quote
    rewrite = (
        f"sed '{script['expr']}' {q(str(src))} > {q(str(copy))}"
        f" && grep -q '{script['check']}' {q(str(copy))}"
    )
    return run(*entrypoint[:2], rewrite, cwd=tmp_path), copy


@pytest.mark.slow_io
def test_prometheus_entrypoint_rewrites_only_the_target(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    text = (ROOT / "prometheus.yml").read_text(encoding="utf-8")
    assert text.count(LOCAL_TARGET) == 1  # the one target, quoted: the comments never are
    result, copy = _rewrite(tmp_path, text)
    assert result.returncode == 0, result.stderr
    before, after = text.splitlines(), copy.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 1, changed
    (i,) = changed
    assert after[i] == before[i].replace(LOCAL_TARGET, STACK_TARGET)
    assert re.fullmatch(rf"\s+- targets: \[{STACK_TARGET}\].*", after[i]), after[i]
    checked = run(promtool, "check", "config", str(copy))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


@pytest.mark.slow_io
def test_prometheus_entrypoint_stops_without_the_target(tmp_path: Path) -> None:
    text = (ROOT / "prometheus.yml").read_text(encoding="utf-8")
    moved = text.replace(LOCAL_TARGET, '"127.0.0.1:9001"')  # sed finds nothing to rewrite
    result, _ = _rewrite(tmp_path, moved)
    assert result.returncode != 0  # the container exits instead of scraping nothing


# --- the image ----------------------------------------------------------------------------


def top_packages(project: dict[str, Any]) -> list[str]:
    """The top-level packages pyproject's setuptools finds (``include``, without ``x.*``)."""
    names = [
        n for n in project["tool"]["setuptools"]["packages"]["find"]["include"] if "." not in n
    ]
    assert {"titan", "sentinel", "venue", "oracle", "exchange"} <= set(names)
    return names


def test_dockerfile_builds_the_project_as_pyproject_says() -> None:
    text = (ROOT / "platform" / "Dockerfile").read_text(encoding="utf-8")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = ["pyproject.toml", project["project"]["readme"]]
    needed += [
        name
        for name in project["tool"]["setuptools"]["packages"]["find"]["include"]
        if "." not in name
    ]
    copied = {
        src.rstrip("/")
        for line in re.findall(r"^COPY\s+(.+)$", text, re.M)
        for src in line.split()[:-1]
    }
    assert set(needed) <= copied, f"not copied: {set(needed) - copied}"
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"^RUN pip install --no-cache-dir \.", text, re.M)
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0"), "the platform must not run as root"
    assert re.findall(r"^WORKDIR\s+(\S+)", text, re.M)[-1] == "/data"
    assert re.search(r"^EXPOSE 9000\b", text, re.M)
    assert re.search(r"^STOPSIGNAL SIGTERM$", text, re.M)
    assert not re.search(r"^ENTRYPOINT", text, re.M)  # compose's command is a whole argv
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd and json.loads(cmd.group(1))[:2] == ["exchange", "run"]  # exec form


def test_dockerignore_keeps_what_the_build_needs() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [p for p in patterns if p.startswith("!")]  # keep the matching below simple
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = ["pyproject.toml", project["project"]["readme"], "platform/Dockerfile"]
    for package in top_packages(project):
        needed += [
            str(p.relative_to(ROOT))
            for p in (ROOT / package).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(
            fnmatch.fnmatch(prefix, p.rstrip("/")) or fnmatch.fnmatch(prefix, f"**/{p}")
            for p in patterns
            for prefix in prefixes
        )

    assert not [path for path in needed if ignored(path)]
    for junk in (".venv", ".git", "platform_events", "bench/results", ".pytest_cache"):
        assert ignored(junk), junk


# --- Grafana provisioning -----------------------------------------------------------------


def test_datasource_is_the_stacks_prometheus() -> None:
    text = DATASOURCE.read_text(encoding="utf-8")
    assert datasource_uid() == "exchange-prometheus"
    assert re.search(r"^\s+type:\s*prometheus\s*$", text, re.M)
    assert re.search(r"^\s+url:\s*http://prometheus:9090\s*$", text, re.M)  # by service name
    assert re.search(r"^\s+isDefault:\s*true\s*$", text, re.M)
    assert re.search(r"^\s+timeInterval:\s*[\"']?1s[\"']?", text, re.M)
    assert len(re.findall(r"^\s+- name:", text, re.M)) == 1


def test_dashboard_provider_loads_the_exchange_folder() -> None:
    text = PROVIDER.read_text(encoding="utf-8")
    assert re.search(r"^\s+type:\s*file\s*$", text, re.M)
    assert re.search(r"^\s+folder:\s*[\"']?Exchange[\"']?\s*$", text, re.M)
    assert provider_path().startswith("/")
    home = re.search(r"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH:\s*(\S+)", COMPOSE.read_text())
    assert home and home.group(1) == f"{provider_path()}/overview.json"


def test_platform_is_not_a_python_package() -> None:
    assert not list((ROOT / "platform").rglob("__init__.py"))


# --- the dashboard generator ---------------------------------------------------------------


@pytest.mark.slow_io
def test_committed_dashboards_are_what_the_generator_writes() -> None:
    result = run(sys.executable, "-I", str(BUILDER), "--check")
    assert result.returncode == 0, result.stderr
    assert sorted(p.stem for p in DASHBOARDS.glob("*.json")) == sorted(STEMS)


@pytest.mark.slow_io
def test_generator_check_names_a_stale_file(tmp_path: Path) -> None:
    copy = tmp_path / "platform" / "grafana" / "build_dashboards.py"
    copy.parent.mkdir(parents=True)
    shutil.copy(BUILDER, copy)
    # -I and another directory: the generator needs nothing but the standard library
    assert run(sys.executable, "-I", str(copy), cwd=tmp_path).returncode == 0
    written = copy.parent / "dashboards"
    for stem in STEMS:
        assert (written / f"{stem}.json").read_bytes() == (DASHBOARDS / f"{stem}.json").read_bytes()
    assert run(sys.executable, "-I", str(copy), "--check", cwd=tmp_path).returncode == 0
    titan = written / "titan.json"
    titan.write_text(titan.read_text().replace('"refresh": "5s"', '"refresh": "1m"'))
    result = run(sys.executable, "-I", str(copy), "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert "titan.json" in result.stderr and "sentinel.json" not in result.stderr


# --- the dashboards -----------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
def test_dashboard_settings(stem: str) -> None:
    board = dashboard(stem)
    assert board["uid"] == f"exchange-{stem}"
    assert 36 <= board["schemaVersion"] <= 41
    assert board["refresh"] == "5s"
    assert board["time"] == {"from": "now-15m", "to": "now"}
    assert board["graphTooltip"] == 1  # shared crosshair
    assert board["panels"], stem


@pytest.mark.parametrize("stem", STEMS)
def test_panels_use_the_provisioned_datasource(stem: str) -> None:
    expected = {"type": "prometheus", "uid": datasource_uid()}
    for panel in dashboard(stem)["panels"]:
        assert panel["datasource"] == expected, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == expected, panel["title"]
            assert target["expr"].strip(), panel["title"]


@pytest.mark.parametrize("stem", STEMS)
def test_panel_ids_and_layout(stem: str) -> None:
    panels = dashboard(stem)["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {stem}"
    taken: set[tuple[int, int]] = set()
    for p in panels:
        assert p["type"] in PANEL_TYPES, p["type"]
        assert "unit" in p["fieldConfig"]["defaults"], p["title"]
        g = p["gridPos"]
        assert g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 and g["h"] > 0, p["title"]
        assert g["x"] + g["w"] <= 24, f"{p['title']} runs past column 24"
        cells = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & taken, f"{p['title']} overlaps another panel"
        taken |= cells
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]


@pytest.mark.parametrize("stem", STEMS)
def test_only_the_symbol_variable(stem: str) -> None:
    board = dashboard(stem)
    variables = board["templating"]["list"]
    used = {v for e in exprs(board) for v in re.findall(r"\$\w+", e)}
    assert used <= VARIABLES, used - VARIABLES
    if "$symbol" not in used:
        assert variables == []
        return
    assert [v["name"] for v in variables] == ["symbol"]
    (symbol,) = variables
    assert symbol["definition"] == "label_values(sentinel_mark_price, symbol)"
    assert symbol["query"]["query"] == symbol["definition"]
    assert symbol["multi"] is True and symbol["includeAll"] is True
    assert symbol["allValue"] == ".*"
    assert symbol["datasource"]["uid"] == datasource_uid()
    for e in exprs(board):
        for use in re.findall(r"[^{,\s]*\$symbol[^},]*", e):
            assert use == 'symbol=~"$symbol"', e


@pytest.mark.parametrize("stem", STEMS)
def test_queries_use_documented_metrics(stem: str) -> None:
    documented = catalog()
    for e in exprs(dashboard(stem)):
        names = metric_names(e)
        assert names, e
        for name in names:
            assert name.startswith(CLIENT_PREFIXES) or resolve(
                name, documented
            ), f"{stem}: {name} is not in docs/metrics.md ({e})"
        for name in re.findall(r"\b(?:rate|irate|increase)\(\s*([A-Za-z_:][\w:]*)", e):
            assert is_counter_like(name, documented), f"{stem}: rate() of a gauge {name} ({e})"


def test_every_documented_metric_is_on_its_dashboard() -> None:
    documented = catalog()
    shown: dict[str, set[str]] = {}
    for stem in STEMS:
        shown[stem] = {
            resolve(n, documented) or n for e in exprs(dashboard(stem)) for n in metric_names(e)
        }
    for name, (_, section) in documented.items():
        stems = [stem for prefix, stem in SECTIONS.items() if section.startswith(prefix)]
        assert len(stems) == 1, f"{name}: section {section!r} has no dashboard"
        assert name in shown[stems[0]], f"{name} is not on {stems[0]}.json"
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= shown["process"]
    assert any(n.startswith("python_gc_") for n in shown["process"])


def test_margin_ratio_is_shown_as_current_buckets() -> None:
    board = dashboard("sentinel")
    uses = [e for e in exprs(board) if "sentinel_margin_ratio_bucket" in e]
    assert uses and not [e for e in uses if re.search(r"\b(?:i?rate|increase)\(", e)]
    bars = [p for p in board["panels"] if p["type"] == "bargauge"]
    assert any(
        t["expr"] == "sum by (le) (sentinel_margin_ratio_bucket)" and t.get("format") == "heatmap"
        for p in bars
        for t in p["targets"]
    )


def test_heatmaps_read_rated_buckets_by_le() -> None:
    heatmaps = [p for s in STEMS for p in dashboard(s)["panels"] if p["type"] == "heatmap"]
    assert {t["expr"].split("rate(")[1].split("{")[0] for p in heatmaps for t in p["targets"]} == {
        "titan_execution_price_bucket",
        "titan_execution_quantity_bucket",
    }
    for p in heatmaps:
        for t in p["targets"]:
            assert t["expr"].startswith("sum by (le) (rate(") and "[$__rate_interval]" in t["expr"]
            assert t["format"] == "heatmap" and t["legendFormat"] == "{{le}}"
        assert p["options"]["calculate"] is False


def test_overview_covers_the_essentials() -> None:
    queries = exprs(dashboard("overview"))
    names = {n for e in queries for n in metric_names(e)}
    required = {
        "titan_orders_total",  # orders/s
        "titan_executions_total",  # executions/s
        "titan_spread",
        "titan_last_price",
        "sentinel_mark_price",
        "sentinel_liquidations_total",
        "sentinel_accounts_at_risk",
        "sentinel_insurance_fund",
        "oracle_commit_seconds_bucket",
        "price_feed_connected",
        "price_feed_healthy",
        "price_feed_stale_seconds",
    }
    assert required <= names, required - names
    assert any(
        e.startswith("histogram_quantile(0.99,") and "oracle_commit_seconds_bucket" in e
        for e in queries
    )
    assert any(e.startswith("sum(rate(titan_orders_total") for e in queries)
    assert any(e.startswith("sum(rate(titan_executions_total") for e in queries)


# --- tests/helpers/tools.py -----------------------------------------------------------------------


def test_require_tool_finds_skips_and_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    sh = require_tool("sh")
    assert Path(sh).is_absolute() and os.access(sh, os.X_OK)
    missing = "no-such-tool-for-exchange-tests"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"{missing} is not installed: `make test`"):
        require_tool(missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="installs it with apt-get"):
        require_tool(missing)


def test_feed_latency_panels_say_why_they_are_empty_on_simulated_prices() -> None:
    """The default run (simulated prices) has no event time, so no feed latency: every
    panel that shows it carries a noValue text saying why instead of "No data"."""
    latency = [
        p
        for stem in STEMS
        for p in dashboard(stem)["panels"]
        if any("price_feed_latency_seconds" in t["expr"] for t in p["targets"])
    ]
    assert latency, "no panel shows the feed latency"
    for p in latency:
        text = p["fieldConfig"]["defaults"].get("noValue", "")
        assert "simulated" in text and "binance" in text, p["title"]
