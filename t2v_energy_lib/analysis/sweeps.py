"""Claims 1 and 2 of the study: quadratic in pixels and in frames, linear in denoising steps.

Each check fits per-video GPU energy and latency of every model in the suite's records and returns a
:class:`~t2v_energy_lib.analysis.claim.ClaimResult` whose summary prints the fits.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from typing import Any

from t2v_energy_lib.analysis import independent_steps
from t2v_energy_lib.analysis.claim import ClaimResult, ClaimRow
from t2v_energy_lib.analysis.fits import (
    FTest,
    PolyFit,
    f_test_nested,
    fit_linear,
    fit_quadratic,
    log_log_slope,
    max_relative_deviation,
)
from t2v_energy_lib.analysis.independent_steps import RUN_COMPONENT
from t2v_energy_lib.analysis.points import (
    DENOISING_SOURCES,
    ENERGY_KEY,
    LATENCY_KEY,
    STEPS_SOURCES,
    SweepPoint,
    group_points,
    is_estimated,
    latent_frames,
    models_in,
    open_results,
    pixels,
    record_point,
    require_records,
    round_values,
    steps,
    sweep_points,
)
from t2v_energy_lib.errors import FitError, TooFewPointsError

QUADRATIC_MIN_R2 = 0.99
QUADRATIC_ALPHA = 0.01
#: The attention-shape criteria of the resolution and frames claims (see :func:`shape_verdict`).
#: |l^2 share of the fit at the largest point - the FLOP model's attention share there| <= SHARE_BAND. The
#: FLOP model counts FLOPs; an attention kernel spends a different energy and time per FLOP than a GEMM, and
#: norms and elementwise work (not counted) add to the linear term, so the measured share sits below the FLOP
#: share (Wan2.1-1.3B on the H100: 0.86 vs 0.91 over pixels, 0.80 vs 0.89 over frames).
SHARE_BAND = 0.10
#: Points at each end of a sweep whose log-log slope is the low-l and high-l exponent.
SLOPE_POINTS = 3
#: The high-l exponent must exceed the low-l one by this much (a power law has one exponent everywhere).
SLOPE_RISE_MIN = 0.25
#: For E = b*l + c*l^2 the local exponent is 1 + (l^2 share); the high-l exponent must be within this of
#: 1 + the analytic attention share, and never above SLOPE_MAX (faster than quadratic).
SLOPE_TOP_BAND = 0.25
SLOPE_MAX = 2.1
#: A shape judgement needs this many points over at least MIN_RANGE in x (max / min).
SHAPE_MIN_POINTS = 6
MIN_RANGE = 4.0
STEPS_MIN_R2 = 0.999
PER_STEP_ENERGY_BAND = 0.02
QUADRATIC_MIN_POINTS = SHAPE_MIN_POINTS
STEPS_MIN_POINTS = 4
METRICS = ("energy_j", "latency_s")


def _series(points: list[SweepPoint], metric: str) -> tuple[list[float], list[float]]:
    xs = [p.x for p in points]
    ys = [p.energy_mean_j if metric == "energy_j" else p.latency_mean_s for p in points]
    return xs, ys


def quadratic_verdict(xs: list[float], ys: list[float]) -> dict[str, Any]:
    """Fit line and parabola and decide the weak quadratic criteria (R^2, positive c2, F-test p < alpha).

    Kept for latency-only runs (a CPU run has no FLOP model to compare with); the GPU claims use
    :func:`shape_verdict`.
    """
    lin, quad = fit_linear(xs, ys), fit_quadratic(xs, ys)
    test = f_test_nested(lin, quad)
    holds = (
        quad.r_squared >= QUADRATIC_MIN_R2
        and quad.coefficients[2] > 0
        and test.rejects_reduced(QUADRATIC_ALPHA)
    )
    return {"linear": lin, "quadratic": quad, "f_test": test, "holds": holds}


def shape_verdict(xs: list[float], ys: list[float], analytic_share: float) -> dict[str, Any]:
    """Judge whether ``ys`` grow like the FLOP model's linear + attention terms in ``xs``.

    ``xs`` must be proportional to the token length l (pixels at fixed frames, latent frames at a fixed
    resolution). Criteria: the fit ``a + b*x + c*x^2`` has R^2 >= 0.99; its l^2 share at the largest point,
    ``c x^2 / (b x + c x^2)``, is within :data:`SHARE_BAND` of ``analytic_share``; the log-log slope of the
    top :data:`SLOPE_POINTS` points exceeds that of the bottom ones by :data:`SLOPE_RISE_MIN` and lies in
    ``[1 + analytic_share - SLOPE_TOP_BAND, SLOPE_MAX]``. A power law l^p (one slope everywhere), a straight
    top, or a share far from the attention share fails.
    """
    base = quadratic_verdict(xs, ys)
    _, b, c = base["quadratic"].coefficients
    top = xs[-1]
    denominator = b * top + c * top**2
    share = c * top**2 / denominator if denominator > 0 else float("nan")
    slope_low = log_log_slope(xs[:SLOPE_POINTS], ys[:SLOPE_POINTS])
    slope_high = log_log_slope(xs[-SLOPE_POINTS:], ys[-SLOPE_POINTS:])
    criteria = {
        "r2": base["quadratic"].r_squared >= QUADRATIC_MIN_R2,
        "share": abs(share - analytic_share) <= SHARE_BAND,
        "slope_rises": slope_high - slope_low >= SLOPE_RISE_MIN,
        "slope_top": 1.0 + analytic_share - SLOPE_TOP_BAND <= slope_high <= SLOPE_MAX,
    }
    return {
        **base,
        "attention_share_fit": share,
        "attention_share_theory": analytic_share,
        "slope_low": slope_low,
        "slope_high": slope_high,
        "criteria": criteria,
        "holds": all(criteria.values()),
    }


def _describe_quadratic(metric: str, x_name: str, verdict: Mapping[str, Any]) -> str:
    quad: PolyFit = verdict["quadratic"]
    c0, c1, c2 = quad.coefficients
    text = f"{metric} = {c0:.4g} + {c1:.4g}*{x_name} + {c2:.4g}*{x_name}^2 (R^2={quad.r_squared:.5f}"
    if "attention_share_fit" not in verdict:
        test: FTest = verdict["f_test"]
        return f"{text}; linear R^2={verdict['linear'].r_squared:.5f}, F={test.f:.3g} p={test.p_value:.2g})"
    failed = [k for k, ok in verdict["criteria"].items() if not ok]
    return (
        f"{text}; l^2 share at the largest point {verdict['attention_share_fit']:.3f} vs the FLOP model's "
        f"{verdict['attention_share_theory']:.3f}; log-log slope {verdict['slope_low']:.2f} (low) -> "
        f"{verdict['slope_high']:.2f} (high)" + (f"; failed: {', '.join(failed)}" if failed else "") + ")"
    )


def judge_groups(
    groups: Mapping[str, list[SweepPoint]],
    min_points: int,
    judge: Callable[[list[SweepPoint]], dict[str, Any]],
    suite: str,
    what: str = "judgement",
    judgeable: Callable[[list[SweepPoint]], bool] = bool,
) -> dict[str, dict[str, Any]]:
    """Judge each group with at least ``min_points`` points; smaller groups are kept but marked not judged.

    Args:
        groups: Group label -> points (as :func:`~.points.sweep_points` groups them).
        min_points: The fewest points a group is judged on.
        judge: The verdict of one group's points: a dict with ``holds`` and the fits.
        suite: The sweep's suite (for the error).
        what: What the judgement is called in the error (e.g. ``"latency judgement"``).
        judgeable: A further condition on a group's points (e.g. their range) for it to be judged.

    Returns:
        Group label -> ``{**judge(points), "points": points, "judged": True}``, or
        ``{"points": points, "judged": False, "holds": None}`` for a group too small.

    Raises:
        TooFewPointsError: No group has ``min_points`` points.
    """
    out: dict[str, dict[str, Any]] = {}
    for key, points in groups.items():
        if len(points) >= min_points and judgeable(points):
            out[key] = {**judge(points), "points": points, "judged": True}
        else:
            out[key] = {"points": points, "judged": False, "holds": None}
    if not any(g["judged"] for g in out.values()):
        sizes = {k: len(v) for k, v in groups.items()}
        raise TooFewPointsError(
            f"undecided: no group of the '{suite}' sweep has the {min_points} measured points a {what} needs "
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


def _wide_enough(points: list[SweepPoint]) -> bool:
    """True when the points span at least :data:`MIN_RANGE` in x (else the shape cannot be seen)."""
    xs = [p.x for p in points]
    return bool(xs) and min(xs) > 0 and max(xs) / min(xs) >= MIN_RANGE


def _shape_rows(model: str, groups: Mapping[str, Mapping[str, Any]]) -> list[ClaimRow]:
    rows = []
    for key, g in groups.items():
        if not g["judged"]:
            rows.append(ClaimRow(f"{model} [{key}]", "-", None, f"{len(g['points'])} points: too few"))
            continue
        for m in METRICS:
            v = g[m]
            figure = (
                f"l^2 share {v['attention_share_fit']:.3f} vs FLOP model {v['attention_share_theory']:.3f} "
                f"(band {SHARE_BAND}); log-log slope {v['slope_low']:.2f} -> {v['slope_high']:.2f}; "
                f"R^2 {v['quadratic'].r_squared:.5f}"
            )
            rows.append(ClaimRow(f"{model} [{key}]", m, v["holds"], figure))
    return rows


def _check_shape(
    results: Any,
    name: str,
    suite: str,
    x_of: Callable[[str, Mapping[str, Any]], float],
    x_name: str,
    theory: Any,
) -> ClaimResult:
    rf, label = open_results(results)
    records = require_records(rf, label, suite)
    if theory is None:
        from t2v_energy_lib.analysis.theory_view import from_theory

        theory = from_theory(rf.provenance)
    if theory.attention_share is None:
        raise FitError(f"the theory for {label} gives no attention share; the '{name}' claim needs it")

    def judge_of(model: str) -> Callable[[list[SweepPoint]], dict[str, Any]]:
        def judge(points: list[SweepPoint]) -> dict[str, Any]:
            share = theory.attention_share(model, points[-1].settings)
            per_metric = {m: shape_verdict(*_series(points, m), share) for m in METRICS}
            return {**per_metric, "holds": all(v["holds"] for v in per_metric.values())}

        return judge

    details: dict[str, Any] = {}
    lines = []
    rows: list[ClaimRow] = []
    for model in models_in(records):
        grouped, n_estimated = sweep_points(rf, label, suite, x_of, model, sources=DENOISING_SOURCES)
        what = f"shape judgement over x_max/x_min >= {MIN_RANGE:g}"
        groups = judge_groups(grouped, SHAPE_MIN_POINTS, judge_of(model), suite, what, _wide_enough)
        source = _source_of(grouped)
        details[model] = _model_entry(groups, source, n_estimated)
        rows += _shape_rows(model, groups)
        for key, g in groups.items():
            if not g["judged"]:
                continue
            fits = "; ".join(_describe_quadratic(m, x_name, g[m]) for m in METRICS)
            verdict = "holds" if g["holds"] else "does NOT hold"
            lines.append(f"{model} [{key}] ({len(g['points'])} {source} points): {fits}: {verdict}")
        lines[-1] += _unjudged_note(groups)
    holds = all(d["holds"] for d in details.values())
    criteria = (
        f"criteria: fit a + b*l + c*l^2 with R^2 >= {QUADRATIC_MIN_R2}, its l^2 share at the largest point "
        f"within {SHARE_BAND} of the FLOP model's attention share, log-log slope rising by >= "
        f"{SLOPE_RISE_MIN} to within {SLOPE_TOP_BAND} of 1 + that share (<= {SLOPE_MAX}); rejects a power "
        "law l^p and a straight top"
    )
    return ClaimResult(
        name=name, holds=holds, summary="; ".join([*lines, criteria]), details=details, rows=tuple(rows)
    )


def check_quadratic_in_pixels(results: Any, theory: Any = None) -> ClaimResult:
    """Claim 1: the denoiser's GPU energy and latency per video follow the FLOP model's linear + attention
    (l^2) terms in pixel count H*W ('resolution' suite); see :func:`shape_verdict` for the criteria.

    Args:
        results: A ``ResultFile`` or a path to a result file or folder.
        theory: A ``TheoryView`` (default: the theory layer for the results' GPU) for the attention share.

    Raises:
        MissingResultsError: No 'resolution' records.
        TooFewPointsError: No group of >= 6 points spanning 4x in pixels (undecided).
    """
    return _check_shape(results, "quadratic_in_pixels", "resolution", pixels, "px", theory)


def check_quadratic_in_frames(results: Any, theory: Any = None) -> ClaimResult:
    """Claim 1 (frames): the same shape in latent frames ``(F - 1) / t + 1`` ('frames' suite) at a fixed
    resolution; same criteria as :func:`check_quadratic_in_pixels`."""
    return _check_shape(results, "quadratic_in_frames", "frames", latent_frames, "latF", theory)


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
        fits = {m: {"linear": fit_linear(*_series(points, m))} for m in METRICS}
        return {**fits, "holds": all(f["linear"].r_squared >= STEPS_MIN_R2 for f in fits.values())}

    grouped, n_left_out = sweep_points(rf, label, "steps", steps, model, sources=STEPS_SOURCES)
    return judge_groups(grouped, STEPS_MIN_POINTS, judge, "steps"), _source_of(grouped), n_left_out


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
        entry = _model_entry(groups, RUN_COMPONENT, 0)
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
        entry = _model_entry(groups, source, n_left_out)
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
