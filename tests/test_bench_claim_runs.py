"""The GPU script's Python entry points (baselines/scripts/h200_claims.sh) on the CPU: calibration with a
scripted meter, independent step runs and the random-weights study on the tiny Wan model. Every energy here
is SYNTHETIC (scripted) or absent (CPU runs measure latency only)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from t2v_energy_lib.analysis.roofline import measured_ceilings
from t2v_energy_lib.bench.calibration import CalibrationConfig, calibrate, document, summary
from t2v_energy_lib.bench.steps_runs import run_independent_steps, visiting_order
from t2v_energy_lib.bench.weights_study import VARIANTS, run_weights_study, spread_summary
from t2v_energy_lib.models.builder import needs_redraw
from t2v_energy_lib.results import ResultFile, load_results

TINY = "wan2.1-t2v-1.3b-tiny"


class ScriptedMeter:
    """Windows of 300 W (SYNTHETIC) over the time the loop really took; idle 60 W."""

    def measure_idle(self, seconds: float) -> dict[int, float]:
        return {0: 60.0}

    @contextlib.contextmanager
    def window(self, key: str) -> Iterator[SimpleNamespace]:
        handle = SimpleNamespace(result=None)
        yield handle
        handle.result = SimpleNamespace(gpu_energy_j={0: 300.0 * 0.05}, mean_power_w={0: 300.0}, states={})


def test_calibration_records_read_back_as_a_measured_ceiling(tmp_path: Path) -> None:
    config = CalibrationConfig(matmul_n=64, copy_mib=1, rounds=2, round_s=0.02, idle_s=0.0)
    records = calibrate(ScriptedMeter(), 0, "cpu", config, sync=lambda: None)
    assert [r["id"] for r in records] == [
        "calibration/idle/idle",
        "calibration/matmul-bf16-64/matmul_ceiling",
        "calibration/copy/copy",
    ]
    matmul, copy = records[1], records[2]
    assert len(matmul["rounds"]["achieved_flops_per_s"]) == 2 and min(matmul["rounds"]["latency_s"]) >= 0.02
    assert all(v > 0 for v in copy["rounds"]["copy_bytes_per_s"])
    doc = document(records, {"synthetic": True})
    (tmp_path / "calibration.json").write_text(json.dumps(doc))
    ceilings = measured_ceilings(load_results(tmp_path / "calibration.json"))
    assert next(iter(ceilings.values())).flops_per_s == max(matmul["rounds"]["achieved_flops_per_s"])
    assert "TFLOP/s" in summary(doc) and "GB/s" in summary(doc)


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
    for module in ("bench.calibration", "bench.steps_runs", "bench.weights_study"):  # calibrate: issue 14's
        assert f"t2v_energy_lib.{module}" in text
    assert "timeout -s INT" in text and text.count("\nrun ") == 3  # every job bounded
    limits = [int(line.split()[1]) for line in text.splitlines() if line.startswith("run ")]
    assert sum(limits) <= 8 * 60, limits
