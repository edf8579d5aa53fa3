"""LTX-Video: T5 text cross-attention, 8x temporal and 32x spatial VAE, patch 1.

Denoiser keys: ``num_attention_heads``, ``attention_head_dim``, ``num_layers``, ``patch_size`` (+
``patch_size_t``), ``in_channels``, ``caption_channels``, ``cross_attention_dim``; FFN 4 x d.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.models.families.base import ModelFamily, dit_shape, patch_of, width
from t2v_energy_lib.models.spec import DenoiserShape, ShapeRules

RULES = ShapeRules(
    "LTX-Video", vae_temporal=8, vae_spatial=32, patch_t=1, patch_hw=1, spatial_multiple=32, frame_stride=8
)


def _summarize(configs: Mapping[str, Mapping[str, Any]], denoiser: str) -> DenoiserShape:
    cfg = configs[denoiser]
    return dit_shape(
        cfg,
        ffn_dim=4 * width(cfg),
        patch=patch_of(cfg),
        text_dim=cfg["caption_channels"],
        num_layers=cfg["num_layers"],
        extra={"cross_attention": True, "cross_attention_dim": cfg["cross_attention_dim"]},
    )


FAMILY = ModelFamily(name="ltx", label="LTX-Video", summarize_denoiser=_summarize, flop_model="ltx")
