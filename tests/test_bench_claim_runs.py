"""The GPU script's Python entry points (baselines/scripts/h200_claims.sh) on the CPU: the calibration file as
the compute-bound claim reads it, independent step runs and the random-weights study on the tiny Wan model.
Every energy here is SYNTHETIC or absent (CPU runs measure latency only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from t2v_energy_lib.analysis.roofline import measured_ceilings
from t2v_energy_lib.bench.calibrate import build_document
from t2v_energy_lib.bench.steps_runs import run_independent_steps, visiting_order
from t2v_energy_lib.bench.weights_study import VARIANTS, run_weights_study, spread_summary
from t2v_energy_lib.models.builder import needs_redraw
from t2v_energy_lib.results import ResultFile, load_results

TINY = "wan2.1-t2v-1.3b-tiny"


def test_the_calibration_file_reads_back_as_a_measured_ceiling_of_its_gpu(tmp_path: Path) -> None:
    """bench/calibrate.py's result file (SYNTHETIC rounds) gives compute-bound its ceiling, per GPU uuid."""
    settings = {"matmul_n": 8192, "copy_bytes": 1 << 30, "rounds": 2, "device": 0}
    doc = build_document(
        matmul=[(100, 1.0), (110, 1.0)],
        copy=[(50, 1.0), (50, 1.0)],
        idle=(5.0, 500.0),
        loaded=(2.0, 1300.0),
        provenance={"gpu": {"name": "NVIDIA H200"}},
        settings=settings,
        machine_state={"gpu_uuid": "GPU-synthetic"},
    )
    (tmp_path / "calibration.json").write_text(json.dumps(doc))
    ceilings = measured_ceilings(load_results(tmp_path / "calibration.json"))
    assert set(ceilings) == {"GPU-synthetic"}
    assert ceilings["GPU-synthetic"].flops_per_s == pytest.approx(110 * 2.0 * 8192**3)


def test_step_counts_are_visited_round_by_round_in_alternating_order() -> None:
    assert visiting_order([1, 2, 3], 2) == [(0, 1), (0, 2), (0, 3), (1, 3), (1, 2), (1, 1)]


def test_independent_step_runs_on_the_tiny_model(tmp_path: Path) -> None:
    records = run_independent_steps(
        tmp_path, TINY, (32, 32, 5), [1, 2], rounds=2, device="cpu", dtype="float32", provenance={}
    )
    assert [r.settings["num_inference_steps"] for r in records] == [1, 2]
    assert all(r.component == "denoise_run" and r.extra["independent"] for r in records)
    assert all(len(r.rounds["latency_s"]) == 2 for r in records)  # one round per complete run
    stored = load_results(tmp_path / "steps_independent.json")
    assert len(stored.select(component="denoise_run")) == 2


def test_weights_study_on_the_tiny_model_flags_degenerate_weights(tmp_path: Path) -> None:
    chosen = [v for v in VARIANTS if v.name in ("builder", "zero_blocks", "sparse_90")]
    records = run_weights_study(
        tmp_path, TINY, (32, 32, 5), rounds=1, forwards=1, device="cpu", dtype="float32",
        variants=chosen, provenance={},
    )  # fmt: skip
    by_name: dict[str, Any] = {r.settings["weights"]: r for r in records}
    assert by_name["builder"].extra["degenerate"] is None
    assert "re-draw" in by_name["zero_blocks"].extra["degenerate"]
    assert "re-draw" in by_name["sparse_90"].extra["degenerate"]
    assert "(degenerate)" in spread_summary(records)
    assert isinstance(load_results(tmp_path / "weights_study.json"), ResultFile)


def test_the_builder_redraws_sparse_zero_and_non_finite_matrices() -> None:
    dense = torch.randn(8, 8)
    sparse = dense * (torch.arange(64).reshape(8, 8) % 4 == 0)  # 75% zeros
    assert not needs_redraw(dense)
    assert needs_redraw(sparse) and needs_redraw(torch.zeros(4, 4))
    assert needs_redraw(torch.tensor([[1.0, float("nan")]]))
    assert not needs_redraw(torch.tensor([0.0, 0.0, 1.0]))  # a vector (bias, norm) may hold zeros


@pytest.mark.parametrize("script", ["h200_claims.sh"])
def test_gpu_script_calls_the_entry_points_with_timeouts(script: str) -> None:
    text = (Path(__file__).resolve().parents[1] / "baselines" / "scripts" / script).read_text()
    for module in ("bench.calibrate", "bench.steps_runs", "bench.weights_study"):
        assert f"t2v_energy_lib.{module}" in text
    assert "timeout -s INT" in text and text.count("\nrun ") == 3  # every job bounded
    limits = [int(line.split()[1]) for line in text.splitlines() if line.startswith("run ")]
    assert sum(limits) <= 8 * 60, limits


def test_weights_study_inputs_match_a_bfloat16_model_with_float32_parts() -> None:
    """A bf16 Wan keeps some block parameters in float32: the inputs take the dtype most weights have.

    The H200 run of the study failed on float32 latents fed to the bf16 patch embedding.
    """
    from t2v_energy_lib.bench.weights_study import forward_inputs
    from t2v_energy_lib.models import get_spec
    from t2v_energy_lib.models.builder import build_component

    model = build_component(get_spec("wan2.1-t2v-1.3b-tiny"), "transformer", device="cpu", dtype="bfloat16")
    assert {p.dtype for p in model.parameters()} == {torch.float32, torch.bfloat16}
    inputs = forward_inputs(model, (64, 64, 9), 1.0, torch.Generator().manual_seed(0))
    assert inputs["hidden_states"].dtype == torch.bfloat16
    with torch.no_grad():
        assert torch.isfinite(model(**inputs)[0].float()).all()
