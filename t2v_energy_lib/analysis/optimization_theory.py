"""Theory check of the optimisation suite: FLOP-model prediction of a saving beside the measured one.

The FLOP model (``theory/``) describes three levers: **skipped blocks** (a cache hook's counted skips, each
priced by the FLOPs of the module it skipped), **fewer steps** (the generation's FLOPs at the steps run),
and **CFG batching** (the same FLOPs in fewer, larger forwards: predicted saving 0, so any measured saving is
utilisation, not arithmetic). The predicted saving is the fraction of the default video's FLOPs (denoiser,
text encoder, VAE decoder) that the variant does not execute, i.e. energy proportional to FLOPs. Variants
with any other lever (compilation, attention backends, fp8, VAE tiling) get no prediction: the FLOP model
does not change with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.results.schema import ResultRecord

PREDICTABLE_KINDS = frozenset({"cache", "steps", "cfg_batch"})


@dataclass(frozen=True)
class TheoryCheck:
    """FLOP-predicted saving of one variant.

    Attributes:
        variant: Variant name.
        predicted_fraction: Predicted saving as a fraction of the default video's FLOPs.
        skipped_flops: FLOPs the counted cache skips removed. Units: FLOP.
        video_flops: FLOPs of the default video. Units: FLOP.
        note: How the prediction was made.
    """

    variant: str
    predicted_fraction: float
    skipped_flops: float
    video_flops: float
    note: str


def module_call_flops(ops: Any, path: str, num_layers: int) -> float:
    """FLOPs of one call of the module at ``path`` (block index removed, ``"blocks.attn1"``; ``""`` = the
    whole denoiser) from the FLOP model's operators of one forward. Units: FLOP."""
    if not path:
        return float(sum(op.total_flops for op in ops))
    prefix = path + "."
    total = 0.0
    for op in ops:
        if op.name.startswith(prefix) or op.name == path:
            total += op.flops * op.count / max(1, num_layers)
    return total


def predict(record: ResultRecord) -> TheoryCheck | None:
    """The predicted saving of ``record``'s variant, or None when the FLOP model cannot describe it."""
    from t2v_energy_lib.models import GenerationSettings, get_spec
    from t2v_energy_lib.theory.generation import cfg_execution, denoiser_input, denoiser_ops, generation_flops

    extra = record.extra
    variant = extra.get("variant") or {}
    levers = variant.get("levers") or []
    kinds = {lv.get("kind") for lv in levers}
    if not levers or not kinds <= PREDICTABLE_KINDS or record.component != "end_to_end":
        return None
    spec = get_spec(record.model)
    s = record.settings
    settings = GenerationSettings(
        int(s["height"]), int(s["width"]), int(s["num_frames"]), int(s["num_inference_steps"]),
        float(s["guidance_scale"]),
    )  # fmt: skip
    default = generation_flops(spec, settings)
    steps_run = int(extra.get("steps_run") or settings.num_inference_steps)
    run = generation_flops(
        spec, settings.__class__(**{**settings.__dict__, "num_inference_steps": steps_run})
    )
    forwards, batch = cfg_execution(spec, settings.guidance_scale)
    if "cfg_batch" in kinds:
        batch = 2 if forwards == 2 else batch
    ops = denoiser_ops(spec, denoiser_input(spec, settings, batch))
    layers = int(spec.component_configs[spec.denoiser].get("num_layers", 1))
    skipped = _skipped_flops(extra, ops, layers)
    executed = run.total_flops - skipped
    fraction = 1.0 - executed / default.total_flops
    notes = []
    if "steps" in kinds:
        notes.append(f"{steps_run} of {settings.num_inference_steps} steps")
    if "cache" in kinds:
        notes.append(f"counted skips x module FLOPs = {skipped:.3g} FLOP")
    if "cfg_batch" in kinds:
        notes.append("CFG batching: same FLOPs (predicts no saving)")
    return TheoryCheck(variant.get("name", ""), fraction, skipped, default.total_flops, "; ".join(notes))


def _skipped_flops(extra: Mapping[str, Any], ops: Any, layers: int) -> float:
    hooks = ((extra.get("probe") or {}).get("hooks") or {}).get("skipped_by_module") or {}
    return float(sum(n * module_call_flops(ops, path, layers) for path, n in hooks.items()))
