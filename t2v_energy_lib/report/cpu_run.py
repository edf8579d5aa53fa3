"""Report sections for results without GPU energy: the CPU main job (tiny models on the CPU).

What such a run has: latency (measured on the CPU), host CPU/RAM energy (usually ESTIMATED, no RAPL), a
per-component latency breakdown and an operator profile of CPU activity. What it lacks: GPU energy. The
sections say so in their first lines, run the latency criteria of the sweep claims, and label every host
energy figure with how it was obtained.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from t2v_energy_lib.analysis.breakdown import matmul_attention_shares
from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.latency_view import (
    LATENCY_SWEEPS,
    check_latency_sweeps,
    host_energy_is_estimated,
    latency_shares,
)
from t2v_energy_lib.errors import FitError
from t2v_energy_lib.report import fmt, latency_plots, plots
from t2v_energy_lib.results.quantities import HOST_ENERGY

NO_GPU = "GPU energy not measured on this run: CPU run of the tiny model"
ESTIMATE_METHOD = (
    " (CPU TDP x utilisation from /proc/stat, RAM 0.375 W/GB; each record's extra['host_energy_method'] says "
    "which)"
)
#: Why each claim that needs a GPU is not checked on such a run.
GPU_ONLY_REASONS = {
    "compute_bound": f"{NO_GPU}; the roofline claim needs GPU ceilings and GPU FLOP/s",
    "denoiser_dominates": f"{NO_GPU}; the per-video latency breakdown is under Cross-model",
    "matmul_attention_dominate": f"{NO_GPU}; the claim is about GPU kernel time, the operator profile of "
    "CPU activity is under Cross-model",
    "better_predictor": f"{NO_GPU}; the predictors model GPU energy and latency on a GPU",
}
#: Claim -> (suite, x label, x scale), as the GPU report draws them.
X_AXES = {
    "quadratic_in_pixels": ("pixels per frame H x W (thousands)", 1e3),
    "quadratic_in_frames": ("latent frames ((F-1)/4+1 for Wan)", 1.0),
    "linear_in_steps": ("denoising steps S", 1.0),
}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text).strip("_")


def host_energy_status(rf: Any) -> str:
    """How the run's host energy was obtained: ``ESTIMATED (no RAPL)``, ``RAPL`` or ``not measured``."""
    with_host = [r for r in rf.records if (r.rounds or {}).get(HOST_ENERGY.key)]
    if not with_host:
        return "not measured"
    return latency_plots.ESTIMATED_LABEL if any(host_energy_is_estimated(r) for r in with_host) else "RAPL"


def header_lines(rf: Any, label: str) -> list[str]:
    """The report's first lines: a CPU run of tiny models, what was measured and what was estimated."""
    prov = rf.provenance or {}
    settings = prov.get("settings") or {}
    models = list(dict.fromkeys(r.model for r in rf.records))
    tiny = bool(settings.get("tiny_cpu_run")) or (bool(models) and all(m.endswith("-tiny") for m in models))
    what, what_text = (
        ("A CPU RUN OF TINY MODELS", "a CPU run of tiny models")
        if tiny
        else ("A RUN WITHOUT GPU ENERGY", "a run without GPU energy")
    )
    host = host_energy_status(rf)
    versions = prov.get("versions") or {}
    lines = [
        f"# t2v-energy report: {what}, NOT THE STUDY'S MODELS",
        "",
        f"**This is {what_text} ({', '.join(models) or 'no models'}) at scaled-down shapes, with random "
        "weights, on the CPU: not the study's models, shapes or GPU.** Latency is measured on the CPU; "
        f"GPU energy is not measured; host CPU+RAM energy is {host}"
        + (ESTIMATE_METHOD if host == latency_plots.ESTIMATED_LABEL else "")
        + ". The verdicts below run the latency criteria of the study's claims on these tiny models and "
        "say nothing about the study's models.",
        "",
        f"Results: `{label}`  ",
        f"device: CPU ({(prov.get('host') or {}).get('cpu_model', 'unknown CPU')}); "
        f"diffusers {versions.get('diffusers', '?')}; torch {versions.get('torch', '?')}; "
        f"date {prov.get('date_utc', '?')}",
    ]
    if prov.get("synthetic"):
        lines += ["", "**SYNTHETIC DATA: nothing in this report was measured.**"]
    return lines


def claims_without_gpu(rf: Any, claims: Mapping[str, Any]) -> dict[str, ClaimResult | FitError]:
    """The claims of a run without GPU energy: the sweep claims' latency parts, and why the rest is not
    checked (a claim that could not run for a reason of its own keeps that reason)."""
    out: dict[str, ClaimResult | FitError] = {}
    latency = check_latency_sweeps(rf)
    for name, result in claims.items():
        if name in LATENCY_SWEEPS:
            out[name] = latency[name]
        elif name in GPU_ONLY_REASONS:
            out[name] = FitError(GPU_ONLY_REASONS[name])
        else:
            out[name] = result
    return out


def sweep_plots(claims: Mapping[str, Any], out_dir: Path, lines: list[str]) -> None:
    """Latency (with fits) and labelled host energy against pixels, frames and steps."""
    for name, (x_label, x_scale) in X_AXES.items():
        result = claims.get(name)
        suite = LATENCY_SWEEPS[name][0]
        if not isinstance(result, ClaimResult):
            lines.append(f"- {suite} plots skipped: {result}")
            continue
        for model, entry in result.details.items():
            for key, group in entry["groups"].items():
                verdict = group.get("latency_s") or {}
                fit = verdict.get("quadratic") or verdict.get("linear")
                path = latency_plots.plot_latency_sweep(
                    group["points"],
                    fit,
                    out_dir / f"{suite}_{_slug(model)}_{_slug(key)}.png",
                    title=f"{suite} sweep, CPU run of {model} ({key})",
                    x_label=x_label,
                    x_scale=x_scale,
                )
                lines.append(f"![{suite} sweep of {model} on the CPU ({key})]({path.name})")
            if entry.get("per_step_latency_s"):
                lines.append(
                    f"- {model}: per-step latency of the traced run within "
                    f"{fmt.pct(entry['latency_max_relative_deviation'], 2)} of its mean over "
                    f"{len(entry['per_step_latency_s'])} steps "
                    "(not judged: the claim's band is on GPU energy)"
                )


def _latency_table(shares: Mapping[str, Mapping[str, Any]]) -> str:
    headers = ("model", "settings", "text encoder s", "denoiser s (all steps)", "VAE decode s", "video s",
               "video from", "denoiser share of latency")  # fmt: skip
    rows = []
    for model, d in shares.items():
        s, p = d["settings"], d["parts_s"]
        rows.append(
            [
                model,
                f"{s.get('height')}x{s.get('width')}, {s.get('num_frames')} f, "
                f"{s.get('num_inference_steps')} steps",
                *(fmt.num(p.get(c)) for c in ("text_encoder", "denoiser_step", "vae_decode")),
                fmt.num(d["total_s"]),
                d["total_from"],
                fmt.pct(d["share"]),
            ]
        )
    return fmt.md_table(headers, rows)


def _activity_table(profiles: Mapping[str, Mapping[str, Any]]) -> str:
    categories = ("matmul", "attention", "convolution", "norm_elementwise", "other")
    headers = ("model", *categories, "matmul + attention")
    rows = [
        [model, *(fmt.pct(d["shares"].get(c)) for c in categories), fmt.pct(d["share"])]
        for model, d in profiles.items()
    ]
    return fmt.md_table(headers, rows)


def _one_total(shares: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The same per-video total for the chart and the table.

    The chart stacks the parts (and the rest of a measured complete video); where the parts, each measured
    alone, add up to more than the measured video (on the CPU, per-call overheads of the tiny models), it
    cannot draw a negative rest, so both chart and table use the sum of the parts and say so.
    """
    out = {}
    for model, d in shares.items():
        parts_sum = sum(d["parts_s"].values())
        if d["total_s"] < parts_sum:
            d = {
                **d,
                "total_s": parts_sum,
                "share": d["parts_s"]["denoiser_step"] / parts_sum,
                "total_from": f"sum of parts (> measured video {fmt.num(d['total_s'])} s)",
            }
        out[model] = dict(d)
    return out


def cross_model(rf: Any, out_dir: Path, lines: list[str]) -> None:
    """Per-video latency by component per model, and the operator profile as CPU activity."""
    try:
        shares = _one_total(latency_shares(rf))
    except FitError as exc:
        lines.append(f"- cross-model latency breakdown skipped: {exc}")
    else:
        parts = {}
        for m, d in shares.items():
            parts[m] = dict(d["parts_s"])
            rest_s = d["total_s"] - sum(d["parts_s"].values())
            if rest_s > 0:
                parts[m]["rest"] = rest_s
        path = plots.plot_cross_model(
            parts,
            out_dir / "cross_model_latency.png",
            title="CPU run of tiny models: latency per video by component (no GPU energy)",
            quantity="latency",
            unit="s",
            convert=float,
        )
        lines += [f"![cross-model latency per video on the CPU]({path.name})", "", _latency_table(shares), ""]
    try:
        profiles = matmul_attention_shares(rf)
    except FitError as exc:
        lines.append(f"- operator profile skipped: {exc}")
        return
    path = latency_plots.plot_cpu_activity(
        {m: d["shares"] for m, d in profiles.items()},
        out_dir / "operator_profile_cpu.png",
        title="Operator profile of one denoising call: CPU activity (self CPU time), not GPU kernel time",
    )
    lines += [
        "Operator profile: shares of CPU self time of aten ops in one profiled denoising call of each tiny "
        "model. This is CPU activity, not GPU kernel time; the study's kernel claim is not judged on it.",
        "",
        f"![operator profile, CPU activity]({path.name})",
        "",
        _activity_table(profiles),
    ]
