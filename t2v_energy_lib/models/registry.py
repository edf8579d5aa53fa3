"""The registry of model specs: ids, defaults (diffusers 0.42.1 pipelines), CFG modes and shape rules.

One line per model; what a family shares (shape rules, denoiser summary, FLOP model, build quirks) is declared
in its module under :mod:`t2v_energy_lib.models.families`. A model of a known family is its configs plus one
line here.
"""

from __future__ import annotations

import difflib

from t2v_energy_lib.errors import UnknownModelError
from t2v_energy_lib.models.families import animatediff, cogvideox, hunyuanvideo, ltx, mochi, wan
from t2v_energy_lib.models.settings import GenerationSettings as G
from t2v_energy_lib.models.spec import ModelSpec

_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "wan2.1-t2v-1.3b",
        "wan",
        "WanPipeline",
        "wan2.1-t2v-1.3b.json",
        G(480, 832, 81, 50, 5.0),
        "two_pass",
        512,
        wan.RULES_21,
        dtype_overrides=wan.FP32_VAE,
        min_diffusers="0.33",
        description="Wan2.1 T2V 1.3B (UMT5-XXL, 480p)",
        tiny_defaults=G(32, 32, 9, 2, 5.0),
    ),
    ModelSpec(
        "wan2.1-t2v-14b",
        "wan",
        "WanPipeline",
        "wan2.1-t2v-14b.json",
        G(480, 832, 81, 50, 5.0),
        "two_pass",
        512,
        wan.RULES_21,
        dtype_overrides=wan.FP32_VAE,
        min_diffusers="0.33",
        description="Wan2.1 T2V 14B (UMT5-XXL; 480p defaults, 720p also published)",
        tiny_defaults=G(32, 32, 9, 2, 5.0),
    ),
    ModelSpec(
        "wan2.2-ti2v-5b",
        "wan",
        "WanPipeline",
        "wan2.2-ti2v-5b.json",
        G(704, 1280, 121, 50, 5.0),
        "two_pass",
        512,
        wan.RULES_22,
        dtype_overrides=wan.FP32_VAE,
        pipeline_kwargs=(("expand_timesteps", True),),
        min_diffusers="0.35",
        description="Wan2.2 TI2V 5B (16x VAE, per-token timesteps, 720p)",
        tiny_defaults=G(64, 64, 9, 2, 5.0),
    ),
    ModelSpec(
        "cogvideox-2b",
        "cogvideox",
        "CogVideoXPipeline",
        "cogvideox-2b.json",
        G(480, 720, 49, 50, 6.0),
        "batch2",
        226,
        cogvideox.RULES,
        min_diffusers="0.30",
        description="CogVideoX 2B (T5-XXL, sin-cos positions)",
        tiny_defaults=G(32, 32, 9, 2, 6.0),
    ),
    ModelSpec(
        "cogvideox-5b",
        "cogvideox",
        "CogVideoXPipeline",
        "cogvideox-5b.json",
        G(480, 720, 49, 50, 6.0),
        "batch2",
        226,
        cogvideox.RULES,
        min_diffusers="0.30",
        description="CogVideoX 5B (T5-XXL, RoPE)",
        tiny_defaults=G(32, 32, 9, 2, 6.0),
    ),
    ModelSpec(
        "ltx-video",
        "ltx",
        "LTXPipeline",
        "ltx-video.json",
        G(512, 704, 161, 50, 3.0),
        "batch2",
        128,
        ltx.RULES,
        min_diffusers="0.32",
        description="LTX-Video 0.9.0-0.9.6 (2B, 32x/8x VAE)",
        tiny_defaults=G(64, 64, 9, 2, 3.0),
    ),
    ModelSpec(
        "mochi-1-preview",
        "mochi",
        "MochiPipeline",
        "mochi-1-preview.json",
        G(480, 848, 19, 64, 4.5),
        "batch2",
        256,
        mochi.RULES,
        min_diffusers="0.32",
        description="Mochi 1 preview (10B asymmetric DiT; attends to valid text tokens only)",
        tiny_defaults=G(32, 32, 7, 2, 4.5),
    ),
    ModelSpec(
        "animatediff",
        "animatediff",
        "AnimateDiffPipeline",
        "animatediff.json",
        G(512, 512, 16, 50, 7.5),
        "batch2",
        77,
        animatediff.RULES,
        denoiser="unet",
        min_diffusers="0.22",
        description="AnimateDiff motion adapter v1-5-2 on SD1.5 (UNetMotionModel)",
        tiny_defaults=G(32, 32, 8, 2, 7.5),
    ),
    ModelSpec(
        "hunyuanvideo",
        "hunyuanvideo",
        "HunyuanVideoPipeline",
        "hunyuanvideo.json",
        G(720, 1280, 129, 50, 6.0),
        "none",
        256,
        hunyuanvideo.RULES,
        encoder_tokens=256 + 95,
        min_diffusers="0.32",
        description="HunyuanVideo 13B (LLaMA + CLIP, guidance-distilled)",
        tiny_defaults=G(32, 32, 5, 2, 6.0),
    ),
)

_BY_ID = {spec.id: spec for spec in _SPECS}


def list_specs() -> list[ModelSpec]:
    """All full-size model specs, in registry order."""
    return list(_SPECS)


def known_ids() -> list[str]:
    """Every id ``get_spec`` accepts (full-size and ``-tiny``)."""
    return [s.id for s in _SPECS] + [f"{s.id}-tiny" for s in _SPECS]


def get_spec(model_id: str) -> ModelSpec:
    """The spec for ``model_id``; ``"<id>-tiny"`` gives the tiny variant.

    Raises:
        UnknownModelError: listing the known ids and the closest match.
    """
    if model_id in _BY_ID:
        return _BY_ID[model_id]
    if model_id.endswith("-tiny") and model_id[: -len("-tiny")] in _BY_ID:
        return _BY_ID[model_id[: -len("-tiny")]].tiny()
    close = difflib.get_close_matches(model_id, known_ids(), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownModelError(
        f"unknown model id {model_id!r}.{hint} Known ids: {', '.join(s.id for s in _SPECS)} "
        "(append '-tiny' for the CPU test variants)."
    )
