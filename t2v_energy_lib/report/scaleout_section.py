"""The report's "Scale-out" section: context-parallel denoiser steps on n GPUs against one GPU.

A markdown table of :func:`~t2v_energy_lib.analysis.scaleout_view.scaleout_rows` (references included) and
one PNG: speed-up against GPUs with the ideal line, and the GPU energy of one step (summed over the GPUs)
against GPUs, one series per mode. matplotlib is imported inside the plot, drawn by the Agg canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from t2v_energy_lib.analysis.scaleout_view import ScaleoutRow, scaleout_records, scaleout_rows
from t2v_energy_lib.errors import FitError, MissingResultsError
from t2v_energy_lib.report import fmt
from t2v_energy_lib.report.plots import _figure, _save
from t2v_energy_lib.units import j_to_wh

PNG_NAME = "scaleout.png"
_MODE_STYLES = {"ring": ("tab:blue", "o", "-"), "ulysses": ("tab:orange", "s", "--")}
_OTHER_STYLES = (("tab:green", "^", ":"), ("tab:purple", "D", "-."), ("tab:brown", "v", "-"))

#: How the stored H100 scale-out baseline was run (baselines/scripts/h100x4_scaleout.sh); not derivable from
#: the records themselves, so it is said as the script's, beside what the records do show.
RUN_CONDITIONS = (
    "Energy is metered per device and summed over the GPUs of each run (each record lists them in "
    "`extra.devices`). Whether other jobs shared the host (not these GPUs) while a run was measured is "
    "not in the records: the folder's README says how its runs were scheduled (for the stored H100 baseline, "
    "`baselines/README.md`)."
)

TABLE_HEADERS = (
    "model",
    "size",
    "mode",
    "GPUs",
    "step latency (s)",
    "step GPU energy, summed (J)",
    "speed-up",
    "parallel efficiency",
    "energy overhead vs 1 GPU",
    "device energy max/min",
    "per video, composed: latency (s)",
    "per video, composed: GPU energy (Wh)",
)


def has_scaleout(result_file: Any) -> bool:
    """True when the results hold scale-out denoise_step records."""
    try:
        scaleout_records(result_file)
    except MissingResultsError:
        return False
    return True


def scaleout_table(rows: Sequence[ScaleoutRow]) -> str:
    """Markdown table of the rows (reference rows show speed-up 1 and overhead 0 by definition)."""
    cells = [
        [
            r.model,
            r.size,
            r.mode,
            str(r.n_gpus),
            fmt.num(r.step_latency_s),
            fmt.num(r.step_energy_j),
            fmt.num(r.speedup, 3),
            fmt.pct(r.efficiency),
            fmt.pct(r.energy_overhead),
            fmt.num(r.device_energy_spread, 4),
            fmt.num(r.video.latency_s) if r.video else "-",
            fmt.num(j_to_wh(r.video.energy_j)) if r.video else "-",
        ]
        for r in rows
    ]
    return fmt.md_table(TABLE_HEADERS, cells)


def _series(rows: Sequence[ScaleoutRow]) -> dict[str, list[ScaleoutRow]]:
    """Label -> rows of one mode at one model and size, each led by its reference (n = 1)."""
    groups = {(r.model, r.size) for r in rows}
    refs = {(r.model, r.size): r for r in rows if r.n_gpus == 1}
    out: dict[str, list[ScaleoutRow]] = {}
    for r in rows:
        if r.n_gpus == 1:
            continue
        label = r.mode if len(groups) == 1 else f"{r.model} {r.size} {r.mode}"
        ref = refs.get((r.model, r.size))
        out.setdefault(label, [ref] if ref is not None else []).append(r)
    return {label: sorted(series, key=lambda r: r.n_gpus) for label, series in out.items()}


def plot_scaleout(rows: Sequence[ScaleoutRow], out_path: Path, *, title: str) -> Path:
    """Speed-up vs GPUs (with the ideal ``speed-up = n`` line) and step GPU energy (summed) vs GPUs.

    Args:
        rows: Rows of :func:`scaleout_rows` with ``include_reference=True``.
        out_path: Where to write the PNG.
        title: Figure title.
    """
    fig, (ax_s, ax_e) = _figure(2, height_in=4.6)
    n_max = max(r.n_gpus for r in rows)
    ax_s.plot([1, n_max], [1, n_max], color="0.5", ls=":", lw=1.2, label="ideal (speed-up = GPUs)")
    one_group = len({(r.model, r.size) for r in rows}) == 1
    styles = (*_MODE_STYLES.values(), *_OTHER_STYLES)
    for i, (label, series) in enumerate(_series(rows).items()):
        default = styles[i % len(styles)]
        color, marker, ls = _MODE_STYLES.get(series[-1].mode, default) if one_group else default
        ns = [r.n_gpus for r in series]
        ax_s.plot(ns, [r.speedup for r in series], color=color, marker=marker, ls=ls, label=label)
        for r in (r for r in series if r.n_gpus > 1):
            ax_s.annotate(f"{r.efficiency:.0%}", (r.n_gpus, r.speedup), textcoords="offset points",
                          xytext=(6, -12) if i % 2 == 0 else (-30, 4), fontsize=7, color=color)  # fmt: skip
        ax_e.plot(ns, [r.step_energy_j for r in series], color=color, marker=marker, ls=ls, label=label)
    for k, ref in enumerate(r for r in rows if r.n_gpus == 1):
        ax_e.axhline(ref.step_energy_j, color="0.5", ls=":", lw=1.0, label=None if k else "1-GPU reference")
    ax_s.set_title("speed-up of one step; parallel efficiency annotated", fontsize=9)
    ax_e.set_title("GPU energy of one step, summed over the run's GPUs", fontsize=9)
    ax_s.set_ylabel("speed-up over 1 GPU")
    ax_e.set_ylabel("GPU energy per step (J)")
    ax_e.set_ylim(bottom=0)
    for ax in (ax_s, ax_e):
        ax.set_xlabel("GPUs")
        ax.set_xticks(sorted({r.n_gpus for r in rows}))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left" if ax is ax_s else "lower left")
    fig.suptitle(title)
    return _save(fig, out_path)


def _observed(result_file: Any, rows: Sequence[ScaleoutRow]) -> str:
    """What the records themselves show: host, GPU, devices, weights, what was timed."""
    prov = result_file.provenance or {}
    host = (prov.get("host") or {}).get("hostname", "?")
    gpu = (prov.get("gpu") or {}).get("name", "unknown GPU")
    records = scaleout_records(result_file)
    devices = {d for r in records for d in (r.extra or {}).get("devices", ())}
    random = all((r.extra or {}).get("random_weights") for r in records)
    sizes = ", ".join(sorted({f"{r.n_gpus}" for r in rows}, key=int))
    return (
        f"From the records: host `{host}`, {gpu}; runs on {sizes} GPU(s), {len(devices)} distinct GPUs named "
        f"across them. {'Random weights (seeded alike on every GPU); ' if random else ''}denoiser only: each "
        "window times denoising steps with `output_type='latent'`, no text encoder, no VAE decode."
    )


def section_lines(result_file: Any, out_dir: Path, conditions: str = RUN_CONDITIONS) -> list[str]:
    """The ``## Scale-out`` section (table, chart, conditions), or [] when there are no scale-out records."""
    if not has_scaleout(result_file):
        return []
    lines = ["", "## Scale-out", ""]
    try:
        rows = scaleout_rows(result_file, include_reference=True)
    except FitError as exc:
        return [*lines, f"- scale-out table and chart skipped: {exc}"]
    path = plot_scaleout(
        rows,
        Path(out_dir) / PNG_NAME,
        title="Context-parallel denoiser step: speed-up and GPU energy vs GPUs",
    )
    notes = sorted({r.video_note for r in rows if r.video_note})
    return [
        *lines,
        "Diffusers context parallelism (ring or Ulysses attention) of one denoising step on n GPUs, against "
        "the 1-GPU reference of the same model and size. Medians over rounds; GPU energy summed over the "
        "run's GPUs (each GPU's energy is in the result file). Speed-up = T1/Tn, parallel efficiency = "
        "speed-up / n, energy overhead = En/E1 - 1; device energy max/min is the spread across the run's "
        "GPUs.",
        "",
        _observed(result_file, rows),
        "",
        conditions,
        "",
        f"![context-parallel speed-up and step energy vs GPUs]({path.name})",
        "",
        scaleout_table(rows),
        "",
        "Per-video columns (COMPOSED, not measured):",
        "",
        *[f"- {note}" for note in notes],
    ]
