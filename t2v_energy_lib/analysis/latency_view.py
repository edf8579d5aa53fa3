"""The latency parts of the sweep claims, for results without GPU energy (a CPU run of a tiny model).

A CPU run (``t2v-energy characterize`` on a machine without a GPU, or the pytest ``energy`` fixture without
NVML) stores ``latency_s`` and host ``host_energy_j`` (CPU + RAM; older CLI files stored ``cpu_energy_j`` and
``ram_energy_j``, summed on read; usually ESTIMATED: CPU TDP x utilisation, not RAPL), but no
``gpu_energy_j``. The study's claims are about GPU energy *and* latency; here only their latency criteria are
run (same thresholds, same measured points), and host energy is carried along for plotting, never fitted and
never judged. Every verdict of this module describes the tiny model on the CPU, not the study's models.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.fits import fit_linear, max_relative_deviation
from t2v_energy_lib.analysis.points import (
    ENERGY_KEY,
    HOST_ENERGY_KEY,
    LATENCY_KEY,
    PER_VIDEO_SOURCES,
    STEPS_SOURCES,
    SweepPoint,
    first_source,
    group_points,
    is_estimated,
    is_left_out,
    latent_frames,
    models_in,
    open_results,
    per_video_values,
    pixels,
    record_point,
    require_records,
    round_values,
    steps,
)
from t2v_energy_lib.analysis.sweeps import (
    QUADRATIC_MIN_POINTS,
    STEPS_MIN_POINTS,
    STEPS_MIN_R2,
    judge_groups,
    quadratic_verdict,
)
from t2v_energy_lib.errors import FitError, MissingResultsError

#: What every latency-only verdict says about itself.
SCOPE_NOTE = "latency part only: GPU energy not measured on this run (CPU run of a tiny model)"


#: The latency view's points are the sweep claims' own type, with ``energy_j`` empty and host energy carried.
LatencyPoint = SweepPoint


def has_gpu_energy(results: Any) -> bool:
    """True when any record of the results has ``gpu_energy_j`` rounds."""
    rf, _ = open_results(results)
    return any((r.rounds or {}).get(ENERGY_KEY) for r in rf.records)


def host_energy_is_estimated(record: Any) -> bool:
    """True unless the record states that its host energy was read from RAPL (``host_energy_estimated``
    False): a host figure without the flag is treated as an estimate, never presented as measured."""
    flag = (record.extra or {}).get("host_energy_estimated")
    return flag is None or bool(flag) or is_estimated(record)


def _host_values(record: Any) -> tuple[float, ...] | None:
    if not (record.rounds or {}).get(HOST_ENERGY_KEY):
        return None
    return per_video_values(record, HOST_ENERGY_KEY)


def latency_points(
    rf: Any,
    label: str,
    suite: str,
    x_of: Callable[[str, Mapping[str, Any]], float],
    model: str,
    sources: tuple[str, ...] = PER_VIDEO_SOURCES,
) -> dict[str, list[SweepPoint]]:
    """The measured latency points of one model's sweep, grouped like :func:`~.points.sweep_points`.

    Raises:
        MissingResultsError: The suite has no records of this model in any of ``sources``.
    """
    records = require_records(rf, label, suite, model=model)
    source = first_source(records, sources, model=model, suite=suite, label=label, measured_only=True)
    measured = [r for r in records if r.component == source and not is_left_out(r)]

    def point_of(r: Any) -> SweepPoint:
        point = record_point(r, model, x_of, source, gpu_energy=False)
        return replace(point, host_energy_j=_host_values(r), host_estimated=host_energy_is_estimated(r))

    return group_points(measured, suite, point_of)


def _latency_judge(quadratic: bool) -> Callable[[list[SweepPoint]], dict[str, Any]]:
    """The judgement of one group's latency: quadratic (:func:`~.sweeps.quadratic_verdict`) or linear."""

    def judge(points: list[SweepPoint]) -> dict[str, Any]:
        xs, ys = [p.x for p in points], [p.latency_mean_s for p in points]
        if quadratic:
            verdict = quadratic_verdict(xs, ys)
        else:
            lin = fit_linear(xs, ys)
            verdict = {"linear": lin, "holds": lin.r_squared >= STEPS_MIN_R2}
        return {"holds": verdict["holds"], "latency_s": verdict}

    return judge


def _trace_latency(rf: Any, model: str) -> dict[str, Any]:
    traces = [r for r in rf.select(suite="steps", model=model, component="denoiser_step_trace")]
    if not traces:
        return {}
    values = list(round_values(traces[0], LATENCY_KEY))
    if len(values) < 2:
        return {}
    return {
        "per_step_latency_s": values,
        "latency_max_relative_deviation": max_relative_deviation(values),
        "trace": traces[0].id,
    }


#: Claim name -> (suite, x of a setting, x name, sources, fewest points, quadratic?).
XOf = Callable[[str, Mapping[str, Any]], float]
LATENCY_SWEEPS: dict[str, tuple[str, XOf, str, tuple[str, ...], int, bool]] = {
    "quadratic_in_pixels": ("resolution", pixels, "px", PER_VIDEO_SOURCES, QUADRATIC_MIN_POINTS, True),
    "quadratic_in_frames": ("frames", latent_frames, "latF", PER_VIDEO_SOURCES, QUADRATIC_MIN_POINTS, True),
    "linear_in_steps": ("steps", steps, "S", STEPS_SOURCES, STEPS_MIN_POINTS, False),
}


def check_latency_sweep(results: Any, name: str) -> ClaimResult:
    """The latency criteria of sweep claim ``name`` (see :data:`LATENCY_SWEEPS`) on measured points.

    Quadratic claims: quadratic fit of latency R^2 >= 0.99, c2 > 0, linear rejected by the F-test at
    p < 0.01. Steps: linear fit of latency R^2 >= 0.999. The per-step *energy* band of the steps claim is not
    judged (no GPU energy); the traced run's per-step latency spread is reported instead. Units: s.

    Raises:
        MissingResultsError: No records of the claim's suite.
        TooFewPointsError: No group has enough measured points.
    """
    suite, x_of, x_name, sources, min_points, quadratic = LATENCY_SWEEPS[name]
    rf, label = open_results(results)
    records = require_records(rf, label, suite)
    details: dict[str, Any] = {}
    lines = []
    for model in models_in(records):
        grouped = latency_points(rf, label, suite, x_of, model, sources)
        groups = judge_groups(grouped, min_points, _latency_judge(quadratic), suite, "latency judgement")
        source = next(g[0].source for g in grouped.values() if g)
        judged = [g for g in groups.values() if g["judged"]]
        details[model] = {
            "groups": groups,
            "source": source,
            "holds": all(g["holds"] for g in judged),
            **(_trace_latency(rf, model) if suite == "steps" else {}),
        }
        for key, g in groups.items():
            if g["judged"]:
                fit = g["latency_s"].get("quadratic") or g["latency_s"]["linear"]
                coeffs = " + ".join(
                    f"{c:.4g}*{x_name}^{i}" if i else f"{c:.4g}" for i, c in enumerate(fit.coefficients)
                )
                verdict = "holds" if g["holds"] else "does NOT hold"
                lines.append(
                    f"{model} [{key}] ({len(g['points'])} {source} points): latency_s = {coeffs} "
                    f"(R^2={fit.r_squared:.5f}): {verdict}"
                )
    holds = all(d["holds"] for d in details.values())
    return ClaimResult(name=name, holds=holds, summary="; ".join([*lines, SCOPE_NOTE]), details=details)


def check_latency_sweeps(results: Any) -> dict[str, ClaimResult | FitError]:
    """:func:`check_latency_sweep` for every sweep claim; a check that cannot run gives its ``FitError``."""
    rf, _ = open_results(results)
    out: dict[str, ClaimResult | FitError] = {}
    for name in LATENCY_SWEEPS:
        try:
            out[name] = check_latency_sweep(rf, name)
        except FitError as exc:
            out[name] = exc
    return out


def latency_shares(results: Any) -> dict[str, dict[str, Any]]:
    """Per model of the 'cross_model' suite: per-video latency of each measured part and the whole.

    Keys like :func:`~.breakdown.denoiser_shares` (``model``, or ``model@i`` when a model has several
    settings). Each value: ``parts_s`` (``text_encoder``, ``denoiser_step`` x steps, ``vae_decode``),
    ``total_s`` (the measured ``end_to_end`` video if there is one, else the sum of the parts),
    ``total_from``, ``share`` (denoiser / total) and ``settings``. Units: s.

    Raises:
        MissingResultsError: No usable 'cross_model' records.
    """
    from t2v_energy_lib.analysis.breakdown import ERROR_COMPONENTS, PARTS, _settings_key

    rf, label = open_results(results)
    records = [r for r in require_records(rf, label, "cross_model") if r.component not in ERROR_COMPONENTS]
    out: dict[str, dict[str, Any]] = {}
    for model in models_in(records):
        groups: dict[str, dict[str, Any]] = {}
        for r in records:
            if r.model == model and r.component in (*PARTS, "end_to_end"):
                groups.setdefault(_settings_key(r.settings), {})[r.component] = r
        for i, by_component in enumerate(groups.values()):
            parts = {
                p: statistics.fmean(per_video_values(by_component[p], LATENCY_KEY))
                for p in PARTS
                if p in by_component
            }
            if "denoiser_step" not in parts:
                continue
            e2e = by_component.get("end_to_end")
            total_s = statistics.fmean(per_video_values(e2e, LATENCY_KEY)) if e2e else sum(parts.values())
            out[model if len(groups) == 1 else f"{model}@{i}"] = {
                "parts_s": parts,
                "total_s": total_s,
                "total_from": "end_to_end" if e2e else "sum of parts",
                "share": parts["denoiser_step"] / total_s,
                "settings": dict(next(iter(by_component.values())).settings),
            }
    if not out:
        raise MissingResultsError(
            f"no 'cross_model' denoiser_step records in {label}: run `t2v-energy characterize --suites "
            "cross_model`",
            suite="cross_model",
            component="denoiser_step",
        )
    return out
