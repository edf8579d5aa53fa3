"""The analysis layer's adapter to the real theory layer (FLOPs, roofline, predictors), and record readers
that must match what the GPU runner writes. Measured-looking values here are SYNTHETIC (from a stated law)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2v_energy_lib import theory
from t2v_energy_lib.analysis.breakdown import denoiser_shares, matmul_attention_shares
from t2v_energy_lib.analysis.points import SweepPoint
from t2v_energy_lib.analysis.predictor_fit import denoising_point, fit_sweep_predictors
from t2v_energy_lib.analysis.roofline import check_compute_bound
from t2v_energy_lib.analysis.synthetic import write_synthetic_results
from t2v_energy_lib.analysis.theory_view import from_theory, gpu_spec_for
from t2v_energy_lib.errors import FitError, MissingResultsError
from t2v_energy_lib.models import get_spec

WAN = "wan2.1-t2v-1.3b"
NVML_H100 = {"gpu": {"name": "NVIDIA H100 80GB HBM3"}}


def _settings(h: int, w: int, f: int, s: int = 50) -> dict[str, float]:
    return {"height": h, "width": w, "num_frames": f, "num_inference_steps": s, "guidance_scale": 5.0}


def test_the_nvml_gpu_name_maps_to_the_theorys_h100() -> None:
    assert gpu_spec_for(NVML_H100) is theory.GPUS["h100"]
    with pytest.raises(FitError, match="no theory ceilings for the results' GPU 'SYNTHETIC"):
        gpu_spec_for({"gpu": {"name": "SYNTHETIC (no measurement)"}})
    with pytest.raises(FitError, match="names no GPU"):
        gpu_spec_for({})


def test_from_theory_counts_both_cfg_passes_and_places_the_step_on_the_h100_roofline() -> None:
    view = from_theory(NVML_H100)
    s = _settings(720, 1280, 81)
    spec = get_spec(WAN)
    one_forward = theory.denoiser_flops(spec, theory.settings_from_mapping(spec, s)).total_flops
    assert view.step_flops(WAN, s) == pytest.approx(2 * one_forward)  # Wan runs CFG as two passes
    assert view.token_length(WAN, s) == 21 * 45 * 80
    assert view.ridge_flops_per_byte == pytest.approx(989e12 / 3.35e12)
    assert view.step_intensity(WAN, s) > view.ridge_flops_per_byte
    small = _settings(64, 64, 1)
    assert view.step_intensity(WAN, small) < view.step_intensity(WAN, s)
    threshold = view.threshold_tokens(WAN)
    assert threshold is not None and 1 < threshold < 30_000
    assert view.threshold_tokens("animatediff") is None  # a UNet has no single token length


def _synthetic_sweep_points() -> dict[str, list[SweepPoint]]:
    """SYNTHETIC points of a per-operator law: GEMMs at 300 TFLOP/s, attention at 550, 5 ms per forward."""

    def point(suite: str, s: dict[str, float]) -> SweepPoint:
        proto = SweepPoint(WAN, s, 0.0, (1.0,), (1.0,), "denoiser_step", f"{suite}/{s}")
        f = denoising_point(proto)
        latency = f.gemm_flops / 300e12 + f.attention_flops / 550e12 + 0.005 * f.forwards
        return SweepPoint(WAN, s, 0.0, (650.0 * latency,), (latency,), "denoiser_step", proto.record_id)

    sizes = [(256, 256), (384, 384), (480, 832), (720, 720), (720, 1280)]
    return {
        "resolution": [point("resolution", _settings(h, w, 81)) for h, w in sizes],
        "frames": [point("frames", _settings(720, 1280, f)) for f in (9, 33, 61)],
    }


def test_the_per_operator_predictor_beats_single_mu_on_points_of_its_own_form() -> None:
    sweeps = _synthetic_sweep_points()
    fit = fit_sweep_predictors(sweeps, peak_flops=989e12)
    assert fit.study == ("single_mu", "single_mu_generic") and fit.ours == "per_operator"
    assert fit.cross_validated
    for points in sweeps.values():
        for p in points:
            e_ours, t_ours = fit.held_out["per_operator"][p.record_id]
            assert t_ours == pytest.approx(p.latency_mean_s, rel=0.02)
            assert e_ours == pytest.approx(p.energy_mean_j, rel=0.02)
    assert fit.parameters["single_mu"]["mu"] > 0


def test_the_fitter_refuses_too_few_points() -> None:
    sweeps = _synthetic_sweep_points()
    with pytest.raises(FitError, match=">= 6 measured points"):
        fit_sweep_predictors({"frames": sweeps["frames"]}, peak_flops=989e12)


def test_compute_bound_with_the_real_theory_refuses_a_synthetic_gpu(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path)
    with pytest.raises(FitError, match="no theory ceilings"):
        check_compute_bound(folder)


def _cross_model_doc(tmp_path: Path) -> Path:
    folder = write_synthetic_results(tmp_path)
    return folder / "cross_model.json"


def test_kernel_shares_are_read_from_the_profilers_extra_profile(tmp_path: Path) -> None:
    path = _cross_model_doc(tmp_path)
    doc = json.loads(path.read_text())
    for r in doc["records"]:
        if r["component"] == "operator_profile":
            shares = r["extra"].pop("shares")
            r["extra"]["profile"] = {"shares": {**shares, "convolution": 0.0}, "total_time_us": 1.0}
    path.write_text(json.dumps(doc))
    shares = matmul_attention_shares(path.parent)
    assert shares[WAN]["share"] == pytest.approx(0.85)
    assert shares[WAN]["shares"]["convolution"] == 0.0


def test_component_options_do_not_split_a_video_and_failed_runs_say_why(tmp_path: Path) -> None:
    path = _cross_model_doc(tmp_path)
    doc = json.loads(path.read_text())
    for r in doc["records"]:
        if r["component"] == "vae_decode":
            r["settings"]["vae_tiling"] = False  # as the runner writes it
    path.write_text(json.dumps(doc))
    assert set(denoiser_shares(path.parent)) == {WAN, "cogvideox-2b"}
    error = {
        **doc["records"][0],
        "id": "cross_model/x/error",
        "component": "error",
        "extra": {"error": "RuntimeError: SYNTHETIC failure\nsecond line"},
    }
    path.write_text(json.dumps({**doc, "records": [error]}))
    with pytest.raises(
        MissingResultsError, match=r"only failed runs .*SYNTHETIC failure second line"
    ) as info:
        denoiser_shares(path.parent)
    assert info.value.component == "denoiser_step"
