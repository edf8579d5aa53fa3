"""What the GPUs are: count, names, and one GPU's identity and state for provenance, through the backend.

The device layer is the only place that talks to NVML; provenance (:mod:`t2v_energy_lib.results.provenance`),
the pytest plugin's GPU probe and the xdist sharding ask here. Every function takes an optional
:class:`~t2v_energy_lib.energy.backend.GpuBackend` (tests pass a ``FakeBackend``); without one it opens an
:class:`~t2v_energy_lib.energy.nvml_backend.NvmlBackend` for the call and closes it after. Nothing runs at
import.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from t2v_energy_lib.energy.backend import GpuBackend, decode_clock_event_reasons
from t2v_energy_lib.errors import GpuUnavailableError, T2VEnergyError
from t2v_energy_lib.units import mw_to_w


@contextlib.contextmanager
def _opened(backend: GpuBackend | None) -> Iterator[GpuBackend]:
    """The given backend, or NVML opened for the block (closed after)."""
    if backend is not None:
        yield backend
        return
    from t2v_energy_lib.energy.nvml_backend import NvmlBackend

    nvml = NvmlBackend()
    try:
        yield nvml
    finally:
        nvml.close()


def gpu_count(backend: GpuBackend | None = None) -> int:
    """The number of NVIDIA GPUs NVML sees (all of them: NVML ignores ``CUDA_VISIBLE_DEVICES``).

    Raises:
        GpuUnavailableError: NVML cannot be loaded or initialised, or fails to count.
    """
    try:
        with _opened(backend) as gpus:
            return int(gpus.device_count())
    except GpuUnavailableError:
        raise
    except T2VEnergyError as exc:
        raise GpuUnavailableError(f"NVML failed to count GPUs ({exc})") from exc


def visible_gpu_names(
    backend: GpuBackend | None = None, env: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """Product names of the CUDA-visible GPUs, in CUDA order.

    Args:
        backend: The device backend (default: NVML for the call).
        env: Environment holding ``CUDA_VISIBLE_DEVICES`` (default: ``os.environ``).

    Raises:
        GpuUnavailableError: NVML is unavailable or fails while listing, or ``CUDA_VISIBLE_DEVICES`` names no
            GPU NVML sees; the message says which.
    """
    from t2v_energy_lib.energy.devices import resolve_visible_devices

    env = os.environ if env is None else env
    try:
        with _opened(backend) as gpus:
            count = gpus.device_count()
            uuids = [gpus.device_uuid(i) for i in range(count)]
            names = [gpus.name(i) for i in range(count)]
    except GpuUnavailableError:
        raise
    except T2VEnergyError as exc:
        raise GpuUnavailableError(f"NVML failed while listing GPUs ({exc})") from exc
    visible = resolve_visible_devices(env.get("CUDA_VISIBLE_DEVICES"), uuids)
    return tuple(names[i] for i in visible)


def read_field(unavailable: dict[str, str], name: str, getter: Callable[[], Any]) -> Any:
    """Call ``getter``; on any failure record why under ``unavailable[name]`` and return None (provenance
    never fails because one field is unreadable)."""
    try:
        return getter()
    except Exception as exc:  # one missing field must never fail the run; the reason is recorded
        unavailable[name] = f"{type(exc).__name__}: {exc}".strip()
        return None


def _persistence(gpus: GpuBackend, index: int) -> bool:
    mode = gpus.persistence_mode(index)
    if mode is None:
        raise GpuUnavailableError("persistence mode not readable through NVML")
    return mode


def _identity(gpus: GpuBackend, index: int, unavailable: dict[str, str]) -> dict[str, Any]:
    def get(name: str, fn: Callable[[], Any]) -> Any:
        return read_field(unavailable, f"gpu.{name}", fn)

    clocks = get("clocks_mhz", lambda: gpus.clocks_mhz(index))
    if clocks is None:
        why = unavailable.pop("gpu.clocks_mhz")
        unavailable.update(
            {f"gpu.{k}": why for k in ("sm_clock_mhz", "memory_clock_mhz", "max_sm_clock_mhz")}
        )
    sm, mem, max_sm = clocks if clocks is not None else (None, None, None)
    return {
        "index": index,
        "name": get("name", lambda: gpus.name(index)),
        "uuid": get("uuid", lambda: gpus.device_uuid(index)),
        "driver_version": get("driver_version", gpus.driver_version),
        "cuda_driver_version": get("cuda_driver_version", gpus.cuda_driver_version),
        "power_limit_w": get("power_limit_w", lambda: mw_to_w(gpus.power_limit_mw(index))),
        "max_sm_clock_mhz": max_sm,
        "sm_clock_mhz": sm,
        "memory_clock_mhz": mem,
        "temperature_c": get("temperature_c", lambda: gpus.temperature_c(index)),
        "throttle_reasons": get(
            "throttle_reasons", lambda: sorted(decode_clock_event_reasons(gpus.clock_event_reasons(index)))
        ),
        "persistence_mode": get("persistence_mode", lambda: _persistence(gpus, index)),
    }


def describe_gpu(
    device_index: int | None = None,
    *,
    cuda_index: int | None = None,
    backend: GpuBackend | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """One GPU's identity and state for provenance, never failing on a missing field.

    Args:
        device_index: NVML index of the GPU.
        cuda_index: Or CUDA device index, mapped to its NVML index through ``CUDA_VISIBLE_DEVICES``.
        backend: The device backend (default: NVML for the call).
        env: Environment holding ``CUDA_VISIBLE_DEVICES`` (default: ``os.environ``).

    Returns:
        ``(fields, unavailable)``: ``index``, ``name``, ``uuid``, ``driver_version``, ``cuda_driver_version``,
        ``power_limit_w`` (W), ``max_sm_clock_mhz``, ``sm_clock_mhz``, ``memory_clock_mhz`` (MHz),
        ``temperature_c`` (°C), ``throttle_reasons`` (sorted names), ``persistence_mode``; a field that could
        not be read is None and ``unavailable["gpu.<field>"]`` says why. ``fields`` is None (and
        ``unavailable["gpu"]`` says why) when no GPU was asked for or NVML is unavailable.
    """
    from t2v_energy_lib.energy.devices import resolve_visible_devices

    unavailable: dict[str, str] = {}
    if device_index is None and cuda_index is None:
        unavailable["gpu"] = "no GPU requested (device_index=None)"
        return None, unavailable
    env = os.environ if env is None else env
    try:
        with _opened(backend) as gpus:
            if cuda_index is not None:
                uuids = [gpus.device_uuid(i) for i in range(gpus.device_count())]
                device_index = resolve_visible_devices(env.get("CUDA_VISIBLE_DEVICES"), uuids)[cuda_index]
            assert device_index is not None
            return _identity(gpus, device_index, unavailable), unavailable
    except GpuUnavailableError as exc:
        unavailable["gpu"] = f"{exc}; no NVIDIA GPU recorded"
    except Exception as exc:  # a failing listing: a provenance without GPU, with the reason
        unavailable["gpu"] = f"GPU {device_index} unavailable through NVML ({type(exc).__name__}: {exc})"
    return None, unavailable
