"""Per-generation FLOPs from model specs, CFG execution, VAE counts, and the ``predict`` command."""

from __future__ import annotations

import dataclasses

import pytest

from t2v_energy_lib.cli import main
from t2v_energy_lib.errors import UnknownModelError
from t2v_energy_lib.models import GenerationSettings, get_spec, known_ids
from t2v_energy_lib.theory import cfg_execution, generation_flops, predictor_point, vae_decoder_flops

FULL_IDS = [i for i in known_ids() if not i.endswith("-tiny")]


@pytest.mark.parametrize(
    ("model", "guidance", "expected"),
    [
        ("wan2.1-t2v-1.3b", 5.0, (2, 1)),
        ("cogvideox-2b", 6.0, (1, 2)),
        ("animatediff", 7.5, (1, 2)),
        ("hunyuanvideo", 6.0, (1, 1)),
        ("wan2.1-t2v-1.3b", 1.0, (1, 1)),
    ],
    ids=lambda v: str(v),
)
def test_cfg_execution(model: str, guidance: float, expected: tuple[int, int]) -> None:
    assert cfg_execution(get_spec(model), guidance) == expected


@pytest.mark.parametrize("model", FULL_IDS)
def test_generation_totals_add_up_at_defaults(model: str) -> None:
    spec = get_spec(model)
    g = generation_flops(spec, spec.defaults, include_vae=False)
    assert g.token_length == spec.token_length(
        spec.defaults.height, spec.defaults.width, spec.defaults.num_frames
    )
    assert all(v > 0 for v in g.forward.terms.values())
    assert sum(g.forward.shares().values()) == pytest.approx(1.0)
    assert g.step.total_flops == pytest.approx(g.forwards_per_step * g.forward.total_flops)
    assert g.denoise.total_flops == pytest.approx(g.steps * g.step.total_flops)
    text = sum(b.total_flops for b in g.text_encoders.values())
    assert g.total_flops == pytest.approx(g.denoise.total_flops + text)
    assert g.denoise.total_flops > 0.6 * g.total_flops  # the denoiser dominates (the study's claim 4)


def test_steps_are_linear_and_batch2_doubles_the_forward() -> None:
    spec = get_spec("cogvideox-2b")
    s = spec.defaults
    g10 = generation_flops(spec, dataclasses.replace(s, num_inference_steps=10), include_vae=False)
    g20 = generation_flops(spec, dataclasses.replace(s, num_inference_steps=20), include_vae=False)
    assert g20.total_flops - g10.total_flops == pytest.approx(10 * g10.step.total_flops)
    no_cfg = generation_flops(spec, dataclasses.replace(s, guidance_scale=1.0), include_vae=False)
    assert g10.forward.total_flops == pytest.approx(2 * no_cfg.forward.total_flops)


def test_wan_forward_matches_the_h100_notes_formula() -> None:
    spec = get_spec("wan2.1-t2v-1.3b")
    g = generation_flops(spec, GenerationSettings(480, 832, 81, 50, 5.0), include_vae=False)
    l, d, f, m = 32_760, 1536, 8960, 512  # noqa: E741 (l: token length, the paper's notation)
    formula = 30 * (12 * l * d * d + 4 * l * d * f + 4 * l * l * d + 4 * l * m * d + 4 * m * d * d)
    assert g.forward.total_flops == pytest.approx(formula, rel=0.003)


def test_mochi_valid_text_tokens_shrink_joint_attention() -> None:
    spec = get_spec("mochi-1-preview")
    full = generation_flops(spec, spec.defaults, include_vae=False)
    short = generation_flops(spec, spec.defaults, include_vae=False, valid_text_tokens=20)
    assert short.forward.terms["attn_scores"] < full.forward.terms["attn_scores"]
    assert short.forward.terms["context_stream"] == pytest.approx(full.forward.terms["context_stream"])


def test_video_vae_decoder_is_counted_on_meta() -> None:
    spec = get_spec("cogvideox-2b")  # no analytic model: counted with FlopCounterMode on a meta build
    small = generation_flops(spec, GenerationSettings(128, 128, 9, 2, 6.0)).vae_decoder
    large = generation_flops(spec, GenerationSettings(256, 256, 9, 2, 6.0)).vae_decoder
    assert small is not None and large is not None and not small.ops
    assert small.terms["vae_conv"] > 0.9 * small.total_flops
    assert large.total_flops == pytest.approx(4 * small.total_flops, rel=0.05)  # conv work scales with pixels
    with pytest.raises(UnknownModelError, match="no VAE class"):
        vae_decoder_flops("AutoencoderKLDoesNotExist", {}, (1, 4, 2, 8, 8))


def test_wan21_vae_decoder_is_analytic_with_bytes() -> None:
    spec = get_spec("wan2.1-t2v-1.3b")
    vae = generation_flops(spec, GenerationSettings(480, 832, 81, 2, 5.0)).vae_decoder
    assert vae is not None and vae.ops and vae.total_bytes > 0
    assert vae.total_flops == pytest.approx(sum(op.total_flops for op in vae.ops))


def test_predictor_point_features() -> None:
    spec = get_spec("wan2.1-t2v-1.3b")
    s = GenerationSettings(480, 832, 81, 50, 5.0)
    p = predictor_point(spec, s, 1.0, 2.0)
    g = generation_flops(spec, s, include_vae=False)
    assert p.flops == pytest.approx(g.step.total_flops)
    assert p.forwards == 2 and p.token_length == 32_760 and p.generic_flops > p.flops


def test_predict_cli_with_study_constants(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "predict",
        "--model",
        "wan2.1-t2v-1.3b",
        "--height",
        "720",
        "--width",
        "1280",
        "--frames",
        "81",
        "--steps",
        "50",
        "--gpu",
        "h100",
        "--no-vae",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "token length l = 75,600" in out
    assert "attn_scores" in out and "compute-bound" in out
    assert "STUDY'S constants (not our fit): mu = 0.456" in out


def test_predict_cli_fits_synthetic_results(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """A result file of SYNTHETIC denoiser_step records (made from a known per-operator model)."""
    import json

    spec = get_spec("wan2.1-t2v-1.3b")
    records = []
    for h, w, f in [
        (256, 256, 17),
        (480, 832, 17),
        (480, 832, 33),
        (480, 832, 81),
        (720, 1280, 49),
        (720, 1280, 81),
    ]:
        s = GenerationSettings(h, w, f, 50, 5.0)
        p = predictor_point(spec, s)
        t = (
            2 * 0.01
            + p.gemm_flops / (5e14 * p.token_length / (p.token_length + 1500))
            + p.attention_flops / 4e14
        )
        records.append(
            {
                "id": f"synthetic/{spec.id}/{s.id}/denoiser_step",
                "suite": "synthetic",
                "model": spec.id,
                "component": "denoiser_step",
                "settings": dataclasses.asdict(s),
                "rounds": {"latency_s": [t, t * 1.001], "gpu_energy_j": [600 * t, 600 * t * 1.001]},
            }
        )
    doc = {
        "schema": "t2v-energy.results",
        "schema_version": 1,
        "provenance": {"synthetic": True},
        "records": records,
    }
    path = tmp_path / "synthetic.json"
    path.write_text(json.dumps(doc))
    assert main(["predict", "--model", spec.id, "--no-vae", "--fit", str(path)]) == 0
    out = capsys.readouterr().out
    assert "fitted on 6 denoiser_step records" in out
    assert "per_operator" in out and "single_mu" in out and "LOO MAPE" in out
