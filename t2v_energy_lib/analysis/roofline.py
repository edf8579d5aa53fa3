"""Claim 3 of the study: above a threshold token length the denoiser is compute-bound on the GPU.

Per model, over the measured ``denoiser_step`` records of every suite: each point at or above the theory's
threshold token length must have an analytic arithmetic intensity above the GPU's ridge point, and the
achieved FLOP/s (analytic FLOPs per step / measured seconds per step) of the points with
``l >= STABLE_MIN_TOKENS`` must stay within a band: ``max / min <= STABLE_MAX_RATIO``.
"""

from __future__ import annotations

import statistics
from typing import Any

from t2v_energy_lib.analysis import theory_view
from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.points import (
    LATENCY_KEY,
    is_estimated,
    models_in,
    open_results,
    round_values,
    token_length_of,
)
from t2v_energy_lib.errors import MissingResultsError, TooFewPointsError

STABLE_MIN_TOKENS = 30_000
STABLE_MAX_RATIO = 1.35


def _step_points(rf: Any, label: str, model: str, theory: theory_view.TheoryView) -> list[dict[str, Any]]:
    """Token length, analytic FLOPs and intensity, and achieved FLOP/s of each measured step record."""
    points = []
    for r in rf.select(model=model, component="denoiser_step"):
        if is_estimated(r):
            continue
        tokens = token_length_of(r)
        if tokens is None:
            tokens = theory.token_length(model, r.settings)
        flops = theory.step_flops(model, r.settings)
        seconds = statistics.fmean(round_values(r, LATENCY_KEY))
        points.append(
            {
                "record_id": r.id,
                "token_length": tokens,
                "step_flops": flops,
                "intensity_flops_per_byte": theory.step_intensity(model, r.settings),
                "achieved_flops_per_s": flops / seconds,
                "step_s": seconds,
            }
        )
    return sorted(points, key=lambda p: p["token_length"])


def _judge_model(points: list[dict[str, Any]], threshold: int | None, ridge: float) -> dict[str, Any]:
    if threshold is None:
        return {
            "points": points,
            "threshold_tokens": None,
            "ridge_flops_per_byte": ridge,
            "judged": False,
            "holds": None,
            "below_ridge": [],
            "stable_points": 0,
            "reason": "the theory has no single token length for this model (a UNet)",
        }
    above = [p for p in points if p["token_length"] >= threshold]
    below_ridge = [p["record_id"] for p in above if p["intensity_flops_per_byte"] <= ridge]
    stable = [p["achieved_flops_per_s"] for p in points if p["token_length"] >= STABLE_MIN_TOKENS]
    judged = len(stable) >= 2
    spread = max(stable) / min(stable) if judged else float("nan")
    return {
        "points": points,
        "threshold_tokens": threshold,
        "ridge_flops_per_byte": ridge,
        "points_above_threshold": len(above),
        "below_ridge": below_ridge,
        "stable_points": len(stable),
        "flops_ratio_max_min": spread,
        "judged": judged,
        "min_achieved_flops_per_s": min(stable, default=float("nan")),
        "max_achieved_flops_per_s": max(stable, default=float("nan")),
        "holds": not below_ridge and judged and spread <= STABLE_MAX_RATIO,
    }


def _describe(model: str, gpu: str, peak: float, d: dict[str, Any]) -> str:
    if d["threshold_tokens"] is None:
        return f"{model} on {gpu}: not judged: {d['reason']}"
    head = (
        f"{model} on {gpu}: {d['points_above_threshold']} points at l >= {d['threshold_tokens']} "
        "(threshold), "
        f"{len(d['below_ridge'])} at or below the ridge {d['ridge_flops_per_byte']:.4g} FLOP/B"
    )
    if d["points"]:
        intensities = [p["intensity_flops_per_byte"] for p in d["points"]]
        head += f" (step intensity {min(intensities):.4g}-{max(intensities):.4g} FLOP/B)"
    if not d["judged"]:
        return f"{head}; not judged: {d['stable_points']} point(s) with l >= {STABLE_MIN_TOKENS}, needs 2"
    return (
        f"{head}; achieved {d['min_achieved_flops_per_s'] / 1e12:.4g}-"
        f"{d['max_achieved_flops_per_s'] / 1e12:.4g} "
        f"TFLOP/s ({d['min_achieved_flops_per_s'] / peak:.1%}-{d['max_achieved_flops_per_s'] / peak:.1%} "
        f"of the {peak / 1e12:.4g} TFLOP/s peak) over {d['stable_points']} points with "
        f"l >= {STABLE_MIN_TOKENS}, max/min "
        f"{d['flops_ratio_max_min']:.3f} (band: <= {STABLE_MAX_RATIO}): "
        f"{'holds' if d['holds'] else 'does NOT hold'}"
    )


def check_compute_bound(results: Any, theory: theory_view.TheoryView | None = None) -> ClaimResult:
    """Claim 3: compute-bound above the threshold token length, at a stable achieved FLOP/s.

    Args:
        results: A ``ResultFile`` or a path to a result file or folder.
        theory: FLOPs, intensity, GPU and threshold provider; default: the theory layer for the results' GPU.

    Raises:
        MissingResultsError: No measured denoiser_step records at all.
        TooFewPointsError: Fewer than two points at ``l >= 30,000`` for every model.
        FitError: The theory layer lacks what this needs.
    """
    rf, label = open_results(results)
    records = rf.select(component="denoiser_step")
    if not records:
        raise MissingResultsError(
            f"no denoiser_step records in {label}: run `t2v-energy characterize --suites resolution`",
            suite="resolution",
            component="denoiser_step",
        )
    theory = theory or theory_view.from_theory(rf.provenance)
    details: dict[str, Any] = {}
    lines = []
    for model in models_in(records):
        points = _step_points(rf, label, model, theory)
        threshold = theory.threshold_tokens(model)
        d = _judge_model(points, threshold, theory.ridge_flops_per_byte)
        details[model] = d
        lines.append(_describe(model, theory.gpu_name, theory.peak_flops_per_s, d))
    if not any(d["judged"] for d in details.values()):
        most = max((d["stable_points"] for d in details.values()), default=0)
        raise TooFewPointsError(
            f"the FLOP/s stability band needs >= 2 measured denoiser_step points with "
            f"l >= {STABLE_MIN_TOKENS} of one model in {label} (most found: {most}): "
            "run `t2v-energy characterize --suites resolution`",
            suite="resolution",
            needed=2,
            found=most,
        )
    summary = "; ".join(
        [
            *lines,
            f"criteria: intensity above the ridge at l >= threshold, achieved FLOP/s "
            f"max/min <= {STABLE_MAX_RATIO} over l >= {STABLE_MIN_TOKENS}",
        ]
    )
    holds = all(d["holds"] for d in details.values() if d["judged"]) and not any(
        d["below_ridge"] for d in details.values()
    )
    return ClaimResult(name="compute_bound", holds=holds, summary=summary, details=details)
