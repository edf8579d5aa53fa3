"""Wan (Wan2.1 T2V, Wan2.2 TI2V): UMT5 text cross-attention, 4x temporal VAE (8x or 16x spatial).

Denoiser keys: ``num_attention_heads``, ``attention_head_dim``, ``num_layers``, ``ffn_dim``, ``patch_size``
``[t, h, w]``, ``in_channels``, ``text_dim``. Wan2.2-5B's pipeline runs per-token timesteps
(``expand_timesteps``), which its FLOP model counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.models.families.base import ModelFamily, dit_shape
from t2v_energy_lib.models.spec import DenoiserShape, ShapeRules

RULES_21 = ShapeRules(
    "Wan 2.1", vae_temporal=4, vae_spatial=8, patch_t=1, patch_hw=2, spatial_multiple=16, frame_stride=4
)
RULES_22 = ShapeRules(
    "Wan 2.2", vae_temporal=4, vae_spatial=16, patch_t=1, patch_hw=2, spatial_multiple=32, frame_stride=4
)
#: Wan's VAE runs in float32 whatever the pipeline's dtype (as the model card's example loads it).
FP32_VAE = (("vae", "float32"),)


def _summarize(configs: Mapping[str, Mapping[str, Any]], denoiser: str) -> DenoiserShape:
    cfg = configs[denoiser]
    return dit_shape(
        cfg,
        ffn_dim=int(cfg["ffn_dim"]),
        patch=tuple(cfg["patch_size"]),
        text_dim=cfg["text_dim"],
        num_layers=cfg["num_layers"],
        extra={"cross_attention": True},
    )


def _flop_options(spec: Any) -> dict[str, Any]:
    per_token = spec.rules.vae_spatial == 16 or dict(spec.pipeline_kwargs).get("expand_timesteps", False)
    return {"per_token_timestep": bool(per_token)}


FAMILY = ModelFamily(
    name="wan",
    label="Wan",
    summarize_denoiser=_summarize,
    flop_model="wan",
    flop_options=_flop_options,
    prompt_embeds_dim_key="text_dim",
)
