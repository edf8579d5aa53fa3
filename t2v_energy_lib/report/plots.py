"""PNG plots of a report. matplotlib is imported inside each function, with figures drawn by the Agg canvas
(no pyplot state, no display needed)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from t2v_energy_lib.analysis.fits import PolyFit
from t2v_energy_lib.analysis.points import SweepPoint
from t2v_energy_lib.units import j_to_wh

_PREDICTOR_STYLES = (("tab:orange", "s", "--"), ("tab:green", "^", ":"), ("tab:purple", "D", "-."))
_COMPONENT_NAMES = {
    "denoiser_step": "denoiser (all steps)",
    "text_encoder": "text encoder",
    "vae_decode": "VAE decode",
    "rest": "rest (end to end minus parts)",
}


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


#: How each source's values read on a sweep plot's y axes (what one point covers).
SOURCE_SCOPES = {
    "composed": ("per video", "composed: text encoder + S x step + VAE, each measured"),
    "end_to_end": ("per video", "end to end"),
    "denoiser_step": ("of the denoising loop", "S x step"),
    "denoise_loop": ("of the denoising loop", "first S steps of one traced run"),
}


def plot_sweep(
    points: Sequence[SweepPoint],
    fits: Mapping[str, PolyFit],
    out_path: Path,
    *,
    title: str,
    x_label: str,
    predictions: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    x_scale: float = 1.0,
) -> Path:
    """Energy (Wh) and latency (s) against the sweep variable, two panels.

    Each panel has the measured means with error bars (sample standard deviation over rounds, where there
    are several), the fitted curve, and the theory's predictions at the measured settings, one series per
    predictor. The y labels say what a point covers (per video, or the denoising loop), from its source.

    Args:
        points: The measured points (from the claim's details).
        fits: ``{"energy_j": PolyFit, "latency_s": PolyFit}`` fitted to the per-point means (J, s).
        out_path: Where to write the PNG.
        title: Figure title.
        x_label: Axis label of the sweep variable (in the units after ``x_scale``).
        predictions: Predictor name -> ``{"energy_j": [...], "latency_s": [...]}`` aligned with ``points``.
        x_scale: The x values are divided by this for display (1e6 shows pixels as megapixels).
    """
    fig, (ax_e, ax_t) = _figure(2)
    xs = np.array([p.x for p in points])
    grid = np.linspace(xs.min(), xs.max(), 200)
    scope, how = SOURCE_SCOPES.get(points[0].source, ("per video", points[0].source))
    several = any(len(p.energy_j) > 1 for p in points)
    measured = f"measured: {how}" + (" (mean ± sd)" if several else "")
    panels = (
        (ax_e, "energy_j", [p.energy_mean_j for p in points], [p.energy_std_j for p in points],
         f"GPU energy {scope} (Wh)", j_to_wh),
        (ax_t, "latency_s", [p.latency_mean_s for p in points], [p.latency_std_s for p in points],
         f"latency {scope} (s)", float),
    )  # fmt: skip
    for ax, metric, means, stds, y_label, conv in panels:
        ax.errorbar(
            xs / x_scale,
            [conv(v) for v in means],
            yerr=[conv(v) for v in stds] if several else None,
            fmt="o",
            color="tab:blue",
            capsize=3,
            label=measured,
            zorder=3,
        )
        if metric in fits:
            fit = fits[metric]
            ax.plot(
                grid / x_scale,
                [conv(v) for v in fit.predict(grid)],
                color="tab:blue",
                lw=1.2,
                label=f"least-squares fit, degree {fit.degree} (R² = {fit.r_squared:.5f})",
            )
        for (name, series), (color, marker, ls) in zip(
            (predictions or {}).items(), _PREDICTOR_STYLES, strict=False
        ):
            if metric in series:
                values = [conv(v) for v in series[metric]]
                ax.plot(
                    xs / x_scale, values, color=color, marker=marker, ls=ls, ms=5, label=f"predicted: {name}"
                )
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    return _save(fig, out_path)


def plot_predictions(
    points: Sequence[SweepPoint],
    predictions: Mapping[str, Mapping[str, tuple[float, float]]],
    out_path: Path,
    *,
    title: str,
    x_label: str,
    x_scale: float = 1.0,
) -> Path:
    """Measured denoising latency with each predictor's held-out prediction, and each predictor's signed
    percentage error of latency and of energy, three panels.

    Args:
        points: The measured points of one sweep (denoising work of S steps each).
        predictions: Predictor name -> record id -> (energy J, latency s), held out.
        out_path: Where to write the PNG.
        title: Figure title.
        x_label: Axis label of the sweep variable (in the units after ``x_scale``).
        x_scale: The x values are divided by this for display.
    """
    fig, (ax_t, ax_et, ax_ee) = _figure(3, width_in=15.0)
    order = sorted(range(len(points)), key=lambda i: points[i].x)
    pts = [points[i] for i in order]
    xs = np.array([p.x for p in pts]) / x_scale
    ax_t.plot(xs, [p.latency_mean_s for p in pts], "o", color="tab:blue", label="measured", zorder=3)
    for (name, per), (color, marker, ls) in zip(predictions.items(), _PREDICTOR_STYLES, strict=False):
        energy = np.array([per[p.record_id][0] for p in pts])
        latency = np.array([per[p.record_id][1] for p in pts])
        ax_t.plot(xs, latency, color=color, marker=marker, ls=ls, ms=4, label=name)
        err_t = (latency / np.array([p.latency_mean_s for p in pts]) - 1) * 100
        err_e = (energy / np.array([p.energy_mean_j for p in pts]) - 1) * 100
        mape_t, mape_e = float(np.mean(np.abs(err_t))), float(np.mean(np.abs(err_e)))
        ax_et.plot(xs, err_t, color=color, marker=marker, ls=ls, ms=4, label=f"{name} (MAPE {mape_t:.2f}%)")
        ax_ee.plot(xs, err_e, color=color, marker=marker, ls=ls, ms=4, label=f"{name} (MAPE {mape_e:.2f}%)")
    ax_t.set_ylabel("latency of the denoising loop (s)")
    ax_t.set_ylim(bottom=0)
    ax_et.set_ylabel("latency error, predicted / measured - 1 (%)")
    ax_ee.set_ylabel("GPU energy error, predicted / measured - 1 (%)")
    for ax in (ax_t, ax_et, ax_ee):
        ax.set_xlabel(x_label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    for ax in (ax_et, ax_ee):
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.axhspan(-3.0, 3.0, color="tab:green", alpha=0.08, label="±3% target")
    fig.suptitle(title)
    return _save(fig, out_path)


def plot_step_trace(
    energy_j: Sequence[float],
    latency_s: Sequence[float],
    out_path: Path,
    *,
    title: str,
    band: float,
) -> Path:
    """Per-step GPU energy and latency of one traced run, each with its mean and the +-``band`` band.

    Args:
        energy_j: GPU energy of each step. Units: J.
        latency_s: Latency of each step. Units: s.
        out_path: Where to write the PNG.
        title: Figure title.
        band: The claim's tolerance around the mean (0.02 = 2%).
    """
    fig, axes = _figure(2, height_in=3.8)
    steps = np.arange(1, len(energy_j) + 1)
    for ax, values, label in (
        (axes[0], energy_j, "GPU energy per step (J)"),
        (axes[1], latency_s, "latency per step (s)"),
    ):
        mean = float(np.mean(values))
        ax.axhspan(
            mean * (1 - band), mean * (1 + band), color="tab:green", alpha=0.12, label=f"mean ± {band:.0%}"
        )
        ax.axhline(mean, color="tab:green", lw=1.0)
        ax.plot(steps, values, "o-", color="tab:blue", ms=4, label="measured, one window per step")
        ax.set_ylim(mean * (1 - 2.5 * band), mean * (1 + 2.5 * band))
        ax.set_xlabel("step of the traced run")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
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


def plot_cross_model(
    parts_j: Mapping[str, Mapping[str, float]],
    out_path: Path,
    *,
    title: str,
    labels: Mapping[str, str] | None = None,
    quantity: str = "GPU energy",
    unit: str = "Wh",
    convert: Callable[[float], float] = j_to_wh,
) -> Path:
    """Per-video GPU energy (or another quantity) per model: each component's bar side by side on a log
    scale, and each component's share of the total (stacked, linear).

    Args:
        parts_j: Model -> component (``text_encoder``, ``denoiser_step``, ``vae_decode``, ``rest``) -> J per
            video (or the quantity's stored unit, e.g. s).
        out_path: Where to write the PNG.
        title: Figure title.
        labels: Model -> tick label (e.g. with its settings); default: the model id.
        quantity: What the bars are, for the axis labels (``"latency"`` for a CPU run).
        unit: The display unit after ``convert``.
        convert: From the stored unit to the display unit (J -> Wh by default).
    """
    fig, (ax, ax_share) = _figure(2, width_in=max(10.0, 1.5 * len(parts_j) + 4), height_in=6.0)
    models = list(parts_j)
    ticks = [(labels or {}).get(m, m) for m in models]
    components = list(dict.fromkeys(c for parts in parts_j.values() for c in parts))
    colors = dict(zip(components, ("tab:gray", "tab:blue", "tab:orange", "tab:green"), strict=False))
    wh = {m: {c: convert(parts_j[m].get(c, 0.0)) for c in components} for m in models}
    totals = np.array([sum(wh[m].values()) for m in models])
    x = np.arange(len(models))
    width = 0.8 / max(len(components), 1)
    share_bottom = np.zeros(len(models))
    for k, comp in enumerate(components):
        values = np.array([wh[m][comp] for m in models])
        offset = (k - (len(components) - 1) / 2) * width
        bars = ax.bar(x + offset, values, width, label=_COMPONENT_NAMES.get(comp, comp), color=colors[comp])
        ax.bar_label(bars, labels=[f"{v:.2g}" for v in values], fontsize=7, padding=1)
        shares = values / totals * 100
        ax_share.bar(x, shares, 0.6, bottom=share_bottom, color=colors[comp])
        if comp == "denoiser_step":
            for xi, (b, sh) in enumerate(zip(share_bottom, shares, strict=True)):
                ax_share.annotate(f"{sh:.1f}%", (xi, b + sh / 2), ha="center", va="center", color="white")
        share_bottom += shares
    positive = [v for m in models for v in wh[m].values() if v > 0]
    ax.set_yscale("log")
    ax.set_ylim(bottom=min(positive, default=1e-3) / 3, top=max(positive, default=1.0) * 4)
    ax.set_ylabel(f"{quantity} per video ({unit}, log scale)")
    ax.set_title("per component (bars side by side)", fontsize=9)
    ax_share.set_ylabel(f"share of per-video {quantity} (%)")
    ax_share.set_title("shares; total per video above each bar", fontsize=9)
    ax_share.set_ylim(0, 110)
    for xi, total in enumerate(totals):
        ax_share.annotate(f"{total:.3g} {unit}", (xi, 100), ha="center", va="bottom", fontsize=8)
    for a in (ax, ax_share):
        a.set_xticks(x, ticks, fontsize=8, rotation=35, ha="right", rotation_mode="anchor")
        a.grid(True, axis="y", which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    return _save(fig, out_path)
