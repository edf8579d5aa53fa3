"""CogVideoX: T5 text joined to the video tokens in one self-attention sequence, 4x temporal VAE.

Denoiser keys: ``num_attention_heads``, ``attention_head_dim``, ``num_layers``, ``patch_size`` (+
``patch_size_t``), ``in_channels``, ``text_embed_dim``; FFN 4 x d (GELU); 5B uses RoPE, 2B sin-cos positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.models.families.base import ModelFamily, dit_shape, patch_of, width
from t2v_energy_lib.models.spec import DenoiserShape, ShapeRules

RULES = ShapeRules(
    "CogVideoX",
    vae_temporal=4,
    vae_spatial=8,
    patch_t=1,
    patch_hw=2,
    spatial_multiple=16,
    frame_stride=4,
    joint_text=True,
)


def _summarize(configs: Mapping[str, Mapping[str, Any]], denoiser: str) -> DenoiserShape:
    cfg = configs[denoiser]
    return dit_shape(
        cfg,
        ffn_dim=4 * width(cfg),
        patch=patch_of(cfg),
        text_dim=cfg["text_embed_dim"],
        num_layers=cfg["num_layers"],
        extra={"rope": bool(cfg["use_rotary_positional_embeddings"])},
    )


FAMILY = ModelFamily(
    name="cogvideox", label="CogVideoX", summarize_denoiser=_summarize, flop_model="cogvideox"
)
