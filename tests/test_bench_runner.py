"""Runner logic on a fake pipeline and a fake meter (synthetic numbers, no hardware, milliseconds).

The fake pipeline has the call structure of a diffusers text-to-video pipeline (``encode_prompt`` once per
call, a denoising loop with ``callback_on_step_end``, ``vae.decode`` unless ``output_type="latent"``); the
fake meter returns a SYNTHETIC 100 W x duration as GPU energy. Nothing here is a measurement.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from synthetic_windows import synthetic_window  # tests/ is on sys.path (no tests/__init__.py)

from t2v_energy_lib.bench.api import characterize
from t2v_energy_lib.bench.compose import means
from t2v_energy_lib.bench.measure import MeasureConfig
from t2v_energy_lib.bench.runner import RunOptions
from t2v_energy_lib.energy import Measurement
from t2v_energy_lib.results.storage import load_results

SYNTHETIC_POWER_W = 100.0
FAST = MeasureConfig(
    target_window_s=0.002,
    text_window_s=0.001,
    rounds=3,
    vae_rounds=2,
    max_steps_per_window=4,
    max_text_reps=3,
    e2e_rounds=2,
)


class FakeMeter:
    """Wall-clock windows with synthetic GPU energy (100 W x duration)."""

    gpu = None  # asks for no power timeline

    def __init__(self) -> None:
        self.open: dict[str, float] = {}
        self.windows = 0

    def begin_window(self, key: str) -> None:
        assert key not in self.open, f"window {key} opened twice"
        self.open[key] = time.perf_counter()

    def end_window(self, key: str) -> Measurement:
        d = time.perf_counter() - self.open.pop(key)
        self.windows += 1
        return synthetic_window(key, d, gpu_j=SYNTHETIC_POWER_W * d, above_idle_j=50 * d)


class FakeVae:
    dtype = torch.float32

    def __init__(self, fail_above_pixels: int | None = None) -> None:
        self.fail_above_pixels = fail_above_pixels
        self.tiling = False
        self.decoded_frames: list[int] = []

    def enable_tiling(self) -> None:
        self.tiling = True

    def disable_tiling(self) -> None:
        self.tiling = False

    def decode(self, z: torch.Tensor, return_dict: bool = False) -> tuple[torch.Tensor]:
        h, w = z.shape[-2] * 8, z.shape[-1] * 8
        if self.fail_above_pixels is not None and h * w > self.fail_above_pixels and not self.tiling:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected by the test)")
        self.decoded_frames.append(z.shape[2])
        return (torch.zeros(1, 3, (z.shape[2] - 1) * 4 + 1, h, w),)


class FakePipe:
    def __init__(self, vae: FakeVae | None = None, fail_on_height: int | None = None) -> None:
        self.vae = vae or FakeVae()
        self.encode_calls = 0
        self.steps_run = 0
        self.fail_on_height = fail_on_height

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        pass

    def encode_prompt(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        do_classifier_free_guidance: bool = True,
        device: Any = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.encode_calls += 1
        return torch.ones(1, 4, 8), torch.zeros(1, 4, 8)

    def __call__(
        self,
        prompt: str,
        height: int,
        width: int,
        num_frames: int,
        num_inference_steps: int,
        guidance_scale: float,
        output_type: str = "np",
        callback_on_step_end: Any = None,
    ) -> Any:
        if height == self.fail_on_height:
            raise RuntimeError("injected failure")
        self.encode_prompt(
            prompt=prompt, negative_prompt=None, do_classifier_free_guidance=guidance_scale > 1
        )
        latents = torch.zeros(1, 4, (num_frames - 1) // 4 + 1, height // 8, width // 8)
        for i in range(num_inference_steps):
            latents = latents + 1.0
            self.steps_run += 1
            if callback_on_step_end is not None:
                callback_on_step_end(self, i, i, {"latents": latents})
        if output_type == "latent":
            return latents
        return self.vae.decode(latents)[0]


def run(
    tmp_path: Path, suites: list[str], pipe: FakePipe | None = None, **kw: Any
) -> tuple[list[Any], list[str]]:
    lines: list[str] = []
    pipe = pipe or FakePipe()
    opts = RunOptions(out_dir=tmp_path, device="cpu", config=FAST, **kw.pop("opts", {}))
    outcomes = characterize(
        suites,
        opts,
        tiny=True,
        meter=FakeMeter(),
        provenance={"date_utc": "synthetic"},
        build=lambda *a: pipe,
        log=lines.append,
        **kw,
    )
    return outcomes, lines


def test_resolution_suite_writes_parts_and_composed(tmp_path: Path) -> None:
    outcomes, lines = run(tmp_path, ["resolution"], points="0-2")
    assert outcomes[0].done and len(outcomes[0].done) == 3
    res = load_results(tmp_path / "resolution.json")
    ids = set(res.by_id())
    first = "resolution/wan2.1-t2v-1.3b-tiny/16x16x9-s50"
    assert {f"{first}/denoiser_step", f"{first}/vae_decode", f"{first}/composed"} <= ids
    assert "resolution/wan2.1-t2v-1.3b-tiny/prompt/text_encoder" in ids
    by = res.by_id()
    step, vae = by[f"{first}/denoiser_step"], by[f"{first}/vae_decode"]
    text = by["resolution/wan2.1-t2v-1.3b-tiny/prompt/text_encoder"]
    composed = by[f"{first}/composed"]
    assert composed.composed and not step.composed
    expected = (
        means(text.rounds)["gpu_energy_j"]
        + 50 * means(step.rounds)["gpu_energy_j"]
        + means(vae.rounds)["gpu_energy_j"]
    )
    assert composed.rounds["gpu_energy_j"][0] == pytest.approx(expected)
    assert composed.extra["parts"]["denoiser_step"] == step.id
    assert len(step.rounds["latency_s"]) == 3 and step.units_per_round >= 1
    assert any("ETA" in line for line in lines)
    assert all(r.extra["pipeline_build_s"] >= 0 for r in (text, step, vae, composed))  # build time stored


def test_records_survive_an_exception_after_point_two(tmp_path: Path) -> None:
    """An exception that ends the run after point 2 leaves points 1-2 on disk."""
    pipe = FakePipe()
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("[2/"):
            raise KeyboardInterrupt  # the process is killed after the second point was written

    opts = RunOptions(out_dir=tmp_path, device="cpu", config=FAST)
    with pytest.raises(KeyboardInterrupt):
        characterize(
            ["resolution"],
            opts,
            tiny=True,
            meter=FakeMeter(),
            provenance={"date_utc": "synthetic"},
            build=lambda *a: pipe,
            log=log,
            points="0-5",
        )
    res = load_results(tmp_path / "resolution.json")
    composed = [r.id for r in res.records if r.component == "composed"]
    assert len(composed) == 2
    # resume skips them and does the rest
    outcomes, _ = run(tmp_path, ["resolution"], points="0-5", opts={"resume": True})
    assert len(outcomes[0].skipped) == 2 and len(outcomes[0].done) == 4


def test_time_budget_stops_cleanly(tmp_path: Path) -> None:
    outcomes, lines = run(tmp_path, ["resolution", "frames"], opts={"time_budget_s": 0.0})
    assert outcomes[0].stopped_for_budget and not outcomes[0].done
    assert len(outcomes) == 1  # the next suite does not start
    assert any("time budget" in line for line in lines)


def test_failure_becomes_an_error_record_and_the_sweep_goes_on(tmp_path: Path) -> None:
    pipe = FakePipe(fail_on_height=32)  # tiny sweep points 2-3 have height 32
    outcomes, _ = run(tmp_path, ["resolution"], pipe=pipe, points="0-4")
    res = load_results(tmp_path / "resolution.json").by_id()
    failed = outcomes[0].failed
    assert failed and outcomes[0].done
    for sid in failed:
        err = res[f"{sid}/error"]
        assert "injected failure" in err.extra["error"]
        assert f"{sid}/composed" not in res and "latency_s" not in err.rounds


def test_vae_out_of_memory_falls_back_to_tiling(tmp_path: Path) -> None:
    pipe = FakePipe(vae=FakeVae(fail_above_pixels=32 * 32))
    outcomes, _ = run(tmp_path, ["resolution"], pipe=pipe, points="0-4")
    assert not outcomes[0].failed
    res = load_results(tmp_path / "resolution.json").by_id()
    big = res["resolution/wan2.1-t2v-1.3b-tiny/32x48x9-s50/vae_decode"]
    small = res["resolution/wan2.1-t2v-1.3b-tiny/16x16x9-s50/vae_decode"]
    assert big.settings["vae_tiling"] is True and "out of memory" in big.extra["vae_tiling_reason"]
    assert small.settings["vae_tiling"] is False


def test_steps_suite_measured_prefixes_and_composed_tail(tmp_path: Path) -> None:
    outcomes, _ = run(tmp_path, ["steps"], opts={"measured_steps": 4})
    res = load_results(tmp_path / "steps.json").by_id()
    trace = res["steps/wan2.1-t2v-1.3b-tiny/32x48x9-s4/denoiser_step_trace"]
    assert len(trace.rounds["latency_s"]) == 4
    loop3 = res["steps/wan2.1-t2v-1.3b-tiny/32x48x9-s3/denoise_loop"]
    assert not loop3.composed and loop3.extra["measured_prefix_of_run_steps"] == 4
    assert loop3.rounds["latency_s"][0] == pytest.approx(sum(trace.rounds["latency_s"][:3]))
    loop10 = res["steps/wan2.1-t2v-1.3b-tiny/32x48x9-s10/denoise_loop"]
    assert loop10.composed
    mean_step = means(trace.rounds)["latency_s"]
    assert loop10.rounds["latency_s"][0] == pytest.approx(sum(trace.rounds["latency_s"]) + 6 * mean_step)
    assert not outcomes[0].failed


def test_validation_compares_measured_and_composed(tmp_path: Path) -> None:
    run(tmp_path, ["validation"], points="0")
    res = load_results(tmp_path / "validation.json")
    e2e = [r for r in res.records if r.component == "end_to_end"]
    composed = [r for r in res.records if r.component == "composed"]
    assert len(e2e) == 1 and len(e2e[0].rounds["latency_s"]) == FAST.e2e_rounds
    rel = composed[0].extra["measured_vs_composed_rel"]
    assert set(rel) >= {"latency_s", "gpu_energy_j"}


def test_shape_measurements_are_reused_across_suites(tmp_path: Path) -> None:
    run(tmp_path, ["frames"], points="2")  # 32x48x9
    run(tmp_path, ["steps"], points="0", opts={"measured_steps": 2})  # vae at 32x48x9 reused
    steps = load_results(tmp_path / "steps.json").by_id()
    vae = steps["steps/wan2.1-t2v-1.3b-tiny/32x48x9-s1/vae_decode"]
    assert vae.extra["reused_from"] == "frames/wan2.1-t2v-1.3b-tiny/32x48x9-s50/vae_decode"
    data = json.loads((tmp_path / "steps.json").read_text())
    assert data["schema"] == "t2v-energy.results"


def test_cross_model_resume_adds_only_the_missing_complete_generation(tmp_path: Path) -> None:
    """A cross-model point first measured without a complete generation gets one on --resume once the limit
    allows it: the parts are reused as stored, the breakdown is rebuilt with the measured rest."""
    first = {"e2e_max_s": 0.0, "profile_ops": False}
    outcomes, _ = run(tmp_path, ["cross_model"], points="0", model_ids=["wan2.1-t2v-1.3b"], opts=first)
    assert outcomes[0].done
    before = load_results(tmp_path / "cross_model.json").by_id()
    (step_id,) = [i for i in before if i.endswith("/denoiser_step")]
    (breakdown_id,) = [i for i in before if i.endswith("/breakdown")]
    assert not any(i.endswith("/end_to_end") for i in before)
    assert not before[breakdown_id].extra["breakdown"]["rest_measured"]

    again = {"e2e_max_s": 1e9, "profile_ops": False, "resume": True}
    outcomes, _ = run(tmp_path, ["cross_model"], points="0", model_ids=["wan2.1-t2v-1.3b"], opts=again)
    assert outcomes[0].done and not outcomes[0].skipped
    after = load_results(tmp_path / "cross_model.json").by_id()
    assert after[step_id].rounds == before[step_id].rounds  # reused, not measured again
    assert any(i.endswith("/end_to_end") for i in after)
    assert after[breakdown_id].extra["breakdown"]["rest_measured"]

    outcomes, _ = run(tmp_path, ["cross_model"], points="0", model_ids=["wan2.1-t2v-1.3b"], opts=again)
    assert outcomes[0].skipped and not outcomes[0].done  # complete now: nothing left to measure
