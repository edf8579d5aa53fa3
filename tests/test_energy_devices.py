"""CUDA_VISIBLE_DEVICES mapping, clock-event reason decoding, NVML error mapping and lazy NVML probing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from t2v_energy_lib.energy import decode_clock_event_reasons, resolve_visible_devices
from t2v_energy_lib.errors import GpuUnavailableError, NvmlError, NvmlNotSupportedError

UUIDS = [
    "GPU-8f3c0000-1111-2222-3333-444444444444",
    "GPU-8f3d0000-5555-6666-7777-888888888888",
    "GPU-a0000000-9999-9999-9999-999999999999",
]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, [0, 1, 2]),
        ("0", [0]),
        ("2,0", [2, 0]),
        (" 1 , 2 ", [1, 2]),
        (UUIDS[1], [1]),
        ("GPU-a0", [2]),  # unique prefix
        ("a0", [2]),  # prefix without the GPU- part
        ("gpu-8F3D", [1]),  # case-insensitive
        (f"{UUIDS[2]},0", [2, 0]),
    ],
)
def test_resolve_visible_devices(env: str | None, expected: list[int]) -> None:
    assert resolve_visible_devices(env, UUIDS) == expected


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ("", "hides every GPU"),
        ("-1", "hides every GPU"),
        ("3", "out of range"),
        ("0,,1", "empty entry"),
        ("GPU-ffff", "matches no GPU UUID"),
        ("GPU-8f3", "ambiguous"),
        ("MIG-GPU-8f3c0000/1/0", "MIG instance"),
        ("0,GPU-8f3c", "lists a GPU twice"),
    ],
)
def test_resolve_visible_devices_errors(env: str, match: str) -> None:
    with pytest.raises(GpuUnavailableError, match=match):
        resolve_visible_devices(env, UUIDS)


def test_resolve_visible_devices_without_gpus() -> None:
    with pytest.raises(GpuUnavailableError, match="NVML sees no GPU"):
        resolve_visible_devices(None, [])


@pytest.mark.parametrize(
    ("mask", "names"),
    [
        (0, ()),
        (0x1, ("gpu_idle",)),
        (0x4 | 0x40, ("sw_power_cap", "hw_thermal_slowdown")),
        (0x8 | 0x80 | 0x20, ("hw_slowdown", "sw_thermal_slowdown", "hw_power_brake_slowdown")),
        (0x10000 | 0x4, ("sw_power_cap", "unknown_0x10000")),
    ],
)
def test_decode_clock_event_reasons(mask: int, names: tuple[str, ...]) -> None:
    assert decode_clock_event_reasons(mask) == names


def test_decode_clock_event_reasons_matches_pynvml_constants() -> None:
    pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py is a dependency; needed to cross-check bits")
    assert decode_clock_event_reasons(pynvml.nvmlClocksThrottleReasonSwPowerCap) == ("sw_power_cap",)
    assert decode_clock_event_reasons(pynvml.nvmlClocksThrottleReasonHwThermalSlowdown) == (
        "hw_thermal_slowdown",
    )
    all_names = decode_clock_event_reasons(pynvml.nvmlClocksThrottleReasonAll)
    assert not [n for n in all_names if n.startswith("unknown")]


def test_decode_rejects_negative_mask() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        decode_clock_event_reasons(-1)


def test_nvml_errors_are_mapped() -> None:
    pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py is a dependency")
    from t2v_energy_lib.energy import nvml_errors

    with pytest.raises(NvmlNotSupportedError, match="energy is not supported"), nvml_errors("energy"):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
    with pytest.raises(NvmlError, match="error code 15") as info, nvml_errors("temperature"):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
    assert not isinstance(info.value, NvmlNotSupportedError)


def test_gpu_meter_without_nvml_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from t2v_energy_lib.energy import GpuMeter, nvml_backend

    monkeypatch.setattr(nvml_backend, "nvml_is_available", lambda: False)
    with pytest.raises(GpuUnavailableError, match="NVML is not available"):
        GpuMeter()


def test_gpu_meter_on_this_machine_raises_when_nvml_is_missing() -> None:
    from t2v_energy_lib.energy import GpuMeter, nvml_is_available

    if nvml_is_available():
        pytest.skip(
            "NVML is available on this machine; the no-NVML path is covered by the monkeypatched test"
        )
    with pytest.raises(GpuUnavailableError, match="Fix:"):
        GpuMeter()


def test_import_does_not_initialise_nvml() -> None:
    code = (
        "import sys\n"
        "import t2v_energy_lib.energy as e\n"
        "from t2v_energy_lib.energy import *\n"
        "assert 'torch' not in sys.modules, 'the energy layer imported torch at import time'\n"
        "import t2v_energy_lib.bench.reference, pynvml\n"
        "assert pynvml.nvmlLib is None, 'NVML was initialised at import'\n"
        "assert e.nvml_is_available.cache_info().currsize == 0, 'NVML was probed at import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
