"""The theory layer's predictors fitted on the measured denoising work of every sweep, with holdouts.

Each measured sweep point is the denoising part of one video: ``S`` steps of the denoiser (a
``denoiser_step`` record times ``S``, or a measured ``denoise_loop``). Its features are the theory's
``predictor_point`` of one step (every CFG forward) scaled by ``S``. Both predictors (the study's single-mu,
on our real-shape FLOPs and on the study's generic-shape FLOPs, and the per-operator one) are fitted once on
all points pooled over sweeps (in-sample) and once per point without it (leave-one-out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from t2v_energy_lib.analysis.theory_view import PredictorFit
from t2v_energy_lib.errors import TooFewPointsError

STUDY_PREDICTORS = ("single_mu", "single_mu_generic")
OUR_PREDICTOR = "per_operator"


def denoising_point(point: Any) -> Any:
    """The theory's ``PredictorPoint`` of a sweep point's ``S`` denoising steps, with its measured means.

    Args:
        point: A ``SweepPoint`` whose values cover ``settings['num_inference_steps']`` denoising steps.
    """
    from t2v_energy_lib import theory
    from t2v_energy_lib.models import get_spec

    spec = get_spec(point.model)
    settings = theory.settings_from_mapping(spec, point.settings)
    step = theory.predictor_point(spec, settings)
    n = float(settings.num_inference_steps)
    return dataclasses.replace(
        step,
        gemm_flops=step.gemm_flops * n,
        attention_flops=step.attention_flops * n,
        forwards=step.forwards * n,
        generic_flops=step.generic_flops * n,
        latency_s=point.latency_mean_s,
        energy_j=point.energy_mean_j,
        label=point.record_id,
    )


def _predict_all(cmp: Any, point: Any) -> dict[str, tuple[float, float]]:
    """Predictor name -> (energy J, latency s) of ``point`` from one ``PredictorComparison``."""
    out = {}
    for name, fitted in cmp.predictors().items():
        latency_s, energy_j = fitted.predict(point)
        out[name] = (float(energy_j), float(latency_s))
    return out


def fit_sweep_predictors(sweeps: Mapping[str, Sequence[Any]], peak_flops: float) -> PredictorFit:
    """Fit the theory's predictors on every sweep's points pooled; predict each point in-sample and held out.

    Args:
        sweeps: Sweep name -> ``SweepPoint`` list (denoising work of ``S`` steps per point).
        peak_flops: The single-mu models' peak. Units: FLOP/s.

    Raises:
        TooFewPointsError: Fewer than 6 points (the per-operator model has 4 parameters; a holdout
            needs 5 left).
    """
    from t2v_energy_lib import theory

    points = [p for pts in sweeps.values() for p in pts]
    if len(points) < 6:
        raise TooFewPointsError(
            f"the predictor comparison needs >= 6 measured points over all sweeps (4 parameters plus a "
            f"held-out point); found {len(points)}: measure more settings",
            suite="+".join(sorted(sweeps)) or "resolution",
            needed=6,
            found=len(points),
        )
    features = [denoising_point(p) for p in points]
    full = theory.fit_predictors(features, peak_flops=peak_flops)
    names = list(full.predictors())
    in_sample: dict[str, dict[str, tuple[float, float]]] = {n: {} for n in names}
    held_out: dict[str, dict[str, tuple[float, float]]] = {n: {} for n in names}
    for i, (point, feature) in enumerate(zip(points, features, strict=True)):
        for name, value in _predict_all(full, feature).items():
            in_sample[name][point.record_id] = value
        rest = features[:i] + features[i + 1 :]
        for name, value in _predict_all(theory.fit_predictors(rest, peak_flops=peak_flops), feature).items():
            held_out.setdefault(name, {})[point.record_id] = value
    parameters = {
        n: {**dict(f.latency_params), **dict(f.energy_params)} for n, f in full.predictors().items()
    }
    note = (
        f"{len(points)} points (denoising work of S steps: S x denoiser_step, or a measured denoise_loop; "
        f"text encoder and VAE excluded), pooled over sweeps {sorted(sweeps)}; "
        f"single-mu peak {peak_flops / 1e12:.4g} TFLOP/s; held out = leave one point out"
    )
    return PredictorFit(
        held_out=held_out,
        in_sample=in_sample,
        study=tuple(n for n in STUDY_PREDICTORS if n in names),
        ours=OUR_PREDICTOR,
        cross_validated=True,
        parameters=parameters,
        note=note,
    )
