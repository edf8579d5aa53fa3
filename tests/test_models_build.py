"""Builders: every tiny variant runs a whole generation through the real Diffusers pipeline on the CPU; the
token-length formula is checked against the denoiser's actual inputs (forward pre-hook); CFG execution, dtype
policy, never-zero init, seeding and the local-weights round trip."""

from __future__ import annotations

import json

import pytest
import torch

from t2v_energy_lib.errors import DependencyError, WeightsMismatchError
from t2v_energy_lib.models import build_component, build_pipeline, get_spec

IDS = [
    "wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.2-ti2v-5b", "cogvideox-2b", "cogvideox-5b", "ltx-video",
    "mochi-1-preview", "animatediff", "hunyuanvideo",
]  # fmt: skip


def _hidden(args, kwargs):
    for key in ("hidden_states", "sample"):
        if kwargs.get(key) is not None:
            return kwargs[key]
    return args[0]


def _observed_tokens(spec, args, kwargs) -> int:
    """Self-attention sequence length, read from the tensors the pipeline hands its denoiser."""
    hidden = _hidden(args, kwargs)
    r = spec.rules
    if spec.family == "ltx":  # packed (B, tokens, C)
        return hidden.shape[1]
    if spec.family == "cogvideox":  # (B, F, C, H, W) + the joint text
        _, f, _, h, w = hidden.shape
        return f * (h // r.patch_hw) * (w // r.patch_hw) + kwargs["encoder_hidden_states"].shape[1]
    _, _, f, h, w = hidden.shape
    grid = (h // r.patch_hw) * (w // r.patch_hw)
    if spec.family == "animatediff":
        return grid
    tokens = f // r.patch_t * grid
    if spec.family == "mochi":
        tokens += int(kwargs["encoder_attention_mask"][0].sum())
    elif spec.family == "hunyuanvideo":
        tokens += kwargs["encoder_hidden_states"].shape[1]
    return tokens


@pytest.fixture(scope="module", params=IDS)
def tiny_run(request):
    spec = get_spec(request.param).tiny()
    pipe = build_pipeline(spec, device="cpu", dtype=torch.float32, seed=0)
    calls = []

    def hook(module, args, kwargs):
        mochi_text = int(kwargs["encoder_attention_mask"][0].sum()) if spec.family == "mochi" else None
        calls.append(
            {"batch": _hidden(args, kwargs).shape[0], "tokens": _observed_tokens(spec, args, kwargs),
             "mochi_text": mochi_text}
        )  # fmt: skip

    getattr(pipe, spec.denoiser).register_forward_pre_hook(hook, with_kwargs=True)
    s = spec.defaults
    out = pipe(prompt="a red fox running through snow", **s.call_kwargs(), output_type="np",
               generator=torch.Generator().manual_seed(0))  # fmt: skip
    return spec, out.frames, calls


def test_tiny_generation_returns_requested_frames(tiny_run):
    spec, frames, _ = tiny_run
    s = spec.defaults
    assert tuple(frames.shape) == (1, s.num_frames, s.height, s.width, 3)
    assert frames.std() > 0  # random weights, not a constant image


def test_token_length_formula_matches_pipeline_inputs(tiny_run):
    spec, _, calls = tiny_run
    s = spec.defaults
    for call in calls:
        assert call["tokens"] == spec.token_length(s.height, s.width, s.num_frames, call["mochi_text"])


def test_cfg_mode_matches_denoiser_calls(tiny_run):
    spec, _, calls = tiny_run
    steps = spec.defaults.num_inference_steps
    expected = {"two_pass": (2 * steps, 1), "batch2": (steps, 2), "none": (steps, 1)}[spec.cfg_mode]
    assert (len(calls), {c["batch"] for c in calls}) == (expected[0], {expected[1]})


def test_build_is_seeded_never_zero_and_in_target_dtype():
    spec = get_spec("wan2.1-t2v-1.3b").tiny()
    a = build_component(spec, "transformer", dtype=torch.bfloat16, seed=3)
    b = build_component(spec, "transformer", dtype=torch.bfloat16, seed=3)
    c = build_component(spec, "transformer", dtype=torch.bfloat16, seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    for name, p in a.named_parameters():
        assert p.any(), f"{name} is all zero"
        keep = any(k in name.split(".") for k in a._keep_in_fp32_modules)
        assert p.dtype == (torch.float32 if keep else torch.bfloat16), name
    assert not a.training and not any(p.requires_grad for p in a.parameters())


def test_dtype_policy_pins_wan_vae_to_fp32():
    pipe = build_pipeline("wan2.1-t2v-1.3b-tiny", dtype=torch.bfloat16)
    assert pipe.vae.dtype == torch.float32 and pipe.text_encoder.dtype == torch.bfloat16
    assert not pipe.text_encoder.training


def test_meta_pipeline_builds_full_size_quickly():
    pipe = build_pipeline("wan2.1-t2v-14b", meta=True)
    assert pipe.transformer.device.type == "meta"
    assert sum(p.numel() for p in pipe.transformer.parameters()) == 14_288_491_584


def test_offline_tokenizer_pads_to_the_real_count():
    pipe = build_pipeline("hunyuanvideo-tiny", meta=True)
    ids = pipe.tokenizer_2("a cat", padding="max_length", max_length=77, return_tensors="pt").input_ids
    assert ids.shape == (1, 77)
    assert build_component("wan2.1-t2v-1.3b", "tokenizer").model_max_length == 512


def test_weights_round_trip(tmp_path):
    spec = get_spec("ltx-video").tiny()
    pipe = build_pipeline(spec, dtype=torch.float32, seed=7)
    pipe.save_pretrained(tmp_path)
    loaded = build_pipeline(spec, dtype=torch.float32, weights=tmp_path)
    for name in ("transformer", "vae", "text_encoder"):
        want, got = getattr(pipe, name).state_dict(), getattr(loaded, name).state_dict()
        assert want.keys() == got.keys()
        assert all(torch.equal(want[k], got[k]) for k in want), name
    assert type(loaded.scheduler).__name__ == spec.scheduler_class


@pytest.fixture(scope="module")
def saved_ltx(tmp_path_factory):
    root = tmp_path_factory.mktemp("ltx")
    build_pipeline("ltx-video-tiny", dtype=torch.float32).save_pretrained(root)
    return root


def test_weights_missing_subfolder(saved_ltx, tmp_path):
    import shutil

    shutil.copytree(saved_ltx, tmp_path / "w")
    shutil.rmtree(tmp_path / "w" / "vae")
    with pytest.raises(WeightsMismatchError, match="component 'vae' is missing"):
        build_pipeline("ltx-video-tiny", dtype=torch.float32, weights=tmp_path / "w")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"_class_name": "WanTransformer3DModel"},
            "is a WanTransformer3DModel, the spec needs LTXVideoTransformer3DModel",
        ),
        ({"num_layers": 3}, "has num_layers=3, the spec needs 2"),
    ],
)
def test_weights_config_mismatch(saved_ltx, tmp_path, edit, message):
    import shutil

    shutil.copytree(saved_ltx, tmp_path / "w")
    path = tmp_path / "w" / "transformer" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    with pytest.raises(WeightsMismatchError, match=message):
        build_pipeline("ltx-video-tiny", dtype=torch.float32, weights=tmp_path / "w")


def test_wan_weights_need_accelerate_or_load(tmp_path):
    spec = get_spec("wan2.1-t2v-1.3b").tiny()
    build_pipeline(spec, dtype=torch.float32).save_pretrained(tmp_path)
    try:
        import accelerate  # noqa: F401
    except ImportError:
        with pytest.raises(DependencyError, match="accelerate"):
            build_pipeline(spec, dtype=torch.float32, weights=tmp_path)
        return
    loaded = build_pipeline(spec, dtype=torch.bfloat16, weights=tmp_path)
    assert loaded.transformer.scale_shift_table.dtype == torch.float32
