"""The denoiser share of a cross-model point divides figures of one GPU (synthetic records)."""

from __future__ import annotations

from typing import Any

import pytest

from t2v_energy_lib.analysis.breakdown import denoiser_share_of, gpu_uuids
from t2v_energy_lib.results import ResultRecord

SETTINGS = {"height": 480, "width": 832, "num_frames": 81, "num_inference_steps": 50, "guidance_scale": 5.0}


def record(
    component: str, energy_j: float, latency_s: float, uuid: str | None, units: int = 1
) -> ResultRecord:
    """A SYNTHETIC cross-model record measured on GPU ``uuid`` (as merged files store it; None: CPU)."""
    state: dict[str, Any] = {"gpu_uuid": "GPU-of-the-file"}
    if uuid is not None:
        state["0"] = {"name": "Synthetic GPU", "uuid": uuid}
    return ResultRecord(
        id=f"cross_model/m/480x832x81-s50/{component}",
        suite="cross_model",
        model="m",
        component=component,
        settings=dict(SETTINGS),
        rounds={"latency_s": (latency_s,) * 3, "gpu_energy_j": (energy_j,) * 3},
        units_per_round=units,
        machine_state=state,
    )


def point(e2e_uuid: str | None, parts_uuid: str | None = "GPU-a") -> list[ResultRecord]:
    step = record("denoiser_step", 100.0, 1.0, parts_uuid)  # 50 steps: 5000 J
    composed = record("composed", 5500.0, 55.0, parts_uuid)
    return [step, composed, record("end_to_end", 4900.0, 55.0, e2e_uuid)]


def test_machine_state_uuids_are_the_devices_not_the_file_annotation() -> None:
    assert gpu_uuids(record("end_to_end", 1.0, 1.0, "GPU-b")) == {"GPU-b"}


def test_complete_generation_on_the_parts_gpu_is_the_total() -> None:
    share = denoiser_share_of(point("GPU-a"), "synthetic")
    assert share["total_from"] == "end_to_end"
    assert share["share"] == pytest.approx(5000.0 / 4900.0)


def test_complete_generation_on_another_gpu_leaves_the_composed_total() -> None:
    share = denoiser_share_of(point("GPU-b"), "synthetic")
    assert share["total_from"] == "composed"
    assert share["share"] == pytest.approx(5000.0 / 5500.0)


def test_records_without_a_gpu_state_keep_the_complete_generation_as_total() -> None:
    """A CPU run records no GPU: its complete generation ran on the same machine as its parts."""
    assert denoiser_share_of(point(None, parts_uuid=None), "synthetic")["total_from"] == "end_to_end"
