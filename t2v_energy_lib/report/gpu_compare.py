"""Markdown of two GPUs side by side (:mod:`t2v_energy_lib.analysis.gpu_compare`), and of a cross-GPU score.

Every figure printed comes from the two measured folders, the datasheets in theory/gpus.py, or the prediction
document being scored; nothing is typed in.
"""

from __future__ import annotations

import statistics
from typing import Any

from t2v_energy_lib.analysis.cross_gpu import MIN_SCORED_POINTS
from t2v_energy_lib.report import fmt

MEASURED_VS_EXPECTED_NOTE = (
    "ratios = second GPU / first GPU; expected = what the datasheets predict through the roofline transfer "
    "(compute-bound time scales with the bf16 peak, memory-bound time, including the normalisation and "
    "elementwise kernels the first GPU's operator profile measured, with the memory bandwidth; board power "
    "unchanged, so the expected energy ratio equals the expected latency ratio)."
)


def _theory_lines(cmp: Any) -> list[str]:
    if cmp.datasheets is None:
        return [f"No datasheet figures for {cmp.gpus[0]} or {cmp.gpus[1]} in theory/gpus.py: no expectation."]
    a, b = cmp.datasheets
    return [
        f"Datasheets: {a.name}: {a.peak_flops / 1e12:.0f} TFLOP/s bf16 dense, "
        f"{a.mem_bandwidth_bytes_per_s / 1e12:.2f} TB/s, {a.tdp_w:.0f} W; {b.name}: "
        f"{b.peak_flops / 1e12:.0f} TFLOP/s, {b.mem_bandwidth_bytes_per_s / 1e12:.2f} TB/s, {b.tdp_w:.0f} W "
        f"(peak ratio {b.peak_flops / a.peak_flops:.3g}x, bandwidth ratio "
        f"{b.mem_bandwidth_bytes_per_s / a.mem_bandwidth_bytes_per_s:.3g}x, ridge "
        f"{a.ridge_flops_per_byte:.0f} -> {b.ridge_flops_per_byte:.0f} FLOP/byte).",
    ]


def short_labels(gpus: tuple[str, str]) -> tuple[str, str]:
    """Column labels of the two GPUs: ``"NVIDIA H100 80GB HBM3"`` -> ``"H100"`` (``1st``/``2nd`` if equal)."""
    labels = tuple((name.removeprefix("NVIDIA ").split() or [name])[0] for name in gpus)
    return (labels[0], labels[1]) if labels[0] != labels[1] else ("1st", "2nd")


def _pair_cells(row: Any) -> list[str]:
    """Latency, energy and power of both GPUs."""
    pairs = (row.latency_s, row.energy_j, row.power_w)
    return [fmt.num(value) for pair in pairs for value in pair]


def _ratio_cells(row: Any) -> list[str]:
    expected = fmt.num(row.expected_latency_ratio, 3) if row.expected_latency_ratio is not None else "-"
    return [fmt.num(row.latency_ratio, 3), fmt.num(row.energy_ratio, 3), expected]


def _step_table(rows: list[Any], labels: tuple[str, str]) -> str:
    a, b = labels
    headers = (
        "point", "tokens", f"s/step {a}", f"s/step {b}", f"J/step {a}", f"J/step {b}", f"W {a}", f"W {b}",
        f"TFLOP/s {a}", f"TFLOP/s {b}", f"latency {b}/{a}", f"energy {b}/{a}", "expected",
    )  # fmt: skip
    body = []
    for r in sorted(rows, key=lambda r: (r.suite, r.token_length)):
        tf = r.achieved_flops_per_s
        body.append(
            [
                r.record_id.rsplit("/", 1)[0],
                f"{r.token_length:,}",
                *_pair_cells(r),
                fmt.num(tf[0] / 1e12) if tf else "-",
                fmt.num(tf[1] / 1e12) if tf else "-",
                *_ratio_cells(r),
            ]
        )
    return fmt.md_table(headers, body)


def _plain_table(rows: list[Any], unit: str, labels: tuple[str, str]) -> str:
    a, b = labels
    headers = (
        "record", f"{unit} s {a}", f"{unit} s {b}", f"{unit} J {a}", f"{unit} J {b}", f"W {a}", f"W {b}",
        f"latency {b}/{a}", f"energy {b}/{a}", "expected",
    )  # fmt: skip
    body = [[r.record_id, *_pair_cells(r), *_ratio_cells(r)] for r in sorted(rows, key=lambda r: r.record_id)]
    return fmt.md_table(headers, body)


def _summary(rows: list[Any], what: str) -> str:
    if not rows:
        return f"- {what}: none in both folders"
    lat = statistics.median(r.latency_ratio for r in rows)
    en = statistics.median(r.energy_ratio for r in rows)
    exp = [r.expected_latency_ratio for r in rows if r.expected_latency_ratio is not None]
    tail = f", expected median {statistics.median(exp):.3g}" if exp else ""
    return f"- {what} ({len(rows)}): median latency ratio {lat:.3g}, energy ratio {en:.3g}{tail}"


def gpu_comparison_section(cmp: Any) -> str:
    """The markdown section: theory, summary, then tables per component (first GPU columns, then second)."""
    title = f"## {cmp.gpus[0]} vs {cmp.gpus[1]}, point by point"
    labels = short_labels(cmp.gpus)
    steps, loops = cmp.of("denoiser_step"), cmp.of("denoise_loop")
    vae, text, video = cmp.of("vae_decode"), cmp.of("text_encoder"), cmp.of("composed")
    lines = [
        title,
        "",
        f"First: `{cmp.folders[0]}` ({cmp.gpus[0]}); second: `{cmp.folders[1]}` ({cmp.gpus[1]}).",
        "",
        *_theory_lines(cmp),
        "",
        _summary(steps, "denoiser steps"),
        _summary(vae, "VAE decodes"),
        _summary(text, "text encoders"),
        _summary(video, "per-video figures"),
        "",
        MEASURED_VS_EXPECTED_NOTE,
        "",
        "### Denoiser step by token length",
        "",
        _step_table(steps, labels),
    ]
    for rows, heading, unit in (
        (loops, "Whole denoising loops (steps suite)", "loop"),
        (vae, "VAE decode", "decode"),
        (text, "Text encoder", "encode"),
        (video, "Per video (text encoder + S x step + VAE decode)", "video"),
    ):
        if rows:
            lines += ["", f"### {heading}", "", _plain_table(rows, unit, labels)]
    missing = len(cmp.only_first), len(cmp.only_second)
    lines += [
        "",
        f"Records only in the first folder: {missing[0]}; only in the second: {missing[1]}"
        + (f" (e.g. {', '.join(cmp.only_first[:3])})" if cmp.only_first else "")
        + ".",
    ]
    return "\n".join(lines) + "\n"


def _blind_line(score: Any) -> str:
    """The prospective score: only the points measured after the prediction was written."""
    blind = score.blind_points
    if not blind:
        return "  blind (measured after the prediction was written): no point; this score is retrospective"
    if len(blind) < MIN_SCORED_POINTS:
        verdict = f"not judged ({len(blind)} point(s) of the {MIN_SCORED_POINTS} the goal needs: partial)"
    else:
        met = max(score.mape(blind, "latency"), score.mape(blind, "energy")) <= score.goal_pct
        verdict = "met" if met else "NOT met"
    return (
        f"  blind (measured after the prediction was written): {len(blind)} point(s), latency MAPE "
        f"{score.mape(blind, 'latency'):.2f}%, energy MAPE {score.mape(blind, 'energy'):.2f}%; "
        f"goal: {verdict}"
    )


def score_lines(score: Any, prediction: Any) -> list[str]:
    """What ``t2v-energy gpus score`` prints: the headline MAPEs, the goal, the order, per-component MAPEs."""
    before = {True: "yes", False: "NO", None: "unknown (a time is missing)"}[score.predicted_before_measured]
    verdict = "met" if score.meets_goal else "NOT met"
    if len(score.points) < MIN_SCORED_POINTS:  # gpus score --min-points below the goal's minimum
        verdict = (
            f"not judged ({len(score.points)} point(s); the goal is stated over at least "
            f"{MIN_SCORED_POINTS}: a partial score)"
        )
    if score.predicted_before_measured is not True:
        verdict += " (retrospective: written after the first measurement; the blind line is prospective)"
    lines = [
        f"Prediction {prediction['source']['gpu']} -> {prediction['target']['gpu']} ({prediction['method']})",
        f"  written {score.predicted_utc}; first measurement {score.first_measured_utc}; written before "
        f"measuring: {before}",
        f"  per-video points scored: {len(score.points)} "
        f"(predicted but not measured: {len(score.unmeasured)})",
        f"  latency MAPE {score.latency_mape_pct:.2f}%, energy MAPE {score.energy_mape_pct:.2f}%; goal <= "
        f"{score.goal_pct:g}%: {verdict}",
    ]
    lines.append(_blind_line(score))
    for component in sorted({p.component for p in score.parts}):
        parts = tuple(p for p in score.parts if p.component == component)
        lines.append(
            f"  {component} ({len(parts)}): latency MAPE {score.mape(parts, 'latency'):.2f}%, energy MAPE "
            f"{score.mape(parts, 'energy'):.2f}%"
        )
    lines.append("  worst per-video points (latency error, energy error):")
    worst = sorted(score.points, key=lambda p: -max(abs(p.latency_error_pct), abs(p.energy_error_pct)))
    lines += [
        f"    {p.record_id}: {p.latency_error_pct:+.2f}%, {p.energy_error_pct:+.2f}%" for p in worst[:5]
    ]
    return lines
