"""Analytic text-encoder and VAE-decoder FLOPs against FlopCounterMode on real modules built on meta."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from t2v_energy_lib.theory.encoders import text_encoder_ops
from t2v_energy_lib.theory.ops import FlopBreakdown

CONFIG_DIR = Path(__file__).resolve().parents[1] / "t2v_energy_lib" / "models" / "configs"

# (model id, component, tokens, batch)
CASES = [
    ("wan2.1-t2v-1.3b", "text_encoder", 512, 1),  # UMT5-XXL
    ("wan2.1-t2v-1.3b", "text_encoder", 64, 2),
    ("cogvideox-2b", "text_encoder", 226, 1),  # T5-XXL
    ("animatediff", "text_encoder", 77, 2),  # CLIP-L
    ("hunyuanvideo", "text_encoder", 351, 1),  # Llama: 256 prompt tokens + 95 template tokens
    ("hunyuanvideo", "text_encoder_2", 77, 1),  # CLIP-L
]


def _component(model_id: str, name: str) -> dict[str, Any]:
    return json.loads((CONFIG_DIR / f"{model_id}.json").read_text())["components"][name]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-m{c[2]}-b{c[3]}")
def test_text_encoder_matches_flop_counter(case: tuple) -> None:
    import transformers

    model_id, name, tokens, batch = case
    comp = _component(model_id, name)
    cls = getattr(transformers, comp["class"])
    config_cls = getattr(transformers, comp.get("config_class") or cls.config_class.__name__)
    with torch.device("meta"):
        module = cls(config_cls(**comp["config"])).to(torch.bfloat16).eval()
    ids = torch.zeros(batch, tokens, dtype=torch.long, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(input_ids=ids)  # no mask: every token attends (a mask would call .item() on meta)
    analytic = FlopBreakdown.from_ops(
        text_encoder_ops(comp["class"], comp["config"], tokens, batch)
    ).total_flops
    assert analytic == pytest.approx(counter.get_total_flops(), rel=0.01)


@pytest.mark.parametrize(
    "latent", [(16, 64, 64), (2, 32, 48), (1, 8, 8)], ids=lambda s: "x".join(map(str, s))
)
def test_image_vae_decoder_matches_flop_counter(latent: tuple[int, int, int]) -> None:
    import diffusers

    from t2v_energy_lib.theory.vae import image_vae_decoder_ops

    images, h, w = latent
    config = _component("animatediff", "vae")["config"]
    with torch.device("meta"):
        vae = diffusers.AutoencoderKL.from_config(config).to(torch.bfloat16).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        vae.decode(torch.empty(images, config["latent_channels"], h, w, device="meta", dtype=torch.bfloat16))
    analytic = FlopBreakdown.from_ops(image_vae_decoder_ops(config, images, h, w)).total_flops
    assert analytic == pytest.approx(counter.get_total_flops(), rel=0.01)


@pytest.mark.parametrize(
    "latent", [(21, 60, 104), (1, 8, 8), (3, 8, 12), (9, 16, 16)], ids=lambda s: "x".join(map(str, s))
)
def test_wan21_vae_decoder_matches_flop_counter(latent: tuple[int, int, int]) -> None:
    import diffusers

    from t2v_energy_lib.theory.vae import wan_vae_decoder_ops

    frames, h, w = latent
    config = _component("wan2.1-t2v-1.3b", "vae")["config"]
    with torch.device("meta"):
        vae = diffusers.AutoencoderKLWan.from_config(config).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        vae.decode(torch.empty(1, config["z_dim"], frames, h, w, device="meta"))
    analytic = FlopBreakdown.from_ops(wan_vae_decoder_ops(config, frames, h, w)).total_flops
    assert analytic == pytest.approx(counter.get_total_flops(), rel=0.01)
