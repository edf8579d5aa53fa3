"""Claims 1 and 2 of the study: quadratic in pixels and in frames, linear in denoising steps.

Each check fits per-video GPU energy and latency of every model in the suite's records and returns a
:class:`~t2v_energy_lib.analysis.claim.ClaimResult` whose summary prints the fits.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from typing import Any

from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.fits import (
    FTest,
    PolyFit,
    f_test_nested,
    fit_linear,
    fit_quadratic,
    max_relative_deviation,
)
from t2v_energy_lib.analysis.points import (
    ENERGY_KEY,
    LATENCY_KEY,
    STEPS_SOURCES,
    SweepPoint,
    is_estimated,
    latent_frames,
    models_in,
    open_results,
    pixels,
    require_records,
    round_values,
    steps,
    sweep_points,
)
from t2v_energy_lib.errors import TooFewPointsError

QUADRATIC_MIN_R2 = 0.99
QUADRATIC_ALPHA = 0.01
STEPS_MIN_R2 = 0.999
PER_STEP_ENERGY_BAND = 0.02
QUADRATIC_MIN_POINTS = 5
STEPS_MIN_POINTS = 4
METRICS = ("energy_j", "latency_s")


def _series(points: list[SweepPoint], metric: str) -> tuple[list[float], list[float]]:
    xs = [p.x for p in points]
    ys = [p.energy_mean_j if metric == "energy_j" else p.latency_mean_s for p in points]
    return xs, ys


def quadratic_verdict(xs: list[float], ys: list[float]) -> dict[str, Any]:
    """Fit line and parabola and decide the quadratic criteria (R^2, positive c2, F-test p < alpha)."""
    lin, quad = fit_linear(xs, ys), fit_quadratic(xs, ys)
    test = f_test_nested(lin, quad)
    holds = (
        quad.r_squared >= QUADRATIC_MIN_R2
        and quad.coefficients[2] > 0
        and test.rejects_reduced(QUADRATIC_ALPHA)
    )
    return {"linear": lin, "quadratic": quad, "f_test": test, "holds": holds}


def _describe_quadratic(metric: str, x_name: str, verdict: Mapping[str, Any]) -> str:
    quad: PolyFit = verdict["quadratic"]
    test: FTest = verdict["f_test"]
    c0, c1, c2 = quad.coefficients
    return (
        f"{metric} = {c0:.4g} + {c1:.4g}*{x_name} + {c2:.4g}*{x_name}^2 "
        f"(c2 p={quad.p_values[2]:.2g}, R^2={quad.r_squared:.5f}; "
        f"linear R^2={verdict['linear'].r_squared:.5f}, "
        f"F={test.f:.3g} p={test.p_value:.2g})"
    )


def judge_groups(
    groups: Mapping[str, list[SweepPoint]],
    min_points: int,
    judge: Callable[[list[SweepPoint]], dict[str, Any]],
    suite: str,
    what: str = "judgement",
) -> dict[str, dict[str, Any]]:
    """Judge each group with at least ``min_points`` points; smaller groups are kept but marked not judged.

    Args:
        groups: Group label -> points (as :func:`~.points.sweep_points` groups them).
        min_points: The fewest points a group is judged on.
        judge: The verdict of one group's points: a dict with ``holds`` and the fits.
        suite: The sweep's suite (for the error).
        what: What the judgement is called in the error (e.g. ``"latency judgement"``).

    Returns:
        Group label -> ``{**judge(points), "points": points, "judged": True}``, or
        ``{"points": points, "judged": False, "holds": None}`` for a group too small.

    Raises:
        TooFewPointsError: No group has ``min_points`` points.
    """
    out: dict[str, dict[str, Any]] = {}
    for key, points in groups.items():
        if len(points) >= min_points:
            out[key] = {**judge(points), "points": points, "judged": True}
        else:
            out[key] = {"points": points, "judged": False, "holds": None}
    if not any(g["judged"] for g in out.values()):
        sizes = {k: len(v) for k, v in groups.items()}
        raise TooFewPointsError(
            f"no group of the '{suite}' sweep has the {min_points} measured points a {what} needs "
            f"(have {sizes or 'none'}); measure more settings",
            suite=suite,
            needed=min_points,
            found=max(sizes.values(), default=0),
        )
    return out


def _source_of(grouped: Mapping[str, list[SweepPoint]]) -> str:
    return next((g[0].source for g in grouped.values() if g), "none")


def _model_entry(groups: dict[str, dict[str, Any]], source: str, n_estimated: int) -> dict[str, Any]:
    judged = [g for g in groups.values() if g["judged"]]
    return {
        "groups": groups,
        "source": source,
        "estimated_left_out": n_estimated,
        "holds": all(g["holds"] for g in judged),
    }


def _unjudged_note(groups: Mapping[str, Mapping[str, Any]]) -> str:
    small = [f"{k} ({len(g['points'])} points)" for k, g in groups.items() if not g["judged"]]
    return f" [not judged, too few points: {'; '.join(small)}]" if small else ""


def _check_quadratic(
    results: Any, name: str, suite: str, x_of: Callable[[str, Mapping[str, Any]], float], x_name: str
) -> ClaimResult:
    rf, label = open_results(results)
    records = require_records(rf, label, suite)

    def judge(points: list[SweepPoint]) -> dict[str, Any]:
        per_metric = {m: quadratic_verdict(*_series(points, m)) for m in METRICS}
        return {**per_metric, "holds": all(v["holds"] for v in per_metric.values())}

    details: dict[str, Any] = {}
    lines = []
    for model in models_in(records):
        grouped, n_estimated = sweep_points(rf, label, suite, x_of, model)
        groups = judge_groups(grouped, QUADRATIC_MIN_POINTS, judge, suite)
        source = _source_of(grouped)
        details[model] = _model_entry(groups, source, n_estimated)
        for key, g in groups.items():
            if not g["judged"]:
                continue
            fits = "; ".join(_describe_quadratic(m, x_name, g[m]) for m in METRICS)
            verdict = "holds" if g["holds"] else "does NOT hold"
            lines.append(f"{model} [{key}] ({len(g['points'])} {source} points): {fits}: {verdict}")
        lines[-1] += _unjudged_note(groups)
    holds = all(d["holds"] for d in details.values())
    criteria = (
        f"criteria: R^2 >= {QUADRATIC_MIN_R2}, c2 > 0, linear rejected by F-test at p < {QUADRATIC_ALPHA}"
    )
    return ClaimResult(name=name, holds=holds, summary="; ".join([*lines, criteria]), details=details)


def check_quadratic_in_pixels(results: Any) -> ClaimResult:
    """Claim 1: per-video GPU energy and latency are quadratic in pixel count H*W ('resolution' suite).

    Criteria per model and metric: quadratic fit R^2 >= 0.99, positive quadratic coefficient, and the linear
    fit rejected by the nested F-test at p < 0.01. Units: x in pixels, energy in J, latency in s.

    Args:
        results: A ``ResultFile`` or a path to a result file or folder.

    Raises:
        MissingResultsError: No 'resolution' records.
        FitError: Too few points to fit.
    """
    return _check_quadratic(results, "quadratic_in_pixels", "resolution", pixels, "px")


def check_quadratic_in_frames(results: Any) -> ClaimResult:
    """Claim 1 (frames): per-video GPU energy and latency are quadratic in latent frames ('frames' suite).

    Latent frames are ``(F - 1) / t + 1`` (t = 4 for Wan). Same criteria as
    :func:`check_quadratic_in_pixels`.
    """
    return _check_quadratic(results, "quadratic_in_frames", "frames", latent_frames, "latF")


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


def _describe_steps_group(model: str, key: str, g: Mapping[str, Any], source: str, note: str) -> str:
    text = "; ".join(
        f"{m} = {g[m]['linear'].coefficients[0]:.4g} + {g[m]['linear'].coefficients[1]:.4g}*S "
        f"(p={g[m]['linear'].p_values[1]:.2g}, R^2={g[m]['linear'].r_squared:.6f})"
        for m in METRICS
    )
    xs = ", ".join(f"{p.x:g}" for p in g["points"])
    return f"{model} [{key}] ({len(g['points'])} measured {source} points, S = {xs}): {text}{note}"


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


def check_linear_in_steps(results: Any) -> ClaimResult:
    """Claim 2: energy and latency are linear in steps, and per-step energy is constant ('steps' suite).

    Criteria per model: linear fits of GPU energy and latency against steps with R^2 >= 0.999 on measured
    points only (``denoise_loop`` records measured as prefixes of a traced run where present; composed loops
    beyond the trace and estimated records are excluded and counted in the summary), and the per-step GPU
    energy of the trace (or of the denoiser_step records) within 2% of its mean. Units: J, s.

    Raises:
        MissingResultsError: No 'steps' records (or none to take per-step values from).
        TooFewPointsError: Fewer measured points than a judgement needs.
    """
    rf, label = open_results(results)
    records = require_records(rf, label, "steps")

    def judge(points: list[SweepPoint]) -> dict[str, Any]:
        fits = {m: {"linear": fit_linear(*_series(points, m))} for m in METRICS}
        return {**fits, "holds": all(f["linear"].r_squared >= STEPS_MIN_R2 for f in fits.values())}

    details: dict[str, Any] = {}
    lines = []
    for model in models_in(records):
        grouped, n_left_out = sweep_points(rf, label, "steps", steps, model, sources=STEPS_SOURCES)
        groups = judge_groups(grouped, STEPS_MIN_POINTS, judge, "steps")
        source = _source_of(grouped)
        band = _per_step_band(rf, label, model)
        entry = _model_entry(groups, source, n_left_out)
        entry.update(band)
        entry["holds"] = entry["holds"] and band["max_relative_deviation"] <= PER_STEP_ENERGY_BAND
        details[model] = entry
        for key, g in groups.items():
            if g["judged"]:
                lines.append(_describe_steps_group(model, key, g, source, _prefix_note(rf, g["points"])))
        lines.append(_describe_band(model, band, entry["holds"], n_left_out, source) + _unjudged_note(groups))
    holds = all(d["holds"] for d in details.values())
    criteria = (
        f"criteria: R^2 >= {STEPS_MIN_R2} on measured points, "
        f"per-step energy within {PER_STEP_ENERGY_BAND:.0%} of its mean"
    )
    return ClaimResult(
        name="linear_in_steps", holds=holds, summary="; ".join([*lines, criteria]), details=details
    )
