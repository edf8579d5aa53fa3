"""Ratio chart of a comparison: one horizontal bar per test id and metric (matplotlib, Agg, no pyplot)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from t2v_energy_lib.results.compare import Comparison

_COLOURS = {
    "regression": "#c0392b",
    "improvement": "#27ae60",
    "unchanged": "#7f8c8d",
    "undecided": "#f39c12",
    "excluded": "#bdc3c7",
}


def write_ratio_chart(comparison: Comparison, path: str | Path) -> Path:
    """Write a PNG: bars of ratio current/baseline from 1, CI whiskers, a line at 1 and each row's threshold.

    Args:
        comparison: What :func:`~t2v_energy_lib.results.compare.compare` returned.
        path: Output PNG path (folders are created).

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: matplotlib is heavy
    from matplotlib.figure import Figure

    rows = comparison.rows
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(10, max(2.5, 0.35 * len(rows) + 1.5)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if not rows:
        ax.text(0.5, 0.5, "no test id and metric in common", ha="center", va="center", transform=ax.transAxes)
    for y, row in enumerate(rows):
        has_ci = not math.isnan(row.ci_low)
        xerr = [[row.ratio - row.ci_low], [row.ci_high - row.ratio]] if has_ci else None
        ax.barh(y, row.ratio - 1.0, left=1.0, height=0.6, color=_COLOURS[row.verdict], xerr=xerr, capsize=3)
        ax.plot(row.ratio, y, "o", color=_COLOURS[row.verdict], markersize=4)
        ax.vlines(1.0 + row.threshold, y - 0.4, y + 0.4, colors="black", linestyles="dashed", linewidth=1)
        if comparison.two_sided:
            ax.vlines(1.0 - row.threshold, y - 0.4, y + 0.4, colors="black", linestyles="dashed", linewidth=1)
    ax.axvline(1.0, color="black", linewidth=1)
    for verdict in sorted({r.verdict for r in rows}):
        ax.plot([], [], "s", color=_COLOURS[verdict], label=verdict)
    if rows:
        ax.legend(loc="best", fontsize=7)
    ax.set_yticks(range(len(rows)), [f"{r.test_id} [{r.metric}]" for r in rows], fontsize=7)
    ax.invert_yaxis()
    mode = "two-sided" if comparison.two_sided else "one-sided"
    ax.set_xlabel(
        f"ratio current/baseline (whiskers: {comparison.confidence:.0%} {mode} Welch interval; "
        "dashed: threshold)"
    )
    ax.set_title(
        f"current: {comparison.current_source}\nbaseline: {comparison.baseline_source}",
        fontsize=9,
        loc="left",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
