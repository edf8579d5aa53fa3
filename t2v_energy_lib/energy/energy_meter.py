"""One window API over an optional :class:`GpuMeter` and a :class:`HostMeter`.

``EnergyMeter.auto()`` measures the GPUs when NVML and a GPU are there and falls back to CPU-only otherwise;
``description`` says which it got. GPU energy is measured; host energy may be an estimate, and is kept apart
(see :class:`~t2v_energy_lib.energy.measurements.Measurement`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.energy.gpu_meter import GpuMeter
from t2v_energy_lib.energy.host_meter import HostMeter
from t2v_energy_lib.energy.measurements import Measurement
from t2v_energy_lib.errors import GpuUnavailableError

logger = logging.getLogger(__name__)


@dataclass
class MeasurementHandle:
    """What ``EnergyMeter.window`` yields; ``result`` is filled when the block exits."""

    key: str
    result: Measurement | None = None


class EnergyMeter:
    """GPU (optional) and host energy over the same named windows.

    Args:
        gpu: A GPU meter, or None for CPU-only.
        host: A host meter; None = ``HostMeter()`` with its defaults.
    """

    def __init__(self, gpu: GpuMeter | None, host: HostMeter | None = None) -> None:
        self.gpu = gpu
        self.host = host if host is not None else HostMeter()
        self.cpu_only_reason: str | None = None

    @classmethod
    def auto(cls, host: HostMeter | None = None, **gpu_kwargs: Any) -> EnergyMeter:
        """A meter on every visible GPU when NVML and a GPU are there, else CPU-only (see ``description``).

        Args:
            host: Host meter; None = defaults.
            **gpu_kwargs: Passed to :class:`GpuMeter`.
        """
        try:
            gpu = GpuMeter(**gpu_kwargs)
        except GpuUnavailableError as exc:
            logger.info("EnergyMeter.auto: CPU-only (%s)", exc)
            meter = cls(None, host)
            meter.cpu_only_reason = str(exc)
            return meter
        return cls(gpu, host)

    @classmethod
    def for_device(cls, device: str, idle_s: float = 0.0, host: HostMeter | None = None) -> EnergyMeter:
        """The meter a run on ``device`` needs: on ``"cuda..."`` every visible GPU and the host, on ``"cpu"``
        the host only.

        Args:
            device: ``"cuda"`` (or ``"cuda:N"``) or ``"cpu"``.
            idle_s: On CUDA, measure idle power for this long first (enables above-idle energy); 0 skips;
                ignored on the CPU. Units: s.
            host: Host meter; None = defaults.

        Raises:
            GpuUnavailableError: CUDA was asked for but NVML or a GPU is missing (never replaced silently by
                a CPU-only meter).
        """
        if not device.startswith("cuda"):
            return cls(None, host)
        gpu = GpuMeter()
        if idle_s > 0:
            gpu.measure_idle(idle_s)
        return cls(gpu, host)

    @property
    def description(self) -> str:
        """What is measured, what is estimated, and why a GPU is missing if it is."""
        if self.gpu is None:
            why = f" ({self.cpu_only_reason})" if self.cpu_only_reason else ""
            return f"CPU-only: no GPU measured{why}; {self.host.description}"
        return f"{self.gpu.description}; {self.host.description}"

    def begin_window(self, key: str, **gpu_window_kwargs: Any) -> None:
        """Open window ``key`` on both meters (GPU first: it synchronises the devices)."""
        if self.gpu is not None:
            self.gpu.begin_window(key, **gpu_window_kwargs)
        try:
            self.host.begin_window(key)
        except BaseException:
            if self.gpu is not None:
                self.gpu.end_window(key)
            raise

    def end_window(self, key: str) -> Measurement:
        """Close window ``key`` on both meters and return the combined measurement."""
        gpu = self.gpu.end_window(key) if self.gpu is not None else None
        host = self.host.end_window(key)
        return Measurement(key=key, duration_s=gpu.duration_s if gpu else host.duration_s, gpu=gpu, host=host)

    @contextlib.contextmanager
    def window(self, key: str, **gpu_window_kwargs: Any) -> Iterator[MeasurementHandle]:
        """Context manager; the yielded handle's ``result`` is the :class:`Measurement` after the block."""
        handle = MeasurementHandle(key)
        self.begin_window(key, **gpu_window_kwargs)
        try:
            yield handle
        finally:
            handle.result = self.end_window(key)

    def close(self) -> None:
        """Close the GPU meter (NVML shutdown)."""
        if self.gpu is not None:
            self.gpu.close()
