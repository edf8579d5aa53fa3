"""The GPU energy meter: named windows over NVML's energy counter, with a power-sampling fallback.

Example::

    meter = GpuMeter()                       # all CUDA-visible GPUs; raises GpuUnavailableError without one
    meter.measure_counter_period()           # once per session
    meter.measure_idle(duration_s=5.0)       # later windows also report energy above idle
    with meter.window("denoise") as handle:
        run_step()
    print(handle.result.total_gpu_energy_j)

Each window synchronises the CUDA devices at both ends, reads NVML's total-energy counter (mJ, Volta and
newer) at both ends, and takes one power sample at each end. A background sampler (every ~15 ms) runs during a
window when a device has no counter, when a timeline is asked for, or when ``compare_sources`` asks for the
sampled energy beside the counter's. A counter that goes backwards (driver reload, wrap) is never trusted:
that device's energy comes from the power samples and the window lists it in ``counter_reset_devices``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import statistics
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from t2v_energy_lib.energy.backend import GpuBackend, decode_clock_event_reasons
from t2v_energy_lib.energy.clock import Clock, RealClock
from t2v_energy_lib.energy.devices import resolve_visible_devices
from t2v_energy_lib.energy.measurements import (
    SOURCE_COUNTER,
    SOURCE_POWER_SAMPLES,
    GpuState,
    GpuWindow,
    PowerTimeline,
    warn_short_window,
)
from t2v_energy_lib.energy.sampler import PowerSampler, trapezoid_j
from t2v_energy_lib.errors import (
    GpuUnavailableError,
    MeasurementWindowError,
    NvmlError,
    NvmlNotSupportedError,
)
from t2v_energy_lib.units import mj_to_j, mw_to_w

_FROM_ENV = object()
IDLE_WINDOW_KEY = "__idle__"


def cuda_synchronize(devices: Sequence[int]) -> None:
    """Synchronise the given CUDA devices, if torch is already imported and CUDA initialised (else no-op).

    Never imports torch nor initialises CUDA itself.

    Args:
        devices: CUDA-visible device indices.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return
    for device in devices:
        torch.cuda.synchronize(device)


@dataclass
class WindowHandle:
    """What ``GpuMeter.window`` yields; ``result`` is filled when the block exits."""

    key: str
    result: GpuWindow | None = None


@dataclass
class _OpenWindow:
    key: str
    start_s: float
    start_unix_s: float
    energy_mj: dict[int, int | None]
    temperature_c: dict[int, int]
    pids: dict[int, set[int] | None]
    uses_sampler: bool
    record_timeline: bool
    compare_sources: bool
    extra: dict[str, object] = field(default_factory=dict)


class GpuMeter:
    """Measures GPU energy over named windows. Dicts in results are keyed by CUDA-visible device index.

    Args:
        devices: CUDA-visible indices to measure; None = every visible GPU.
        min_window_s: Windows shorter than this are flagged ``short_window`` and warn. Units: s.
        record_timeline: Default for windows: keep the power samples as a timeline.
        compare_sources: Default for windows: also integrate the power samples while the counter is used
            (``GpuWindow.sampled_energy_j``).
        backend: The device backend; None = :class:`NvmlBackend` (raises GpuUnavailableError without NVML).
        clock: None = :class:`RealClock`.
        sync: Called with no argument at both ends of a window; None = :func:`cuda_synchronize` on
            ``devices``.
        cuda_visible_devices: Value of CUDA_VISIBLE_DEVICES to map; default reads the environment.
        sample_interval_s: Background sampling period. Units: s.

    Raises:
        GpuUnavailableError: No NVML, no GPU, or a device that is not visible.
    """

    def __init__(
        self,
        devices: Sequence[int] | None = None,
        min_window_s: float = 1.0,
        record_timeline: bool = False,
        compare_sources: bool = False,
        backend: GpuBackend | None = None,
        clock: Clock | None = None,
        sync: Callable[[], None] | None = None,
        cuda_visible_devices: str | object | None = _FROM_ENV,
        sample_interval_s: float = 0.015,
    ) -> None:
        if backend is None:
            from t2v_energy_lib.energy.nvml_backend import NvmlBackend

            backend = NvmlBackend()
        self.backend = backend
        self.clock: Clock = clock if clock is not None else RealClock()
        env = (
            os.environ.get("CUDA_VISIBLE_DEVICES")
            if cuda_visible_devices is _FROM_ENV
            else cuda_visible_devices
        )
        mapping = resolve_visible_devices(env, backend.device_uuids())  # type: ignore[arg-type]
        self.devices = self._select(devices, len(mapping))
        self.nvml_indices = {d: mapping[d] for d in self.devices}
        self.min_window_s = min_window_s
        self.record_timeline = record_timeline
        self.compare_sources = compare_sources
        self._sync = sync if sync is not None else (lambda: cuda_synchronize(self.devices))
        self.has_counter = {d: self._probe_counter(n) for d, n in self.nvml_indices.items()}
        self.sampler = PowerSampler(backend, self.nvml_indices, self.clock, interval_s=sample_interval_s)
        self.driver_version = backend.driver_version()
        self.names = {d: backend.name(n) for d, n in self.nvml_indices.items()}
        self.uuids = {d: backend.device_uuid(n) for d, n in self.nvml_indices.items()}
        self.counter_update_period_s: float | None = None
        self.idle_power_w: dict[int, float] | None = None
        self.idle_window: GpuWindow | None = None
        self._open: dict[str, _OpenWindow] = {}

    @staticmethod
    def _select(devices: Sequence[int] | None, visible: int) -> list[int]:
        if devices is None:
            return list(range(visible))
        bad = [d for d in devices if not 0 <= d < visible]
        if bad or not devices:
            raise GpuUnavailableError(
                f"devices={list(devices)} are not CUDA-visible GPUs (visible indices: 0..{visible - 1}). "
                "Fix: pass CUDA-visible indices, or None for all."
            )
        return list(dict.fromkeys(devices))

    def _probe_counter(self, nvml_index: int) -> bool:
        try:
            self.backend.energy_mj(nvml_index)
        except NvmlNotSupportedError:
            return False
        return True

    @property
    def description(self) -> str:
        """One line: which GPUs and which energy source."""
        parts = [
            f"cuda:{d} {self.names[d]} ({'counter' if self.has_counter[d] else 'power samples'})"
            for d in self.devices
        ]
        return "GPU energy on NVML: " + ", ".join(parts)

    # ---- windows -------------------------------------------------------------------------------------------

    def begin_window(
        self, key: str, record_timeline: bool | None = None, compare_sources: bool | None = None
    ) -> None:
        """Open window ``key`` (after synchronising the devices).

        Args:
            key: A name not already open.
            record_timeline: Override the meter default for this window.
            compare_sources: Override the meter default for this window.

        Raises:
            MeasurementWindowError: ``key`` is already open.
        """
        if key in self._open:
            raise MeasurementWindowError(f"window {key!r} is already open; end it or use another key")
        timeline = self.record_timeline if record_timeline is None else record_timeline
        compare = self.compare_sources if compare_sources is None else compare_sources
        uses_sampler = timeline or compare or not all(self.has_counter.values())
        self._sync()
        if uses_sampler:
            self.sampler.acquire()
        start_s = self.clock.monotonic_s()
        start_unix_s = self.clock.unix_s()
        self.sampler.sample(at_s=start_s, with_reasons=True)
        energy = {
            d: self.backend.energy_mj(n) if self.has_counter[d] else None
            for d, n in self.nvml_indices.items()
        }
        self._open[key] = _OpenWindow(
            key=key,
            start_s=start_s,
            start_unix_s=start_unix_s,
            energy_mj=energy,
            temperature_c={d: self.backend.temperature_c(n) for d, n in self.nvml_indices.items()},
            pids={d: self._pids(n) for d, n in self.nvml_indices.items()},
            uses_sampler=uses_sampler,
            record_timeline=timeline,
            compare_sources=compare,
        )

    def end_window(self, key: str) -> GpuWindow:
        """Close window ``key`` (after synchronising the devices) and return its measurement.

        Raises:
            MeasurementWindowError: ``key`` is not open.
        """
        if key not in self._open:
            open_keys = ", ".join(map(repr, self._open)) or "none"
            raise MeasurementWindowError(
                f"window {key!r} was never begun (open: {open_keys}); call begin_window"
            )
        win = self._open.pop(key)
        try:
            self._sync()
            end_s = self.clock.monotonic_s()
            energy = {
                d: self.backend.energy_mj(n) if self.has_counter[d] else None
                for d, n in self.nvml_indices.items()
            }
            self.sampler.sample(at_s=end_s, with_reasons=True)
            result = self._build(win, end_s, energy)
        finally:
            if win.uses_sampler:
                self.sampler.release()
            self.sampler.prune(min((w.start_s for w in self._open.values()), default=None))
        if result.short_window:
            warn_short_window(key, result.duration_s, self.min_window_s, self.counter_update_period_s)
        return result

    @contextlib.contextmanager
    def window(
        self, key: str, record_timeline: bool | None = None, compare_sources: bool | None = None
    ) -> Iterator[WindowHandle]:
        """Context manager around :meth:`begin_window` / :meth:`end_window`; the window ends even on error."""
        handle = WindowHandle(key)
        self.begin_window(key, record_timeline=record_timeline, compare_sources=compare_sources)
        try:
            yield handle
        finally:
            handle.result = self.end_window(key)

    def _build(self, win: _OpenWindow, end_s: float, energy_end: dict[int, int | None]) -> GpuWindow:
        duration_s = end_s - win.start_s
        energy_j: dict[int, float] = {}
        sampled_j: dict[int, float] = {}
        sources: dict[int, str] = {}
        counts: dict[int, int] = {}
        timeline: dict[int, PowerTimeline] = {}
        resets: list[int] = []
        for d in self.devices:
            ts, ps = self.sampler.window(d, win.start_s, end_s)
            sampled_j[d], counts[d] = trapezoid_j(ts, ps), len(ts)
            timeline[d] = PowerTimeline(tuple(t - win.start_s for t in ts), tuple(ps))
            start_mj, end_mj = win.energy_mj[d], energy_end[d]
            if start_mj is not None and end_mj is not None and end_mj >= start_mj:
                energy_j[d], sources[d] = mj_to_j(end_mj - start_mj), SOURCE_COUNTER
            else:
                energy_j[d], sources[d] = sampled_j[d], SOURCE_POWER_SAMPLES
                if start_mj is not None:
                    resets.append(d)
        idle = self.idle_power_w
        return GpuWindow(
            key=win.key,
            start_unix_s=win.start_unix_s,
            duration_s=duration_s,
            gpu_energy_j=energy_j,
            gpu_energy_above_idle_j=None
            if idle is None
            else {d: energy_j[d] - idle[d] * duration_s for d in self.devices},
            mean_power_w={d: energy_j[d] / duration_s if duration_s > 0 else 0.0 for d in self.devices},
            source=SOURCE_COUNTER
            if all(s == SOURCE_COUNTER for s in sources.values())
            else SOURCE_POWER_SAMPLES,
            short_window=duration_s < self.min_window_s,
            states={d: self._state(d, win, end_s) for d in self.devices},
            timeline=timeline if win.record_timeline else None,
            sources=sources,
            counter_reset_devices=tuple(resets),
            sampled_energy_j=sampled_j if win.uses_sampler else None,
            sample_counts=counts,
            power_metric=dict(self.sampler.metric),
        )

    # ---- machine state -------------------------------------------------------------------------------------

    def _pids(self, nvml_index: int) -> set[int] | None:
        try:
            return set(self.backend.compute_process_pids(nvml_index)) - {os.getpid()}
        except NvmlNotSupportedError:
            return None

    def _state(self, device: int, win: _OpenWindow, end_s: float) -> GpuState:
        nvml = self.nvml_indices[device]
        sm_mhz, mem_mhz, max_sm_mhz = self.backend.clocks_mhz(nvml)
        mask = self.sampler.reasons_mask(device, win.start_s, end_s)
        start_pids, end_pids = win.pids[device], self._pids(nvml)
        pids = None if start_pids is None or end_pids is None else tuple(sorted(start_pids | end_pids))
        return GpuState(
            name=self.names[device],
            uuid=self.uuids[device],
            driver_version=self.driver_version,
            power_limit_w=mw_to_w(self.backend.power_limit_mw(nvml)),
            sm_clock_mhz=float(sm_mhz),
            mem_clock_mhz=float(mem_mhz),
            max_sm_clock_mhz=float(max_sm_mhz),
            temperature_c=float(self.backend.temperature_c(nvml)),
            temperature_start_c=float(win.temperature_c[device]),
            clock_event_reasons=decode_clock_event_reasons(mask),
            clock_event_reasons_mask=mask,
            other_process_pids=pids,
            persistence_mode=self.backend.persistence_mode(nvml),
        )

    # ---- session calibration -------------------------------------------------------------------------------

    def measure_idle(self, duration_s: float = 5.0, compare_sources: bool | None = None) -> dict[int, float]:
        """Measure idle power per device over ``duration_s``; later windows report energy above it.

        The idle window itself is kept as ``idle_window``. Leave the GPUs idle meanwhile (pending work is
        synchronised first). Units: s in, W out.
        """
        self.begin_window(IDLE_WINDOW_KEY, compare_sources=compare_sources)
        self.clock.sleep_s(duration_s)
        window = self.end_window(IDLE_WINDOW_KEY)
        self.idle_window = window
        self.idle_power_w = dict(window.mean_power_w)
        return dict(self.idle_power_w)

    def measure_counter_period(
        self, advances: int = 4, max_wait_s: float = 5.0, poll_s: float = 0.001
    ) -> float | None:
        """Measure how often the energy counter advances (first device with a counter); stored on the meter.

        Polls the counter until it has changed ``advances + 1`` times and takes the median interval between
        changes (the first change only aligns the phase). Units: s.

        Returns:
            The period in s, or None when no measured device has an energy counter.

        Raises:
            NvmlError: The counter did not advance often enough within ``max_wait_s``.
        """
        with_counter = [d for d in self.devices if self.has_counter[d]]
        if not with_counter:
            return None
        nvml = self.nvml_indices[with_counter[0]]
        deadline = self.clock.monotonic_s() + max_wait_s
        last, change_times = self.backend.energy_mj(nvml), []
        while len(change_times) < advances + 1:
            if self.clock.monotonic_s() > deadline:
                raise NvmlError(
                    f"energy counter of cuda:{with_counter[0]} changed {len(change_times)} times in "
                    f"{max_wait_s} s (needed {advances + 1}); is the GPU responsive? Retry with a larger "
                    "max_wait_s"
                )
            self.clock.sleep_s(poll_s)
            value = self.backend.energy_mj(nvml)
            if value != last:
                change_times.append(self.clock.monotonic_s())
                last = value
        intervals = [b - a for a, b in itertools.pairwise(change_times)]
        self.counter_update_period_s = statistics.median(intervals)
        return self.counter_update_period_s

    def close(self) -> None:
        """Release the backend (NVML shutdown). Open windows are discarded."""
        for win in self._open.values():
            if win.uses_sampler:
                self.sampler.release()
        self._open.clear()
        self.backend.close()

    def __enter__(self) -> GpuMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
