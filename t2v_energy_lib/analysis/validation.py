"""The theory's predictions against measurements: MAPE per sweep for the study's single-mu model and ours.

The predictor fitter (from :class:`~t2v_energy_lib.analysis.theory_view.TheoryView`) sees the measured
per-video points of every sweep present and returns each predictor's per-video energy and latency per record
(cross-validated where it can). The claim holds when the better predictor's MAPE is below the study's on
every sweep, for both energy and latency.
"""

from __future__ import annotations

from typing import Any

from t2v_energy_lib.analysis import theory_view
from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.fits import mape
from t2v_energy_lib.analysis.points import SweepPoint, latent_frames, pixels, steps, sweep_points
from t2v_energy_lib.errors import FitError, MissingResultsError

SWEEPS = {"resolution": pixels, "frames": latent_frames, "steps": steps}
METRIC_INDEX = {"energy_j": 0, "latency_s": 1}


def measured_sweeps(rf: Any, label: str) -> dict[str, list[SweepPoint]]:
    """Measured per-video points of every sweep present (all models and fixed settings pooled per sweep).

    Raises:
        MissingResultsError: None of the sweeps has records.
    """
    out: dict[str, list[SweepPoint]] = {}
    for suite, x_of in SWEEPS.items():
        for model in dict.fromkeys(r.model for r in rf.select(suite=suite)):
            groups, _ = sweep_points(rf, label, suite, x_of, model)
            out.setdefault(suite, []).extend(p for g in groups.values() for p in g)
    if not out:
        raise MissingResultsError(
            f"no 'resolution', 'frames' or 'steps' records in {label}: run "
            f"`t2v-energy characterize --suites resolution,frames,steps`",
            suite="resolution",
        )
    return out


def _mape_of(points: list[SweepPoint], per_record: Any, metric: str) -> float:
    i = METRIC_INDEX[metric]
    measured = [p.energy_mean_j if metric == "energy_j" else p.latency_mean_s for p in points]
    return mape([per_record[p.record_id][i] for p in points], measured)


def check_predictors(results: Any, theory: theory_view.TheoryView | None = None) -> ClaimResult:
    """The better predictor beats the study's single-mu model on every sweep (energy and latency MAPE).

    Args:
        results: A ``ResultFile`` or a path to a result file or folder.
        theory: Provider of the predictor fitter; default: the theory layer.

    Raises:
        MissingResultsError: No sweep records at all.
        FitError: No predictor fitter, fewer than two predictors, or a point without a prediction.
    """
    from t2v_energy_lib.analysis.points import open_results

    rf, label = open_results(results)
    sweeps = measured_sweeps(rf, label)
    theory = theory or theory_view.from_theory(rf.provenance)
    if theory.fit_predictors is None:
        raise FitError("the theory layer offers no predictor fitter; the predictor claim cannot be checked")
    predictions, cross_validated = theory.fit_predictors(sweeps)
    names = list(predictions)
    if len(names) < 2:
        raise FitError(f"need the study's predictor and a better one; the fitter returned {names}")
    study, ours = names[0], names[1]
    details: dict[str, Any] = {}
    lines = []
    for suite, points in sweeps.items():
        missing = [p.record_id for p in points if any(p.record_id not in predictions[n] for n in names)]
        if missing:
            raise FitError(
                f"the predictor fitter gave no prediction for {missing[:3]} of the '{suite}' sweep"
            )
        table = {n: {m: _mape_of(points, predictions[n], m) for m in METRIC_INDEX} for n in names}
        ok = all(table[ours][m] < table[study][m] for m in METRIC_INDEX)
        by_record = {n: {p.record_id: predictions[n][p.record_id] for p in points} for n in names}
        details[suite] = {"mape": table, "holds": ok, "predictions_by_record": by_record, "n": len(points)}
        lines.append(
            f"{suite} ({len(points)} points): "
            + ", ".join(
                f"{n} energy {table[n]['energy_j']:.2%} latency {table[n]['latency_s']:.2%}" for n in names
            )
            + f": {'holds' if ok else 'does NOT hold'}"
        )
    kind = "cross-validated" if cross_validated else "in-sample (no cross-validation available)"
    details["cross_validated"] = cross_validated
    holds = all(d["holds"] for d in details.values() if isinstance(d, dict))
    summary = f"MAPE {kind}, '{ours}' vs the study's '{study}': " + "; ".join(lines)
    return ClaimResult(name="better_predictor", holds=holds, summary=summary, details=details)
