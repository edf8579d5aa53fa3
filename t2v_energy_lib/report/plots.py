"""PNG plots of a report. matplotlib is imported inside each function, with figures drawn by the Agg canvas
(no pyplot state, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from t2v_energy_lib.analysis.fits import PolyFit
from t2v_energy_lib.analysis.points import SweepPoint
from t2v_energy_lib.units import j_to_wh

_PREDICTOR_STYLES = (("tab:orange", "s", "--"), ("tab:green", "^", ":"), ("tab:purple", "D", "-."))


def _figure(n_axes: int, width_in: float = 11.0, height_in: float = 4.2) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, n_axes, i + 1) for i in range(n_axes)]
    return fig, axes


def _save(fig: Any, out_path: Path) -> Path:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, format="png")
    return out_path


def plot_sweep(
    points: Sequence[SweepPoint],
    fits: Mapping[str, PolyFit],
    out_path: Path,
    *,
    title: str,
    x_label: str,
    predictions: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
) -> Path:
    """Energy (Wh per video) and latency (s per video) against the sweep variable, two panels.

    Each panel has the measured means with error bars (sample standard deviation over rounds), the fitted
    curve, and the theory's predictions at the measured settings, one series per predictor.

    Args:
        points: The measured points (from the claim's details).
        fits: ``{"energy_j": PolyFit, "latency_s": PolyFit}`` fitted to the per-point means (J, s).
        out_path: Where to write the PNG.
        title: Figure title.
        x_label: Axis label of the sweep variable.
        predictions: Predictor name -> ``{"energy_j": [...], "latency_s": [...]}`` aligned with ``points``.
    """
    fig, (ax_e, ax_t) = _figure(2)
    xs = np.array([p.x for p in points])
    grid = np.linspace(xs.min(), xs.max(), 200)
    panels = (
        (
            ax_e,
            "energy_j",
            [j_to_wh(p.energy_mean_j) for p in points],
            [j_to_wh(p.energy_std_j) for p in points],
            "GPU energy per video (Wh)",
            j_to_wh,
        ),
        (
            ax_t,
            "latency_s",
            [p.latency_mean_s for p in points],
            [p.latency_std_s for p in points],
            "latency per video (s)",
            float,
        ),
    )
    for ax, metric, means, stds, y_label, conv in panels:
        ax.errorbar(xs, means, yerr=stds, fmt="o", color="tab:blue", capsize=3, label="measured (mean ± sd)")
        if metric in fits:
            fit = fits[metric]
            curve = [conv(v) for v in fit.predict(grid)]
            ax.plot(
                grid,
                curve,
                color="tab:blue",
                lw=1.2,
                label=f"fit, degree {fit.degree} (R²={fit.r_squared:.4f})",
            )
        for (name, series), (color, marker, ls) in zip(
            (predictions or {}).items(), _PREDICTOR_STYLES, strict=False
        ):
            if metric in series:
                values = [conv(v) for v in series[metric]]
                ax.plot(xs, values, color=color, marker=marker, ls=ls, ms=5, label=f"predicted: {name}")
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, out_path)


def plot_power_timeline(
    timestamps_s: Sequence[float],
    power_w: Sequence[float],
    out_path: Path,
    *,
    title: str,
    limit_w: float | None,
) -> Path:
    """GPU power over one measurement window, the power limit dashed when known. Units: s, W."""
    fig, (ax,) = _figure(1, width_in=9.0, height_in=3.6)
    ax.plot(timestamps_s, power_w, color="tab:red", lw=1.0, marker=".", ms=3)
    if limit_w:
        ax.axhline(limit_w, color="0.4", ls="--", lw=1.0, label=f"power limit {limit_w:.0f} W")
        ax.legend(fontsize=8)
    ax.set_xlabel("time in window (s)")
    ax.set_ylabel("GPU power (W)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    return _save(fig, out_path)


def plot_cross_model(parts_j: Mapping[str, Mapping[str, float]], out_path: Path, *, title: str) -> Path:
    """Per-video GPU energy per model: stacked components on a log scale, and each component's share.

    A log axis squeezes small components, so the right panel shows the same stack as shares of the total.

    Args:
        parts_j: Model -> component (``text_encoder``, ``denoiser_step``, ``vae_decode``) -> J per video.
        out_path: Where to write the PNG.
        title: Figure title.
    """
    fig, (ax, ax_share) = _figure(2, width_in=max(9.0, 2.2 * len(parts_j) + 4), height_in=4.8)
    models = list(parts_j)
    components = list(dict.fromkeys(c for parts in parts_j.values() for c in parts))
    names = {
        "denoiser_step": "denoiser (all steps)",
        "text_encoder": "text encoder",
        "vae_decode": "VAE decode",
    }
    colors = dict(zip(components, ("tab:gray", "tab:blue", "tab:orange", "tab:green"), strict=False))
    wh = {m: {c: j_to_wh(parts_j[m].get(c, 0.0)) for c in components} for m in models}
    totals = np.array([sum(wh[m].values()) for m in models])
    bottom, share_bottom = np.zeros(len(models)), np.zeros(len(models))
    for comp in components:
        values = np.array([wh[m][comp] for m in models])
        ax.bar(models, values, bottom=bottom, label=names.get(comp, comp), color=colors[comp])
        ax_share.bar(models, values / totals * 100, bottom=share_bottom, color=colors[comp])
        bottom += values
        share_bottom += values / totals * 100
    smallest = min((v for m in models for v in wh[m].values() if v > 0), default=1e-3)
    ax.set_yscale("log")
    ax.set_ylim(bottom=smallest / 3, top=totals.max() * 3)
    for x, total in enumerate(totals):
        ax.annotate(f"{total:.3g} Wh", (x, total), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("GPU energy per video (Wh, log scale)")
    ax_share.set_ylabel("share of per-video GPU energy (%)")
    ax_share.set_ylim(0, 100)
    for a in (ax, ax_share):
        a.tick_params(axis="x", labelrotation=20)
        a.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    return _save(fig, out_path)
