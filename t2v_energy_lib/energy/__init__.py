"""Energy layer: GPU energy on NVML (counter, power-sampling fallback), host CPU/RAM energy (RAPL/estimate).

Public API (imported lazily on first attribute access; nothing here touches NVML or CUDA at import)::

    GpuMeter, GpuWindow, GpuState, PowerTimeline, WindowHandle, ShortWindowWarning, cuda_synchronize
    HostMeter, HostWindow, EnergyMeter, Measurement
    GpuBackend, NvmlBackend, FakeBackend, FakeDevice, RealClock, FakeClock
    nvml_is_available, nvml_errors, resolve_visible_devices, decode_clock_event_reasons, trapezoid_j
    gpu_count, visible_gpu_names, describe_gpu      # what the GPUs are (provenance, probes, sharding)

This package is the only place that talks to NVML: everything else describes devices through
:mod:`.inventory` and measures through :class:`EnergyMeter` / :class:`GpuMeter`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "GpuMeter": "gpu_meter",
    "WindowHandle": "gpu_meter",
    "cuda_synchronize": "gpu_meter",
    "GpuWindow": "measurements",
    "GpuState": "measurements",
    "PowerTimeline": "measurements",
    "HostWindow": "measurements",
    "Measurement": "measurements",
    "ShortWindowWarning": "measurements",
    "HostMeter": "host_meter",
    "HostWindowHandle": "host_meter",
    "EnergyMeter": "energy_meter",
    "MeasurementHandle": "energy_meter",
    "GpuBackend": "backend",
    "decode_clock_event_reasons": "backend",
    "FI_DEV_POWER_INSTANT": "backend",
    "NvmlBackend": "nvml_backend",
    "nvml_is_available": "nvml_backend",
    "gpu_count": "inventory",
    "visible_gpu_names": "inventory",
    "describe_gpu": "inventory",
    "nvml_errors": "nvml_backend",
    "FakeBackend": "fake_backend",
    "FakeDevice": "fake_backend",
    "Clock": "clock",
    "RealClock": "clock",
    "FakeClock": "clock",
    "resolve_visible_devices": "devices",
    "trapezoid_j": "sampler",
    "PowerSampler": "sampler",
}

__all__ = [
    "FI_DEV_POWER_INSTANT",
    "Clock",
    "EnergyMeter",
    "FakeBackend",
    "FakeClock",
    "FakeDevice",
    "GpuBackend",
    "GpuMeter",
    "GpuState",
    "GpuWindow",
    "HostMeter",
    "HostWindow",
    "HostWindowHandle",
    "Measurement",
    "MeasurementHandle",
    "NvmlBackend",
    "PowerSampler",
    "PowerTimeline",
    "RealClock",
    "ShortWindowWarning",
    "WindowHandle",
    "cuda_synchronize",
    "decode_clock_event_reasons",
    "describe_gpu",
    "gpu_count",
    "nvml_errors",
    "nvml_is_available",
    "resolve_visible_devices",
    "trapezoid_j",
    "visible_gpu_names",
]

if TYPE_CHECKING:
    from t2v_energy_lib.energy.backend import FI_DEV_POWER_INSTANT, GpuBackend, decode_clock_event_reasons
    from t2v_energy_lib.energy.clock import Clock, FakeClock, RealClock
    from t2v_energy_lib.energy.devices import resolve_visible_devices
    from t2v_energy_lib.energy.energy_meter import EnergyMeter, MeasurementHandle
    from t2v_energy_lib.energy.fake_backend import FakeBackend, FakeDevice
    from t2v_energy_lib.energy.gpu_meter import GpuMeter, WindowHandle, cuda_synchronize
    from t2v_energy_lib.energy.host_meter import HostMeter, HostWindowHandle
    from t2v_energy_lib.energy.inventory import describe_gpu, gpu_count, visible_gpu_names
    from t2v_energy_lib.energy.measurements import (
        GpuState,
        GpuWindow,
        HostWindow,
        Measurement,
        PowerTimeline,
        ShortWindowWarning,
    )
    from t2v_energy_lib.energy.nvml_backend import NvmlBackend, nvml_errors, nvml_is_available
    from t2v_energy_lib.energy.sampler import PowerSampler, trapezoid_j


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 't2v_energy_lib.energy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"t2v_energy_lib.energy.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
