"""AnimateDiff: an SD1.5 UNet with a motion adapter, merged into one ``UNetMotionModel``; an image VAE.

Denoiser keys (``unet``): ``block_out_channels``, ``attention_head_dim`` (SD1.5's legacy name: the head
count), ``cross_attention_dim``, ``layers_per_block``, ``in_channels``; motion adapter keys in
``motion_adapter``. Spatial attention runs per frame; the VAE decodes frames as images.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.models.families.base import ModelFamily
from t2v_energy_lib.models.spec import DenoiserShape, ShapeRules

RULES = ShapeRules(
    "AnimateDiff",
    vae_temporal=1,
    vae_spatial=8,
    patch_t=1,
    patch_hw=1,
    spatial_multiple=8,
    frame_stride=1,
    max_frames=32,
    per_frame=True,
)
#: Virtual component: UNet2DConditionModel + MotionAdapter merged, as the pipeline does on load.
MERGED_UNET = "unet_motion"


def build_merged_unet(spec: Any, device: Any, dtype: Any, seed: int) -> Any:
    """AnimateDiff's UNetMotionModel, built directly on ``device`` (not via a CPU copy of the SD1.5 UNet)."""
    from diffusers import UNetMotionModel

    from t2v_energy_lib.models.builder import (
        build_component,
        component_dtype,
        component_seed,
        construction,
        finalize,
    )

    unet = build_component(spec, "unet", "meta", dtype, seed)
    adapter = build_component(spec, "motion_adapter", "meta", dtype, seed)
    target = component_dtype(spec, "unet", dtype)
    own_seed = component_seed(seed, MERGED_UNET)
    with construction(device, target, own_seed):
        model = UNetMotionModel.from_unet2d(unet, adapter, load_weights=False)
    return finalize(model, target, own_seed)


def _summarize(configs: Mapping[str, Mapping[str, Any]], denoiser: str) -> DenoiserShape:
    cfg, motion = configs[denoiser], configs["motion_adapter"]
    channels = list(cfg["block_out_channels"])
    heads = int(cfg["attention_head_dim"])  # SD1.5's legacy naming: this is the head count
    return DenoiserShape(
        kind="unet",
        d_model=channels[0],
        num_heads=heads,
        head_dim=channels[0] // heads,
        num_layers=len(channels),
        ffn_dim=4 * channels[0],
        patch_size=(1, 1, 1),
        in_channels=int(cfg["in_channels"]),
        text_dim=int(cfg["cross_attention_dim"]),
        extra={
            "block_out_channels": channels,
            "layers_per_block": cfg["layers_per_block"],
            "motion_num_attention_heads": motion["motion_num_attention_heads"],
            "motion_layers_per_block": motion["motion_layers_per_block"],
            "motion_max_seq_length": motion["motion_max_seq_length"],
        },
    )


FAMILY = ModelFamily(
    name="animatediff",
    label="AnimateDiff",
    summarize_denoiser=_summarize,
    flop_model="unet_motion",
    flop_components=("unet", "motion_adapter"),
    merged_components={"unet": MERGED_UNET},
    virtual_builders={MERGED_UNET: build_merged_unet},
    absorbed_components=("motion_adapter",),
    alternative_classes={"unet": ("UNetMotionModel",)},
    image_vae=True,
)
