"""The composition method as claims: composed records re-derived from their parts, and complete generations.

A composed per-video record is ``text_encoder + S x denoiser_step + vae_decode`` (or ``text_encoder +
denoise_loop + vae_decode``); a ``denoise_loop`` of a traced run is the sum of its first S per-step windows
(composed past the trace: the trace plus the mean step for the rest). :func:`check_composition` re-derives
every one of them from the stored parts (within :data:`REDERIVE_TOLERANCE`, i.e. rounding) and checks every
validation complete generation against its composition plus the pipeline's fixed per-call overhead taken from
the OTHER validation points, within :data:`COMPOSITION_BAND`. :func:`check_complete_generations` checks the
cross-model complete generations against their raw composition (no overhead) within the same band.
The alternatives rejected: a composed figure that does not follow from its parts (edited, or a formula
changed), and a composition that misses a real cost of the generation.
"""

from __future__ import annotations

import math
from typing import Any

from t2v_energy_lib.analysis.claim import ClaimResult, ClaimRow
from t2v_energy_lib.analysis.points import open_results, require_records
from t2v_energy_lib.bench.compose import composition_checks, means
from t2v_energy_lib.errors import MissingResultsError, TooFewPointsError

#: Relative difference allowed between a stored composed figure and the one re-derived from its parts.
REDERIVE_TOLERANCE = 1e-9
#: A complete generation against its composition (validation: plus the leave-one-out overhead).
COMPOSITION_BAND = 0.03
QUANTITIES = ("latency_s", "gpu_energy_j")


def _loop_from_trace(record: Any, trace: Any) -> dict[str, float]:
    """A denoise_loop's figures from its traced run: prefix sums, then the mean step past the trace."""
    steps = int(record.settings["num_inference_steps"])
    out = {}
    for q in QUANTITIES:
        values = [float(v) for v in (trace.rounds or {}).get(q, [])]
        if not values:
            continue
        prefix = math.fsum(values[:steps])
        out[q] = prefix + max(0, steps - len(values)) * math.fsum(values) / len(values)
    return out


def rederive(record: Any, by_id: dict[str, Any]) -> tuple[dict[str, float] | None, str]:
    """The figures of a composed or loop record re-derived from its stored parts, or None and why not."""
    parts = (record.extra or {}).get("parts") or {}
    missing = [pid for pid in parts.values() if pid not in by_id]
    if not parts or missing:
        return None, f"parts missing: {missing or 'none listed'}"
    if record.component == "denoise_loop":
        return _loop_from_trace(record, by_id[parts["trace"]]), "trace prefix"
    part_means = {name: means(by_id[pid].rounds) for name, pid in parts.items()}
    if "denoiser_step" in part_means:
        steps = int(record.settings["num_inference_steps"])
        loop = {q: steps * v for q, v in part_means["denoiser_step"].items()}
    elif "denoise_loop" in part_means:
        loop = part_means["denoise_loop"]
    else:
        return None, f"no denoiser part in {sorted(parts)}"
    text, vae = part_means.get("text_encoder"), part_means.get("vae_decode")
    if text is None or vae is None:
        return None, f"text_encoder or vae_decode part missing in {sorted(parts)}"
    return {
        q: text[q] + loop[q] + vae[q] for q in QUANTITIES if q in text and q in loop and q in vae
    }, "parts"


def _rederivation_rows(rf: Any) -> list[ClaimRow]:
    by_id = rf.by_id()
    rows = []
    for r in rf.records:
        if r.component not in ("composed", "denoise_loop") or not (r.extra or {}).get("parts"):
            continue
        derived, how = rederive(r, by_id)
        stored = means(r.rounds or {})
        if derived is None:
            rows.append(ClaimRow(r.id, "re-derived", False, how))
            continue
        diffs = {q: (stored[q] - derived[q]) / derived[q] for q in derived if q in stored and derived[q]}
        worst = max(diffs.items(), key=lambda kv: abs(kv[1]), default=("-", 0.0))
        ok = bool(diffs) and abs(worst[1]) <= REDERIVE_TOLERANCE
        rows.append(ClaimRow(r.id, "re-derived", ok, f"{worst[0]} stored vs from {how}: {worst[1]:+.3g}"))
    return rows


def _validation_rows(rf: Any) -> list[ClaimRow]:
    by_id = rf.by_id()
    points = {}
    for record in rf.select(suite="validation", component="composed"):
        e2e = by_id.get(record.id.rsplit("/", 1)[0] + "/end_to_end")
        if e2e is not None:
            points[record.id.rsplit("/", 1)[0]] = (means(record.rounds), means(e2e.rounds))
    if len(points) < 2:
        raise TooFewPointsError(
            f"undecided: the composition band needs >= 2 validation points with a complete generation; found "
            f"{len(points)}: run `t2v-energy characterize --suites validation`",
            suite="validation",
            needed=2,
            found=len(points),
        )
    # a CPU run has no GPU energy: judge the quantities that every point measured (latency at least)
    quantities = [q for q in QUANTITIES if all(q in c and q in m for c, m in points.values())]
    if not quantities:
        raise TooFewPointsError(
            f"undecided: the validation points share no measured quantity of {', '.join(QUANTITIES)}",
            suite="validation",
            needed=1,
            found=0,
        )
    rows = []
    for c in composition_checks(points, quantities):
        figure = (
            f"composed + overhead {c.overhead:.4g} (other points) vs measured: {c.relative_difference:+.2%} "
            f"(raw {c.raw_relative_difference:+.2%}; band {COMPOSITION_BAND:.0%})"
        )
        rows.append(ClaimRow(c.point_id, c.quantity, abs(c.relative_difference) <= COMPOSITION_BAND, figure))
    return rows


def _result(name: str, rows: list[ClaimRow], criteria: str) -> ClaimResult:
    failed = [f"{r.subject} {r.quantity}: {r.figure}" for r in rows if not r.holds]
    summary = f"{len(rows) - len(failed)} of {len(rows)} checks hold" + (
        f"; does NOT hold: {'; '.join(failed)}" if failed else ""
    )
    details = {"rows": rows, "failed": failed}
    return ClaimResult(name, not failed, f"{summary}; criteria: {criteria}", details, rows=tuple(rows))


def check_composition(results: Any) -> ClaimResult:
    """Every composed record follows from its parts; every validation generation is within the band.

    Raises:
        MissingResultsError: No 'validation' records.
        TooFewPointsError: Fewer than two validation points with a complete generation (undecided).
    """
    rf, label = open_results(results)
    require_records(rf, label, "validation")
    rows = _rederivation_rows(rf) + _validation_rows(rf)
    criteria = (
        f"every composed and denoise_loop record within {REDERIVE_TOLERANCE:g} of its re-derivation from the "
        f"stored parts; every validation complete generation within {COMPOSITION_BAND:.0%} of its "
        "composition plus the fixed overhead of the other points"
    )
    return _result("composition", rows, criteria)


def check_complete_generations(results: Any) -> ClaimResult:
    """Every cross-model complete generation within the band of its raw composition (no overhead added).

    Raises:
        MissingResultsError: No cross_model end_to_end records.
    """
    rf, label = open_results(results)
    generations = require_records(rf, label, "cross_model", component="end_to_end")
    by_id = rf.by_id()
    rows = []
    for e2e in generations:
        composed = by_id.get(e2e.id.rsplit("/", 1)[0] + "/composed")
        if composed is None:
            rows.append(ClaimRow(e2e.id, "-", False, "no composed record at the same settings"))
            continue
        c, m = means(composed.rounds), means(e2e.rounds)
        for q in (q for q in QUANTITIES if q in c and q in m):  # a CPU run has no GPU energy
            diff = (c[q] - m[q]) / m[q]
            rows.append(
                ClaimRow(e2e.id, q, abs(diff) <= COMPOSITION_BAND, f"composed vs measured {diff:+.2%}")
            )
    if not rows:
        raise MissingResultsError(f"no cross_model complete generations in {label}", suite="cross_model")
    return _result(
        "complete_generations",
        rows,
        f"composed within {COMPOSITION_BAND:.0%} of every measured complete generation (raw)",
    )
