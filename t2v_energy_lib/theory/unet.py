"""Analytic operators of one UNetMotionModel forward (AnimateDiff: SD1.5 UNet + motion adapter).

Spatial layers run per frame (batch * frames images); motion modules attend across frames at every spatial
position. Terms follow :mod:`t2v_energy_lib.theory.denoisers`, plus ``conv`` for ResNet and sampler
convolutions and ``temporal_attn_proj`` / ``temporal_attn_scores`` / ``temporal_mlp`` for motion modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.theory.denoisers import DenoiserInput
from t2v_energy_lib.theory.ops import Op, attention, conv, linear


def _resnet(name: str, rows_img: int, positions: int, c_in: int, c_out: int, temb: int) -> list[Op]:
    ops = [
        conv(f"{name}.conv1", "conv", positions, c_in, c_out, 9),
        linear(f"{name}.time_emb_proj", "modulation", rows_img, temb, c_out),
        conv(f"{name}.conv2", "conv", positions, c_out, c_out, 9),
    ]
    if c_in != c_out:
        ops.append(conv(f"{name}.conv_shortcut", "conv", positions, c_in, c_out, 1))
    return ops


def _spatial_transformer(name: str, images: int, hw: int, c: int, heads: int, m: int, cross: int) -> list[Op]:
    t = images * hw
    return [
        conv(f"{name}.proj_in", "attn_proj", t, c, c, 1),
        linear(f"{name}.attn1.to_qkvo", "attn_proj", t, c, 4 * c),
        attention(f"{name}.attn1.sdpa", "attn_scores", images * heads, hw, hw, c // heads),
        linear(f"{name}.attn2.to_q+out", "cross_attn_proj", t, c, 2 * c),
        linear(f"{name}.attn2.to_kv", "cross_attn_proj", images * m, cross, 2 * c),
        attention(f"{name}.attn2.sdpa", "cross_attn_scores", images * heads, hw, m, c // heads),
        linear(f"{name}.ff.geglu", "mlp", t, c, 8 * c),
        linear(f"{name}.ff.proj_out", "mlp", t, 4 * c, c),
        conv(f"{name}.proj_out", "attn_proj", t, c, c, 1),
    ]


def _motion(name: str, batch: int, frames: int, hw: int, c: int, heads: int, layers: int) -> list[Op]:
    t = batch * frames * hw
    return [
        linear(f"{name}.proj_in", "temporal_attn_proj", t, c, c),
        linear(f"{name}.attn12.to_qkvo", "temporal_attn_proj", t, c, 4 * c, count=2 * layers),
        attention(
            f"{name}.attn12.sdpa",
            "temporal_attn_scores",
            batch * hw * heads,
            frames,
            frames,
            c // heads,
            count=2 * layers,
        ),
        linear(f"{name}.ff.geglu", "temporal_mlp", t, c, 8 * c, count=layers),
        linear(f"{name}.ff.proj_out", "temporal_mlp", t, 4 * c, c, count=layers),
        linear(f"{name}.proj_out", "temporal_attn_proj", t, c, c),
    ]


def unet_motion_ops(unet: Mapping[str, Any], adapter: Mapping[str, Any], shape: DenoiserInput) -> list[Op]:
    """UNetMotionModel built from an SD1.5-style UNet2DConditionModel config and a MotionAdapter config.

    Args:
        unet: UNet2DConditionModel config (block_out_channels, layers_per_block, attention_head_dim,
            cross_attention_dim, down_block_types).
        adapter: MotionAdapter config (motion_layers_per_block, motion_num_attention_heads,
            motion_transformer_layers_per_block, use_motion_mid_block).
        shape: batch, frames, latent height/width and text tokens (77 for CLIP).
    """
    chans = [int(c) for c in unet.get("block_out_channels", (320, 640, 1280, 1280))]
    lpb = int(unet.get("layers_per_block", 2))
    heads_cfg = unet.get("num_attention_heads") or unet.get("attention_head_dim", 8)  # SD1.5 legacy naming
    cross, temb = int(unet.get("cross_attention_dim", 768)), 4 * chans[0]
    types = unet.get("down_block_types") or ["CrossAttnDownBlock2D"] * (len(chans) - 1) + ["DownBlock2D"]
    has_attn = ["CrossAttn" in t for t in types]
    mheads = int(adapter.get("motion_num_attention_heads", 8))
    mlayers = int(adapter.get("motion_transformer_layers_per_block", 1) or 1)
    b, f, m = shape.batch, shape.latent_frames, shape.text_tokens
    images = b * f
    n = len(chans)
    heads = [int(heads_cfg)] * n if isinstance(heads_cfg, int) else [int(h) for h in heads_cfg]
    hw = [(shape.latent_height >> i) * (shape.latent_width >> i) for i in range(n)]
    ops = [
        linear("time_embedding.linear_1", "embed", b, chans[0], temb),
        linear("time_embedding.linear_2", "embed", b, temb, temb),
        conv("conv_in", "conv", images * hw[0], int(unet.get("in_channels", 4)), chans[0], 9),
    ]
    skips, c_prev = [chans[0]], chans[0]
    for i, c in enumerate(chans):
        for j in range(lpb):
            ops += _resnet(f"down{i}.resnet{j}", images, images * hw[i], c_prev, c, temb)
            if has_attn[i]:
                ops += _spatial_transformer(f"down{i}.attn{j}", images, hw[i], c, heads[i], m, cross)
            ops += _motion(f"down{i}.motion{j}", b, f, hw[i], c, mheads, mlayers)
            skips.append(c)
            c_prev = c
        if i < n - 1:
            ops.append(
                conv(f"down{i}.downsample", "conv", images * hw[i + 1], c, c, 9, in_positions=images * hw[i])
            )
            skips.append(c)
    cm = chans[-1]
    ops += _resnet("mid.resnet0", images, images * hw[-1], cm, cm, temb)
    ops += _spatial_transformer("mid.attn0", images, hw[-1], cm, heads[-1], m, cross)
    if adapter.get("use_motion_mid_block", True):
        ops += _motion("mid.motion0", b, f, hw[-1], cm, mheads, mlayers)
    ops += _resnet("mid.resnet1", images, images * hw[-1], cm, cm, temb)
    rev, rev_attn, rev_heads = chans[::-1], has_attn[::-1], heads[::-1]
    for i, c in enumerate(rev):
        level = n - 1 - i
        for j in range(lpb + 1):
            skip = skips.pop()
            ops += _resnet(f"up{i}.resnet{j}", images, images * hw[level], c_prev + skip, c, temb)
            if rev_attn[i]:
                ops += _spatial_transformer(f"up{i}.attn{j}", images, hw[level], c, rev_heads[i], m, cross)
            ops += _motion(f"up{i}.motion{j}", b, f, hw[level], c, mheads, mlayers)
            c_prev = c
        if i < n - 1:
            ops.append(conv(f"up{i}.upsample", "conv", images * hw[level - 1], c, c, 9))
    ops.append(conv("conv_out", "output", images * hw[0], chans[0], int(unet.get("out_channels", 4)), 9))
    return ops
