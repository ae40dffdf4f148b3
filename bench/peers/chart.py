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
    from matplotlib.ticker import FuncFormatter

    rows = summary["rows"]
    height = 1.2 + 0.42 * max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(11, height), dpi=110)
    if not rows:
        ax.text(0.5, 0.5, "no comparison produced results", ha="center", va="center")
        ax.set_axis_off()
    else:
        ys = list(range(len(rows)))[::-1]
        medians = [r["ratio"]["median"] for r in rows]
        lows = [r["ratio"]["median"] - r["ratio"]["min"] for r in rows]
        highs = [r["ratio"]["max"] - r["ratio"]["median"] for r in rows]
        colours = [GROUP_COLOURS.get(r["group"], "#777777") for r in rows]
        ax.barh(ys, medians, color=colours, height=0.62, xerr=[lows, highs], capsize=3)
        for y, r in zip(ys, rows, strict=True):
            if r["target"] is not None:
                ax.plot(r["target"], y, marker="D", color="black", markersize=5)
            ax.text(
                max(r["ratio"]["max"], r["ratio"]["median"]) * 1.08,
                y,
                f"{r['ratio']['median']:.2f}x",
                va="center",
                fontsize=8,
            )
        ax.set_yticks(ys)
        ax.set_yticklabels([r["comparison"] for r in rows], fontsize=8)
        ax.set_xscale("log")
        times = FuncFormatter(lambda v, _pos: f"{v:g}x")
        ax.xaxis.set_major_formatter(times)
        ax.xaxis.set_minor_formatter(times)
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.axvline(1.0, color="#444444", linewidth=1)
        lo = min(min(r["ratio"]["min"] for r in rows), 1.0)
        hi = max(max(r["ratio"]["max"] for r in rows), *(r["target"] or 1 for r in rows))
        ax.set_xlim(lo / 1.6, hi * 2.2)
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
