"""The comparison chart README shows: one bar per comparison, ours/peer on a log scale.

A bar is the median ratio of the interleaved trials, its whisker the range; a diamond
marks the target where the issue set one; the line at 1x is parity (left of it the peer
is faster). Drawn with matplotlib's Agg backend, no display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

GROUP_COLOURS = {
    "titan": "#3b6fb6",
    "oracle": "#d08a2e",
    "sentinel": "#4c9a5b",
    "recovery": "#8a5bb0",
}


def render(summary: dict[str, Any], path: Path) -> None:
    """Write the chart of ``summary['rows']`` to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    rows = summary["rows"]
    height = 1.2 + 0.42 * max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(11, height), dpi=110)
    if not rows:
        ax.text(0.5, 0.5, "no comparison produced results", ha="center", va="center")
        ax.set_axis_off()
    else:
        ys = list(range(len(rows)))[::-1]
        # Ratios of a thousand and more (Sentinel's index against a full scan) would
        # squash every other bar: the axis ends past the largest of the rest and the
        # targets, and a longer bar is cut there with its figure written beside it.
        modest = [r["ratio"]["max"] for r in rows if r["ratio"]["max"] < 1000]
        targets = [r["target"] for r in rows if r["target"] is not None]
        right = max([*modest, *targets, 1.0]) * 3
        left = min(min(r["ratio"]["min"] for r in rows), 1.0) / 1.6
        for y, r in zip(ys, rows, strict=True):
            q = r["ratio"]
            colour = GROUP_COLOURS.get(r["group"], "#777777")
            cut = q["median"] > right
            ax.barh(y, min(q["median"], right), color=colour, height=0.62)
            if not cut:
                ax.errorbar(
                    q["median"], y, xerr=[[q["median"] - q["min"]], [q["max"] - q["median"]]],
                    color="black", capsize=3, linewidth=1,
                )  # fmt: skip
            if r["target"] is not None:
                ax.plot(r["target"], y, marker="D", color="black", markersize=5)
            text = f"{q['median']:,.2f}x" + (" (off scale)" if cut else "")
            x = 1.1 if cut else max(q["max"], q["median"]) * 1.08
            ax.text(x, y, text, va="center", fontsize=8, color="white" if cut else "black")
        ax.set_yticks(ys)
        ax.set_yticklabels([r["comparison"] for r in rows], fontsize=8)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}x"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.axvline(1.0, color="#444444", linewidth=1)
        ax.set_xlim(left, right)
        ax.set_xlabel("ours / peer (higher: ours better; 1x = parity; diamond = target)")
        m = summary.get("machine", {})
        ax.set_title(
            f"Side by side, same work, interleaved trials: median and range "
            f"({m.get('cpu_count', '?')} CPUs, {m.get('cpu_model', '?')}, "
            f"host Python {m.get('python', '?')})",
            fontsize=9,
        )
        ax.grid(axis="x", which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
