"""Device description through the backend (energy/inventory.py), and NVML nowhere else.

The GPUs are the energy layer's scripted FakeBackend: every name and number is SYNTHETIC.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from t2v_energy_lib.energy import FakeBackend, FakeClock, FakeDevice
from t2v_energy_lib.energy.inventory import describe_gpu, gpu_count, visible_gpu_names
from t2v_energy_lib.errors import GpuUnavailableError, NvmlError

ROOT = Path(__file__).resolve().parents[1]


def _gpus(n: int = 3) -> FakeBackend:
    devices = [
        FakeDevice(f"GPU-fake-{i}", lambda t: 50.0, name=f"Fake GPU {i} (synthetic)") for i in range(n)
    ]
    return FakeBackend(FakeClock(), devices)


def test_count_and_visible_names_follow_cuda_visible_devices() -> None:
    gpus = _gpus()
    assert gpu_count(gpus) == 3
    assert visible_gpu_names(gpus, env={}) == tuple(f"Fake GPU {i} (synthetic)" for i in range(3))
    assert visible_gpu_names(gpus, env={"CUDA_VISIBLE_DEVICES": "2,GPU-fake-0"}) == (
        "Fake GPU 2 (synthetic)",
        "Fake GPU 0 (synthetic)",
    )
    with pytest.raises(GpuUnavailableError):
        visible_gpu_names(gpus, env={"CUDA_VISIBLE_DEVICES": "7"})


def test_a_failing_listing_is_a_gpu_unavailable_error() -> None:
    class Broken(FakeBackend):
        def device_count(self) -> int:
            raise NvmlError("synthetic: device count failed")

    broken = Broken(FakeClock(), [])
    with pytest.raises(GpuUnavailableError, match="count"):
        gpu_count(broken)
    with pytest.raises(GpuUnavailableError, match="listing"):
        visible_gpu_names(broken, env={})
    fields, why = describe_gpu(cuda_index=0, backend=broken, env={})
    assert fields is None and "synthetic: device count failed" in why["gpu"]


def test_describe_gpu_decodes_clock_event_reasons_and_records_unreadable_fields() -> None:
    class NoClocks(FakeBackend):
        def clocks_mhz(self, index: int) -> tuple[int, int, int]:
            raise NvmlError("synthetic: clocks unreadable")

    device = FakeDevice("GPU-fake-0", lambda t: 50.0, reasons=lambda t: 0x4 | 0x40)
    fields, why = describe_gpu(0, backend=NoClocks(FakeClock(), [device]))
    assert fields is not None
    assert fields["throttle_reasons"] == ["hw_thermal_slowdown", "sw_power_cap"]
    assert fields["sm_clock_mhz"] is None and "clocks unreadable" in why["gpu.sm_clock_mhz"]
    assert describe_gpu(None) == (None, {"gpu": "no GPU requested (device_index=None)"})


def test_only_the_energy_layer_imports_pynvml() -> None:
    uses = re.compile(r"^\s*(import pynvml|from pynvml)", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("t2v_energy_lib", "pytest_t2v_energy")
        for path in (ROOT / package).rglob("*.py")
        if uses.search(path.read_text()) and "energy" not in path.relative_to(ROOT / package).parts[:1]
    ]
    assert offenders == [], "go through t2v_energy_lib.energy (backend, inventory) instead"
