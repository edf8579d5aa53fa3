"""A per-family summary of the denoiser architecture (width, heads, depth, FFN, patch, text width).

The analytic FLOP model reads this instead of poking at raw configs. The raw keys it is computed from live in
``spec.component_configs[spec.denoiser]`` (documented per family below).
"""

from __future__ import annotations

from t2v_energy_lib.models.spec import DenoiserShape, ModelSpec


def _patch(
    cfg: dict, spatial_key: str = "patch_size", temporal_key: str = "patch_size_t"
) -> tuple[int, int, int]:
    p = cfg[spatial_key]
    pt = cfg.get(temporal_key) or 1
    return (int(pt), int(p), int(p))


def denoiser_config(spec: ModelSpec) -> DenoiserShape:
    """Summarise the denoiser of ``spec``.

    Keys used per family (all in ``spec.component_configs[spec.denoiser]``):
    wan: num_attention_heads, attention_head_dim, num_layers, ffn_dim, patch_size [t, h, w], in_channels,
    text_dim. cogvideox: same names, FFN is 4 * d (GELU), patch_size (+ patch_size_t), text_embed_dim.
    ltx: same, FFN 4 * d, cross_attention_dim, caption_channels. mochi: FFN (4 * d * 2) // 3 SwiGLU,
    pooled_projection_dim is the text-stream width. hunyuanvideo: num_layers (dual-stream) +
    num_single_layers, FFN mlp_ratio * d, num_refiner_layers. animatediff (unet): block_out_channels,
    attention_head_dim (= heads), cross_attention_dim;
    motion adapter in ``component_configs["motion_adapter"]``.
    """
    cfg = spec.component_configs[spec.denoiser]
    if spec.family == "animatediff":
        motion = spec.component_configs["motion_adapter"]
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
    heads = int(cfg["num_attention_heads"])
    head_dim = int(cfg["attention_head_dim"])
    d = heads * head_dim
    extra: dict = {}
    if spec.family == "wan":
        ffn, patch, text_dim, layers = (
            int(cfg["ffn_dim"]),
            tuple(cfg["patch_size"]),
            cfg["text_dim"],
            cfg["num_layers"],
        )
        extra["cross_attention"] = True
    elif spec.family == "cogvideox":
        ffn, patch, text_dim, layers = 4 * d, _patch(cfg), cfg["text_embed_dim"], cfg["num_layers"]
        extra["rope"] = bool(cfg["use_rotary_positional_embeddings"])
    elif spec.family == "ltx":
        ffn, patch, text_dim, layers = 4 * d, _patch(cfg), cfg["caption_channels"], cfg["num_layers"]
        extra.update(cross_attention=True, cross_attention_dim=cfg["cross_attention_dim"])
    elif spec.family == "mochi":
        ffn, patch, text_dim, layers = (
            (4 * d * 2) // 3,
            (1, cfg["patch_size"], cfg["patch_size"]),
            cfg["text_embed_dim"],
            cfg["num_layers"],
        )
        extra.update(context_dim=cfg["pooled_projection_dim"], activation="swiglu")
    elif spec.family == "hunyuanvideo":
        ffn, patch, text_dim = int(cfg["mlp_ratio"] * d), _patch(cfg), cfg["text_embed_dim"]
        layers = cfg["num_layers"] + cfg["num_single_layers"]
        extra.update(
            num_dual_layers=cfg["num_layers"],
            num_single_layers=cfg["num_single_layers"],
            num_refiner_layers=cfg["num_refiner_layers"],
            pooled_projection_dim=cfg["pooled_projection_dim"],
        )
    else:  # pragma: no cover - registry only holds the families above
        raise ValueError(f"no denoiser summary for family {spec.family!r}")
    return DenoiserShape(
        kind="dit",
        d_model=d,
        num_heads=heads,
        head_dim=head_dim,
        num_layers=int(layers),
        ffn_dim=int(ffn),
        patch_size=tuple(int(x) for x in patch),
        in_channels=int(cfg["in_channels"]),
        text_dim=int(text_dim),
        extra=extra,
    )
