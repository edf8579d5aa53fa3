"""The theory's predictions against measurements: MAPE per sweep for the study's single-mu model and ours.

The predictor fitter (from :class:`~t2v_energy_lib.analysis.theory_view.TheoryView`) sees the measured
denoising work of every sweep present (``S`` x ``denoiser_step``, or a measured ``denoise_loop``) and returns
each predictor's energy and latency per record, held out (leave-one-out) where it can, and in-sample. The
claim holds when the better predictor's held-out MAPE is below that of every single-mu variant of the study on
every sweep, for both energy and latency. The project's 3% target is reported, not asserted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.analysis import theory_view
from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.fits import mape
from t2v_energy_lib.analysis.points import (
    DENOISING_SOURCES,
    SweepPoint,
    latent_frames,
    open_results,
    pixels,
    steps,
    sweep_points,
)
from t2v_energy_lib.errors import FitError, MissingResultsError

SWEEPS = {"resolution": pixels, "frames": latent_frames, "steps": steps}
METRIC_INDEX = {"energy_j": 0, "latency_s": 1}
#: The accuracy the project aims for (reported beside each MAPE; not part of the claim). Units: fraction.
TARGET_MAPE = 0.03


def measured_sweeps(rf: Any, label: str) -> dict[str, list[SweepPoint]]:
    """Measured denoising points of every sweep present (all models and fixed settings pooled per sweep).

    Raises:
        MissingResultsError: None of the sweeps has records.
    """
    out: dict[str, list[SweepPoint]] = {}
    for suite, x_of in SWEEPS.items():
        for model in dict.fromkeys(r.model for r in rf.select(suite=suite)):
            groups, _ = sweep_points(rf, label, suite, x_of, model, sources=DENOISING_SOURCES)
            out.setdefault(suite, []).extend(p for g in groups.values() for p in g)
    if not out:
        raise MissingResultsError(
            f"no 'resolution', 'frames' or 'steps' records in {label}: run "
            f"`t2v-energy characterize --suites resolution,frames,steps`",
            suite="resolution",
        )
    return out


def _mape_of(points: list[SweepPoint], per_record: Mapping[str, tuple[float, float]], metric: str) -> float:
    i = METRIC_INDEX[metric]
    measured = [p.energy_mean_j if metric == "energy_j" else p.latency_mean_s for p in points]
    return mape([per_record[p.record_id][i] for p in points], measured)


def _table(points: list[SweepPoint], predictions: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    return {n: {m: _mape_of(points, predictions[n], m) for m in METRIC_INDEX} for n in predictions}


def _describe(suite: str, n: int, held: Mapping[str, Any], fit_in: Mapping[str, Any], ok: bool) -> str:
    parts = [
        f"{name} energy {held[name]['energy_j']:.2%} latency {held[name]['latency_s']:.2%} held out "
        f"({fit_in[name]['energy_j']:.2%} / {fit_in[name]['latency_s']:.2%} in-sample)"
        for name in held
    ]
    return f"{suite} ({n} points): {', '.join(parts)}: {'holds' if ok else 'does NOT hold'}"


def check_predictors(results: Any, theory: theory_view.TheoryView | None = None) -> ClaimResult:
    """The better predictor beats every study single-mu variant on every sweep (held-out MAPE, E and t).

    Args:
        results: A ``ResultFile`` or a path to a result file or folder.
        theory: Provider of the predictor fitter; default: the theory layer.

    Raises:
        MissingResultsError: No sweep records at all.
        FitError: No predictor fitter, too few points, or a point without a prediction.
    """
    rf, label = open_results(results)
    sweeps = measured_sweeps(rf, label)
    theory = theory or theory_view.from_theory(rf.provenance)
    if theory.fit_predictors is None:
        raise FitError("the theory layer offers no predictor fitter; the predictor claim cannot be checked")
    fit = theory.fit_predictors(sweeps)
    names = [*fit.study, fit.ours]
    details: dict[str, Any] = {}
    lines = []
    for suite, points in sweeps.items():
        missing = [p.record_id for p in points if any(p.record_id not in fit.held_out[n] for n in names)]
        if missing:
            raise FitError(
                f"the predictor fitter gave no prediction for {missing[:3]} of the '{suite}' sweep"
            )
        held = _table(points, {n: fit.held_out[n] for n in names})
        fit_in = _table(points, {n: fit.in_sample[n] for n in names})
        ok = all(held[fit.ours][m] < held[s][m] for s in fit.study for m in METRIC_INDEX)
        by_record = {n: {p.record_id: fit.held_out[n][p.record_id] for p in points} for n in names}
        details[suite] = {
            "mape": held,
            "mape_in_sample": fit_in,
            "holds": ok,
            "meets_target": all(v <= TARGET_MAPE for v in held[fit.ours].values()),
            "predictions_by_record": by_record,
            "points": points,
            "n": len(points),
        }
        lines.append(_describe(suite, len(points), held, fit_in, ok))
    kind = "held out (leave-one-out)" if fit.cross_validated else "in-sample (no cross-validation available)"
    details["cross_validated"] = fit.cross_validated
    details["parameters"] = fit.parameters
    holds = all(d["holds"] for d in details.values() if isinstance(d, Mapping) and "holds" in d)
    target = ", ".join(
        f"{s} {'meets' if d['meets_target'] else 'misses'}"
        for s, d in details.items()
        if isinstance(d, Mapping) and "meets_target" in d
    )
    summary = (
        f"MAPE {kind}, '{fit.ours}' vs the study's {', '.join(repr(s) for s in fit.study)}: "
        + "; ".join(lines)
        + f"; target <= {TARGET_MAPE:.0%} for '{fit.ours}' (reported, not asserted): {target}"
        + (f"; {fit.note}" if fit.note else "")
    )
    return ClaimResult(name="better_predictor", holds=holds, summary=summary, details=details)
