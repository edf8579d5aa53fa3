"""VAE decoder FLOPs, counted with ``FlopCounterMode`` on a meta-device build of the real diffusers VAE.

Video VAEs decode latent frame by frame with causal caches, temporal upsamplers and per-frame attention, whose
exact operator list depends on the diffusers version; rather than mirror that code, the decoder is run on the
meta device (no memory, no compute; about 0.1-3 s at full size) and its matrix products and convolutions are
counted. This is a count, not an analytic model: its terms are ``vae_conv`` and ``vae_matmul`` (attention and
linear layers) and it carries no per-operator bytes.

Two VAEs also have analytic models (checked against the counter in the tests), with per-operator bytes:
the image VAE of AnimateDiff (SD1.5 ``AutoencoderKL``, run per frame), :func:`image_vae_decoder_ops`, and the
Wan2.1 ``AutoencoderKLWan`` (not the residual Wan2.2 one), :func:`wan_vae_decoder_ops`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from t2v_energy_lib.theory.ops import FlopBreakdown, Op, attention, conv, linear


@lru_cache(maxsize=64)
def _count(class_name: str, config_json: str, latent_shape: tuple[int, ...]) -> tuple[float, float]:
    import diffusers
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    cls = getattr(diffusers, class_name, None)
    if cls is None:
        from t2v_energy_lib.errors import UnknownModelError

        raise UnknownModelError(
            f"diffusers {diffusers.__version__} has no VAE class {class_name!r}; upgrade diffusers "
            "(see the model's min_diffusers) to count its decoder FLOPs"
        )
    with torch.device("meta"):
        vae = cls.from_config(json.loads(config_json)).to(torch.bfloat16).eval()
    z = torch.empty(*latent_shape, device="meta", dtype=torch.bfloat16)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        vae.decode(z)
    conv = matmul = 0.0
    for op, flops in counter.get_flop_counts()["Global"].items():
        if "convolution" in str(op):
            conv += float(flops)
        else:
            matmul += float(flops)
    return conv, matmul


def vae_decoder_flops(
    class_name: str, config: Mapping[str, Any], latent_shape: tuple[int, ...]
) -> FlopBreakdown:
    """FLOPs of one ``vae.decode(latents)`` call. Units: FLOP.

    Args:
        class_name: Diffusers VAE class, e.g. ``"AutoencoderKLWan"``.
        config: Its config dict.
        latent_shape: ``(B, C, F, H, W)`` for video VAEs, ``(B * F, C, H, W)`` for image VAEs (AnimateDiff).

    ``AutoencoderKL`` and the Wan2.1 ``AutoencoderKLWan`` use their analytic models (with bytes); other
    classes are counted on the meta device.
    """
    if class_name == "AutoencoderKL" and len(latent_shape) == 4:  # analytic (checked against the counter)
        images, _, h, w = (int(v) for v in latent_shape)
        return FlopBreakdown.from_ops(image_vae_decoder_ops(config, images, h, w))
    if class_name == "AutoencoderKLWan" and not config.get("is_residual") and len(latent_shape) == 5:
        _, _, f, h, w = (int(v) for v in latent_shape)
        return FlopBreakdown.from_ops(wan_vae_decoder_ops(config, f, h, w))
    conv, matmul = _count(
        class_name, json.dumps(dict(config), sort_keys=True), tuple(int(s) for s in latent_shape)
    )
    return FlopBreakdown({"vae_conv": conv, "vae_matmul": matmul})


def _resnet2d(name: str, positions: int, c_in: int, c_out: int) -> list[Op]:
    ops = [
        conv(f"{name}.conv1", "vae_conv", positions, c_in, c_out, 9),
        conv(f"{name}.conv2", "vae_conv", positions, c_out, c_out, 9),
    ]
    if c_in != c_out:
        ops.append(conv(f"{name}.conv_shortcut", "vae_conv", positions, c_in, c_out, 1))
    return ops


def image_vae_decoder_ops(config: Mapping[str, Any], images: int, height: int, width: int) -> list[Op]:
    """Analytic decoder of a 2D ``AutoencoderKL`` (SD-style) for ``images`` latents of ``height x width``.

    post_quant_conv, conv_in, mid block (ResNet, single-head attention, ResNet), up blocks of
    ``layers_per_block + 1`` ResNets with 2x nearest upsampling + 3x3 conv, conv_out.
    """
    chans = [int(c) for c in config.get("block_out_channels", (64,))][::-1]
    z, out_ch = int(config.get("latent_channels", 4)), int(config.get("out_channels", 3))
    layers = int(config.get("layers_per_block", 1)) + 1
    pos = images * height * width
    c = chans[0]
    ops = [
        conv("post_quant_conv", "vae_conv", pos, z, z, 1),
        conv("decoder.conv_in", "vae_conv", pos, z, c, 9),
    ]
    ops += _resnet2d("mid.resnet0", pos, c, c)
    ops += [
        linear("mid.attn.to_qkvo", "vae_matmul", pos, c, 4 * c),
        attention("mid.attn.sdpa", "vae_matmul", images, height * width, height * width, c),
    ]
    ops += _resnet2d("mid.resnet1", pos, c, c)
    c_prev = c
    for i, c in enumerate(chans):
        for j in range(layers):
            ops += _resnet2d(f"up{i}.resnet{j}", pos, c_prev if j == 0 else c, c)
        c_prev = c
        if i < len(chans) - 1:
            pos *= 4
            ops.append(conv(f"up{i}.upsample.conv", "vae_conv", pos, c, c, 9))
    ops.append(conv("decoder.conv_out", "vae_conv", pos, c_prev, out_ch, 9))
    return ops


def _wan_resnet(name: str, positions: int, c_in: int, c_out: int, dtype_bytes: int) -> list[Op]:
    ops = [
        conv(f"{name}.conv1", "vae_conv", positions, c_in, c_out, 27, dtype_bytes=dtype_bytes),
        conv(f"{name}.conv2", "vae_conv", positions, c_out, c_out, 27, dtype_bytes=dtype_bytes),
    ]
    if c_in != c_out:
        ops.append(
            conv(f"{name}.conv_shortcut", "vae_conv", positions, c_in, c_out, 1, dtype_bytes=dtype_bytes)
        )
    return ops


def wan_vae_decoder_ops(
    config: Mapping[str, Any], latent_frames: int, height: int, width: int, *, dtype_bytes: int = 4
) -> list[Op]:
    """Analytic decoder of the Wan2.1 ``AutoencoderKLWan`` (batch 1; the pipeline runs it in fp32).

    The decoder runs one latent frame at a time with causal caches, so every causal 3x3x3 convolution costs
    its full kernel per output frame. The first chunk skips the temporal upsamplers (1 output frame); every
    later chunk doubles its frames at each temporal upsampler (4 output frames per latent frame).

    Args:
        config: ``AutoencoderKLWan`` config (base_dim, decoder_base_dim, z_dim, dim_mult, num_res_blocks,
            temperal_downsample, is_residual False).
        latent_frames: Latent frames F (output frames 1 + 4 (F - 1) with the default upsamplers).
        height: Latent height. Units: latent pixels.
        width: Latent width. Units: latent pixels.
        dtype_bytes: Bytes per element (4: fp32).
    """
    if config.get("is_residual"):
        raise ValueError(
            "wan_vae_decoder_ops models the Wan2.1 VAE only; count residual (Wan2.2) VAEs instead"
        )
    dim = int(config.get("decoder_base_dim") or config.get("base_dim", 96))
    z = int(config.get("z_dim", 16))
    mult = [int(m) for m in config.get("dim_mult", (1, 2, 4, 4))]
    n_res = int(config.get("num_res_blocks", 2))
    t_up = list(config.get("temperal_downsample", (False, True, True)))[::-1]
    dims = [dim * u for u in [mult[-1], *mult[::-1]]]
    kw = {"dtype_bytes": dtype_bytes}
    hw, frames, later = height * width, latent_frames, latent_frames - 1  # later: chunks after the first
    pos = frames * hw
    ops = [
        conv("post_quant_conv", "vae_conv", pos, z, z, 1, **kw),
        conv("decoder.conv_in", "vae_conv", pos, z, dims[0], 27, **kw),
    ]
    ops += _wan_resnet("mid.resnet0", pos, dims[0], dims[0], dtype_bytes)
    ops += [
        linear("mid.attn.to_qkv", "vae_matmul", pos, dims[0], 3 * dims[0], dtype_bytes=dtype_bytes),
        attention("mid.attn.sdpa", "vae_matmul", frames, hw, hw, dims[0], dtype_bytes=dtype_bytes),
        linear("mid.attn.proj", "vae_matmul", pos, dims[0], dims[0], dtype_bytes=dtype_bytes),
    ]
    ops += _wan_resnet("mid.resnet1", pos, dims[0], dims[0], dtype_bytes)
    for i, (c_in, c_out) in enumerate(itertools.pairwise(dims)):
        c_in = c_in // 2 if i > 0 else c_in
        for j in range(n_res + 1):
            ops += _wan_resnet(f"up{i}.resnet{j}", frames * hw, c_in if j == 0 else c_out, c_out, dtype_bytes)
        if i == len(mult) - 1:
            break
        if t_up[i]:  # time_conv (dim -> 2 dim, kernel 3x1x1) on every chunk but the first, then frames double
            later_frames = frames - 1 if later else 0
            ops.append(conv(f"up{i}.time_conv", "vae_conv", later_frames * hw, c_out, 2 * c_out, 3, **kw))
            frames += later_frames
        hw *= 4
        ops.append(conv(f"up{i}.upsample.conv", "vae_conv", frames * hw, c_out, c_out // 2, 9, **kw))
    ops.append(conv("decoder.conv_out", "vae_conv", frames * hw, dims[-1], 3, 27, **kw))
    return ops
