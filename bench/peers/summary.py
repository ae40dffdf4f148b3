"""The suite's summary: every comparison as one ratio row, with its target.

A row's ``ratio`` is always "how many times better ours is" (higher is better for us;
below 1 the peer wins), as the median and range of per-trial ratios, each trial's two
runs taken back to back in one process (A B A B). ``target`` is the issue's figure, or
None where only the measurement was asked for.
"""

from __future__ import annotations

from typing import Any

TARGET_VS_MATCHING_ENGINE = 2.0
TARGET_VS_EVENTSOURCING = 3.0
TARGET_VS_RAW = 0.8
TARGET_SCAN = 100.0


def _row(
    group: str,
    name: str,
    ours: str,
    peer: str,
    ratio: dict[str, float],
    target: float | None,
    note: str = "",
) -> dict[str, Any]:
    return {
        "group": group,
        "comparison": name,
        "ours": ours,
        "peer": peer,
        "ratio": ratio,
        "target": target,
        "met": None if target is None else ratio["median"] >= target,
        "note": note,
    }


def _rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}"


def _match_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        peer = r["peer"]
        target = TARGET_VS_MATCHING_ENGINE if peer == "matching-engine" else None
        out.append(
            _row(
                "titan",
                f"Titan vs {peer} {r['peer_version']}, {r['flow']}",
                _rate(r["titan_cps"]["median"], "cmd/s"),
                _rate(r["peer_cps"]["median"], "cmd/s"),
                r["ratio"],
                target,
                f"Python {r['python']}; {r['commands']:,} commands; events "
                f"{r['titan_events']:,} vs {r['peer_events']:,}",
            )
        )
    return out


def _store_rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for op in ("append", "replay"):
        out.append(
            _row(
                "oracle",
                f"Oracle vs eventsourcing {s['versions']['eventsourcing']} (SQLite), {op}",
                _rate(s[f"{op}_ours_per_second"]["median"], "rec/s"),
                _rate(s[f"{op}_eventsourcing_per_second"]["median"], "rec/s"),
                s[f"{op}_ours_vs_eventsourcing"],
                TARGET_VS_EVENTSOURCING,
                f"{s['records']:,} records, batch {s['batch']}",
            )
        )
        out.append(
            _row(
                "oracle",
                f"Oracle vs raw rocksdict (ceiling), {op}",
                _rate(s[f"{op}_ours_per_second"]["median"], "rec/s"),
                _rate(s[f"{op}_raw_per_second"]["median"], "rec/s"),
                s[f"{op}_ours_vs_raw"],
                TARGET_VS_RAW if op == "append" else None,
                "the same bytes without our Python" if op == "append" else "scan + decode",
            )
        )
    return out


def _sentinel_rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    sizes = sorted(k.removeprefix("accounts_") for k in s if k.startswith("accounts_"))
    largest = max(sizes, key=lambda lb: s[f"accounts_{lb}"])
    ratio = s[f"full_scan_ratio_{largest}"]
    n = s[f"accounts_{largest}"]
    return [
        _row(
            "sentinel",
            f"Sentinel indexed detection vs full scan, {n:,} positions",
            f"{s[f'p50_us_{largest}']:,.1f} us/tick",
            f"{s[f'full_scan_us_{largest}'] / 1000:,.1f} ms/tick",
            {"median": ratio, "min": ratio, "max": ratio},
            TARGET_SCAN if n >= 1_000_000 else None,
            "scan time / indexed clear-tick p50 (medians of the trials)",
        )
    ]


def _recovery_rows(r: dict[str, Any]) -> list[dict[str, Any]]:
    tail = f"{r['commands']:,} commands, snapshot every {r['snapshot_every']:,}"
    return [
        _row(
            "recovery",
            "Oracle snapshot + tail vs Oracle full replay",
            f"{r['ours_snapshot_s']['median']:.2f} s",
            f"{r['ours_full_s']['median']:.2f} s",
            r["ours_snapshot_speedup"],
            None,
            tail,
        ),
        _row(
            "recovery",
            f"Oracle vs matching-engine {r['peer_version']}, full replay",
            f"{r['ours_full_s']['median']:.2f} s",
            f"{r['theirs_full_s']['median']:.2f} s",
            r["full_ratio"],
            None,
            f"Python {r['python']}; {tail}",
        ),
        _row(
            "recovery",
            f"Oracle vs matching-engine {r['peer_version']}, snapshot + tail",
            f"{r['ours_snapshot_s']['median']:.2f} s",
            f"{r['theirs_snapshot_s']['median']:.2f} s",
            r["snapshot_ratio"],
            None,
            f"Python {r['python']}; {tail}",
        ),
    ]


def summarise(results: dict[str, Any], machine: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Rows for every comparison whose part produced results, and a printable table."""
    rows: list[dict[str, Any]] = []
    if "peers-match" in results:
        rows += _match_rows(results["peers-match"])
    if "peers-store" in results:
        rows += _store_rows(results["peers-store"])
    if "sentinel" in results:
        rows += _sentinel_rows(results["sentinel"])
    if "peers-recovery" in results:
        rows += _recovery_rows(results["peers-recovery"])
    return {"quick": quick, "machine": machine, "rows": rows, "table": table(rows)}


def table(rows: list[dict[str, Any]]) -> list[str]:
    """A Markdown table of the rows (README's Performance section shows it)."""
    lines = [
        "| comparison | ours | peer | ours/peer, median (range) | target | met |",
        "|---|---:|---:|---:|---:|:---:|",
    ]

    def x(v: float) -> str:
        return f"{v:,.2f}" if v < 100 else f"{v:,.0f}"

    for r in rows:
        q = r["ratio"]
        target = "" if r["target"] is None else f">= {r['target']:g}x"
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        spread = x(q["median"]) if q["min"] == q["max"] else f"{x(q['min'])}-{x(q['max'])}"
        lines.append(
            f"| {r['comparison']} | {r['ours']} | {r['peer']} | {x(q['median'])}x "
            f"({spread}) | {target} | {met} |"
        )
    return lines
