"""Model registry: ids, shape rules, token lengths, published parameter counts (meta device), CLI."""

from __future__ import annotations

import dataclasses

import pytest

from t2v_energy_lib.cli import main
from t2v_energy_lib.errors import InvalidSettingsError, UnknownModelError
from t2v_energy_lib.models import (
    GenerationSettings,
    count_parameters,
    denoiser_config,
    get_spec,
    list_specs,
)

IDS = [
    "wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.2-ti2v-5b", "cogvideox-2b", "cogvideox-5b", "ltx-video",
    "mochi-1-preview", "animatediff", "hunyuanvideo",
]  # fmt: skip

# Published counts (the model cards on the Hugging Face Hub, see each config's note), in billions, to the
# printed precision (3 decimals).
PUBLISHED_B = {
    ("wan2.1-t2v-1.3b", "transformer"): 1.419,
    ("wan2.1-t2v-14b", "transformer"): 14.288,
    ("wan2.2-ti2v-5b", "transformer"): 5.000,
    ("cogvideox-2b", "transformer"): 1.694,
    ("cogvideox-5b", "transformer"): 5.570,
    ("ltx-video", "transformer"): 1.923,
    ("mochi-1-preview", "transformer"): 10.028,
    ("hunyuanvideo", "transformer"): 12.821,
    ("wan2.1-t2v-1.3b", "text_encoder"): 5.681,  # UMT5-XXL encoder
    ("cogvideox-2b", "text_encoder"): 4.762,  # T5-v1.1-XXL encoder
    ("animatediff", "unet"): 0.860,
    ("animatediff", "motion_adapter"): 0.453,
    ("animatediff", "unet_motion"): 1.313,
    ("wan2.1-t2v-1.3b", "vae"): 0.127,
    ("cogvideox-2b", "vae"): 0.216,
    ("ltx-video", "vae"): 0.419,
    ("mochi-1-preview", "vae"): 0.460,
    ("hunyuanvideo", "vae"): 0.246,
    ("animatediff", "vae"): 0.084,
    ("animatediff", "text_encoder"): 0.123,  # CLIP-L text
    ("hunyuanvideo", "text_encoder_2"): 0.123,
}


def test_registry_ids_and_cfg_modes():
    assert [s.id for s in list_specs()] == IDS
    modes = {s.id: s.cfg_mode for s in list_specs()}
    assert modes["wan2.1-t2v-14b"] == "two_pass" and modes["hunyuanvideo"] == "none"
    assert {modes[i] for i in ("cogvideox-2b", "ltx-video", "mochi-1-preview", "animatediff")} == {"batch2"}
    tokens = {s.id: s.text_tokens for s in list_specs()}
    expected = {"cogvideox-2b": 226, "cogvideox-5b": 226, "ltx-video": 128, "mochi-1-preview": 256,
                "animatediff": 77, "hunyuanvideo": 256}  # fmt: skip
    assert tokens == {**dict.fromkeys(IDS[:3], 512), **expected}


def test_unknown_id_suggests_close_match():
    with pytest.raises(UnknownModelError) as info:
        get_spec("wan2.1-t2v-13b")
    message = str(info.value)
    assert "Did you mean 'wan2.1-t2v-1.3b'" in message and "hunyuanvideo" in message


def test_tiny_ids_and_specs_are_frozen():
    spec = get_spec("ltx-video-tiny")
    assert spec.is_tiny and spec == get_spec("ltx-video").tiny() and spec.tiny() is spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.cfg_mode = "none"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.defaults.height = 1  # type: ignore[misc]


def test_settings_id():
    assert GenerationSettings(480, 832, 81, 50, 5.0).id == "480x832x81-s50"
    assert get_spec("mochi-1-preview").defaults.id == "480x848x19-s64"


@pytest.mark.parametrize("model_id", IDS)
def test_defaults_are_valid(model_id):
    spec = get_spec(model_id)
    spec.validate(spec.defaults)
    spec.tiny().validate(spec.tiny().defaults)


@pytest.mark.parametrize(
    ("model_id", "change", "expected"),
    [
        ("wan2.1-t2v-1.3b", {"num_frames": 80}, "num_frames=80 breaks Wan 2.1's rule num_frames = 4k+1"),
        ("wan2.1-t2v-1.3b", {"num_frames": 80}, "nearest valid: 77 or 81"),
        (
            "wan2.1-t2v-1.3b",
            {"height": 500},
            "height % 16 == 0 (VAE 8x x patch 2); nearest valid: 496 or 512",
        ),
        ("wan2.2-ti2v-5b", {"width": 720}, "width % 32 == 0 (VAE 16x x patch 2); nearest valid: 704 or 736"),
        ("ltx-video", {"num_frames": 160}, "num_frames = 8k+1 (the VAE compresses time 8x"),
        ("ltx-video", {"height": 496}, "nearest valid: 480 or 512"),
        ("mochi-1-preview", {"num_frames": 20}, "nearest valid: 19 or 25"),
        ("animatediff", {"num_frames": 40}, "num_frames <= 32"),
        ("animatediff", {"height": 500}, "nearest valid: 496 or 504"),
        ("hunyuanvideo", {"num_inference_steps": 0}, "num_inference_steps=0 must be a positive integer"),
        ("cogvideox-2b", {"height": 10}, "nearest valid: 16."),
    ],
)
def test_validate_names_rule_and_nearest_values(model_id, change, expected):
    spec = get_spec(model_id)
    with pytest.raises(InvalidSettingsError) as info:
        spec.validate(dataclasses.replace(spec.defaults, **change))
    assert expected in str(info.value)


def test_token_lengths_match_models_md():
    wan = get_spec("wan2.1-t2v-1.3b")
    assert wan.token_length(480, 832, 81) == 32_760
    assert wan.token_length(720, 1280, 81) == 75_600
    assert get_spec("wan2.2-ti2v-5b").token_length(704, 1280, 121) == 31 * 22 * 40
    assert get_spec("cogvideox-5b").token_length(480, 720, 49) == 13 * 30 * 45 + 226
    assert get_spec("ltx-video").token_length(512, 704, 161) == 21 * 16 * 22
    mochi = get_spec("mochi-1-preview")
    assert mochi.token_length(480, 848, 19) == 4 * 30 * 53 + 256
    assert mochi.token_length(480, 848, 19, valid_text_tokens=12) == 4 * 30 * 53 + 12
    assert get_spec("hunyuanvideo").token_length(720, 1280, 129) == 33 * 45 * 80 + 256
    assert get_spec("animatediff").token_length(512, 512, 16) == 64 * 64
    assert get_spec("wan2.1-t2v-1.3b").latent_shape(480, 832, 81) == (1, 16, 21, 60, 104)
    assert get_spec("wan2.2-ti2v-5b").latent_shape(704, 1280, 121, batch=2) == (2, 48, 31, 44, 80)


def test_denoiser_config_summaries():
    wan14 = denoiser_config(get_spec("wan2.1-t2v-14b"))
    assert (wan14.d_model, wan14.num_heads, wan14.num_layers, wan14.ffn_dim) == (5120, 40, 40, 13824)
    assert wan14.patch_size == (1, 2, 2) and wan14.text_dim == 4096
    hy = denoiser_config(get_spec("hunyuanvideo"))
    assert hy.num_layers == 60 and hy.extra["num_single_layers"] == 40 and hy.ffn_dim == 4 * 3072
    assert denoiser_config(get_spec("mochi-1-preview")).ffn_dim == 8192
    assert denoiser_config(get_spec("animatediff")).kind == "unet"


@pytest.mark.parametrize("model_id", IDS)
def test_parameter_counts_on_meta_match_published(model_id):
    counts = count_parameters(get_spec(model_id))
    checked = 0
    for (mid, component), published_b in PUBLISHED_B.items():
        if mid == model_id:
            assert abs(counts[component] / 1e9 - published_b) < 0.0005, (component, counts[component])
            checked += 1
    assert checked >= 1, f"{model_id} has no published parameter count in PUBLISHED_B: add it (models.md)"
    assert all(n > 0 for n in counts.values())


def test_shared_encoders_have_the_published_size():
    counts = count_parameters(get_spec("ltx-video"))
    assert abs(counts["text_encoder"] / 1e9 - 4.762) < 0.0005
    assert abs(count_parameters(get_spec("wan2.1-t2v-14b"))["text_encoder"] / 1e9 - 5.681) < 0.0005


def test_cli_lists_and_shows(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "wan2.1-t2v-1.3b" in out and "two_pass" in out and "32,760" in out
    assert main(["models", "hunyuanvideo", "--params"]) == 0
    out = capsys.readouterr().out
    assert "HunyuanVideoPipeline" in out and "12.821B" in out and "LlamaModel" in out
    assert main(["models", "nope"]) == 2
    assert "unknown model id 'nope'" in capsys.readouterr().err
