"""Background power sampling and trapezoid integration.

The sampler reads each device's power (``NVML_FI_DEV_POWER_INSTANT``, or ``nvmlDeviceGetPowerUsage`` where the
field is unsupported) every ``interval_s`` through the clock's ``run_periodic`` (a thread on the real clock)
and, every ``reasons_every`` samples, the clock-event reason bitmask. Windows also add one sample at each
boundary, so every window has at least two. Samples are kept only while some window needs them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

from t2v_energy_lib.energy.backend import GpuBackend
from t2v_energy_lib.energy.clock import Clock
from t2v_energy_lib.units import mw_to_w

POWER_INSTANT = "power_instant"
POWER_USAGE = "power_usage"


def trapezoid_j(timestamps_s: Sequence[float], power_w: Sequence[float]) -> float:
    """Trapezoid integral of power over time. Units: J (inputs s and W).

    Args:
        timestamps_s: Increasing sample times. Units: s.
        power_w: Power at each time. Units: W.
    """
    if len(timestamps_s) != len(power_w):
        raise ValueError("trapezoid_j needs as many timestamps as power values")
    return math.fsum(
        0.5 * (power_w[k] + power_w[k + 1]) * (timestamps_s[k + 1] - timestamps_s[k])
        for k in range(len(timestamps_s) - 1)
    )


def clip_samples(
    samples: Sequence[tuple[float, float]], start_s: float, end_s: float
) -> tuple[list[float], list[float]]:
    """Samples inside ``[start_s, end_s]``, sorted, with the edge values held out to both bounds.

    Args:
        samples: ``(time_s, power_w)`` pairs, any order.
        start_s: Window start. Units: s.
        end_s: Window end. Units: s.

    Returns:
        ``(timestamps_s, power_w)``; empty lists when no sample falls inside.
    """
    inside = sorted(s for s in samples if start_s <= s[0] <= end_s)
    if not inside:
        return [], []
    if inside[0][0] > start_s:
        inside.insert(0, (start_s, inside[0][1]))
    if inside[-1][0] < end_s:
        inside.append((end_s, inside[-1][1]))
    return [s[0] for s in inside], [s[1] for s in inside]


class PowerSampler:
    """Power (and clock-event reason) samples of several devices, kept while windows are open.

    Args:
        backend: The GPU backend.
        nvml_indices: NVML indices of the devices to sample, keyed by CUDA-visible index.
        clock: The clock (its ``run_periodic`` drives the background sampling).
        interval_s: Sampling period of the background sampling. Units: s.
        reasons_every: Read the clock-event reasons every this many background samples.
    """

    def __init__(
        self,
        backend: GpuBackend,
        nvml_indices: dict[int, int],
        clock: Clock,
        interval_s: float = 0.015,
        reasons_every: int = 10,
    ) -> None:
        self.backend = backend
        self.nvml_indices = dict(nvml_indices)
        self.clock = clock
        self.interval_s = interval_s
        self.reasons_every = reasons_every
        self.metric = {dev: self._probe_metric(nvml) for dev, nvml in self.nvml_indices.items()}
        self._power: dict[int, list[tuple[float, float]]] = {d: [] for d in self.nvml_indices}
        self._reasons: dict[int, list[tuple[float, int]]] = {d: [] for d in self.nvml_indices}
        self._lock = threading.Lock()
        self._stop: Callable[[], None] | None = None
        self._users = 0
        self._count = 0

    def _probe_metric(self, nvml_index: int) -> str:
        return POWER_INSTANT if self.backend.instant_power_mw(nvml_index) is not None else POWER_USAGE

    def _read_w(self, device: int) -> float:
        nvml = self.nvml_indices[device]
        if self.metric[device] == POWER_INSTANT:
            value_mw = self.backend.instant_power_mw(nvml)
            if value_mw is not None:
                return mw_to_w(value_mw)
        return mw_to_w(self.backend.power_mw(nvml))

    def sample(self, at_s: float | None = None, with_reasons: bool = False) -> None:
        """Take one sample of every device now (stamped ``at_s`` if given). Units: s."""
        for device, nvml in self.nvml_indices.items():
            t = self.clock.monotonic_s() if at_s is None else at_s
            power_w = self._read_w(device)
            mask = self.backend.clock_event_reasons(nvml) if with_reasons else None
            with self._lock:
                self._power[device].append((t, power_w))
                if mask is not None:
                    self._reasons[device].append((t, mask))

    def _tick(self) -> None:
        self._count += 1
        self.sample(with_reasons=self._count % self.reasons_every == 0)

    @property
    def running(self) -> bool:
        """Whether background sampling is on."""
        return self._stop is not None

    def acquire(self) -> None:
        """Start background sampling (reference-counted: one call per window that needs it)."""
        self._users += 1
        if self._stop is None:
            self._stop = self.clock.run_periodic(self.interval_s, self._tick)

    def release(self) -> None:
        """Undo one :meth:`acquire`; stops the background sampling when no window needs it."""
        if self._users <= 0:
            raise RuntimeError("PowerSampler.release() without a matching acquire()")
        self._users -= 1
        if self._users == 0 and self._stop is not None:
            stop, self._stop = self._stop, None
            stop()  # re-raises an error of the sampling thread

    def window(self, device: int, start_s: float, end_s: float) -> tuple[list[float], list[float]]:
        """Samples of ``device`` inside a window (see :func:`clip_samples`). Units: s, W."""
        with self._lock:
            samples = list(self._power[device])
        return clip_samples(samples, start_s, end_s)

    def reasons_mask(self, device: int, start_s: float, end_s: float) -> int:
        """OR of the clock-event reason masks sampled inside the window."""
        with self._lock:
            masks = [m for t, m in self._reasons[device] if start_s <= t <= end_s]
        out = 0
        for mask in masks:
            out |= mask
        return out

    def prune(self, keep_from_s: float | None) -> None:
        """Forget samples older than ``keep_from_s`` (all when None). Units: s."""
        with self._lock:
            for device in self.nvml_indices:
                if keep_from_s is None:
                    self._power[device].clear()
                    self._reasons[device].clear()
                else:
                    self._power[device] = [s for s in self._power[device] if s[0] >= keep_from_s]
                    self._reasons[device] = [s for s in self._reasons[device] if s[0] >= keep_from_s]
