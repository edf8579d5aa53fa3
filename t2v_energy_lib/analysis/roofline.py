"""Claim 3 of the study: above a threshold token length the denoiser is compute-bound on the GPU.

Judged from measured figures. Per model, over the measured ``denoiser_step`` records of every suite, the
points with ``l >= STABLE_MIN_TOKENS``: the achieved FLOP/s (analytic FLOPs per step / measured seconds per
step) must reach :data:`MIN_CEILING_FRACTION` of a matmul ceiling MEASURED on the same GPU (same uuid) in the
same baseline folder (``reference`` matmul record, or ``calibration`` matmul_ceiling record), stay within
``max / min <= STABLE_MAX_RATIO``, and the energy per FLOP likewise within ``ENERGY_PER_FLOP_MAX_RATIO``.
The analytic intensity above the ridge (at the theory's threshold) is reported beside, but it is a property
of the shapes, not a measurement, so it alone never decides the claim. Without a measured ceiling the claim is
undecided. The alternative it rejects: a memory- or overhead-bound step, running far below the GPU's measured
matmul rate (a 5x slower run sits near 15% of it).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.analysis import theory_view
from t2v_energy_lib.analysis.claim import ClaimResult, ClaimRow, undecided
from t2v_energy_lib.analysis.points import (
    ENERGY_KEY,
    LATENCY_KEY,
    is_estimated,
    models_in,
    open_results,
    round_values,
    token_length_of,
)
from t2v_energy_lib.errors import MissingResultsError, TooFewPointsError
from t2v_energy_lib.results.machine import gpu_uuids

STABLE_MIN_TOKENS = 30_000
STABLE_MAX_RATIO = 1.35
#: Energy per FLOP over the same points: max / min within this (power near the cap, FLOP/s stable).
ENERGY_PER_FLOP_MAX_RATIO = 1.35
#: Achieved FLOP/s of every point with l >= STABLE_MIN_TOKENS over the measured matmul ceiling: at least this.
#: A large bf16 GEMM is the fastest dense work the GPU does; attention-heavy steps reaching half of it are
#: compute-bound (Wan2.1-1.3B on the H100: 64-77% of the 676 TFLOP/s measured ceiling).
MIN_CEILING_FRACTION = 0.5
#: ... and at most this: a step "faster" than the GPU's best matmul means the analytic FLOPs or the timing are
#: wrong (measured run-to-run, a ceiling may sit a few percent under a later step's rate; not 5% more).
MAX_CEILING_FRACTION = 1.05
#: Records that carry a measured matmul ceiling: (suite, component).
CEILING_RECORDS = (("calibration", "matmul_ceiling"), ("reference", "matmul"))


@dataclass(frozen=True)
class MeasuredCeiling:
    """A dense bf16 matmul rate measured on the GPU of a baseline folder.

    Attributes:
        flops_per_s: Achieved FLOP/s of the matmul loop. Units: FLOP/s.
        record_id: The record it comes from.
        gpu_uuid: The GPU it was measured on (None if the record does not say).
    """

    flops_per_s: float
    record_id: str
    gpu_uuid: str | None


def _gpu_uuid(record: Any) -> str | None:
    """The one GPU a record ran on (the results layer's rule, any machine-state layout), else None."""
    uuids = gpu_uuids(record)
    if len(uuids) == 1:
        return next(iter(uuids))
    state = record.machine_state or {}
    return state.get("gpu_uuid") if not uuids else None


def measured_ceilings(rf: Any) -> dict[str | None, MeasuredCeiling]:
    """GPU uuid -> the matmul ceiling measured on it in these results (the highest if several)."""
    found: dict[str | None, MeasuredCeiling] = {}
    for suite, component in CEILING_RECORDS:
        for r in rf.select(suite=suite, component=component):
            extra = r.extra or {}
            if "achieved_flops_per_s" in (r.rounds or {}):
                rate = max(float(v) for v in r.rounds["achieved_flops_per_s"])
            elif "achieved_tflops" in extra:
                rate = float(extra["achieved_tflops"]) * 1e12
            elif "iterations" in extra and "flops_per_iteration" in extra:
                seconds = statistics.fmean(round_values(r, LATENCY_KEY))
                rate = float(extra["iterations"]) * float(extra["flops_per_iteration"]) / seconds
            else:
                continue
            uuid = _gpu_uuid(r)
            if uuid not in found or found[uuid].flops_per_s < rate:
                found[uuid] = MeasuredCeiling(rate, r.id, uuid)
    return found


def _ceiling_of(point: dict[str, Any], ceilings: dict[str | None, MeasuredCeiling]) -> MeasuredCeiling | None:
    """The ceiling measured on the point's GPU (a record without a uuid matches a folder of one ceiling)."""
    if point["gpu_uuid"] in ceilings:
        return ceilings[point["gpu_uuid"]]
    if point["gpu_uuid"] is None or None in ceilings:
        return next(iter(ceilings.values())) if len(ceilings) == 1 else None
    return None


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
        energy = statistics.fmean(round_values(r, ENERGY_KEY))
        points.append(
            {
                "gpu_uuid": _gpu_uuid(r),
                "energy_per_flop_j": energy / flops,
                "record_id": r.id,
                "token_length": tokens,
                "step_flops": flops,
                "intensity_flops_per_byte": theory.step_intensity(model, r.settings),
                "achieved_flops_per_s": flops / seconds,
                "step_s": seconds,
            }
        )
    return sorted(points, key=lambda p: p["token_length"])


def _spread(values: list[float]) -> float:
    return max(values) / min(values) if len(values) >= 2 else float("nan")


def _judge_model(
    points: list[dict[str, Any]],
    threshold: int | None,
    ridge: float,
    ceilings: dict[str | None, MeasuredCeiling],
) -> dict[str, Any]:
    base: dict[str, Any] = {"points": points, "threshold_tokens": threshold, "ridge_flops_per_byte": ridge}
    if threshold is None:
        return {
            **base,
            "judged": False,
            "holds": None,
            "below_ridge": [],
            "stable_points": 0,
            "reason": "the theory has no single token length for this model (a UNet)",
        }
    above = [p for p in points if p["token_length"] >= threshold]
    large = [p for p in points if p["token_length"] >= STABLE_MIN_TOKENS]
    stable = [{**p, "ceiling": _ceiling_of(p, ceilings)} for p in large]
    no_ceiling = sorted({str(p["gpu_uuid"]) for p in stable if p["ceiling"] is None})
    stable = [p for p in stable if p["ceiling"] is not None]
    rates = [p["achieved_flops_per_s"] for p in stable]
    fractions = [p["achieved_flops_per_s"] / p["ceiling"].flops_per_s for p in stable]
    per_flop = [p["energy_per_flop_j"] for p in stable]
    judged = len(stable) >= 2
    criteria = {
        "reaches_ceiling": bool(fractions) and min(fractions) >= MIN_CEILING_FRACTION,
        "not_above_ceiling": bool(fractions) and max(fractions) <= MAX_CEILING_FRACTION,
        "flops_stable": _spread(rates) <= STABLE_MAX_RATIO,
        "energy_per_flop_stable": _spread(per_flop) <= ENERGY_PER_FLOP_MAX_RATIO,
    }
    used = {p["ceiling"].record_id: p["ceiling"].flops_per_s for p in stable}
    return {
        **base,
        "ceilings_flops_per_s": used,
        "ceiling_flops_per_s": max(used.values(), default=float("nan")),
        "ceiling_record": ", ".join(used),
        "left_out_no_ceiling": len(large) - len(stable),
        "gpus_without_ceiling": no_ceiling,
        "points_above_threshold": len(above),
        "below_ridge": [p["record_id"] for p in above if p["intensity_flops_per_byte"] <= ridge],
        "stable_points": len(stable),
        "flops_ratio_max_min": _spread(rates),
        "energy_per_flop_ratio_max_min": _spread(per_flop),
        "min_ceiling_fraction": min(fractions, default=float("nan")),
        "max_ceiling_fraction": max(fractions, default=float("nan")),
        "min_achieved_flops_per_s": min(rates, default=float("nan")),
        "max_achieved_flops_per_s": max(rates, default=float("nan")),
        "criteria": criteria,
        "judged": judged,
        "holds": judged and all(criteria.values()),
    }


def _describe(model: str, gpu: str, d: dict[str, Any]) -> str:
    if d["threshold_tokens"] is None:
        return f"{model} on {gpu}: not judged: {d['reason']}"
    if not d["judged"]:
        return (
            f"{model} on {gpu}: not judged: {d['stable_points']} point(s) with l >= {STABLE_MIN_TOKENS} on a "
            f"GPU with a measured ceiling, needs 2" + _no_ceiling_note(d)
        )
    failed = [k for k, ok in d["criteria"].items() if not ok]
    return (
        f"{model} on {gpu}: {d['stable_points']} points with l >= {STABLE_MIN_TOKENS} achieve "
        f"{d['min_achieved_flops_per_s'] / 1e12:.4g}-{d['max_achieved_flops_per_s'] / 1e12:.4g} TFLOP/s = "
        f"{d['min_ceiling_fraction']:.1%}-{d['max_ceiling_fraction']:.1%} of the matmul ceiling "
        f"{d['ceiling_flops_per_s'] / 1e12:.4g} TFLOP/s measured on the same GPU ({d['ceiling_record']}; "
        f"needs {MIN_CEILING_FRACTION:.0%}-{MAX_CEILING_FRACTION:.0%}), "
        f"FLOP/s max/min {d['flops_ratio_max_min']:.3f} "
        f"(<= {STABLE_MAX_RATIO}), "
        f"energy/FLOP max/min {d['energy_per_flop_ratio_max_min']:.3f} (<= {ENERGY_PER_FLOP_MAX_RATIO}); "
        f"analytic intensity at or below the ridge {d['ridge_flops_per_byte']:.4g} FLOP/B at "
        f"{len(d['below_ridge'])} of {d['points_above_threshold']} points above the threshold l >= "
        f"{d['threshold_tokens']}: "
        + ("holds" if d["holds"] else f"does NOT hold ({', '.join(failed)})")
        + _no_ceiling_note(d)
    )


def _no_ceiling_note(d: dict[str, Any]) -> str:
    if not d.get("left_out_no_ceiling"):
        return ""
    return (
        f" [{d['left_out_no_ceiling']} point(s) left out: measured on GPU(s) "
        f"{', '.join(d['gpus_without_ceiling'])} with no ceiling measured on them]"
    )


def _row(model: str, d: dict[str, Any]) -> ClaimRow:
    if not d["judged"]:
        reason = d.get("reason") or (
            f"not judged: {d['stable_points']} point(s) with l >= {STABLE_MIN_TOKENS} on a GPU with a "
            "measured ceiling (needs 2)" + _no_ceiling_note(d)
        )
        return ClaimRow(model, "achieved FLOP/s", None, reason)
    figure = (
        f"{d['min_ceiling_fraction']:.1%}-{d['max_ceiling_fraction']:.1%} of the measured matmul ceiling "
        f"{d['ceiling_flops_per_s'] / 1e12:.4g} TFLOP/s over {d['stable_points']} points; FLOP/s max/min "
        f"{d['flops_ratio_max_min']:.3f}; energy/FLOP max/min {d['energy_per_flop_ratio_max_min']:.3f}"
    )
    return ClaimRow(model, "achieved FLOP/s", d["holds"], figure)


def check_compute_bound(results: Any, theory: theory_view.TheoryView | None = None) -> ClaimResult:
    """Claim 3: compute-bound above the threshold token length, judged against a measured matmul ceiling.

    Args:
        results: A ``ResultFile`` or a path to a result file or folder.
        theory: FLOPs, intensity, GPU and threshold provider; default: the theory layer for the results' GPU.

    Returns:
        The verdict; undecided (``holds`` False) when the folder holds no measured matmul ceiling.

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
    ceilings = measured_ceilings(rf)
    if not ceilings:
        return undecided(
            "compute_bound",
            f"no matmul ceiling measured on this GPU in {label} (a 'reference' matmul or 'calibration' "
            "matmul_ceiling record): run `python -m t2v_energy_lib.bench.calibrate OUT/calibration.json` "
            "in the same run as the suites",
        )
    details: dict[str, Any] = {}
    lines = []
    for model in models_in(records):
        points = _step_points(rf, label, model, theory)
        threshold = theory.threshold_tokens(model)
        d = _judge_model(points, threshold, theory.ridge_flops_per_byte, ceilings)
        details[model] = d
        lines.append(_describe(model, theory.gpu_name, d))
    if not any(d["judged"] for d in details.values()):
        most = max((d["stable_points"] for d in details.values()), default=0)
        raise TooFewPointsError(
            f"undecided: the compute-bound claim needs >= 2 measured denoiser_step points with "
            f"l >= {STABLE_MIN_TOKENS} of one model in {label} (most found: {most}): "
            "run `t2v-energy characterize --suites resolution`",
            suite="resolution",
            needed=2,
            found=most,
        )
    summary = "; ".join(
        [
            *lines,
            f"criteria: at l >= {STABLE_MIN_TOKENS}, achieved FLOP/s "
            f"{MIN_CEILING_FRACTION:.0%}-{MAX_CEILING_FRACTION:.0%} of the "
            f"matmul ceiling measured on the same GPU, FLOP/s and energy per FLOP max/min <= "
            f"{STABLE_MAX_RATIO}",
        ]
    )
    holds = all(d["holds"] for d in details.values() if d["judged"])
    rows = tuple(_row(m, d) for m, d in details.items())
    return ClaimResult(name="compute_bound", holds=holds, summary=summary, details=details, rows=rows)
