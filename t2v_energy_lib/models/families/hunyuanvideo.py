"""HunyuanVideo: dual-stream then single-stream DiT over video + text tokens, 4x temporal VAE.

Denoiser keys: ``num_attention_heads``, ``attention_head_dim``, ``num_layers`` (dual-stream),
``num_single_layers``, ``num_refiner_layers``, ``mlp_ratio`` (FFN = mlp_ratio x d), ``patch_size`` (+
``patch_size_t``), ``in_channels``, ``text_embed_dim``, ``pooled_projection_dim``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.models.families.base import ModelFamily, dit_shape, patch_of, width
from t2v_energy_lib.models.spec import DenoiserShape, ShapeRules

RULES = ShapeRules(
    "HunyuanVideo",
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
        ffn_dim=int(cfg["mlp_ratio"] * width(cfg)),
        patch=patch_of(cfg),
        text_dim=cfg["text_embed_dim"],
        num_layers=cfg["num_layers"] + cfg["num_single_layers"],
        extra={
            "num_dual_layers": cfg["num_layers"],
            "num_single_layers": cfg["num_single_layers"],
            "num_refiner_layers": cfg["num_refiner_layers"],
            "pooled_projection_dim": cfg["pooled_projection_dim"],
        },
    )


FAMILY = ModelFamily(
    name="hunyuanvideo", label="HunyuanVideo", summarize_denoiser=_summarize, flop_model="hunyuanvideo"
)
