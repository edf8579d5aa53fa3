"""Turn settings and measured result records into :class:`PredictorPoint` features for the predictors."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from t2v_energy_lib.errors import FitError
from t2v_energy_lib.theory.generation import cfg_execution, denoiser_flops
from t2v_energy_lib.theory.predictors import PredictorPoint, study_generic_flops

#: Result components a point can be built from, and how many denoiser forwards each covers per unit.
SCOPES = ("denoiser_step", "denoiser_forward")

_KEY_ALIASES = {
    "height": ("height",),
    "width": ("width",),
    "num_frames": ("num_frames", "frames"),
    "num_inference_steps": ("num_inference_steps", "steps"),
    "guidance_scale": ("guidance_scale", "guidance"),
}


def settings_from_mapping(spec: Any, data: Mapping[str, Any]) -> Any:
    """``GenerationSettings`` from a record's settings dict (missing keys take the spec's defaults)."""
    from t2v_energy_lib.models import GenerationSettings

    values: dict[str, Any] = {}
    for name, keys in _KEY_ALIASES.items():
        for key in keys:
            if key in data:
                values[name] = data[key]
                break
        else:
            values[name] = getattr(spec.defaults, name)
    return GenerationSettings(
        int(values["height"]),
        int(values["width"]),
        int(values["num_frames"]),
        int(values["num_inference_steps"]),
        float(values["guidance_scale"]),
    )


def predictor_point(
    spec: Any, settings: Any, latency_s: float = 0.0, energy_j: float = 0.0, scope: str = "denoiser_step"
) -> PredictorPoint:
    """Features of one denoising step (all CFG forwards) or one forward of ``spec`` at ``settings``.

    Args:
        spec: A models-layer ``ModelSpec``.
        settings: ``GenerationSettings``.
        latency_s: Measured latency of the scope (0 when only predicting). Units: s.
        energy_j: Measured energy of the scope. Units: J.
        scope: ``denoiser_step`` or ``denoiser_forward``.
    """
    if scope not in SCOPES:
        raise FitError(f"scope {scope!r} is not one of {SCOPES}; fit on denoiser_step records")
    forwards, batch = cfg_execution(spec, settings.guidance_scale)
    if scope == "denoiser_forward":
        forwards = 1
    fwd = denoiser_flops(spec, settings, batch)
    l = int(spec.token_length(settings.height, settings.width, settings.num_frames))  # noqa: E741 (l: token length, the paper's notation)
    return PredictorPoint(
        gemm_flops=forwards * (fwd.flops_of_kind("gemm") + fwd.flops_of_kind("conv")),
        attention_flops=forwards * fwd.flops_of_kind("attention"),
        forwards=forwards,
        token_length=batch * l,
        latency_s=latency_s,
        energy_j=energy_j,
        generic_flops=study_generic_flops(l, forwards * batch),
        label=settings.id,
    )


def points_from_records(
    records: Iterable[Any], spec: Any, component: str = "denoiser_step", energy_key: str = "gpu_energy_j"
) -> list[PredictorPoint]:
    """Points from result records of ``spec.id`` and ``component`` (medians of their rounds).

    Raises:
        FitError: No matching record, or a record without ``latency_s`` / ``energy_key`` rounds.
    """
    points = []
    for rec in records:
        if rec.model != spec.id or rec.component != component:
            continue
        for key in ("latency_s", energy_key):
            if not rec.rounds.get(key):
                raise FitError(f"record {rec.id} has no {key!r} rounds; re-run the suite that measures it")
        settings = settings_from_mapping(spec, rec.settings)
        points.append(
            predictor_point(
                spec,
                settings,
                statistics.median(rec.rounds["latency_s"]),
                statistics.median(rec.rounds[energy_key]),
                scope=component,
            )
        )
    if not points:
        raise FitError(f"no {component!r} records of {spec.id} in the results; measure a sweep first")
    return points
