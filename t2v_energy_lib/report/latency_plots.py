"""PNG plots of a run without GPU energy (a CPU run of a tiny model): latency sweeps, CPU operator activity.

Host energy is drawn only beside its label: ``ESTIMATED (no RAPL)`` when the records say it was estimated,
``RAPL`` when it was read from the counters. It is never fitted and never called GPU energy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from t2v_energy_lib.analysis.fits import PolyFit
from t2v_energy_lib.analysis.latency_view import LatencyPoint
from t2v_energy_lib.report.plots import SOURCE_SCOPES, _figure, _save

ESTIMATED_LABEL = "ESTIMATED (no RAPL)"
_CATEGORY_COLORS = {
    "matmul": "tab:blue",
    "attention": "tab:orange",
    "convolution": "tab:purple",
    "norm_elementwise": "tab:green",
    "other": "tab:gray",
}


def host_energy_label(points: Sequence[LatencyPoint]) -> str:
    """How the host energy of ``points`` must be labelled: estimated if any point's is an estimate."""
    return ESTIMATED_LABEL if any(p.host_estimated for p in points) else "RAPL"


def plot_latency_sweep(
    points: Sequence[LatencyPoint],
    fit: PolyFit | None,
    out_path: Path,
    *,
    title: str,
    x_label: str,
    x_scale: float = 1.0,
) -> Path:
    """Latency (s) with its fit against the sweep variable; host CPU+RAM energy (J) beside it, labelled.

    Args:
        points: The measured points of one sweep group.
        fit: The latency fit drawn through them (None: points only).
        out_path: Where to write the PNG.
        title: Figure title.
        x_label: Axis label of the sweep variable (in the units after ``x_scale``).
        x_scale: The x values are divided by this for display.
    """
    with_host = all(p.host_energy_j for p in points)
    fig, axes = _figure(2 if with_host else 1, width_in=11.0 if with_host else 6.5)
    xs = np.array([p.x for p in points]) / x_scale
    scope, how = SOURCE_SCOPES.get(points[0].source, ("per video", points[0].source))
    several = any(len(p.latency_s) > 1 for p in points)
    ax = axes[0]
    ax.errorbar(
        xs,
        [p.latency_mean_s for p in points],
        yerr=[p.latency_std_s for p in points] if several else None,
        fmt="o",
        color="tab:blue",
        capsize=3,
        label=f"measured: {how}" + (" (mean ± sd)" if several else ""),
        zorder=3,
    )
    if fit is not None:
        grid = np.linspace(min(p.x for p in points), max(p.x for p in points), 200)
        ax.plot(
            grid / x_scale,
            fit.predict(grid),
            color="tab:blue",
            lw=1.2,
            label=f"least-squares fit, degree {fit.degree} (R² = {fit.r_squared:.5f})",
        )
    ax.set_ylabel(f"latency {scope} (s)")
    if with_host:
        label = host_energy_label(points)
        axes[1].plot(
            xs, [p.host_energy_mean_j for p in points], "s", color="tab:red", label=f"host CPU+RAM, {label}"
        )
        axes[1].set_ylabel(f"host CPU+RAM energy {scope} (J)")
        axes[1].set_title(f"host energy, {label}: not GPU energy, not fitted", fontsize=9)
    for a in axes:
        a.set_xlabel(x_label)
        a.set_ylim(bottom=0)
        a.grid(True, alpha=0.3)
        a.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    return _save(fig, out_path)


def plot_cpu_activity(shares: Mapping[str, Mapping[str, float]], out_path: Path, *, title: str) -> Path:
    """Stacked shares of CPU self time per operator category (one bar per model), in percent.

    Args:
        shares: Model -> category (``matmul``, ``attention``, ...) -> share of profiled time (fraction).
        out_path: Where to write the PNG.
        title: Figure title.
    """
    models = list(shares)
    fig, (ax,) = _figure(1, width_in=max(8.0, 1.1 * len(models) + 3), height_in=4.6)
    x = np.arange(len(models))
    bottom = np.zeros(len(models))
    categories = list(dict.fromkeys(c for s in shares.values() for c in s))
    for cat in categories:
        values = np.array([shares[m].get(cat, 0.0) * 100 for m in models])
        ax.bar(x, values, 0.6, bottom=bottom, label=cat, color=_CATEGORY_COLORS.get(cat))
        bottom += values
    ax.set_xticks(x, models, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("share of CPU self time of aten ops (%)")
    ax.set_ylim(0, 105)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title, fontsize=10)
    return _save(fig, out_path)
