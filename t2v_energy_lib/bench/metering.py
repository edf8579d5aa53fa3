"""The bench's view of a meter: ``begin(key)`` / ``end(key) -> Reading``, over the energy layer's meters.

The runners only need a few numbers per window (duration, GPU energy, above-idle energy, host CPU/RAM energy
and whether the host part is estimated), so they talk to a :class:`BenchMeter`. :class:`EnergyMeterAdapter`
wraps the energy layer's meter (``EnergyMeter`` / ``GpuMeter``); tests pass their own fakes. Short windows are
expected on a CPU smoke run: the energy layer's ``ShortWindowWarning`` is silenced here and the flag is kept
in the reading instead.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Reading:
    """What one measurement window gave.

    Attributes:
        key: Window name.
        duration_s: Window length (device-synchronised at both ends on a GPU). Units: s.
        gpu_energy_j: GPU energy summed over measured devices, None without a GPU. Units: J.
        gpu_energy_above_idle_j: GPU energy above idle, None without GPU or idle baseline. Units: J.
        cpu_energy_j: Host CPU energy, None when no host meter ran. Units: J.
        ram_energy_j: Host RAM energy, None when no host meter ran. Units: J.
        host_estimated: True when the CPU/RAM figures are estimates (not RAPL).
        host_method: How the host figures were obtained.
        short_window: True when the window was shorter than the meter's minimum.
        machine_state: GPU state around the window (clocks, temperature, throttle reasons), JSON-ready.
        timeline: GPU power samples of the window when one was asked for, JSON-ready:
            ``{"<device>": {"timestamps_s": [...], "power_w": [...]}}``, times from the window start.
            Units: s, W.
    """

    key: str
    duration_s: float
    gpu_energy_j: float | None = None
    gpu_energy_above_idle_j: float | None = None
    cpu_energy_j: float | None = None
    ram_energy_j: float | None = None
    host_estimated: bool = False
    host_method: str = ""
    short_window: bool = False
    machine_state: dict[str, Any] = field(default_factory=dict)
    timeline: dict[str, dict[str, list[float]]] | None = None


class BenchMeter(Protocol):
    """A meter with named windows (what the runners use)."""

    has_gpu: bool

    def begin(self, key: str) -> None:
        """Open window ``key`` (after synchronising the device)."""

    def end(self, key: str) -> Reading:
        """Close window ``key`` (after synchronising the device) and return its reading."""


def _short_warning_category() -> type[Warning] | None:
    try:
        from t2v_energy_lib.energy.measurements import ShortWindowWarning
    except ImportError:
        return None
    return ShortWindowWarning


def reading_from_measurement(key: str, m: Any) -> Reading:
    """Convert an energy-layer ``Measurement`` (gpu + host) or a bare ``GpuWindow`` to a :class:`Reading`."""
    gpu = getattr(m, "gpu", m if hasattr(m, "total_gpu_energy_j") else None)
    host = getattr(m, "host", None)
    state: dict[str, Any] = {}
    if gpu is not None and getattr(gpu, "states", None):
        state = {str(i): s.to_dict() for i, s in gpu.states.items()}
    timeline = getattr(gpu, "timeline", None) if gpu is not None else None
    return Reading(
        key=key,
        duration_s=float(m.duration_s),
        gpu_energy_j=None if gpu is None else float(gpu.total_gpu_energy_j),
        gpu_energy_above_idle_j=None if gpu is None else gpu.total_gpu_energy_above_idle_j,
        cpu_energy_j=None if host is None else float(host.cpu_energy_j),
        ram_energy_j=None if host is None else float(host.ram_energy_j),
        host_estimated=bool(host is not None and host.estimated),
        host_method="" if host is None else str(host.method),
        short_window=bool(getattr(gpu, "short_window", False)),
        machine_state=state,
        timeline={str(d): tl.to_dict() for d, tl in timeline.items()} if timeline else None,
    )


def begin_window(meter: BenchMeter, key: str, record_timeline: bool = False) -> None:
    """Open window ``key``; asks for a GPU power timeline only where the meter measures a GPU and can record
    one (``supports_timeline``), so it is a no-op for CPU-only meters and for meters without the option."""
    if record_timeline and meter.has_gpu and getattr(meter, "supports_timeline", False):
        meter.begin(key, record_timeline=True)  # type: ignore[call-arg]
    else:
        meter.begin(key)


class EnergyMeterAdapter:
    """Adapts the energy layer's meter (``begin_window`` / ``end_window``) to :class:`BenchMeter`.

    Args:
        meter: An ``EnergyMeter`` (returns ``Measurement``) or ``GpuMeter`` (returns ``GpuWindow``).
        has_gpu: Whether the meter measures a GPU.
    """

    supports_timeline = True

    def __init__(self, meter: Any, has_gpu: bool) -> None:
        self.meter = meter
        self.has_gpu = has_gpu
        self._category = _short_warning_category()

    def begin(self, key: str, record_timeline: bool = False) -> None:
        """Open window ``key``; ``record_timeline`` keeps the GPU power samples (ignored without a GPU)."""
        if record_timeline and self.has_gpu:
            self.meter.begin_window(key, record_timeline=True)
        else:
            self.meter.begin_window(key)

    def end(self, key: str) -> Reading:
        """Close window ``key``; short-window warnings become the reading's ``short_window`` flag."""
        with warnings.catch_warnings():
            if self._category is not None:
                warnings.simplefilter("ignore", self._category)
            m = self.meter.end_window(key)
        return reading_from_measurement(key, m)


class WallClockMeter:
    """Latency only (no energy): for code-path tests and machines where no energy meter can run."""

    has_gpu = False

    def __init__(self, sync: Any = None) -> None:
        """Args: sync: called at both ends of a window (e.g. a device synchronisation), or None."""
        self._sync = sync
        self._open: dict[str, float] = {}

    def begin(self, key: str) -> None:
        """Open window ``key``."""
        if self._sync is not None:
            self._sync()
        self._open[key] = time.perf_counter()

    def end(self, key: str) -> Reading:
        """Close window ``key``."""
        if self._sync is not None:
            self._sync()
        return Reading(key=key, duration_s=time.perf_counter() - self._open.pop(key))


def auto_meter(device: str, idle_s: float = 0.0) -> EnergyMeterAdapter:
    """The energy layer's meter, adapted: "cuda" measures the GPU(s) and the host, "cpu" the host only.

    Args:
        device: ``"cuda"`` or ``"cpu"``.
        idle_s: On "cuda", measure idle power for this long first (enables above-idle energy); 0 skips.
            Units: s.

    Raises:
        GpuUnavailableError: "cuda" was asked for but NVML or a GPU is missing (never replaced silently
            by a CPU-only meter).
    """
    from t2v_energy_lib.energy import EnergyMeter, GpuMeter

    if device.startswith("cuda"):
        gpu = GpuMeter()
        if idle_s > 0:
            gpu.measure_idle(idle_s)
        return EnergyMeterAdapter(EnergyMeter(gpu), has_gpu=True)
    return EnergyMeterAdapter(EnergyMeter(None), has_gpu=False)
