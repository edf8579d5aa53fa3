"""Frozen results of measurement windows: :class:`GpuWindow`, :class:`HostWindow`, :class:`Measurement`.

Every value carries its unit in its name. ``to_dict()`` gives JSON-ready dicts of raw (unrounded) floats; dict
keys that are device indices become strings there, as JSON requires.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any

SOURCE_COUNTER = "counter"
SOURCE_POWER_SAMPLES = "power_samples"


class ShortWindowWarning(UserWarning):
    """A measurement window was shorter than the meter's ``min_window_s``.

    The NVML energy counter advances in steps (~0.1 s on an H100), so such a window's energy is dominated by
    the counter's granularity. Fix: measure several repetitions of the work inside one longer window.
    """


@dataclass(frozen=True)
class PowerTimeline:
    """Power samples of one device during one window.

    Attributes:
        timestamps_s: Sample times relative to the window start. Units: s.
        power_w: Power at each timestamp. Units: W.
    """

    timestamps_s: tuple[float, ...]
    power_w: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.timestamps_s) != len(self.power_w):
            raise ValueError(
                f"PowerTimeline needs as many timestamps ({len(self.timestamps_s)}) as power values "
                f"({len(self.power_w)}); build it from paired samples"
            )

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready form."""
        return {"timestamps_s": list(self.timestamps_s), "power_w": list(self.power_w)}


@dataclass(frozen=True)
class GpuState:
    """Machine state of one GPU around one window.

    Clocks and temperature are read at the end of the window; ``temperature_start_c`` at its start.
    ``clock_event_reasons`` is the union of the clock-event (throttle) reasons seen at the start, the end and,
    when the background sampler ran, during the window. ``other_process_pids`` are processes other than this
    one that held a compute context on the GPU at the start or end.

    Attributes:
        name: Product name, e.g. ``NVIDIA H100 80GB HBM3``.
        uuid: NVML UUID (``GPU-...``).
        driver_version: NVIDIA driver version string.
        power_limit_w: Enforced power limit. Units: W.
        sm_clock_mhz: SM clock at window end. Units: MHz.
        mem_clock_mhz: Memory clock at window end. Units: MHz.
        max_sm_clock_mhz: Maximum SM clock. Units: MHz.
        temperature_c: GPU temperature at window end. Units: degrees C.
        temperature_start_c: GPU temperature at window start. Units: degrees C.
        clock_event_reasons: Decoded reason names (see ``decode_clock_event_reasons``).
        clock_event_reasons_mask: The raw OR-ed bitmask.
        other_process_pids: PIDs of other compute processes on the GPU; None where NVML cannot list them.
            Inside a PID namespace (containers) NVML reports host PIDs, so this process itself may appear.
        persistence_mode: Persistence mode, or None where it could not be read.
    """

    name: str
    uuid: str
    driver_version: str
    power_limit_w: float
    sm_clock_mhz: float
    mem_clock_mhz: float
    max_sm_clock_mhz: float
    temperature_c: float
    temperature_start_c: float
    clock_event_reasons: tuple[str, ...]
    clock_event_reasons_mask: int
    other_process_pids: tuple[int, ...] | None
    persistence_mode: bool | None

    @property
    def other_processes(self) -> bool | None:
        """Whether any other process used the GPU during the window (None where NVML could not tell)."""
        return None if self.other_process_pids is None else bool(self.other_process_pids)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (adds ``other_processes``)."""
        out = dataclasses.asdict(self)
        out["clock_event_reasons"] = list(self.clock_event_reasons)
        out["other_process_pids"] = None if self.other_process_pids is None else list(self.other_process_pids)
        out["other_processes"] = self.other_processes
        return out


def _str_keys(values: dict[int, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {str(k): v for k, v in values.items()}


@dataclass(frozen=True)
class GpuWindow:
    """Energy of the measured GPUs over one named window. Dicts are keyed by CUDA-visible device index.

    Attributes:
        key: The window's name.
        start_unix_s: Wall-clock time of the window start. Units: s since the epoch.
        duration_s: Window length between the two device synchronisations. Units: s.
        gpu_energy_j: Energy per device. Units: J.
        gpu_energy_above_idle_j: Energy minus idle power x duration per device; None without idle baseline.
            Units: J.
        mean_power_w: ``gpu_energy_j / duration_s`` per device. Units: W.
        source: ``"counter"`` when every device used NVML's energy counter, else ``"power_samples"``.
        short_window: True when ``duration_s`` is below the meter's ``min_window_s``.
        states: Machine state per device.
        timeline: Power samples per device when a timeline was requested, else None.
        sources: Source per device (``"counter"`` or ``"power_samples"``).
        counter_reset_devices: Devices whose counter went backwards (reset or wrap) in this window; their
            energy comes from the power samples.
        sampled_energy_j: Trapezoid integral of the power samples per device, when the background sampler
            ran during the window (always when ``source`` is ``"power_samples"``), else None. Units: J.
        sample_counts: Number of power samples per device in the window (2 = only the boundary samples).
        power_metric: Which NVML reading the sampler used per device: ``"power_instant"``
            (``NVML_FI_DEV_POWER_INSTANT``) or ``"power_usage"`` (``nvmlDeviceGetPowerUsage``, ~1 s average).
    """

    key: str
    start_unix_s: float
    duration_s: float
    gpu_energy_j: dict[int, float]
    gpu_energy_above_idle_j: dict[int, float] | None
    mean_power_w: dict[int, float]
    source: str
    short_window: bool
    states: dict[int, GpuState]
    timeline: dict[int, PowerTimeline] | None = None
    sources: dict[int, str] = dataclasses.field(default_factory=dict)
    counter_reset_devices: tuple[int, ...] = ()
    sampled_energy_j: dict[int, float] | None = None
    sample_counts: dict[int, int] = dataclasses.field(default_factory=dict)
    power_metric: dict[int, str] = dataclasses.field(default_factory=dict)

    @property
    def total_gpu_energy_j(self) -> float:
        """Sum of ``gpu_energy_j`` over devices. Units: J."""
        return math.fsum(self.gpu_energy_j.values())

    @property
    def total_gpu_energy_above_idle_j(self) -> float | None:
        """Sum of ``gpu_energy_above_idle_j`` over devices, or None without idle baseline. Units: J."""
        if self.gpu_energy_above_idle_j is None:
            return None
        return math.fsum(self.gpu_energy_above_idle_j.values())

    @property
    def total_sampled_energy_j(self) -> float | None:
        """Sum of ``sampled_energy_j`` over devices, or None when the sampler did not run. Units: J."""
        if self.sampled_energy_j is None:
            return None
        return math.fsum(self.sampled_energy_j.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with raw floats (device keys become strings)."""
        return {
            "key": self.key,
            "start_unix_s": self.start_unix_s,
            "duration_s": self.duration_s,
            "gpu_energy_j": _str_keys(self.gpu_energy_j),
            "gpu_energy_above_idle_j": _str_keys(self.gpu_energy_above_idle_j),
            "total_gpu_energy_j": self.total_gpu_energy_j,
            "total_gpu_energy_above_idle_j": self.total_gpu_energy_above_idle_j,
            "mean_power_w": _str_keys(self.mean_power_w),
            "source": self.source,
            "sources": _str_keys(self.sources),
            "short_window": self.short_window,
            "counter_reset_devices": list(self.counter_reset_devices),
            "sampled_energy_j": _str_keys(self.sampled_energy_j),
            "sample_counts": _str_keys(self.sample_counts),
            "power_metric": _str_keys(self.power_metric),
            "states": {str(k): v.to_dict() for k, v in self.states.items()},
            "timeline": None
            if self.timeline is None
            else {str(k): v.to_dict() for k, v in self.timeline.items()},
        }


@dataclass(frozen=True)
class HostWindow:
    """Host CPU and RAM energy over one window.

    Measured (RAPL) and estimated values are never mixed silently: ``cpu_estimated`` / ``ram_estimated`` say
    which part is an estimate, ``estimated`` is True when either is, and ``method`` spells out how each was
    obtained (e.g. ``"cpu=rapl;ram=estimate(0.375 W/GB x 64.0 GB)"``).

    Attributes:
        duration_s: Window length. Units: s.
        cpu_energy_j: CPU package energy. Units: J.
        ram_energy_j: DRAM energy. Units: J.
        estimated: True when any part is an estimate.
        method: How each part was obtained.
        cpu_estimated: True when the CPU part is an estimate (TDP x utilisation).
        ram_estimated: True when the RAM part is an estimate (W per GB x installed GB).
    """

    duration_s: float
    cpu_energy_j: float
    ram_energy_j: float
    estimated: bool
    method: str
    cpu_estimated: bool = False
    ram_estimated: bool = False

    def __post_init__(self) -> None:
        if self.estimated != (self.cpu_estimated or self.ram_estimated):
            raise ValueError(
                "HostWindow.estimated must equal cpu_estimated or ram_estimated; set the per-part flags"
            )

    @property
    def host_energy_j(self) -> float:
        """CPU plus RAM energy (an estimate when ``estimated``). Units: J."""
        return self.cpu_energy_j + self.ram_energy_j

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Measurement:
    """One window of :class:`~t2v_energy_lib.energy.EnergyMeter`: GPU (measured) and host (maybe estimated).

    Attributes:
        key: The window's name.
        duration_s: Window length (the GPU window's when a GPU was measured). Units: s.
        gpu: The GPU window, or None on a CPU-only meter.
        host: The host window.
    """

    key: str
    duration_s: float
    gpu: GpuWindow | None
    host: HostWindow

    @property
    def gpu_energy_j(self) -> float | None:
        """Measured GPU energy summed over devices, or None without GPU. Units: J."""
        return None if self.gpu is None else self.gpu.total_gpu_energy_j

    @property
    def total_with_estimates_j(self) -> float:
        """GPU + CPU + RAM energy; an ESTIMATE whenever ``host.estimated`` (``has_estimates``). Units: J."""
        gpu_j = 0.0 if self.gpu is None else self.gpu.total_gpu_energy_j
        return gpu_j + self.host.host_energy_j

    @property
    def has_estimates(self) -> bool:
        """Whether ``total_with_estimates_j`` contains estimated parts."""
        return self.host.estimated

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "duration_s": self.duration_s,
            "gpu": None if self.gpu is None else self.gpu.to_dict(),
            "host": self.host.to_dict(),
            "total_with_estimates_j": self.total_with_estimates_j,
            "has_estimates": self.has_estimates,
        }


def warn_short_window(key: str, duration_s: float, min_window_s: float, period_s: float | None) -> None:
    """Emit :class:`ShortWindowWarning` for a window shorter than ``min_window_s``.

    Args:
        key: The window's name.
        duration_s: Its length. Units: s.
        min_window_s: The meter's minimum. Units: s.
        period_s: The measured counter update period, if known. Units: s.
    """
    period = "unknown" if period_s is None else f"{period_s:.3f} s"
    warnings.warn(
        f"window {key!r} lasted {duration_s:.3f} s < min_window_s={min_window_s} s (energy counter update "
        f"period: {period}); its energy is dominated by counter granularity. Measure several repetitions "
        f"inside one window of >= {min_window_s} s.",
        ShortWindowWarning,
        stacklevel=3,
    )
