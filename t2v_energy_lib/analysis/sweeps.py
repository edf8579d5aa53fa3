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
from t2v_energy_lib.errors import FitError

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


def _judge_groups(
    groups: Mapping[str, list[SweepPoint]],
    min_points: int,
    judge: Callable[[list[SweepPoint]], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Judge each group with at least ``min_points`` points; smaller groups are kept but marked not judged."""
    out: dict[str, dict[str, Any]] = {}
    for key, points in groups.items():
        if len(points) >= min_points:
            out[key] = {**judge(points), "points": points, "judged": True}
        else:
            out[key] = {"points": points, "judged": False, "holds": None}
    if not any(g["judged"] for g in out.values()):
        sizes = {k: len(v) for k, v in groups.items()}
        raise FitError(
            f"no group of this sweep has the {min_points} measured points a judgement needs (have {sizes}); "
            f"measure more settings"
        )
    return out


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
        groups = _judge_groups(grouped, QUADRATIC_MIN_POINTS, judge)
        source = next(iter(grouped.values()))[0].source
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


def _per_step_band(rf: Any, label: str, model: str) -> dict[str, Any]:
    """Per-step GPU energy of the measured denoiser_step records and its largest deviation from the mean.

    With records at two or more step counts, each record's mean per-step energy is one value; with one record
    (one long run measured step by step), each round (one step window) is one value.
    """
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
        raise FitError(
            f"per-step energy constancy needs >= 2 measured per-step values of {model} in {label}; found "
            f"{len(values)}: run `t2v-energy characterize --suites steps`"
        )
    return {
        "per_step_energy_j": values,
        "basis": basis,
        "max_relative_deviation": max_relative_deviation(values),
    }


def check_linear_in_steps(results: Any) -> ClaimResult:
    """Claim 2: energy and latency are linear in steps, and per-step energy is constant ('steps' suite).

    Criteria per model: linear fits of per-video GPU energy and latency against steps with R^2 >= 0.999 on
    measured (not estimated) points, and the per-step GPU energy from the denoiser_step records within 2% of
    its mean. Units: energy in J, latency in s.

    Raises:
        MissingResultsError: No 'steps' records (or no denoiser_step records among them).
        FitError: Too few points, or fewer than two per-step values.
    """
    rf, label = open_results(results)
    records = require_records(rf, label, "steps")

    def judge(points: list[SweepPoint]) -> dict[str, Any]:
        fits = {m: {"linear": fit_linear(*_series(points, m))} for m in METRICS}
        return {**fits, "holds": all(f["linear"].r_squared >= STEPS_MIN_R2 for f in fits.values())}

    details: dict[str, Any] = {}
    lines = []
    for model in models_in(records):
        grouped, n_estimated = sweep_points(rf, label, "steps", steps, model)
        groups = _judge_groups(grouped, STEPS_MIN_POINTS, judge)
        band = _per_step_band(rf, label, model)
        entry = _model_entry(groups, next(iter(grouped.values()))[0].source, n_estimated)
        entry.update(band)
        entry["holds"] = entry["holds"] and band["max_relative_deviation"] <= PER_STEP_ENERGY_BAND
        details[model] = entry
        for key, g in groups.items():
            if g["judged"]:
                text = "; ".join(
                    f"{m} = {g[m]['linear'].coefficients[0]:.4g} + {g[m]['linear'].coefficients[1]:.4g}*S "
                    f"(p={g[m]['linear'].p_values[1]:.2g}, R^2={g[m]['linear'].r_squared:.6f})"
                    for m in METRICS
                )
                lines.append(
                    f"{model} [{key}] ({len(g['points'])} measured {entry['source']} points): {text}"
                )
        lines.append(
            f"{model}: per-step energy within {band['max_relative_deviation']:.2%} of its mean "
            f"({band['basis']}); {'holds' if entry['holds'] else 'does NOT hold'}{_unjudged_note(groups)}"
        )
    holds = all(d["holds"] for d in details.values())
    criteria = (
        f"criteria: R^2 >= {STEPS_MIN_R2} on measured points, "
        f"per-step energy within {PER_STEP_ENERGY_BAND:.0%}"
    )
    return ClaimResult(
        name="linear_in_steps", holds=holds, summary="; ".join([*lines, criteria]), details=details
    )
