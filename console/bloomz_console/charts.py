"""The History chart: one stacked bar per run of what it changed, drawn server-side as SVG geometry.

A bad night (many removals, a held or failed run) stands out at a glance: removals are red and stacked
first, a run that changed nothing has no bar, and the run's status is written under its bar.
"""

from __future__ import annotations

from typing import Any

ACTIONS = (("removed", "#c62828"), ("archived", "#ef6c00"), ("added", "#2e7d32"), ("updated", "#1565c0"))
RUNS_SHOWN = 30
WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 720, 240, 16, 40, 48
SHORT_STATUS = {
    "applied": "",
    "dry_run": "dry",
    "held": "held",
    "failed": "failed",
    "incomplete": "part",
    "refused": "refused",
    "discarded": "disc.",
    "undone": "undone",
    "planned": "…",
}


def history(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars for the last runs, oldest first; each run has ``summary_counts`` ({what: {action: n}})."""
    shown = runs[-RUNS_SHOWN:]
    totals = [
        {action: sum(per.get(action, 0) for per in run["summary_counts"].values()) for action, _ in ACTIONS}
        for run in shown
    ]
    peak = max([sum(t.values()) for t in totals] + [1])
    step = (WIDTH - LEFT) / max(len(shown), 1)
    scale = (HEIGHT - TOP - BOTTOM) / peak
    bars = []
    for index, (run, total) in enumerate(zip(shown, totals, strict=True)):
        x = LEFT + index * step + step * 0.15
        y = HEIGHT - BOTTOM
        segments = []
        for action, colour in ACTIONS:
            height = total[action] * scale
            if total[action]:
                y -= height
                segments.append(
                    {
                        "y": round(y, 1),
                        "height": round(max(height, 1), 1),
                        "colour": colour,
                        "title": f"run {run['id']}: {total[action]} {action}",
                    }
                )
        bars.append(
            {
                "run": run["id"],
                "x": round(x, 1),
                "width": round(step * 0.7, 1),
                "segments": segments,
                "status": SHORT_STATUS.get(run["outcome"], run["outcome"]),
                "bad": run["outcome"] in ("held", "failed", "refused", "incomplete"),
                "label_x": round(x + step * 0.35, 1),
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "peak": peak,
        "axis_y": HEIGHT - BOTTOM,
        "left": LEFT,
        "top": TOP,
        "legend": ACTIONS,
    }
