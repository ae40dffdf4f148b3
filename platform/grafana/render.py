#!/usr/bin/env python3
"""Draw what a generated Grafana dashboard shows, from a live Prometheus, into a PNG.

Grafana is not needed: every target of every panel is sent to Prometheus'
``/api/v1/query_range`` (stdlib ``urllib``), and the answers are drawn with matplotlib
(Agg) on the panels' own grid (``gridPos``: 24 columns, rows of 38 px), in a dark,
Grafana-like theme::

    python platform/grafana/render.py --prometheus http://127.0.0.1:9090 \\
        --dashboard platform/grafana/dashboards/overview.json \\
        --out docs/dashboard-overview.png [--minutes 15] [--step 2] [--width 1800]

What is drawn, per panel type:

- ``timeseries``: one line per series (10 % area fill, gaps where Prometheus has no
  point), the legend from the target's ``legendFormat`` (``{{label}}`` substituted);
- ``stat``: the reduced value (``lastNotNull`` by default) of each series as big text,
  coloured by the panel's thresholds, over a sparkline when ``graphMode`` is ``area``;
- ``gauge``: a half-ring from ``min`` to ``max`` (default 0..1 for ``percentunit``,
  0..100 otherwise) with the threshold colours and the value;
- ``bargauge``: one bar per series, last value;
- ``heatmap``: bucket rates as an image (time across, buckets up, ordinal like Grafana's
  ``le`` rows), zero cells left empty;
- anything else: an empty panel naming its type.

Targets with ``format: heatmap`` are de-accumulated like Grafana does: series sorted by
their ``le`` label, each bucket minus the one below. Queries are interpolated before they
are sent: ``$__rate_interval`` becomes ``max(4 * step, 15 s)``, ``$__interval`` the step,
``$__range`` the window, and each dashboard variable its "All" value (``allValue``, else
``.*``) or, for a panel that ``repeat``\\ s over it, each of its values in turn
(``label_values(metric, label)`` asked of Prometheus). Units (``fieldConfig.defaults.unit``)
known: ``none``, ``short``, ``s``, ``ms``, ``ops``, ``bytes``, ``Bps``, ``percent``,
``percentunit``, ``currencyUSD``; others are printed after the number. Times are UTC.

This is a script: ``platform/`` has no ``__init__.py`` (a package named ``platform``
would shadow the standard library's). Tests load it by path and call :func:`render`;
it has no ``from __future__ import annotations``, so that its dataclasses also work when
loaded with ``importlib.util`` without being registered in ``sys.modules``.
"""

import argparse
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, PowerNorm
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle, Wedge
from matplotlib.textpath import TextToPath
from matplotlib.ticker import FixedLocator, Formatter, FuncFormatter, Locator, MaxNLocator

# --- theme (Grafana's dark theme) -------------------------------------------------------

PAGE_BG = "#111217"
PANEL_BG = "#181b1f"
PANEL_BORDER = "#2c2f35"
TEXT = "#ccccdc"
TEXT_DIM = "#8e8e9b"
GRID = "#2a2d33"
ERROR_RED = "#f2495c"
UNFILLED = "#25282d"

#: Grafana's "palette-classic" series colours, in order.
PALETTE = (
    "#73bf69",
    "#f2cc0c",
    "#8ab8ff",
    "#ff780a",
    "#f2495c",
    "#5794f2",
    "#b877d9",
    "#705da0",
    "#37872d",
    "#fade2a",
    "#447ebc",
    "#c15c17",
    "#890f02",
    "#0a437c",
    "#6d1f62",
    "#584477",
    # then Grafana's older classic colours, so that up to 40 series stay distinct
    "#b7dbab",
    "#f4d598",
    "#70dbed",
    "#f9ba8f",
    "#f29191",
    "#82b5d8",
    "#e5a8e2",
    "#aea2e0",
    "#629e51",
    "#e5ac0e",
    "#64b0c8",
    "#e0752d",
    "#bf1b00",
    "#0a50a1",
    "#962d82",
    "#614d93",
    "#9ac48a",
    "#f2c96d",
    "#65c5db",
    "#f9934e",
    "#ea6460",
    "#5195ce",
    "#d683ce",
    "#806eb7",
)

#: Grafana's named colours (thresholds refer to them by name).
NAMED_COLORS = {
    "green": "#73bf69",
    "red": "#f2495c",
    "orange": "#ff9830",
    "yellow": "#fade2a",
    "blue": "#5794f2",
    "purple": "#b877d9",
    "dark-orange": "#fa6400",
    "dark-red": "#c4162a",
    "dark-green": "#37872d",
    "text": TEXT,
    "transparent": PANEL_BG,
}

HEATMAP_CMAP = LinearSegmentedColormap.from_list(
    "grafana_oranges", ["#4a1c00", "#c4480a", "#ff9830", "#ffe0b0"]
)

# --- layout (pixels; the figure is drawn at 100 dpi) -------------------------------------

DPI = 100
DEFAULT_WIDTH = 1800
ROW_PX = 38  # one gridPos height unit: Grafana's 30 px cell plus its 8 px margin
GAP_PX = 8  # space between panels
PAGE_PAD = 10  # page margin left and right
HEADER_PX = 46  # dashboard title and time range
TITLE_PX = 30  # panel title strip
LEGEND_ROW_PX = 17
TICK_SIZE = 8.0  # points
TITLE_SIZE = 10.0
LEGEND_SIZE = 8.5

HTTP_TIMEOUT = 15.0
MAX_POINTS = 11_000  # Prometheus refuses query_range answers longer than this per series


#: A pixel rectangle: left, top, width, height.
Box = tuple[float, float, float, float]

# --- errors -------------------------------------------------------------------------------


class PrometheusError(Exception):
    """Prometheus could not be reached, or what answered is not Prometheus."""


class QueryError(Exception):
    """Prometheus refused one query; the message is shown on its panel."""


class UsageError(Exception):
    """A bad argument or input file (reported in one line, exit status 2)."""


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The time range queried: ``start`` to ``end`` (Unix seconds) every ``step`` seconds."""

    start: float
    end: float
    step: float

    @property
    def size(self) -> int:
        """Number of steps on the grid, both ends included."""
        return int(math.floor((self.end - self.start) / self.step + 1e-9)) + 1

    def times(self) -> list[float]:
        """The grid's timestamps."""
        return [self.start + i * self.step for i in range(self.size)]

    def index(self, t: float) -> int | None:
        """Position of timestamp ``t`` on the grid, or None if it is off the grid."""
        i = round((t - self.start) / self.step)
        return i if 0 <= i < self.size else None


@dataclass
class Series:
    """One series of a target's answer, its values placed on the window's grid."""

    name: str
    labels: dict[str, str]
    values: list[float]  # NaN where Prometheus returned no point

    def finite(self) -> list[float]:
        """The values that are numbers (neither missing, NaN nor infinite)."""
        return [v for v in self.values if math.isfinite(v)]

    def has_data(self) -> bool:
        """Whether at least one point is a finite number."""
        return any(math.isfinite(v) for v in self.values)


@dataclass
class PanelData:
    """Everything the targets of one panel returned."""

    series: list[Series] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class PanelSpec:
    """One panel to draw: a dashboard panel, or one copy of a repeated one."""

    panel: dict[str, Any]
    key: str  # the title in the dashboard, uninterpolated: the key of render()'s result
    title: str
    variables: dict[str, str]
    x: int
    y: int
    w: int
    h: int


# --- Prometheus ---------------------------------------------------------------------------


def _get_json(url: str) -> Any:
    """GET ``url`` and decode its JSON body.

    Raises QueryError when the server answered with an HTTP error (Prometheus' message
    included) or with something that is not JSON, PrometheusError when nothing answered.
    """
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        message = f"HTTP {exc.code}"
        try:
            payload = json.loads(exc.read())
            if isinstance(payload, dict) and payload.get("error"):
                message = f"{message}: {payload['error']}"
        except (ValueError, OSError):
            pass
        raise QueryError(message) from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusError(str(reason)) from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise QueryError("the answer is not JSON") from exc


def _api(base: str, path: str, params: Sequence[tuple[str, str]]) -> Any:
    """Call Prometheus' HTTP API and return the ``data`` of a successful answer."""
    url = f"{base.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    payload = _get_json(url)
    if not isinstance(payload, dict) or payload.get("status") != "success":
        error = payload.get("error") if isinstance(payload, dict) else None
        raise QueryError(str(error or "unexpected answer"))
    return payload.get("data")


def check_prometheus(base: str) -> None:
    """Raise PrometheusError unless a Prometheus answers at ``base``."""
    try:
        _api(base, "/api/v1/status/buildinfo", [])
    except PrometheusError as exc:
        raise PrometheusError(f"cannot reach Prometheus at {base}: {exc}") from exc
    except QueryError as exc:
        raise PrometheusError(f"no Prometheus API at {base}: {exc}") from exc


def query_range(base: str, expr: str, window: Window) -> list[tuple[dict[str, str], list[float]]]:
    """Run one range query; return each series' labels and its values on the grid."""
    data = _api(
        base,
        "/api/v1/query_range",
        [
            ("query", expr),
            ("start", _num(window.start)),
            ("end", _num(window.end)),
            ("step", _num(window.step)),
        ],
    )
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        kind = data.get("resultType") if isinstance(data, dict) else type(data).__name__
        raise QueryError(f"expected a matrix, got {kind}")
    out: list[tuple[dict[str, str], list[float]]] = []
    for item in data.get("result", []):
        values = [math.nan] * window.size
        for t, v in item.get("values", []):
            i = window.index(float(t))
            if i is not None:
                values[i] = float(v)  # "NaN", "+Inf" parse too
        labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
        out.append((labels, values))
    return out


def label_values(base: str, metric: str | None, label: str, window: Window) -> list[str]:
    """Values of ``label`` (on series of ``metric``, if given) during the window."""
    params = [("start", _num(window.start)), ("end", _num(window.end))]
    if metric:
        params.append(("match[]", metric))
    data = _api(base, f"/api/v1/label/{urllib.parse.quote(label)}/values", params)
    return sorted(str(v) for v in data) if isinstance(data, list) else []


def _num(x: float) -> str:
    """A float as Prometheus wants it in a URL (no exponent for ordinary values)."""
    return f"{x:.3f}".rstrip("0").rstrip(".")


# --- interpolation ------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
_LEGEND = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$")


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Replace ``$name``, ``${name}``, ``${name:fmt}`` and ``[[name]]`` by their values.

    Names that are not in ``variables`` are left as they are.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return variables.get(name, match.group(0))

    return _VARIABLE.sub(value, text)


def legend_name(fmt: str | None, labels: dict[str, str], expr: str) -> str:
    """A series' legend: ``legendFormat`` with ``{{label}}`` substituted.

    Without a format, Grafana's default: the labels as ``{a="x", b="y"}``, or the query.
    """
    if fmt and fmt != "__auto":
        return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), fmt).strip()
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    if not shown:
        return labels.get("__name__", expr)
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items()))
    return f"{labels.get('__name__', '')}{{{inner}}}"


def _seconds(value: float) -> str:
    """A duration for PromQL, in whole seconds (rounded up)."""
    return f"{max(1, math.ceil(value - 1e-9))}s"


def builtin_variables(window: Window) -> dict[str, str]:
    """Grafana's ``$__`` variables for this window."""
    span = window.end - window.start
    return {
        "__rate_interval": _seconds(max(4 * window.step, 15.0)),
        "__interval": _seconds(window.step),
        "__interval_ms": str(max(1, round(window.step * 1000))),
        "__range": _seconds(span),
        "__range_s": str(max(1, round(span))),
        "__range_ms": str(max(1, round(span * 1000))),
    }


def dashboard_variables(dashboard: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Each templating variable's value in queries and in titles.

    A variable that includes "All" is "All": its ``allValue`` (``.*`` by default) in
    queries; others take their current value (several joined as a regex alternation).
    """
    in_queries: dict[str, str] = {}
    in_titles: dict[str, str] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        name = var.get("name")
        if not isinstance(name, str):
            continue
        current = var.get("current") or {}
        value = current.get("value")
        values = value if isinstance(value, list) else [value] if value is not None else []
        if var.get("includeAll") and (not values or "$__all" in values):
            in_queries[name] = var.get("allValue") or ".*"
            in_titles[name] = "All"
        elif values:
            strings = [str(v) for v in values]
            in_queries[name] = strings[0] if len(strings) == 1 else "|".join(strings)
            in_titles[name] = " + ".join(strings)
        else:
            in_queries[name] = ".*"
            in_titles[name] = "All"
    return in_queries, in_titles


def repeat_values(base: str, dashboard: dict[str, Any], name: str, window: Window) -> list[str]:
    """The values a panel repeated over variable ``name`` is drawn for (may be empty)."""
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("name") != name:
            continue
        query = var.get("query")
        definition = query.get("query") if isinstance(query, dict) else query
        match = _LABEL_VALUES.match(str(definition or var.get("definition") or ""))
        if not match:
            return []
        try:
            values = label_values(base, match.group(1), match.group(2), window)
        except QueryError:
            return []
        return sorted(values, reverse=var.get("sort") in (2, 4, 6))
    return []


def layout(base: str, dashboard: dict[str, Any], window: Window) -> list[PanelSpec]:
    """The panels to draw and where, repeated panels expanded like Grafana does.

    A panel repeated horizontally over n values becomes n copies of width
    ``max(24 / n, 24 / maxPerRow)`` side by side, wrapping onto new rows that push the
    panels below it down.
    """
    in_queries, in_titles = dashboard_variables(dashboard)
    panels = [p for p in dashboard.get("panels", []) if isinstance(p, dict)]
    specs: list[PanelSpec] = []
    shifts: list[tuple[int, int]] = []  # (y of a repeated panel, rows it added)
    for panel in sorted(panels, key=lambda p: (_grid(p)[1], _grid(p)[0])):
        x, y, w, h = _grid(panel)
        y += sum(extra for at, extra in shifts if at < y)
        key = str(panel.get("title", ""))
        repeat = panel.get("repeat")
        values = repeat_values(base, dashboard, repeat, window) if isinstance(repeat, str) else []
        if not values or not isinstance(repeat, str):
            specs.append(PanelSpec(panel, key, interpolate(key, in_titles), in_queries, x, y, w, h))
            continue
        per_row = max(1, int(panel.get("maxPerRow") or 4))
        if panel.get("repeatDirection", "h") == "v":
            for i, value in enumerate(values):
                variables = {**in_queries, repeat: re.escape(value)}
                title = interpolate(key, {**in_titles, repeat: value})
                specs.append(PanelSpec(panel, key, title, variables, x, y + i * h, w, h))
            shifts.append((_grid(panel)[1], (len(values) - 1) * h))
            continue
        width = max(24 // len(values), 24 // per_row, 1)
        per_row = max(1, 24 // width)
        for i, value in enumerate(values):
            variables = {**in_queries, repeat: re.escape(value)}
            title = interpolate(key, {**in_titles, repeat: value})
            row, col = divmod(i, per_row)
            specs.append(
                PanelSpec(panel, key, title, variables, col * width, y + row * h, width, h)
            )
        rows = math.ceil(len(values) / per_row)
        shifts.append((_grid(panel)[1], (rows - 1) * h))
    return specs


def _grid(panel: dict[str, Any]) -> tuple[int, int, int, int]:
    """A panel's ``gridPos`` as (x, y, w, h), clamped to the 24-column grid."""
    pos = panel.get("gridPos") or {}
    x = min(max(int(pos.get("x", 0)), 0), 23)
    w = min(max(int(pos.get("w", 12)), 1), 24 - x)
    return x, max(int(pos.get("y", 0)), 0), w, max(int(pos.get("h", 8)), 1)


def fetch(base: str, spec: PanelSpec, window: Window) -> PanelData:
    """Run every target of a panel; query errors are kept for the panel to show."""
    data = PanelData()
    constants = builtin_variables(window)
    for target in spec.panel.get("targets", []):
        expr = target.get("expr")
        if not isinstance(expr, str) or not expr.strip() or target.get("hide"):
            continue
        query = interpolate(expr, {**spec.variables, **constants})
        try:
            answer = query_range(base, query, window)
        except QueryError as exc:
            data.errors.append(f"{target.get('refId', '?')}: {exc}")
            continue
        fmt = target.get("legendFormat")
        series = [Series(legend_name(fmt, labels, query), labels, v) for labels, v in answer]
        if target.get("format") == "heatmap":
            series = deaccumulate(series)
        data.series.extend(series)
    return data


def _le(series: Series) -> float:
    """A bucket series' upper bound (``le`` label); +inf if it has none."""
    try:
        return float(series.labels.get("le", "+Inf"))
    except ValueError:
        return math.inf


def deaccumulate(series: list[Series]) -> list[Series]:
    """Cumulative buckets to per-bucket values, sorted by ``le`` (Grafana's heatmap format).

    Each bucket loses the value of the bucket below it; tiny negative differences
    (floating-point noise of rates) become 0.
    """
    ordered = sorted(series, key=_le)
    out: list[Series] = []
    below: list[float] | None = None
    for s in ordered:
        values = list(s.values)
        if below is not None:
            values = [
                max(v - b, 0.0) if math.isfinite(v) and math.isfinite(b) else v
                for v, b in zip(values, below, strict=True)
            ]
        out.append(Series(s.name, s.labels, values))
        below = s.values
    return out


# --- units --------------------------------------------------------------------------------


def _scale(unit: str, ref: float) -> tuple[float, str, str]:
    """(divisor, prefix, suffix) to show numbers of magnitude ``ref`` in ``unit``."""
    ref = abs(ref) if math.isfinite(ref) else 0.0
    if unit in ("s", "ms"):
        base = 1e-3 if unit == "ms" else 1.0
        seconds = ref * base
        for limit, div, suffix in (
            (1e-6, 1e-9, " ns"),
            (1e-3, 1e-6, " µs"),
            (1.0, 1e-3, " ms"),
            (60.0, 1.0, " s"),
            (3600.0, 60.0, " min"),
            (86400.0, 3600.0, " hour"),
        ):
            if seconds < limit and (seconds > 0 or limit == 1.0):
                return div / base, "", suffix
        return 86400.0 / base, "", " day"
    if unit in ("bytes", "Bps"):
        per = "/s" if unit == "Bps" else ""
        for power, name in enumerate(("B", "KiB", "MiB", "GiB", "TiB")):
            if ref < 1024.0 ** (power + 1) or name == "TiB":
                return 1024.0**power, "", f" {name}{per}"
    if unit == "ops":
        for div, name in ((1.0, ""), (1e3, "K"), (1e6, "M"), (1e9, "G")):
            if ref < div * 1000 or name == "G":
                return div, "", f" {name}ops/s" if name else " ops/s"
    if unit == "short":
        for div, name in ((1.0, ""), (1e3, " K"), (1e6, " Mil"), (1e9, " Bil")):
            if ref < div * 1000 or name == " Bil":
                return div, "", name
    if unit == "percentunit":
        return 0.01, "", "%"
    if unit == "percent":
        return 1.0, "", "%"
    if unit == "currencyUSD":
        # Grafana scales from $1K on; prices read better whole up to a million
        for div, name in ((1.0, ""), (1e6, "M"), (1e9, "B")):
            if ref < div * 1000 or (div == 1.0 and ref < 1e6) or name == "B":
                return div, "$", name
    if unit in ("", "none"):
        return 1.0, "", ""
    return 1.0, "", f" {unit}"


def _fixed(x: float, decimals: int) -> str:
    """``x`` with ``decimals`` decimals and thousands separators; never ``-0``."""
    text = f"{x:,.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text[1:].replace(",", "")) == 0 else text


def _decimals_for(values: Iterable[float], limit: int = 6) -> int:
    """Fewest decimals (up to ``limit``) that show every value exactly."""
    values = [v for v in values if math.isfinite(v)]
    for decimals in range(limit + 1):
        if all(abs(round(v, decimals) - v) <= 1e-9 * max(1.0, abs(v)) for v in values):
            return decimals
    return limit


def format_value(value: float | None, unit: str | None) -> str:
    """One value as a stat shows it: the unit's scale, about three significant digits."""
    if value is None:
        return "No data"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    unit = unit or "none"
    div, prefix, suffix = _scale(unit, value)
    scaled = value / div
    if abs(scaled - round(scaled)) < 1e-9 * max(1.0, abs(scaled)):
        decimals = 0
    else:
        magnitude = math.floor(math.log10(abs(scaled))) if scaled else 0
        decimals = min(max(2 - magnitude, 0), 4)
    sign = "-" if scaled < 0 and _fixed(abs(scaled), decimals) != "0" else ""
    return f"{sign}{prefix}{_fixed(abs(scaled), decimals)}{suffix}"


class UnitFormatter(Formatter):
    """Axis tick labels in a Grafana unit: one scale for the axis, decimals from the ticks."""

    def __init__(self, unit: str | None) -> None:
        self.unit = unit or "none"
        self.div, self.prefix, self.suffix = 1.0, "", ""
        self.decimals = 0

    def set_locs(self, locs: Sequence[float]) -> None:
        """Choose the scale and decimals for this set of ticks."""
        super().set_locs(list(locs))
        finite = [float(v) for v in locs if math.isfinite(v)]
        ref = max((abs(v) for v in finite), default=0.0)
        self.div, self.prefix, self.suffix = _scale(self.unit, ref)
        self.decimals = _decimals_for(v / self.div for v in finite)

    def __call__(self, x: float, pos: int | None = None) -> str:
        """The label of tick ``x``."""
        scaled = x / self.div
        text = _fixed(abs(scaled), self.decimals)
        sign = "-" if scaled < 0 and float(text.replace(",", "")) != 0 else ""
        return f"{sign}{self.prefix}{text}{self.suffix}"

    def exact(self, x: float) -> str:
        """``x`` on this axis' scale with the fewest decimals that show it exactly."""
        decimals, self.decimals = self.decimals, _decimals_for([x / self.div], limit=4)
        try:
            return self(x)
        finally:
            self.decimals = decimals


class UnitLocator(MaxNLocator):
    """Round ticks in the unit's scale (256 MiB, not 268,435,456 bytes; 2 min, not 120 s)."""

    def __init__(self, unit: str | None, nbins: int) -> None:
        super().__init__(nbins=nbins, min_n_ticks=2)
        self.unit = unit or "none"

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        """Ticks chosen on the scaled values, returned unscaled."""
        div, _, _ = _scale(self.unit, max(abs(vmin), abs(vmax)))
        return [float(t) * div for t in super().tick_values(vmin / div, vmax / div)]


# --- drawing helpers ----------------------------------------------------------------------


class Canvas:
    """A figure addressed in pixels from its top-left corner."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor=PAGE_BG)
        FigureCanvasAgg(self.figure)  # the Agg backend, whatever matplotlib's default
        self.measure = TextToPath()

    def box(self, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        """A pixel rectangle in figure coordinates (left, bottom, width, height)."""
        return (x / self.width, 1 - (y + h) / self.height, w / self.width, h / self.height)

    def rect(self, x: float, y: float, w: float, h: float, color: str, edge: str | None) -> None:
        """Fill a rectangle, with an optional 1 px border."""
        left, bottom, width, height = self.box(x, y, w, h)
        self.figure.add_artist(
            Rectangle(
                (left, bottom),
                width,
                height,
                transform=self.figure.transFigure,
                facecolor=color,
                edgecolor=edge or color,
                linewidth=0.8 if edge else 0,
                zorder=-10,  # under the axes, which the figure draws at zorder 0
            )
        )

    def text(
        self,
        x: float,
        y: float,
        s: str,
        size: float,
        color: str = TEXT,
        ha: str = "left",
        va: str = "top",
        weight: str = "normal",
    ) -> None:
        """Write ``s`` at pixel (x, y); ``$`` is never read as math."""
        self.figure.text(
            x / self.width,
            1 - y / self.height,
            s,
            fontsize=size,
            color=color,
            ha=ha,
            va=va,
            fontweight=weight,
            parse_math=False,
        )

    def text_width(self, s: str, size: float, weight: str = "normal") -> float:
        """Width of ``s`` in pixels at font size ``size`` (points)."""
        prop = FontProperties(size=size, weight=weight)
        width, _, _ = self.measure.get_text_width_height_descent(s, prop, ismath=False)
        return float(width) * DPI / 72  # points to pixels

    def fit(self, s: str, size: float, width: float) -> str:
        """``s``, shortened with an ellipsis until it fits ``width`` pixels."""
        if self.text_width(s, size) <= width:
            return s
        while s and self.text_width(s + "…", size) > width:
            s = s[:-1]
        return s + "…"

    def axes(self, x: float, y: float, w: float, h: float) -> Axes:
        """New axes on a pixel rectangle, themed."""
        ax = self.figure.add_axes(self.box(x, y, max(w, 1), max(h, 1)))
        ax.set_facecolor(PANEL_BG)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(colors=TEXT_DIM, labelsize=TICK_SIZE, length=0, pad=4)
        return ax

    def save(self, out: Path) -> None:
        """Write the PNG."""
        self.figure.savefig(out, format="png", dpi=DPI, facecolor=PAGE_BG)


def threshold_color(panel: dict[str, Any], value: float | None) -> str:
    """The colour of the threshold step ``value`` falls in (text colour for no value)."""
    if value is None or not math.isfinite(value):
        return TEXT
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps")
    color = "green"
    for step in steps or []:
        bound = step.get("value")
        if bound is None or value >= float(bound):
            color = str(step.get("color", color))
    return _color(color)


def _color(name: str) -> str:
    """A Grafana colour name or CSS hex colour as a matplotlib colour."""
    if name.startswith("#"):
        return name
    return NAMED_COLORS.get(name, NAMED_COLORS.get(name.split("-")[-1], TEXT))


def _no_value(panel: dict[str, Any]) -> str:
    """What the panel shows without data: its ``noValue`` text, or Grafana's "No data"."""
    text = _defaults(panel).get("noValue")
    return text if isinstance(text, str) and text else "No data"


def _defaults(panel: dict[str, Any]) -> dict[str, Any]:
    """The panel's ``fieldConfig.defaults``."""
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    return defaults if isinstance(defaults, dict) else {}


def _unit(panel: dict[str, Any]) -> str:
    """The panel's unit (``none`` if unset)."""
    return str(_defaults(panel).get("unit") or "none")


def _reduce(panel: dict[str, Any], series: Series) -> float | None:
    """A series reduced like the panel's ``reduceOptions.calcs`` asks (first calc)."""
    calcs = panel.get("options", {}).get("reduceOptions", {}).get("calcs") or ["lastNotNull"]
    finite = series.finite()
    if not finite:
        return None
    calc = calcs[0]
    if calc == "last":
        last = series.values[-1]
        return last if math.isfinite(last) else None
    if calc == "mean":
        return sum(finite) / len(finite)
    if calc == "max":
        return max(finite)
    if calc == "min":
        return min(finite)
    if calc == "sum":
        return sum(finite)
    if calc in ("first", "firstNotNull"):
        return finite[0]
    return finite[-1]  # lastNotNull, and any reducer not known here


#: Time-axis tick spacings, seconds.
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)


class TimeLocator(Locator):
    """Ticks at round UTC times (every 10 s, 1 min, 15 min, ...), at most ``maxticks``."""

    def __init__(self, maxticks: int, margin: float = 0.0) -> None:
        self.maxticks = max(2, maxticks)
        self.margin = margin  # seconds kept free of ticks at each end (room for labels)

    def __call__(self) -> Sequence[float]:
        """Ticks for the current view."""
        if self.axis is None:
            return []
        low, high = self.axis.get_view_interval()
        return self.tick_values(float(low), float(high))

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        """Multiples of the smallest spacing that gives at most ``maxticks`` ticks."""
        span = max(vmax - vmin, 1e-9)
        every = next((s for s in TIME_STEPS if span / s <= self.maxticks), 86400)
        first = math.ceil((vmin + self.margin) / every) * every
        last = vmax - self.margin
        return [float(t) for t in range(int(first), int(math.floor(last)) + 1, every)]


def _time_label(seconds_shown: bool) -> Callable[[float, int | None], str]:
    """A tick formatter for Unix seconds: HH:MM:SS or HH:MM, UTC."""
    fmt = "%H:%M:%S" if seconds_shown else "%H:%M"

    def label(x: float, _pos: int | None = None) -> str:
        return datetime.fromtimestamp(x, UTC).strftime(fmt)

    return label


def _time_axis(ax: Axes, window: Window, width: float) -> None:
    """HH:MM(:SS) UTC ticks, at most one per 150 px, none at the very ends."""
    span = window.end - window.start
    ax.set_xlim(window.start, window.end)
    # no tick whose label (about 56 px wide) would stick out of the plot
    locator = TimeLocator(max(3, int(width // 150)), margin=span * 30 / max(width, 1))
    ax.xaxis.set_major_locator(locator)
    ticks = locator.tick_values(window.start, window.end)
    seconds = span <= 900 or any(t % 60 for t in ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(_time_label(seconds)))


def _y_label_width(cv: Canvas, ax: Axes, formatter: UnitFormatter) -> float:
    """Pixels the y tick labels of ``ax`` need."""
    low, high = ax.get_ylim()
    ticks = [t for t in ax.yaxis.get_major_locator().tick_values(low, high) if low <= t <= high]
    formatter.set_locs(ticks)
    labels = [formatter(t) for t in ticks] or [""]
    return max(cv.text_width(s, TICK_SIZE) for s in labels)


def _no_data(cv: Canvas, x: float, y: float, w: float, h: float, message: str = "No data") -> None:
    """Grafana's "No data", centred in a pixel rectangle."""
    cv.text(x + w / 2, y + h / 2, message, 11, TEXT_DIM, ha="center", va="center")


def _legend_rows(cv: Canvas, names: Sequence[str], width: float) -> list[list[int]]:
    """Indices of legend entries per row, flowed left to right within ``width``."""
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, name in enumerate(names):
        need = 22 + min(cv.text_width(name, LEGEND_SIZE), width - 30) + 14
        if rows[-1] and used + need > width:
            rows.append([])
            used = 0.0
        rows[-1].append(i)
        used += need
    return rows if rows[0] else []


def _draw_legend(
    cv: Canvas,
    x: float,
    y: float,
    width: float,
    entries: Sequence[tuple[str, str]],
    rows: list[list[int]],
) -> None:
    """A list legend: a short colour bar and the name, per series."""
    for r, row in enumerate(rows):
        cx = x
        cy = y + r * LEGEND_ROW_PX
        for i in row:
            name, color = entries[i]
            cv.rect(cx, cy + 6, 14, 3, color, None)
            label = cv.fit(name, LEGEND_SIZE, width - (cx - x) - 22)
            cv.text(cx + 19, cy + 8, label, LEGEND_SIZE, TEXT, va="center")
            cx += 22 + cv.text_width(label, LEGEND_SIZE) + 14


# --- panels -------------------------------------------------------------------------------

MAX_LEGEND_ROWS = 4


def _shorten_legend(
    cv: Canvas, shown: Sequence[Series], colors: Sequence[str], width: float
) -> list[tuple[str, str]]:
    """A legend that fits MAX_LEGEND_ROWS: series that are not all zero first, then
    the others in query order, and a last entry counting those left out."""
    order = sorted(range(len(shown)), key=lambda i: (all(v == 0 for v in shown[i].finite()), i))
    for keep in range(len(order), 0, -1):
        kept = sorted(order[:keep])
        left = [shown[i] for i in order[keep:]]
        entries = [(shown[i].name, colors[i]) for i in kept]
        if left:
            zero = all(v == 0 for s in left for v in s.finite())
            entries.append((f"+{len(left)} more" + (", all 0" if zero else ""), TEXT_DIM))
        if len(_legend_rows(cv, [name for name, _ in entries], width)) <= MAX_LEGEND_ROWS:
            return entries
    return [(f"{len(shown)} series", TEXT_DIM)]


def draw_timeseries(
    cv: Canvas,
    area: Box,
    spec: PanelSpec,
    data: PanelData,
    window: Window,
) -> None:
    """Lines with a 10 % fill, y axis in the panel's unit, legend below."""
    x, y, w, h = area
    shown = [s for s in data.series if s.has_data()]
    if not shown:
        _no_data(cv, x, y, w, h, _no_value(spec.panel))
        return
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(shown))]
    entries = [(s.name, color) for s, color in zip(shown, colors, strict=True)]
    rows = _legend_rows(cv, [name for name, _ in entries], w - 16)
    if len(rows) > MAX_LEGEND_ROWS:
        entries = _shorten_legend(cv, shown, colors, w - 16)
        rows = _legend_rows(cv, [name for name, _ in entries], w - 16)
    legend_h = len(rows) * LEGEND_ROW_PX + 4
    plot_h = h - legend_h - 20  # 20 px: the time labels
    ax = cv.axes(x + 60, y + 4, w - 72, plot_h)
    xs = window.times()
    fill = _defaults(spec.panel).get("custom", {}).get("fillOpacity", 10)
    for s, color in zip(shown, colors, strict=True):
        ax.plot(xs, s.values, color=color, linewidth=1.3, solid_joinstyle="round")
        if fill:
            ax.fill_between(xs, s.values, 0, color=color, alpha=float(fill) / 100, linewidth=0)
    defaults = _defaults(spec.panel)
    low, high = ax.get_ylim()
    data_low = min(min(s.finite()) for s in shown)
    data_high = max(max(s.finite()) for s in shown)
    if data_low == data_high:  # a flat line: centre it, Grafana-like
        pad = abs(data_low) * 0.05 or 1.0
        low, high = data_low - pad, data_high + pad
    else:
        pad = (data_high - data_low) * 0.08
        low, high = data_low - pad, data_high + pad
    if defaults.get("min") is not None:
        low = float(defaults["min"])
    elif data_low >= 0 and low < 0:
        low = 0.0
    if defaults.get("max") is not None:
        high = float(defaults["max"])
    if high <= low:
        high = low + 1.0
    ax.set_ylim(low, high)
    ax.yaxis.set_major_locator(UnitLocator(_unit(spec.panel), nbins=max(2, int(plot_h // 45))))
    formatter = UnitFormatter(_unit(spec.panel))
    ax.yaxis.set_major_formatter(formatter)
    label_w = _y_label_width(cv, ax, formatter)
    ax.set_position(cv.box(x + label_w + 12, y + 4, w - label_w - 20, plot_h))
    _time_axis(ax, window, w - label_w - 20)
    ax.grid(True, color=GRID, linewidth=0.7)
    ax.set_axisbelow(True)
    _draw_legend(cv, x + 8, y + h - legend_h + 2, w - 16, entries, rows)


def _stat_cells(n: int, w: float, h: float) -> tuple[int, int]:
    """Columns and rows for ``n`` values in a w x h area (wide cells preferred)."""
    best = (n, 1)
    best_score = -1.0
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        cw, ch = w / cols, h / rows
        score = min(cw / 3.2, ch)  # a value cell reads best about 3:1
        if score > best_score:
            best, best_score = (cols, rows), score
    return best


def draw_stat(
    cv: Canvas,
    area: Box,
    spec: PanelSpec,
    data: PanelData,
    window: Window,
) -> None:
    """Big reduced values in threshold colours, each over its sparkline."""
    x, y, w, h = area
    series = [s for s in data.series if s.has_data()] or data.series
    if not series:
        _no_data(cv, x, y, w, h, _no_value(spec.panel))
        return
    panel = spec.panel
    options = panel.get("options", {})
    unit = _unit(panel)
    cols, rows = _stat_cells(len(series), w, h)
    cw, ch = w / cols, h / rows
    named = len(series) > 1
    for i, s in enumerate(series):
        r, c = divmod(i, cols)
        cx, cy = x + c * cw, y + r * ch
        value = _reduce(panel, s)
        color = threshold_color(panel, value)
        text = format_value(value, unit)
        if options.get("colorMode") == "background" and value is not None:
            cv.rect(cx + 2, cy + 2, cw - 4, ch - 4, color, None)
            color = "#ffffff"
        top = cy
        if named:
            name = cv.fit(s.name, 9, cw - 12)
            cv.text(cx + cw / 2, cy + 4, name, 9, TEXT, ha="center")
            top += 18
        graph = options.get("graphMode") == "area" and value is not None and ch >= 70
        avail_h = (cy + ch - top) * (0.62 if graph else 0.9)
        size = min(30.0, avail_h / 1.45, (cw - 16) / max(cv.text_width(text, 10, "bold"), 1) * 10)
        size = max(size, 7.0)
        if graph:
            spark = cv.axes(
                cx + 4, cy + ch - (ch - (top - cy)) * 0.42, cw - 8, (ch - (top - cy)) * 0.42
            )
            spark.set_axis_off()
            xs = window.times()
            spark.plot(xs, s.values, color=color, linewidth=1.0, alpha=0.9)
            finite = s.finite()
            floor = min(finite)
            spark.fill_between(xs, s.values, floor, color=color, alpha=0.18, linewidth=0)
            span = max(finite) - floor
            spark.set_ylim(floor - span * 0.05, max(finite) + (span * 0.05 or 1.0))
            spark.set_xlim(window.start, window.end)
            spark.patch.set_alpha(0.0)
            centre = top + avail_h / 2
        else:
            centre = top + (cy + ch - top) / 2
        cv.text(cx + cw / 2, centre, text, size, color, ha="center", va="center", weight="bold")


def draw_gauge(
    cv: Canvas,
    area: Box,
    spec: PanelSpec,
    data: PanelData,
    window: Window,
) -> None:
    """A half-ring per series: threshold band outside, the value's arc inside, the value."""
    x, y, w, h = area
    series = [s for s in data.series if s.has_data()]
    if not series:
        _no_data(cv, x, y, w, h, _no_value(spec.panel))
        return
    panel = spec.panel
    defaults = _defaults(panel)
    unit = _unit(panel)
    low = float(defaults.get("min", 0.0))
    high = float(defaults.get("max", 1.0 if unit == "percentunit" else 100.0))
    if high <= low:
        high = low + 1.0
    steps = defaults.get("thresholds", {}).get("steps") or [{"color": "green", "value": None}]
    cw = w / len(series)
    for i, s in enumerate(series):
        value = _reduce(panel, s)
        cx = x + i * cw
        size = min(cw - 16, (h - 24) * 1.6)
        ax = cv.axes(cx + (cw - size) / 2, y + (h - size / 1.6) / 2 - 6, size, size / 1.6)
        ax.set_axis_off()
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-0.28, 1.1)
        ax.set_aspect("equal")

        def angle(v: float) -> float:
            frac = min(max((v - low) / (high - low), 0.0), 1.0)
            return 180.0 - 180.0 * frac

        ax.add_patch(Wedge((0, 0), 0.9, 0, 180, width=0.22, facecolor=UNFILLED))
        if value is not None and math.isfinite(value):
            color = threshold_color(panel, value)
            ax.add_patch(Wedge((0, 0), 0.9, angle(value), 180, width=0.22, facecolor=color))
        else:
            color = TEXT
        for j, step in enumerate(steps):
            start = low if step.get("value") is None else float(step["value"])
            end = high if j + 1 >= len(steps) else float(steps[j + 1].get("value") or high)
            if end <= start or start >= high:
                continue
            ax.add_patch(
                Wedge(
                    (0, 0),
                    1.0,
                    angle(min(end, high)),
                    angle(max(start, low)),
                    width=0.06,
                    facecolor=_color(str(step.get("color", "green"))),
                )
            )
        text = format_value(value, unit)
        fontsize = min(24.0, size / 9)
        ax.text(
            0,
            0.12,
            text,
            ha="center",
            va="center",
            color=color,
            fontsize=fontsize,
            fontweight="bold",
            parse_math=False,
        )
        if len(series) > 1:
            ax.text(
                0, -0.2, s.name, ha="center", va="center", color=TEXT, fontsize=8, parse_math=False
            )


def draw_bargauge(
    cv: Canvas,
    area: Box,
    spec: PanelSpec,
    data: PanelData,
    window: Window,
) -> None:
    """One bar per series (last value), the unfilled rest to the common maximum."""
    x, y, w, h = area
    series = data.series
    if not series or not any(s.has_data() for s in series):
        _no_data(cv, x, y, w, h, _no_value(spec.panel))
        return
    panel = spec.panel
    unit = _unit(panel)
    values = [_reduce(panel, s) for s in series]
    finite = [v for v in values if v is not None]
    defaults = _defaults(panel)
    top = float(defaults.get("max", max(finite, default=1.0) or 1.0))
    bottom = float(defaults.get("min", min(0.0, min(finite, default=0.0))))
    vertical = panel.get("options", {}).get("orientation", "auto") == "vertical" or (
        panel.get("options", {}).get("orientation", "auto") == "auto" and w > h
    )
    ax = cv.axes(x + 8, y + 18, w - 16, h - 40) if vertical else cv.axes(x + 8, y, w - 16, h)
    ax.set_axis_off()
    n = len(series)
    for i, (s, v) in enumerate(zip(series, values, strict=True)):
        color = threshold_color(panel, v)
        fill = 0.0 if v is None else v - bottom
        if vertical:
            ax.bar(i, top - bottom, bottom=bottom, width=0.8, color=UNFILLED)
            ax.bar(i, fill, bottom=bottom, width=0.8, color=color, alpha=0.85)
        else:
            ax.barh(n - 1 - i, top - bottom, left=bottom, height=0.7, color=UNFILLED)
            ax.barh(n - 1 - i, fill, left=bottom, height=0.7, color=color, alpha=0.85)
        label = format_value(v, unit) if v is not None else "-"
        if vertical:
            cw = (w - 16) / n
            cx = x + 8 + (i + 0.5) * cw
            cv.text(cx, y + 2, cv.fit(label, 9, cw), 9, color, ha="center", weight="bold")
            cv.text(cx, y + h - 18, cv.fit(s.name, 8.5, cw), 8.5, TEXT, ha="center")
        else:
            ax.text(
                bottom,
                n - 1 - i + 0.42,
                f"{s.name}  {label}",
                color=TEXT,
                fontsize=8.5,
                va="bottom",
                parse_math=False,
            )
    if vertical:
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(bottom, top)
    else:
        ax.set_ylim(-0.6, n - 0.2)
        ax.set_xlim(bottom, top)


def draw_heatmap(
    cv: Canvas,
    area: Box,
    spec: PanelSpec,
    data: PanelData,
    window: Window,
) -> None:
    """Bucket values as cells (time across, buckets up, zero cells empty), colour scale below."""
    x, y, w, h = area
    buckets = [s for s in data.series if "le" in s.labels]
    if not buckets or not any(s.has_data() for s in buckets):
        _no_data(cv, x, y, w, h, _no_value(spec.panel))
        return
    panel = spec.panel
    options = panel.get("options", {})
    y_unit = str(options.get("yAxis", {}).get("unit") or _unit(panel))
    cell_unit = str(options.get("cellValues", {}).get("unit") or "none")
    hide_below = float(options.get("filterValues", {}).get("le", 1e-9))
    grid = [
        [v if math.isfinite(v) and v > hide_below else math.nan for v in s.values] for s in buckets
    ]
    peak = max((v for row in grid for v in row if math.isfinite(v)), default=0.0)
    bounds = [_le(s) for s in buckets]
    formatter = UnitFormatter(y_unit)
    formatter.set_locs([b for b in bounds if math.isfinite(b)])
    labels = [formatter.exact(b) if math.isfinite(b) else "+Inf" for b in bounds]
    label_w = max(cv.text_width(s, TICK_SIZE) for s in labels)
    plot_h = h - 20 - 26  # time labels, colour scale
    ax = cv.axes(x + label_w + 12, y + 4, w - label_w - 20, plot_h)
    edges = [window.start + (i - 0.5) * window.step for i in range(window.size + 1)]
    if peak > 0:
        gamma = float(options.get("color", {}).get("exponent", 0.5))
        if options.get("color", {}).get("scale") != "exponential":
            gamma = 1.0
        mesh = ax.pcolormesh(
            edges,
            list(range(len(buckets) + 1)),
            grid,
            cmap=HEATMAP_CMAP,
            norm=PowerNorm(gamma=gamma, vmin=0.0, vmax=peak),
            edgecolors=PANEL_BG,
            linewidth=0.3 if window.size < 300 else 0.0,
        )
        cax = cv.axes(x + label_w + 12, y + h - 14, min(220.0, w / 4), 8)
        bar = cv.figure.colorbar(mesh, cax=cax, orientation="horizontal")
        bar.outline.set_visible(False)
        bar.set_ticks([])
        cv.text(
            x + label_w + 8,
            y + h - 10,
            format_value(0.0, cell_unit),
            8,
            TEXT_DIM,
            ha="right",
            va="center",
        )
        cv.text(
            x + label_w + 16 + min(220.0, w / 4),
            y + h - 10,
            format_value(peak, cell_unit),
            8,
            TEXT_DIM,
            va="center",
        )
    every = max(1, math.ceil(len(buckets) * 13 / max(plot_h, 1)))
    ticks = [i + 1.0 for i in range(len(buckets)) if (len(buckets) - 1 - i) % every == 0]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: labels[int(round(v)) - 1]))
    ax.set_ylim(0, len(buckets))
    _time_axis(ax, window, w - label_w - 20)


DRAWERS = {
    "timeseries": draw_timeseries,
    "graph": draw_timeseries,
    "stat": draw_stat,
    "singlestat": draw_stat,
    "gauge": draw_gauge,
    "bargauge": draw_bargauge,
    "heatmap": draw_heatmap,
}


# --- the dashboard ------------------------------------------------------------------------


def render(
    prometheus_url: str,
    dashboard: dict[str, Any],
    out: Path,
    start: float,
    end: float,
    step: float,
    *,
    width: int = DEFAULT_WIDTH,
) -> dict[str, int]:
    """Query every panel of ``dashboard`` for [start, end] every ``step`` s and draw a PNG.

    Returns, per panel title (as written in the dashboard), how many series had at least
    one finite point; panels sharing a title add up, a repeated panel counts all its
    copies. Raises PrometheusError when Prometheus cannot be reached (a query Prometheus
    refuses is shown on its panel instead), ValueError for a bad window.
    """
    if not (math.isfinite(start) and math.isfinite(end) and end > start):
        raise ValueError("the window must have end > start")
    if not (math.isfinite(step) and step > 0):
        raise ValueError("step must be > 0")
    window = Window(start, end, step)
    if window.size > MAX_POINTS:
        raise ValueError(f"{window.size} points per series; Prometheus allows {MAX_POINTS}")
    check_prometheus(prometheus_url)
    specs = layout(prometheus_url, dashboard, window)
    counts: dict[str, int] = {}
    fetched = []
    for spec in specs:
        data = fetch(prometheus_url, spec, window)
        counts[spec.key] = counts.get(spec.key, 0) + sum(1 for s in data.series if s.has_data())
        fetched.append((spec, data))

    col_px = (width - 2 * PAGE_PAD + GAP_PX) / 24
    rows = max((s.y + s.h for s in specs), default=1)
    height = int(HEADER_PX + rows * ROW_PX + PAGE_PAD)
    cv = Canvas(width, height)
    _draw_header(cv, dashboard, window)
    for spec, data in fetched:
        px = PAGE_PAD + spec.x * col_px
        py = HEADER_PX + spec.y * ROW_PX
        pw = spec.w * col_px - GAP_PX
        ph = spec.h * ROW_PX - GAP_PX
        _draw_panel(cv, (px, py, pw, ph), spec, data, window)
    cv.save(out)
    return counts


def _draw_header(cv: Canvas, dashboard: dict[str, Any], window: Window) -> None:
    """Dashboard title on the left; time range, step and variables on the right."""
    title = str(dashboard.get("title") or "dashboard")
    cv.text(PAGE_PAD + 2, HEADER_PX / 2, title, 14, TEXT, va="center", weight="bold")
    start = datetime.fromtimestamp(window.start, UTC)
    end = datetime.fromtimestamp(window.end, UTC)
    fmt = "%Y-%m-%d %H:%M:%S"
    until = end.strftime("%H:%M:%S" if start.date() == end.date() else fmt)
    span = f"{start.strftime(fmt)} to {until} UTC"
    _, in_titles = dashboard_variables(dashboard)
    shown = "   ".join(f"{name} = {value}" for name, value in in_titles.items())
    info = (
        f"{shown}    {span}    step {_num(window.step)} s"
        if shown
        else f"{span}    step {_num(window.step)} s"
    )
    cv.text(cv.width - PAGE_PAD - 2, HEADER_PX / 2, info, 9.5, TEXT_DIM, ha="right", va="center")


def _draw_panel(
    cv: Canvas,
    box: Box,
    spec: PanelSpec,
    data: PanelData,
    window: Window,
) -> None:
    """The panel frame and title, its content, and any query errors at its foot."""
    x, y, w, h = box
    kind = str(spec.panel.get("type", ""))
    if kind == "row":
        cv.text(x + 2, y + h / 2, spec.title, 11, TEXT, va="center", weight="bold")
        return
    cv.rect(x, y, w, h, PANEL_BG, PANEL_BORDER)
    title = cv.fit(spec.title, TITLE_SIZE, w - 20)
    cv.text(x + 8, y + 9, title, TITLE_SIZE, TEXT, weight="bold")
    area = (x + 6, y + TITLE_PX, w - 12, h - TITLE_PX - 6)
    if data.errors:
        message = cv.fit("query error: " + "; ".join(data.errors), 8, w - 16)
        cv.text(x + 8, y + h - 6, message, 8, ERROR_RED, va="bottom")
        area = (area[0], area[1], area[2], area[3] - 14)
    drawer = DRAWERS.get(kind)
    if drawer is None:
        _no_data(cv, *area, message=f"panel type {kind!r} is not drawn")
        return
    drawer(cv, area, spec, data, window)


# --- command line -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Report a bad flag in one line and exit 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> float:
    """A strictly positive, finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _width(text: str) -> int:
    """A figure width in pixels, 600 to 8000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 600 <= value <= 8000:
        raise argparse.ArgumentTypeError(f"must be 600..8000: {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = _Parser(
        prog="render.py",
        description="Draw a Grafana dashboard's panels from a live Prometheus into a PNG.",
    )
    parser.add_argument(
        "--prometheus",
        required=True,
        metavar="URL",
        help="Prometheus base URL, e.g. http://127.0.0.1:9090",
    )
    parser.add_argument(
        "--dashboard", required=True, type=Path, metavar="JSON", help="dashboard JSON file"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="PNG", help="PNG to write")
    parser.add_argument(
        "--minutes",
        type=_positive,
        default=None,
        help="window ending now (default: the dashboard's time.from, else 15)",
    )
    parser.add_argument(
        "--step",
        type=_positive,
        default=None,
        help="query step in seconds (default: about 450 points, at least 1 s)",
    )
    parser.add_argument(
        "--width",
        type=_width,
        default=DEFAULT_WIDTH,
        help=f"image width in pixels (default {DEFAULT_WIDTH})",
    )
    args = parser.parse_args(argv)
    url = urllib.parse.urlsplit(args.prometheus)
    if url.scheme not in ("http", "https") or not url.netloc:
        parser.error(f"--prometheus must be an http(s):// URL, got {args.prometheus!r}")
    return args


def _dashboard_minutes(dashboard: dict[str, Any]) -> float:
    """The dashboard's default window (``time.from`` like ``now-15m``) in minutes."""
    match = re.fullmatch(r"now-(\d+)([smhd])", str(dashboard.get("time", {}).get("from", "")))
    if not match:
        return 15.0
    factor = {"s": 1 / 60, "m": 1.0, "h": 60.0, "d": 1440.0}[match.group(2)]
    return int(match.group(1)) * factor


def load_dashboard(path: Path) -> dict[str, Any]:
    """Read a dashboard JSON file (UsageError if missing or not a dashboard)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such dashboard file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        dashboard = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    if not isinstance(dashboard, dict) or not isinstance(dashboard.get("panels"), list):
        raise UsageError(f"{path} is not a Grafana dashboard (no panels list)")
    return dashboard


def main(argv: Sequence[str] | None = None) -> int:
    """Render one dashboard; print a per-panel summary; exit 2 on any error."""
    args = parse_args(argv)
    try:
        dashboard = load_dashboard(args.dashboard)
        if not args.out.parent.is_dir():
            raise UsageError(f"output directory does not exist: {args.out.parent}")
        minutes = args.minutes if args.minutes is not None else _dashboard_minutes(dashboard)
        end = math.floor(time.time())
        start = end - minutes * 60
        step = args.step if args.step is not None else max(1.0, math.ceil(minutes * 60 / 450))
        counts = render(args.prometheus, dashboard, args.out, start, end, step, width=args.width)
    except (UsageError, PrometheusError, ValueError) as exc:
        print(f"render.py: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"render.py: error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    empty = sorted(title for title, n in counts.items() if n == 0)
    total = sum(counts.values())
    print(f"{args.out}: {len(counts)} panel titles, {total} series with data")
    if empty:
        print("  no data: " + ", ".join(empty))
    return 0


if __name__ == "__main__":
    sys.exit(main())
