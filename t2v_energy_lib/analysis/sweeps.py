"""Claim 1 of the study: the attention (l^2) + linear (l) shape in pixels and in frames; shared sweep helpers.

Each check fits the denoiser's per-video GPU energy and latency of every model in the suite's records and
returns a :class:`~t2v_energy_lib.analysis.claim.ClaimResult` whose summary prints the fits. The steps claim
is in :mod:`.steps_claim` (its constants ``STEPS_MIN_R2`` and ``PER_STEP_ENERGY_BAND`` stay here).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from typing import Any

from t2v_energy_lib.analysis.claim import ClaimResult, ClaimRow
from t2v_energy_lib.analysis.fits import (
    FTest,
    PolyFit,
    f_test_nested,
    fit_linear,
    fit_quadratic,
    log_log_slope,
)
from t2v_energy_lib.analysis.points import (
    DENOISING_SOURCES,
    SweepPoint,
    latent_frames,
    models_in,
    open_results,
    pixels,
    require_records,
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
#: Rounds of one point scattering more than this (relative standard deviation) cannot tell the shapes apart:
#: the judgement is undecided (H100 and H200 sweeps: at most 3.3%).
MAX_POINT_NOISE = 0.05
STEPS_MIN_R2 = 0.999
PER_STEP_ENERGY_BAND = 0.02
#: The latency-only view of a CPU run (latency_view) judges the weak quadratic criteria on >= 5 points.
QUADRATIC_MIN_POINTS = 5
STEPS_MIN_POINTS = 4
METRICS = ("energy_j", "latency_s")


def metric_series(points: list[SweepPoint], metric: str) -> tuple[list[float], list[float]]:
    """x and the mean of ``metric`` (``energy_j`` or ``latency_s``) of each point."""
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


def source_of(grouped: Mapping[str, list[SweepPoint]]) -> str:
    """The component the grouped points came from."""
    return next((g[0].source for g in grouped.values() if g), "none")


def model_entry(groups: dict[str, dict[str, Any]], source: str, n_estimated: int) -> dict[str, Any]:
    """One model's details: its judged groups, their source, records left out, and whether all hold."""
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
            per_metric = {m: shape_verdict(*metric_series(points, m), share) for m in METRICS}
            noise = point_noise(points)
            undecided = (
                f"rounds of one point scatter by up to {noise:.1%} (> {MAX_POINT_NOISE:.0%}): too noisy to "
                "tell the shapes apart; measure more or longer rounds"
                if noise > MAX_POINT_NOISE
                else None
            )
            holds = all(v["holds"] for v in per_metric.values()) and undecided is None
            return {**per_metric, "holds": holds, "noise": noise, "undecided": undecided}

        return judge

    details: dict[str, Any] = {}
    lines = []
    rows: list[ClaimRow] = []
    for model in models_in(records):
        grouped, n_estimated = sweep_points(rf, label, suite, x_of, model, sources=DENOISING_SOURCES)
        what = f"shape judgement over x_max/x_min >= {MIN_RANGE:g}"
        groups = judge_groups(grouped, SHAPE_MIN_POINTS, judge_of(model), suite, what, _wide_enough)
        source = source_of(grouped)
        details[model] = model_entry(groups, source, n_estimated)
        rows += _shape_rows(model, groups)
        for key, g in groups.items():
            if not g["judged"]:
                continue
            fits = "; ".join(_describe_quadratic(m, x_name, g[m]) for m in METRICS)
            verdict = "holds" if g["holds"] else "does NOT hold"
            if g["undecided"]:
                verdict = f"undecided: {g['undecided']}"
            lines.append(f"{model} [{key}] ({len(g['points'])} {source} points): {fits}: {verdict}")
        lines[-1] += _unjudged_note(groups)
    holds = all(d["holds"] for d in details.values())
    undecided = any(g.get("undecided") for d in details.values() for g in d["groups"].values())
    criteria = (
        f"criteria: fit a + b*l + c*l^2 with R^2 >= {QUADRATIC_MIN_R2}, its l^2 share at the largest point "
        f"within {SHARE_BAND} of the FLOP model's attention share, log-log slope rising by >= "
        f"{SLOPE_RISE_MIN} to within {SLOPE_TOP_BAND} of 1 + that share (<= {SLOPE_MAX}); rejects a power "
        "law l^p and a straight top"
    )
    summary = "; ".join([*lines, criteria])
    return ClaimResult(
        name=name,
        holds=holds and not undecided,
        summary=f"undecided: {summary}" if undecided else summary,
        details=details,
        undecided=undecided,
        rows=tuple(rows),
    )


def point_noise(points: list[SweepPoint]) -> float:
    """The largest relative standard deviation over rounds of any point, energy or latency (0: one round)."""
    spreads = [0.0]
    for p in points:
        for values in (p.energy_j, p.latency_s):
            if len(values) > 1:
                spreads.append(statistics.stdev(values) / abs(statistics.fmean(values)))
    return max(spreads)


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
