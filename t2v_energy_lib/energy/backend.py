"""The GPU device abstraction: a small ABC that the meter talks to, and clock-event reason decoding.

Backends speak in NVML device indices and NVML's own units (mJ, mW, MHz); the meter converts at its boundary
through :mod:`t2v_energy_lib.units`. :class:`~t2v_energy_lib.energy.nvml_backend.NvmlBackend` is the real one;
:class:`~t2v_energy_lib.energy.fake_backend.FakeBackend` scripts counters and power over a fake clock for
tests.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

# NVML field id of the instantaneous power reading (``NVML_FI_DEV_POWER_INSTANT`` in nvml.h). Units: mW.
FI_DEV_POWER_INSTANT = 186

# Bits of nvmlDeviceGetCurrentClocksEventReasons (older name: ...ClocksThrottleReasons), from nvml.h.
CLOCK_EVENT_REASON_BITS: dict[int, str] = {
    0x001: "gpu_idle",
    0x002: "applications_clocks_setting",
    0x004: "sw_power_cap",
    0x008: "hw_slowdown",
    0x010: "sync_boost",
    0x020: "sw_thermal_slowdown",
    0x040: "hw_thermal_slowdown",
    0x080: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
    0x200: "board_limit",
    0x400: "reliability",
}


def decode_clock_event_reasons(mask: int) -> tuple[str, ...]:
    """Decode a clock-event (throttle) reason bitmask to names, in bit order.

    Args:
        mask: The bitmask NVML returns (0 = no reason).

    Returns:
        Names such as ``("sw_power_cap", "hw_slowdown")``; bits this table does not know come out as
        ``"unknown_0x..."`` rather than being dropped.
    """
    if mask < 0:
        raise ValueError(f"clock event reason mask must be >= 0, got {mask}")
    names = [name for bit, name in CLOCK_EVENT_REASON_BITS.items() if mask & bit]
    unknown = mask & ~sum(CLOCK_EVENT_REASON_BITS)
    bit = 1
    while unknown:
        if unknown & bit:
            names.append(f"unknown_{bit:#x}")
            unknown &= ~bit
        bit <<= 1
    return tuple(names)


class GpuBackend(abc.ABC):
    """What the meter needs from a GPU management library. Indices are NVML device indices.

    Methods raise :class:`~t2v_energy_lib.errors.NvmlNotSupportedError` for a query the device does not
    support and :class:`~t2v_energy_lib.errors.NvmlError` for other failures.
    """

    @abc.abstractmethod
    def device_count(self) -> int:
        """Number of GPUs NVML sees (ignores CUDA_VISIBLE_DEVICES)."""

    @abc.abstractmethod
    def device_uuid(self, index: int) -> str:
        """UUID of device ``index`` (``GPU-...``)."""

    def device_uuids(self) -> list[str]:
        """UUIDs of all devices, in NVML index order."""
        return [self.device_uuid(i) for i in range(self.device_count())]

    @abc.abstractmethod
    def energy_mj(self, index: int) -> int:
        """Total energy since the driver loaded (nvmlDeviceGetTotalEnergyConsumption). Units: mJ."""

    @abc.abstractmethod
    def power_mw(self, index: int) -> int:
        """Power draw as nvmlDeviceGetPowerUsage reports it (a ~1 s average on recent GPUs). Units: mW."""

    @abc.abstractmethod
    def field_values(self, index: int, field_ids: Sequence[int]) -> dict[int, float | None]:
        """Field values (nvmlDeviceGetFieldValues); None for a field the device does not support."""

    @abc.abstractmethod
    def name(self, index: int) -> str:
        """Product name."""

    @abc.abstractmethod
    def driver_version(self) -> str:
        """Driver version string."""

    @abc.abstractmethod
    def power_limit_mw(self, index: int) -> int:
        """Enforced power limit. Units: mW."""

    @abc.abstractmethod
    def clocks_mhz(self, index: int) -> tuple[int, int, int]:
        """Current SM clock, current memory clock and maximum SM clock. Units: MHz."""

    @abc.abstractmethod
    def temperature_c(self, index: int) -> int:
        """GPU core temperature. Units: degrees C."""

    @abc.abstractmethod
    def clock_event_reasons(self, index: int) -> int:
        """Current clock-event (throttle) reasons bitmask."""

    @abc.abstractmethod
    def compute_process_pids(self, index: int) -> list[int]:
        """PIDs of processes holding a compute context on the device."""

    @abc.abstractmethod
    def persistence_mode(self, index: int) -> bool | None:
        """Persistence mode, or None where it cannot be read."""

    def cuda_driver_version(self) -> int:
        """The CUDA version the driver supports, as NVML encodes it (e.g. 13000 for 13.0).

        Raises:
            NvmlNotSupportedError: The backend cannot tell (the default).
        """
        from t2v_energy_lib.errors import NvmlNotSupportedError

        raise NvmlNotSupportedError(f"{type(self).__name__} does not report the CUDA driver version")

    def instant_power_mw(self, index: int) -> float | None:
        """``NVML_FI_DEV_POWER_INSTANT``, or None where the field is not supported. Units: mW."""
        return self.field_values(index, [FI_DEV_POWER_INSTANT]).get(FI_DEV_POWER_INSTANT)

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op unless the backend holds resources
        """Release the backend's resources (e.g. nvmlShutdown)."""
