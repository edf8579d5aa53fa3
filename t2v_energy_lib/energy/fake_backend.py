"""A scripted :class:`GpuBackend` for tests: power traces and energy counters as functions of fake time.

All numbers a :class:`FakeBackend` produces are SYNTHETIC (from the scripts the caller gives), never
measurements. The energy counter integrates the scripted power and, like NVML's, only advances every
``counter_period_s`` (rounded to whole mJ), can start at an offset, and can be reset to zero at a given
time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from t2v_energy_lib.energy.backend import FI_DEV_POWER_INSTANT, GpuBackend
from t2v_energy_lib.energy.clock import Clock
from t2v_energy_lib.errors import NvmlError, NvmlNotSupportedError


@dataclass
class FakeDevice:
    """The script of one fake GPU (all values synthetic).

    Attributes:
        uuid: Its UUID.
        power_w: Power as a function of fake time. Units: W (argument s).
        energy_j: Cumulative energy from time 0, if known analytically; else the backend integrates
            ``power_w`` numerically (1 ms trapezoid steps). Units: J (argument s).
        counter_period_s: How often the energy counter advances. Units: s.
        counter_offset_mj: Counter value at time 0. Units: mJ.
        counter_reset_at_s: Fake time at which the counter restarts from 0 (None: never). Units: s.
        counter_supported: False makes ``energy_mj`` raise NvmlNotSupportedError (pre-Volta GPU).
        instant_field_supported: False makes the POWER_INSTANT field read as unsupported.
        reasons: Clock-event reason bitmask as a function of fake time.
        pids: PIDs with a compute context on the device.
        name: Product name.
        power_limit_w: Enforced power limit. Units: W.
    """

    uuid: str
    power_w: Callable[[float], float]
    energy_j: Callable[[float], float] | None = None
    counter_period_s: float = 0.1
    counter_offset_mj: int = 0
    counter_reset_at_s: float | None = None
    counter_supported: bool = True
    instant_field_supported: bool = True
    reasons: Callable[[float], int] = lambda t: 0
    pids: list[int] = field(default_factory=list)
    name: str = "Fake GPU (synthetic)"
    power_limit_w: float = 700.0
    persistence: bool | None = True
    _cache: tuple[float, float] = (0.0, 0.0)  # (t, integral up to t) of the numeric integrator

    def cumulative_j(self, t_s: float) -> float:
        """Energy since time 0 at ``t_s``. Units: J."""
        if self.energy_j is not None:
            return self.energy_j(t_s)
        t0, acc = self._cache if self._cache[0] <= t_s else (0.0, 0.0)
        steps = max(1, math.ceil((t_s - t0) / 1e-3))
        dt = (t_s - t0) / steps
        for k in range(steps):
            a = t0 + k * dt
            acc += 0.5 * (self.power_w(a) + self.power_w(a + dt)) * dt
        self._cache = (t_s, acc)
        return acc


class FakeBackend(GpuBackend):
    """A :class:`GpuBackend` whose devices follow :class:`FakeDevice` scripts over a clock.

    Args:
        clock: The clock the meter also uses (usually a FakeClock; a RealClock exercises the sampler thread).
        devices: One script per fake GPU, in "NVML" order.
        driver: Driver version string to report.
        cuda_driver: CUDA driver version to report, NVML-encoded (13000 = 13.0).
    """

    def __init__(
        self, clock: Clock, devices: Sequence[FakeDevice], driver: str = "0.0-fake", cuda_driver: int = 13000
    ) -> None:
        self.clock = clock
        self.devices = list(devices)
        self.driver = driver
        self.cuda_driver = cuda_driver
        self.calls: dict[str, int] = {}

    def _dev(self, index: int, what: str) -> FakeDevice:
        self.calls[what] = self.calls.get(what, 0) + 1
        if not 0 <= index < len(self.devices):
            raise NvmlError(f"{what}({index}): no such fake device")
        return self.devices[index]

    def device_count(self) -> int:
        return len(self.devices)

    def device_uuid(self, index: int) -> str:
        return self._dev(index, "device_uuid").uuid

    def energy_mj(self, index: int) -> int:
        dev = self._dev(index, "energy_mj")
        if not dev.counter_supported:
            raise NvmlNotSupportedError(f"energy_mj({index}) is not supported on this fake device")
        t = self.clock.monotonic_s()
        tick_s = math.floor(t / dev.counter_period_s + 1e-9) * dev.counter_period_s
        if dev.counter_reset_at_s is not None and t >= dev.counter_reset_at_s:
            reset_tick = max(tick_s, dev.counter_reset_at_s)
            return round((dev.cumulative_j(reset_tick) - dev.cumulative_j(dev.counter_reset_at_s)) * 1000)
        return dev.counter_offset_mj + round(dev.cumulative_j(tick_s) * 1000)

    def power_mw(self, index: int) -> int:
        return round(self._dev(index, "power_mw").power_w(self.clock.monotonic_s()) * 1000)

    def field_values(self, index: int, field_ids: Sequence[int]) -> dict[int, float | None]:
        dev = self._dev(index, "field_values")
        out: dict[int, float | None] = {}
        for fid in field_ids:
            supported = fid == FI_DEV_POWER_INSTANT and dev.instant_field_supported
            out[fid] = dev.power_w(self.clock.monotonic_s()) * 1000 if supported else None
        return out

    def name(self, index: int) -> str:
        return self._dev(index, "name").name

    def driver_version(self) -> str:
        return self.driver

    def cuda_driver_version(self) -> int:
        return self.cuda_driver

    def power_limit_mw(self, index: int) -> int:
        return int(self._dev(index, "power_limit_mw").power_limit_w * 1000)

    def clocks_mhz(self, index: int) -> tuple[int, int, int]:
        self._dev(index, "clocks_mhz")
        return (1000, 2000, 2000)

    def temperature_c(self, index: int) -> int:
        self._dev(index, "temperature_c")
        return 40 + int(self.clock.monotonic_s()) % 10

    def clock_event_reasons(self, index: int) -> int:
        return self._dev(index, "clock_event_reasons").reasons(self.clock.monotonic_s())

    def compute_process_pids(self, index: int) -> list[int]:
        return list(self._dev(index, "compute_process_pids").pids)

    def persistence_mode(self, index: int) -> bool | None:
        return self._dev(index, "persistence_mode").persistence
