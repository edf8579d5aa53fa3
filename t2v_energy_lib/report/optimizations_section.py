"""The report's "Optimisations" section: savings, deviations, payback, theory check and a Pareto chart.

Per model and setting: one markdown table (every measured variant: saving J and %, latency, peak memory,
deviation, one-time cost and payback in videos, FLOP-predicted saving), the variants that were not measured
(with the reason), the goal verdict (>= 40% of GPU energy per video), and one PNG: energy per video against
deviation from the default's output, the Pareto front joined. matplotlib is drawn by the Agg canvas.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from t2v_energy_lib.analysis.optimization_theory import predict
from t2v_energy_lib.analysis.optimizations import (
    GOAL_SAVING_FRACTION,
    MIN_EFFECT_FRACTION,
    SAVES,
    OptimizationRow,
    deviation_value,
    goal_verdict,
    optimization_rows,
    pareto_front,
)
from t2v_energy_lib.report import fmt
from t2v_energy_lib.report.plots import _figure, _save

HEADERS = (
    "variant",
    "status",
    "per video",
    "saving",
    "saving %",
    "latency (s)",
    "peak memory (GB)",
    "frames PSNR (dB)",
    "frames rel. L2",
    "latents rel. L2",
    "one-time cost",
    "payback (videos)",
    "FLOP-predicted saving %",
)
RANDOM_WEIGHTS = (
    "Random weights: a deviation is numerical (how far the computation moved from the default's output, same "
    "seed and prompt), not perceived quality; activation-dependent caches (FirstBlock, Mag, Sea) decide what "
    "to skip from the activations and skip differently with trained weights (run the same suite with "
    "`--weights <local dir>`). A variant whose output is bit-identical to the default's, or whose lever "
    "counted no activity, is `not_engaged` and never a saving."
)


def _unit(q: str) -> str:
    return "J" if q.endswith("_j") else "s"


def _slug(group: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", group).strip("-")


def _cells(row: OptimizationRow, predicted: dict[str, float]) -> list[str]:
    u = _unit(row.quantity)
    dev = row.deviation or {}
    psnr = dev.get("frames_psnr_db")
    psnr_text = "identical" if dev.get("frames_bit_identical") else fmt.num(psnr, 4)
    mem = None if row.peak_memory_bytes is None else row.peak_memory_bytes / 1e9
    value = (
        "-" if row.value is None else f"{fmt.num(row.value)} {u}" + (" (composed)" if row.composed else "")
    )
    saving = "-" if row.saving is None else f"{fmt.num(row.saving)} {u}"
    if row.saving is not None and row.label != SAVES:
        saving += f" ({row.label})"
    setup = "-" if row.setup_extra_j is None else f"{fmt.num(row.setup_extra_j)} {u}"
    return [
        row.variant,
        row.status,
        value,
        saving,
        fmt.pct(row.saving_fraction),
        fmt.num(row.latency_s),
        fmt.num(mem, 3),
        psnr_text,
        fmt.num(dev.get("frames_rel_l2"), 3),
        fmt.num(dev.get("latents_rel_l2"), 3),
        setup,
        fmt.num(row.payback_videos, 3),
        fmt.pct(predicted.get(row.record_id)),
    ]


def _chance(measured: Sequence[OptimizationRow]) -> str:
    """How often two identical settings separate completely by chance, at this run's round counts."""
    counts = sorted({(len(measured[0].rounds), len(r.rounds)) for r in measured[1:] if r.label is not None})
    if not counts or not measured[0].rounds:
        return ""
    parts = [f"1 in {math.comb(d + v, v)} ({v} vs {d} rounds)" for d, v in counts]
    return (
        " Few rounds make this weak evidence: the rounds of two identical settings separate this way by "
        f"chance in {', '.join(parts)} per direction."
    )


def _one_line(reason: str, limit: int = 600) -> str:
    """A recorded reason as one list item: a library's multi-line message (xformers lists every operator it
    tried) joined on one line and cut at ``limit`` characters (the record keeps it whole)."""
    text = " ".join(str(reason).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _reference_lines(rows: Sequence[OptimizationRow], by_id: Any) -> list[str]:
    """Which runs the default's rounds come from, and the variants measured beside a default not stored."""
    default = by_id[rows[0].record_id]
    runs = list(dict.fromkeys(default.extra.get("round_runs") or []))
    lines = []
    if len(runs) > 1:
        lines += [
            f"Default: {len(default.extra['round_runs'])} rounds from {len(runs)} runs ({', '.join(runs)}); "
            "every saving is judged against all of them.",
            "",
        ]
    foreign = ", ".join(f"`{r.variant}`" for r in rows if r.own_reference is False)
    if foreign:
        lines += [
            "Measured beside a default whose rounds this file does not hold (a resume before runs were "
            f"labelled replaced that default's record): {foreign}. Their savings "
            "and labels are against the stored default's rounds; their deviations against their own run's "
            "default output (same seed and prompt).",
            "",
        ]
    return lines


def _compile_cache_lines(rows: Sequence[OptimizationRow], by_id: Any) -> list[str]:
    """Which compiled variants' setups Inductor's on-disk cache served (their one-time cost is a warm one)."""
    served = []
    for r in rows:
        compiled = (by_id[r.record_id].extra.get("engagement") or {}).get("compile") or {}
        lookups = (compiled.get("activity") or {}).get("inductor_fxgraph_cache") or {}
        if lookups.get("hits"):
            served.append(f"`{r.variant}` ({lookups['hits']} hits, {lookups.get('misses', 0)} misses)")
    if not served:
        return []
    return [
        "Compilation served by Inductor's on-disk FX-graph cache, filled by an earlier compile on this "
        f"machine: {', '.join(served)}. Their one-time cost is lower than a fresh machine's first compile.",
        "",
    ]


def optimizations_section(result_file: Any, out_dir: Path) -> str:
    """The section's markdown (charts written to ``out_dir``). Raises MissingResultsError without records."""
    groups = optimization_rows(result_file.records)
    by_id = result_file.by_id()
    lines = ["## Optimisations: what saves energy per video", "", RANDOM_WEIGHTS, ""]
    for group, rows in groups.items():
        predicted = {}
        for r in rows:
            check = predict(by_id[r.record_id]) if r.status in ("engaged", "not_engaged") else None
            if check is not None:
                predicted[r.record_id] = check.predicted_fraction
        measured = [r for r in rows if r.value is not None]
        missing = [r for r in rows if r.value is None]
        verdict = goal_verdict(group, rows)
        lines += [f"### {group}", ""]
        goal = "met" if verdict.met else "NOT met"
        lines += [
            f"Goal (>= {GOAL_SAVING_FRACTION:.0%} of GPU energy per video): **{goal}**. {verdict.message}.",
            "",
        ]
        lines += [fmt.md_table(HEADERS, [_cells(r, predicted) for r in measured]), ""]
        lines += [
            "Saving: default minus variant, per complete video; `costs more`: every round of the variant "
            "above every round of the default; `n.s.`: the rounds of the two overlap, or the means differ by "
            f"less than {MIN_EFFECT_FRACTION:.0%} of the default's, what repeating the default alone gives "
            f"(neither a saving nor a cost shown, and no payback).{_chance(measured)} One-time cost: setup "
            "(apply + warm-up, compilation included) over the default's. FLOP-predicted: fraction of the "
            "default video's FLOPs not run (counted "
            "cache skips priced by the FLOP model, steps run; CFG batching predicts 0).",
            "",
        ]
        lines += _reference_lines(rows, by_id)
        lines += _compile_cache_lines(measured, by_id)
        if missing:
            lines += ["Not measured:", ""]
            lines += [f"- `{r.variant}` ({r.status}): {_one_line(r.reason)}" for r in missing]
            lines.append("")
        idle = [r for r in measured if r.status == "not_engaged"]
        if idle:
            lines += ["Not engaged (never a saving):", ""]
            lines += [f"- `{r.variant}`: {_one_line(r.reason)}" for r in idle]
            lines.append("")
        png = plot_pareto(group, rows, out_dir / f"optimizations-{_slug(group)}.png")
        lines += [f"![energy vs deviation, {group}]({png.name})", ""]
    return "\n".join(lines)


def section_lines(result_file: Any, out_dir: Path) -> list[str]:
    """The section for the main report, or [] when the results hold no optimisation records."""
    if not any(r.suite == "optimizations" for r in result_file.records):
        return []
    return ["", *optimizations_section(result_file, Path(out_dir)).splitlines()]


def plot_pareto(group: str, rows: Sequence[OptimizationRow], out_path: Path) -> Path:
    """Energy (or latency) per video against frames relative L2; engaged filled, Pareto front joined."""
    fig, (ax,) = _figure(1, 8.0, 5.0)
    q = rows[0].quantity if rows else "gpu_energy_j"
    for r in rows:
        d = deviation_value(r)
        if r.value is None or d is None or r.composed:
            continue
        engaged = r.status in ("engaged", "reference")
        ax.scatter(
            [d],
            [r.value],
            marker="o" if engaged else "x",
            color="tab:blue" if engaged else "tab:gray",
            zorder=3,
        )
        ax.annotate(r.variant, (d, r.value), fontsize=7, xytext=(3, 3), textcoords="offset points")
    front = pareto_front(rows)
    if front:
        xs = [deviation_value(r) for r in front]
        ys = [r.value for r in front]
        ax.plot(xs, ys, color="tab:red", linestyle="--", label="Pareto front", zorder=2)
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xscale("symlog", linthresh=1e-4)
    ax.set_xlabel("deviation from the default output (frames, relative L2; random weights)")
    ax.set_ylabel(f"{'GPU energy (J)' if q == 'gpu_energy_j' else 'latency (s)'} per video")
    ax.set_title(f"{group}: per-video cost vs deviation (x: not engaged)")
    return _save(fig, out_path)


def write_optimizations_report(results_path: Path, out_dir: Path) -> Path:
    """Write ``OPTIMIZATIONS.md`` (and the charts) for the optimisation records under ``results_path``."""
    from t2v_energy_lib.results.storage import load_results

    result_file = load_results(results_path)
    text = optimizations_section(result_file, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "OPTIMIZATIONS.md"
    path.write_text(text + "\n", encoding="utf-8")
    return path
