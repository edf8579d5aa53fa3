"""Claim 2 of the study: energy and latency linear in denoising steps, per-step energy constant.

Judged on independent runs (:mod:`.independent_steps`); prefixes of one traced run leave the claim undecided.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.analysis import independent_steps
from t2v_energy_lib.analysis.claim import ClaimResult, ClaimRow
from t2v_energy_lib.analysis.fits import fit_linear, max_relative_deviation
from t2v_energy_lib.analysis.points import (
    ENERGY_KEY,
    LATENCY_KEY,
    STEPS_SOURCES,
    SweepPoint,
    group_points,
    is_estimated,
    models_in,
    open_results,
    record_point,
    require_records,
    round_values,
    steps,
    sweep_points,
)
from t2v_energy_lib.analysis.sweeps import (
    METRICS,
    PER_STEP_ENERGY_BAND,
    STEPS_MIN_POINTS,
    STEPS_MIN_R2,
    judge_groups,
    metric_series,
    model_entry,
    source_of,
)
from t2v_energy_lib.bench.steps_runs import RUN_COMPONENT
from t2v_energy_lib.errors import TooFewPointsError


def _trace_band(trace: Any) -> dict[str, Any]:
    """Per-step GPU energy of one traced run (one round per step) and its largest deviation from the mean."""
    values = list(round_values(trace, ENERGY_KEY))
    latencies = list(round_values(trace, LATENCY_KEY))
    if len(values) < 2:
        raise TooFewPointsError(
            f"per-step energy constancy needs >= 2 steps in the trace {trace.id}; found {len(values)}: "
            "run `t2v-energy characterize --suites steps`",
            suite="steps",
            needed=2,
            found=len(values),
        )
    mean_j = statistics.fmean(values)
    rest_mean_j = statistics.fmean(values[1:])
    return {
        "per_step_energy_j": values,
        "per_step_latency_s": latencies,
        "basis": f"{len(values)} per-step windows of the traced run {trace.id}",
        "max_relative_deviation": max_relative_deviation(values),
        "latency_max_relative_deviation": max_relative_deviation(latencies),
        "worst_step": max(range(len(values)), key=lambda i: abs(values[i] - mean_j)) + 1,
        "first_step_vs_rest": values[0] / rest_mean_j - 1.0,
        "first_step_includes_call_startup": bool((trace.extra or {}).get("first_step_includes_call_startup")),
    }


def _per_step_band(rf: Any, label: str, model: str) -> dict[str, Any]:
    """Per-step GPU energy and its largest deviation from the mean.

    From the ``denoiser_step_trace`` record (one round per step of one run) where there is one; else from
    measured ``denoiser_step`` records: with two or more, each record's mean per-step energy is one value;
    with one, each round (one window of steps) is one value.
    """
    traces = [r for r in rf.select(suite="steps", model=model, component="denoiser_step_trace")]
    measured_traces = [r for r in traces if not is_estimated(r)]
    if measured_traces:
        return _trace_band(measured_traces[0])
    step_records = [
        r
        for r in require_records(rf, label, "steps", component="denoiser_step", model=model)
        if not is_estimated(r)
    ]
    if len(step_records) >= 2:
        values = [statistics.fmean(round_values(r, ENERGY_KEY)) for r in step_records]
        basis = f"mean per-step energy of {len(values)} denoiser_step records"
    else:
        values = list(round_values(step_records[0], ENERGY_KEY)) if step_records else []
        basis = f"{len(values)} per-step windows of one denoiser_step record"
    if len(values) < 2:
        raise TooFewPointsError(
            f"per-step energy constancy needs >= 2 measured per-step values of {model} in {label}; found "
            f"{len(values)}: run `t2v-energy characterize --suites steps`",
            suite="steps",
            needed=2,
            found=len(values),
        )
    return {
        "per_step_energy_j": values,
        "basis": basis,
        "max_relative_deviation": max_relative_deviation(values),
    }


def _prefix_note(rf: Any, points: list[SweepPoint]) -> str:
    """Says so when every measured denoise_loop point is a prefix of the same traced run (not independent)."""
    by_id = rf.by_id()
    traces = {
        ((by_id[p.record_id].extra or {}).get("parts") or {}).get("trace")
        for p in points
        if p.source == "denoise_loop"
    }
    if len(traces) == 1 and None not in traces:
        return (
            f"; these points are cumulative prefixes of ONE traced run ({traces.pop()}), so their linearity "
            "restates per-step constancy rather than testing separate runs"
        )
    return ""


def _describe_band(model: str, band: Mapping[str, Any], holds: bool, left_out: int, source: str) -> str:
    text = (
        f"{model}: per-step energy within {band['max_relative_deviation']:.2%} of its mean ({band['basis']}"
    )
    if "worst_step" in band:
        text += (
            f"; worst step {band['worst_step']}, first step {band['first_step_vs_rest']:+.2%} vs the mean of "
            f"the rest, per-step latency within {band['latency_max_relative_deviation']:.2%}"
        )
    text += ")"
    if left_out:
        text += f"; {left_out} {source} records composed or estimated (not measured) excluded from the fits"
    return f"{text}; {'holds' if holds else 'does NOT hold'}"


def _prefix_groups(rf: Any, label: str, model: str) -> tuple[dict[str, dict[str, Any]], str, int]:
    """The old fit on denoise_loop prefixes (R^2 only): kept as evidence, never a verdict."""

    def judge(points: list[SweepPoint]) -> dict[str, Any]:
        fits = {m: {"linear": fit_linear(*metric_series(points, m))} for m in METRICS}
        return {**fits, "holds": all(f["linear"].r_squared >= STEPS_MIN_R2 for f in fits.values())}

    grouped, n_left_out = sweep_points(rf, label, "steps", steps, model, sources=STEPS_SOURCES)
    return judge_groups(grouped, STEPS_MIN_POINTS, judge, "steps"), source_of(grouped), n_left_out


def _run_groups(rf: Any, label: str, model: str, runs: list[Any]) -> dict[str, dict[str, Any]]:
    """Independent runs grouped by the fixed settings, each group judged by :mod:`.independent_steps`."""
    grouped = group_points(runs, "steps", lambda r: record_point(r, model, steps, RUN_COMPONENT))
    groups: dict[str, dict[str, Any]] = {}
    for key, points in grouped.items():
        reason = independent_steps.undecided_reason(points)
        if reason:
            groups[key] = {"points": points, "judged": False, "holds": None, "undecided": reason}
            continue
        verdicts = {m: independent_steps.judge_runs(points, m) for m in METRICS}
        groups[key] = {
            **verdicts,
            "points": points,
            "judged": True,
            "holds": all(v["holds"] for v in verdicts.values()),
            "undecided": next((f"{m}: too noisy" for m, v in verdicts.items() if v["undecided"]), None),
        }
    return groups


def _steps_model(rf: Any, label: str, model: str) -> tuple[dict[str, Any], list[str], list[ClaimRow]]:
    """One model's entry, summary lines and rows of the steps claim."""
    runs = [r for r in rf.select(suite="steps", model=model, component=RUN_COMPONENT) if not is_estimated(r)]
    has_trace_or_steps = any(
        r.component in ("denoiser_step_trace", "denoiser_step") for r in rf.select(suite="steps", model=model)
    )
    band = _per_step_band(rf, label, model) if has_trace_or_steps else None
    lines: list[str] = []
    rows: list[ClaimRow] = []
    if runs:
        groups = _run_groups(rf, label, model, runs)
        entry = model_entry(groups, RUN_COMPONENT, 0)
        reasons = [f"[{k}] {g['undecided']}" for k, g in groups.items() if g.get("undecided")]
        judged = [g for g in groups.values() if g["judged"]]
        entry["undecided"] = "; ".join(reasons) if reasons or not judged else None
        for key, g in groups.items():
            for m in METRICS if g["judged"] else ():
                lines.append(f"[{key}] " + independent_steps.describe(model, m, g[m]))
                figure = f"residual {g[m]['max_residual']:.2%}, band {g[m]['band']:.2%}"
                rows.append(ClaimRow(f"{model} [{key}]", m, g[m]["holds"], figure))
            if g.get("undecided"):
                lines.append(f"{model} [{key}]: undecided: {g['undecided']}")
    else:
        groups, source, n_left_out = _prefix_groups(rf, label, model)
        entry = model_entry(groups, source, n_left_out)
        notes = [_prefix_note(rf, g["points"]) for g in groups.values() if g["judged"]]
        note = "".join(n.removeprefix("; these points are ") for n in notes) or "not separate runs"
        entry["undecided"] = (
            f"not independently measured: no '{RUN_COMPONENT}' records (whole loops of S steps, one run per "
            f"round) of {model}; the {source} points are {note}; run "
            "`python -m t2v_energy_lib.bench.steps_runs` (baselines/scripts/h200_claims.sh)"
        )
        rows.append(ClaimRow(model, "energy_j, latency_s", None, entry["undecided"]))
        lines.append(f"{model}: undecided: {entry['undecided']}")
    if band is not None:
        entry.update(band)
        band_ok = band["max_relative_deviation"] <= PER_STEP_ENERGY_BAND
        entry["holds"] = entry["holds"] and band_ok
        lines.append(_describe_band(model, band, band_ok, entry["estimated_left_out"], entry["source"]))
        figure = f"max deviation {band['max_relative_deviation']:.2%} ({band['basis']})"
        rows.append(ClaimRow(model, "per-step energy", band_ok, figure))
    if entry["undecided"]:
        entry["holds"] = False
    return entry, lines, rows


def check_linear_in_steps(results: Any) -> ClaimResult:
    """Claim 2: energy and latency are linear in steps with constant per-step energy ('steps' suite).

    Judged on independent runs only (``denoise_run`` records: whole loops of S steps, one run per round; see
    :mod:`.independent_steps` for the noise band); prefixes of one traced run are linear by construction, so
    a model with only those is UNDECIDED ("not independently measured"), which is not a pass. Where a traced
    run (or denoiser_step records) exists, its per-step energy must also stay within 2% of its mean.

    Raises:
        MissingResultsError: No 'steps' records.
        TooFewPointsError: No independent runs and too few prefix points to show anything.
    """
    rf, label = open_results(results)
    records = require_records(rf, label, "steps")
    details: dict[str, Any] = {}
    lines: list[str] = []
    rows: list[ClaimRow] = []
    for model in models_in(records):
        details[model], model_lines, model_rows = _steps_model(rf, label, model)
        lines += model_lines
        rows += model_rows
    undecided = any(d["undecided"] for d in details.values())
    criteria = (
        f"criteria: >= {independent_steps.MIN_STEP_COUNTS} step counts measured as independent runs "
        f"(>= {independent_steps.MIN_RUNS} each), every mean within the band "
        f"({independent_steps.NOISE_FACTOR:g} x measured noise, >= {independent_steps.MIN_BAND:.1%}) of one "
        f"line, per-step increments within the propagated band; a traced run's steps within "
        f"{PER_STEP_ENERGY_BAND:.0%} of their mean"
    )
    summary = "; ".join([*lines, criteria])
    return ClaimResult(
        name="linear_in_steps",
        holds=all(d["holds"] for d in details.values()) and not undecided,
        summary=("undecided: " + summary) if undecided else summary,
        details=details,
        undecided=undecided,
        rows=tuple(rows),
    )
