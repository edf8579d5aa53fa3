"""Analytic denoiser FLOPs against torch.utils.flop_counter.FlopCounterMode on the real diffusers modules.

Modules are built from the shipped model configs on the meta device (no weights, no memory). Mochi's attention
processor cannot run on meta (autocast on the tensor's device type, ``nonzero()`` on the text mask), so it is
checked two ways: (1) at full width with 2 layers (one ordinary block, the last context-pre-only one) on the
CPU in bf16 at tiny latents, counted with the math SDPA backend (which FlopCounterMode sees) against the
analytic model of that same 2-layer config: FLOPs are linear in depth, so every per-layer term is checked;
(2) at full depth on meta at its default size, with those two calls patched for the test only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from t2v_energy_lib.theory.denoisers import (
    DenoiserInput,
    cogvideox_ops,
    hunyuan_video_ops,
    ltx_ops,
    mochi_ops,
    wan_ops,
)
from t2v_energy_lib.theory.ops import FlopBreakdown
from t2v_energy_lib.theory.unet import unet_motion_ops

CONFIG_DIR = Path(__file__).resolve().parents[1] / "t2v_energy_lib" / "models" / "configs"
TOLERANCE = 0.01


def component_config(model_id: str, name: str) -> dict[str, Any]:
    """The shipped diffusers/transformers config dict of one component (the models layer's JSON data)."""
    data = json.loads((CONFIG_DIR / f"{model_id}.json").read_text())
    return dict(data["components"][name]["config"])


def count_flops(module: torch.nn.Module, **kwargs: Any) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(**kwargs)
    return float(counter.get_total_flops())


def meta(*shape: int) -> torch.Tensor:
    return torch.empty(*shape, device="meta", dtype=torch.bfloat16)


def build_meta(cls_name: str, config: dict[str, Any]) -> torch.nn.Module:
    import diffusers

    cls = getattr(diffusers, cls_name)
    with torch.device("meta"):
        return cls.from_config(config).to(torch.bfloat16).eval()


def test_flop_counter_counts_sdpa_on_meta() -> None:
    q = meta(1, 2, 64, 32)
    counter = FlopCounterMode(display=False)
    with counter:
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert counter.get_total_flops() == 4 * 2 * 64 * 64 * 32


# (model id, batch, latent F, latent H, latent W, text tokens): defaults first, then other sizes.
WAN_CASES = [
    ("wan2.1-t2v-1.3b", 1, 21, 60, 104, 512),  # 480x832x81 default
    ("wan2.1-t2v-1.3b", 1, 21, 90, 160, 512),  # 720x1280x81
    ("wan2.1-t2v-1.3b", 1, 5, 32, 32, 512),  # 256x256x17
    ("wan2.1-t2v-1.3b", 1, 1, 60, 104, 512),  # 480x832x1
    ("wan2.1-t2v-14b", 1, 21, 60, 104, 512),
    ("wan2.1-t2v-14b", 1, 5, 32, 32, 512),
    ("wan2.1-t2v-14b", 1, 9, 60, 104, 512),
    ("wan2.1-t2v-14b", 1, 2, 16, 16, 512),
    ("wan2.2-ti2v-5b", 1, 31, 44, 80, 512),  # 704x1280x121 default
    ("wan2.2-ti2v-5b", 1, 5, 16, 16, 512),
    ("wan2.2-ti2v-5b", 1, 21, 30, 52, 512),
    ("wan2.2-ti2v-5b", 1, 1, 44, 80, 512),
]


def _case_id(case: tuple) -> str:
    model, b, f, h, w, m = case[:6]
    return f"{model}-b{b}-lat{f}x{h}x{w}-m{m}"


@pytest.mark.parametrize("case", WAN_CASES, ids=_case_id)
def test_wan_forward_matches_flop_counter(case: tuple) -> None:
    model, b, f, h, w, m = case
    config = component_config(model, "transformer")
    module = build_meta("WanTransformer3DModel", config)
    per_token = model.startswith("wan2.2")
    l = f * (h // 2) * (w // 2)  # noqa: E741 (l: token length, the paper's notation)
    timestep = torch.zeros(b, l, device="meta") if per_token else torch.zeros(b, device="meta")
    counted = count_flops(
        module,
        hidden_states=meta(b, config["in_channels"], f, h, w),
        timestep=timestep,
        encoder_hidden_states=meta(b, m, config["text_dim"]),
        return_dict=False,
    )
    shape = DenoiserInput(b, f, h, w, m)
    analytic = FlopBreakdown.from_ops(wan_ops(config, shape, per_token_timestep=per_token)).total_flops
    assert analytic == pytest.approx(counted, rel=TOLERANCE)


COG_CASES = [
    ("cogvideox-2b", 2, 13, 60, 90, 226),  # 480x720x49 default, CFG batch 2
    ("cogvideox-2b", 1, 13, 60, 90, 226),
    ("cogvideox-2b", 2, 3, 32, 32, 226),
    ("cogvideox-2b", 2, 7, 60, 90, 226),
    ("cogvideox-5b", 2, 13, 60, 90, 226),
    ("cogvideox-5b", 2, 3, 32, 32, 226),
    ("cogvideox-5b", 1, 7, 30, 44, 226),
    ("cogvideox-5b", 2, 13, 30, 44, 226),
]


@pytest.mark.parametrize("case", COG_CASES, ids=_case_id)
def test_cogvideox_forward_matches_flop_counter(case: tuple) -> None:
    model, b, f, h, w, m = case
    config = component_config(model, "transformer")
    module = build_meta("CogVideoXTransformer3DModel", config)
    kwargs: dict[str, Any] = {}
    if config.get("use_rotary_positional_embeddings"):
        p = config["patch_size"]
        rope = torch.zeros(f * (h // p) * (w // p), config["attention_head_dim"], device="meta")
        kwargs["image_rotary_emb"] = (rope, rope)  # elementwise: its values do not change the FLOPs
    counted = count_flops(
        module,
        hidden_states=meta(b, f, config["in_channels"], h, w),
        encoder_hidden_states=meta(b, m, config["text_embed_dim"]),
        timestep=torch.zeros(b, device="meta"),
        return_dict=False,
        **kwargs,
    )
    analytic = FlopBreakdown.from_ops(cogvideox_ops(config, DenoiserInput(b, f, h, w, m))).total_flops
    assert analytic == pytest.approx(counted, rel=TOLERANCE)


LTX_CASES = [
    ("ltx-video", 2, 21, 16, 22, 128),  # 512x704x161 default
    ("ltx-video", 1, 21, 16, 22, 128),
    ("ltx-video", 2, 2, 8, 8, 128),
    ("ltx-video", 2, 16, 24, 40, 128),  # 768x1280x121
]


@pytest.mark.parametrize("case", LTX_CASES, ids=_case_id)
def test_ltx_forward_matches_flop_counter(case: tuple) -> None:
    model, b, f, h, w, m = case
    config = component_config(model, "transformer")
    module = build_meta("LTXVideoTransformer3DModel", config)
    counted = count_flops(
        module,
        hidden_states=meta(b, f * h * w, config["in_channels"]),
        encoder_hidden_states=meta(b, m, config["caption_channels"]),
        timestep=torch.zeros(b, device="meta"),
        encoder_attention_mask=torch.ones(b, m, device="meta"),
        num_frames=f,
        height=h,
        width=w,
        return_dict=False,
    )
    analytic = FlopBreakdown.from_ops(ltx_ops(config, DenoiserInput(b, f, h, w, m))).total_flops
    assert analytic == pytest.approx(counted, rel=TOLERANCE)


HUNYUAN_CASES = [
    ("hunyuanvideo", 1, 33, 90, 160, 256),  # 720x1280x129 default
    ("hunyuanvideo", 1, 5, 32, 32, 256),
    ("hunyuanvideo", 1, 13, 60, 104, 256),
    ("hunyuanvideo", 1, 1, 90, 160, 256),
]


@pytest.mark.parametrize("case", HUNYUAN_CASES, ids=_case_id)
def test_hunyuan_forward_matches_flop_counter(case: tuple) -> None:
    model, b, f, h, w, m = case
    config = component_config(model, "transformer")
    module = build_meta("HunyuanVideoTransformer3DModel", config)
    counted = count_flops(
        module,
        hidden_states=meta(b, config["in_channels"], f, h, w),
        encoder_hidden_states=meta(b, m, config["text_embed_dim"]),
        timestep=torch.zeros(b, device="meta"),
        encoder_attention_mask=torch.ones(b, m, device="meta"),
        pooled_projections=meta(b, config["pooled_projection_dim"]),
        guidance=torch.zeros(b, device="meta"),
        return_dict=False,
    )
    analytic = FlopBreakdown.from_ops(hunyuan_video_ops(config, DenoiserInput(b, f, h, w, m))).total_flops
    assert analytic == pytest.approx(counted, rel=TOLERANCE)


MOCHI_CASES = [  # (model, batch, latent F, H, W, valid text tokens): tiny latents, CPU run
    ("mochi-1-preview", 2, 2, 8, 8, 20),
    ("mochi-1-preview", 1, 1, 4, 4, 256),
    ("mochi-1-preview", 2, 3, 8, 12, 77),
    ("mochi-1-preview", 1, 2, 16, 8, 5),
]


@pytest.fixture(scope="module")
def mochi_two_layers() -> tuple[torch.nn.Module, dict[str, Any]]:
    """Mochi at full width, 2 layers (one ordinary block, the last context_pre_only one), on the CPU in bf16.

    ``to_empty`` leaves the weights uninitialised: values do not change FLOPs and it skips seconds of init.
    """
    import diffusers

    config = {**component_config("mochi-1-preview", "transformer"), "num_layers": 2}
    with torch.device("meta"):
        module = diffusers.MochiTransformer3DModel.from_config(config)
    return module.to_empty(device="cpu").to(torch.bfloat16).eval(), config


@pytest.mark.parametrize("case", MOCHI_CASES, ids=_case_id)
def test_mochi_two_layer_forward_matches_flop_counter(case: tuple, mochi_two_layers: tuple) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    module, config = mochi_two_layers
    _model, b, f, h, w, valid = case
    padded = config.get("max_sequence_length", 256)
    mask = torch.zeros(b, padded, dtype=torch.bool)
    mask[:, :valid] = True
    with sdpa_kernel(SDPBackend.MATH):  # the math backend decomposes into matmuls FlopCounterMode sees
        counted = count_flops(
            module,
            hidden_states=torch.zeros(b, config["in_channels"], f, h, w, dtype=torch.bfloat16),
            encoder_hidden_states=torch.zeros(b, padded, config["text_embed_dim"], dtype=torch.bfloat16),
            timestep=torch.zeros(b),
            encoder_attention_mask=mask,
            return_dict=False,
        )
    shape = DenoiserInput(b, f, h, w, valid, text_tokens_padded=padded)
    analytic = FlopBreakdown.from_ops(mochi_ops(config, shape)).total_flops
    assert analytic == pytest.approx(counted, rel=TOLERANCE)


MOCHI_META_CASES = [  # full depth on meta through a patched path; 20 valid prompt tokens (nominal)
    ("mochi-1-preview", 2, 4, 60, 106, 20),  # 480x848x19 default, CFG batch 2
    ("mochi-1-preview", 2, 15, 60, 106, 20),  # 480x848x85
]


@pytest.mark.parametrize("case", MOCHI_META_CASES, ids=_case_id)
def test_mochi_full_forward_on_meta_with_patched_path(case: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mochi at full size on meta: two calls that cannot run there are patched for this test only.

    ``torch.autocast("meta", ...)`` (rotary frequencies) becomes a no-op, and ``torch.nonzero`` of the meta
    text mask returns the first ``valid`` indices, as it does for a prefix mask on a real device.
    """
    import contextlib

    _model, b, f, h, w, valid = case
    real_autocast, real_nonzero = torch.autocast, torch.nonzero

    def autocast(device_type: str, *args: Any, **kwargs: Any) -> Any:
        if device_type == "meta":
            return contextlib.nullcontext()
        return real_autocast(device_type, *args, **kwargs)

    def nonzero(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if t.device.type == "meta":
            return torch.arange(valid, device="meta").unsqueeze(1)
        return real_nonzero(t, *args, **kwargs)

    monkeypatch.setattr(torch, "autocast", autocast)
    monkeypatch.setattr(torch, "nonzero", nonzero)
    config = component_config("mochi-1-preview", "transformer")
    module = build_meta("MochiTransformer3DModel", config)
    padded = config.get("max_sequence_length", 256)
    counted = count_flops(
        module,
        hidden_states=meta(b, config["in_channels"], f, h, w),
        encoder_hidden_states=meta(b, padded, config["text_embed_dim"]),
        timestep=torch.zeros(b, device="meta"),
        encoder_attention_mask=torch.ones(b, padded, dtype=torch.bool, device="meta"),
        return_dict=False,
    )
    shape = DenoiserInput(b, f, h, w, valid, text_tokens_padded=padded)
    analytic = FlopBreakdown.from_ops(mochi_ops(config, shape)).total_flops
    assert analytic == pytest.approx(counted, rel=TOLERANCE)


ANIMATEDIFF_CASES = [  # (model, batch, frames, latent H, W, text tokens)
    ("animatediff", 2, 16, 64, 64, 77),  # 512x512x16 default, CFG batch 2
    ("animatediff", 1, 16, 64, 64, 77),
    ("animatediff", 2, 8, 32, 32, 77),
    ("animatediff", 2, 24, 48, 80, 77),
]


def build_unet_motion(unet: dict[str, Any], adapter: dict[str, Any]) -> torch.nn.Module:
    """UNetMotionModel as ``from_unet2d`` assembles it, built directly from the two configs on meta."""
    import diffusers

    kwargs = {
        k: unet[k]
        for k in (
            "in_channels",
            "out_channels",
            "block_out_channels",
            "layers_per_block",
            "cross_attention_dim",
        )
    }
    kwargs["num_attention_heads"] = unet.get("num_attention_heads") or unet["attention_head_dim"]
    kwargs.update(
        motion_num_attention_heads=adapter["motion_num_attention_heads"],
        motion_max_seq_length=adapter["motion_max_seq_length"],
        use_motion_mid_block=adapter["use_motion_mid_block"],
    )
    with torch.device("meta"):
        return diffusers.UNetMotionModel(**kwargs).to(torch.bfloat16).eval()


@pytest.mark.parametrize("case", ANIMATEDIFF_CASES, ids=_case_id)
def test_animatediff_forward_matches_flop_counter(case: tuple) -> None:
    model, b, f, h, w, m = case
    unet, adapter = component_config(model, "unet"), component_config(model, "motion_adapter")
    module = build_unet_motion(unet, adapter)
    counted = count_flops(
        module,
        sample=meta(b, unet["in_channels"], f, h, w),
        timestep=torch.zeros(b, device="meta"),
        # the pipeline repeats the prompt embeddings per frame before calling the UNet
        encoder_hidden_states=meta(b * f, m, unet["cross_attention_dim"]),
        return_dict=False,
    )
    analytic = FlopBreakdown.from_ops(
        unet_motion_ops(unet, adapter, DenoiserInput(b, f, h, w, m))
    ).total_flops
    assert analytic == pytest.approx(counted, rel=TOLERANCE)
