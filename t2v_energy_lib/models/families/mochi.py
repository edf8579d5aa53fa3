"""Mochi: asymmetric joint-attention DiT (text stream of ``pooled_projection_dim``), 6x temporal VAE.

Denoiser keys: ``num_attention_heads``, ``attention_head_dim``, ``num_layers``, ``patch_size``,
``in_channels``, ``text_embed_dim``, ``pooled_projection_dim``; SwiGLU FFN of (4 x d x 2) // 3. The pipeline
attends to the valid prompt tokens only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.models.families.base import ModelFamily, dit_shape, width
from t2v_energy_lib.models.spec import DenoiserShape, ShapeRules

RULES = ShapeRules(
    "Mochi",
    vae_temporal=6,
    vae_spatial=8,
    patch_t=1,
    patch_hw=2,
    spatial_multiple=16,
    frame_stride=6,
    joint_text=True,
)


def _summarize(configs: Mapping[str, Mapping[str, Any]], denoiser: str) -> DenoiserShape:
    cfg = configs[denoiser]
    return dit_shape(
        cfg,
        ffn_dim=(4 * width(cfg) * 2) // 3,
        patch=(1, cfg["patch_size"], cfg["patch_size"]),
        text_dim=cfg["text_embed_dim"],
        num_layers=cfg["num_layers"],
        extra={"context_dim": cfg["pooled_projection_dim"], "activation": "swiglu"},
    )


FAMILY = ModelFamily(name="mochi", label="Mochi", summarize_denoiser=_summarize, flop_model="mochi")
