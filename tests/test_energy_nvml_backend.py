"""NvmlBackend against the real pynvml module with its NVML entry points patched (synthetic values, no GPU).

This checks our use of pynvml's API (field-value structs, error codes, the clock-event function names), not
NVML itself; tests/test_energy_gpu.py covers the real library on a GPU.
"""

from __future__ import annotations

import pytest

from t2v_energy_lib.energy import GpuMeter, nvml_backend
from t2v_energy_lib.errors import NvmlError, NvmlNotSupportedError

pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py (pynvml) is a project dependency")


class Proc:
    def __init__(self, pid: int) -> None:
        self.pid = pid


def field_values(handle: int, field_ids: list[int]):
    out = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
    for i, fid in enumerate(field_ids):
        out[i].fieldId = fid
        if handle == 0 and fid == pynvml.NVML_FI_DEV_POWER_INSTANT:
            out[i].nvmlReturn = pynvml.NVML_SUCCESS
            out[i].valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
            out[i].value.uiVal = 432_100  # mW, synthetic
        else:
            out[i].nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
    return out


def not_supported(*args: object) -> None:
    raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    state = {"energy_mj": 1_000, "inits": 0, "shutdowns": 0}

    def init() -> None:
        state["inits"] += 1

    def shutdown() -> None:
        state["shutdowns"] += 1

    def energy(handle: int) -> int:
        if handle == 1:
            not_supported()
        return state["energy_mj"]

    patches = {
        "nvmlInit": init,
        "nvmlShutdown": shutdown,
        "nvmlDeviceGetCount": lambda: 2,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetUUID": lambda h: f"GPU-{h}0000000-0000",
        "nvmlDeviceGetTotalEnergyConsumption": energy,
        "nvmlDeviceGetPowerUsage": lambda h: 123_000,
        "nvmlDeviceGetFieldValues": field_values,
        "nvmlDeviceGetName": lambda h: "Synthetic GPU",
        "nvmlSystemGetDriverVersion": lambda: "999.1",
        "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700_000,
        "nvmlDeviceGetClockInfo": lambda h, kind: 1980 if kind == pynvml.NVML_CLOCK_SM else 2619,
        "nvmlDeviceGetMaxClockInfo": lambda h, kind: 1980,
        "nvmlDeviceGetTemperature": lambda h, sensor: 41,
        "nvmlDeviceGetCurrentClocksEventReasons": lambda h: 0x4,
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [Proc(7), Proc(8)],
        "nvmlDeviceGetPersistenceMode": not_supported,
    }
    for name, fn in patches.items():
        monkeypatch.setattr(pynvml, name, fn)
    nvml_backend.nvml_is_available.cache_clear()
    yield state
    nvml_backend.nvml_is_available.cache_clear()


def test_backend_reads(fake_nvml: dict[str, int]) -> None:
    backend = nvml_backend.NvmlBackend()
    assert backend.device_count() == 2
    assert backend.device_uuids() == ["GPU-00000000-0000", "GPU-10000000-0000"]
    assert backend.energy_mj(0) == 1_000
    with pytest.raises(NvmlNotSupportedError, match="energy_mj"):
        backend.energy_mj(1)
    assert backend.instant_power_mw(0) == pytest.approx(432_100.0)
    assert backend.instant_power_mw(1) is None
    assert backend.clocks_mhz(0) == (1980, 2619, 1980)
    assert backend.clock_event_reasons(0) == 0x4
    assert backend.compute_process_pids(0) == [7, 8]
    assert backend.persistence_mode(0) is None
    assert backend.driver_version() == "999.1" and backend.power_limit_mw(0) == 700_000
    backend.close()
    backend.close()
    assert fake_nvml["shutdowns"] == 2  # one for the availability probe, one for close()


def test_other_nvml_errors_map_to_nvml_error(
    fake_nvml: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost(h: int) -> int:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)

    monkeypatch.setattr(pynvml, "nvmlDeviceGetTemperature", lambda h, s: lost(h))
    backend = nvml_backend.NvmlBackend()
    with pytest.raises(NvmlError, match=r"temperature_c\(0,\) failed"):
        backend.temperature_c(0)


def test_meter_on_patched_nvml(fake_nvml: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    meter = GpuMeter(sync=lambda: None, min_window_s=0.0)
    assert meter.devices == [0, 1] and meter.has_counter == {0: True, 1: False}
    assert meter.sampler.metric == {0: "power_instant", 1: "power_usage"}
    meter.begin_window("w")
    fake_nvml["energy_mj"] += 5_000
    w = meter.end_window("w")
    meter.close()
    assert w.sources == {0: "counter", 1: "power_samples"} and w.source == "power_samples"
    assert w.gpu_energy_j[0] == pytest.approx(5.0)
    assert w.states[0].clock_event_reasons == ("sw_power_cap",)
    assert w.states[0].other_process_pids == (7, 8) and w.states[0].persistence_mode is None
    assert "cuda:1 Synthetic GPU (power samples)" in meter.description
