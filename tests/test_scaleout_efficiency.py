"""Energy summed across devices and parallel-efficiency arithmetic (synthetic numbers throughout)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from t2v_energy_lib.errors import FitError
from t2v_energy_lib.results.schema import ResultRecord
from t2v_energy_lib.scaleout.efficiency import (
    ScalingEfficiency,
    efficiency_from_records,
    scaling_efficiency,
    sum_device_energy,
)


@dataclasses.dataclass(frozen=True)
class FakeWindow:
    """Stands in for energy.GpuWindow: only gpu_energy_j is read."""

    gpu_energy_j: dict


def test_sum_of_a_window_keeps_each_device():
    summed = sum_device_energy(FakeWindow({0: 100.0, 1: 120.0, 2: 80.5, 3: 99.5}))
    assert summed.total_j == pytest.approx(400.0)
    assert summed.n_devices == 4
    assert summed.per_device_j == {"0": 100.0, "1": 120.0, "2": 80.5, "3": 99.5}


def test_sum_accepts_a_plain_mapping_and_uuid_keys():
    summed = sum_device_energy({"GPU-a-synthetic": 1.0, "GPU-b-synthetic": 2.0})
    assert summed.total_j == 3.0


@pytest.mark.parametrize("bad", [{}, {0: -1.0}, {0: float("nan")}, {0: float("inf")}, {0: 1.0, "0": 2.0}])
def test_sum_refuses_bad_windows(bad):
    with pytest.raises(FitError):
        sum_device_energy(bad)


def test_sum_refuses_other_types():
    with pytest.raises(TypeError, match="GpuWindow"):
        sum_device_energy([1.0, 2.0])


def test_efficiency_arithmetic():
    # 1 GPU: 8 s and 4000 J per unit; 4 GPUs: 2.5 s and 4 x 1100 J
    eff = scaling_efficiency(
        t1_s=8.0, e1_j=4000.0, tn_s=2.5, en_j={0: 1100.0, 1: 1100.0, 2: 1100.0, 3: 1100.0}
    )
    assert eff.n_devices == 4
    assert eff.speedup == pytest.approx(3.2)
    assert eff.efficiency == pytest.approx(0.8)
    assert eff.en_total_j == pytest.approx(4400.0)
    assert eff.energy_overhead == pytest.approx(0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        eff.speedup = 1.0  # type: ignore[misc]
    assert eff.to_dict()["efficiency"] == pytest.approx(0.8)


def test_perfect_scaling_has_no_overhead():
    eff = scaling_efficiency(t1_s=6.0, e1_j=600.0, tn_s=3.0, en_j=600.0, n_devices=2)
    assert (eff.speedup, eff.efficiency, eff.energy_overhead) == (2.0, 1.0, 0.0)


def test_superlinear_and_cheaper_runs_are_reported_as_such():
    eff = scaling_efficiency(t1_s=10.0, e1_j=1000.0, tn_s=4.0, en_j=900.0, n_devices=2)
    assert eff.efficiency == pytest.approx(1.25)
    assert eff.energy_overhead == pytest.approx(-0.1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"t1_s": 0.0, "e1_j": 1.0, "tn_s": 1.0, "en_j": 1.0, "n_devices": 2},
        {"t1_s": 1.0, "e1_j": -1.0, "tn_s": 1.0, "en_j": 1.0, "n_devices": 2},
        {"t1_s": 1.0, "e1_j": 1.0, "tn_s": math.nan, "en_j": 1.0, "n_devices": 2},
        {"t1_s": 1.0, "e1_j": 1.0, "tn_s": 1.0, "en_j": 1.0, "n_devices": None},
        {"t1_s": 1.0, "e1_j": 1.0, "tn_s": 1.0, "en_j": 1.0, "n_devices": 0},
        {"t1_s": 1.0, "e1_j": 1.0, "tn_s": 1.0, "en_j": {0: 1.0}, "n_devices": 2},
    ],
)
def test_efficiency_refuses_bad_inputs(kwargs):
    with pytest.raises(FitError):
        scaling_efficiency(**kwargs)


def cp_record(
    world_size: int, latency_s: list[float], energy_j: list[float], height: int = 480
) -> ResultRecord:
    return ResultRecord(
        id=f"scaleout/synthetic/w{world_size}/denoise_window",
        suite="scaleout",
        model="synthetic",
        component="denoise_window",
        settings={
            "world_size": world_size,
            "height": height,
            "width": 832,
            "num_frames": 81,
            "guidance_scale": 5.0,
        },
        rounds={"latency_s": latency_s, "gpu_energy_j": energy_j},
    )


def test_efficiency_from_records_uses_medians():
    ref = cp_record(1, [4.0, 4.2, 3.8], [2000.0, 2100.0, 1900.0])
    par = cp_record(2, [2.5, 2.5, 9.0], [2200.0, 2200.0, 2300.0])
    eff = efficiency_from_records(ref, par)
    assert isinstance(eff, ScalingEfficiency)
    assert eff.speedup == pytest.approx(1.6)
    assert eff.efficiency == pytest.approx(0.8)
    assert eff.energy_overhead == pytest.approx(0.1)


def test_efficiency_from_records_refuses_mismatched_work():
    with pytest.raises(FitError, match="1-GPU"):
        efficiency_from_records(cp_record(2, [1.0], [1.0]), cp_record(2, [1.0], [1.0]))
    with pytest.raises(FitError, match="height"):
        efficiency_from_records(cp_record(1, [1.0], [1.0]), cp_record(2, [1.0], [1.0], height=720))
