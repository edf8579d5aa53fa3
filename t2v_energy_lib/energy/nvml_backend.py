"""The real GPU backend on NVML (nvidia-ml-py, module ``pynvml``).

Nothing here touches NVML at import: :func:`nvml_is_available` probes lazily (once, cached) and
:class:`NvmlBackend` initialises NVML in its constructor. Every ``pynvml.NVMLError`` is mapped to the
project's :class:`~t2v_energy_lib.errors.NvmlError` (or ``NvmlNotSupportedError``) in one place,
:func:`nvml_errors`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from t2v_energy_lib.energy.backend import GpuBackend
from t2v_energy_lib.errors import GpuUnavailableError, NvmlError, NvmlNotSupportedError

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def nvml_errors(what: str) -> Iterator[None]:
    """Map ``pynvml.NVMLError`` raised inside the block to the project's errors.

    Args:
        what: The operation, for the message (e.g. ``"nvmlDeviceGetTotalEnergyConsumption(0)"``).

    Raises:
        NvmlNotSupportedError: For ``NVML_ERROR_NOT_SUPPORTED`` (and a missing function in an old driver).
        NvmlError: For every other NVML failure.
    """
    import pynvml

    try:
        yield
    except pynvml.NVMLError as exc:
        code = getattr(exc, "value", None)
        if code in (pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND):
            raise NvmlNotSupportedError(f"{what} is not supported on this GPU/driver: {exc}") from exc
        raise NvmlError(f"{what} failed: {exc} (NVML error code {code})") from exc


def _mapped(fn: F) -> F:
    """Decorator form of :func:`nvml_errors` for backend methods (names the method and its arguments)."""

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with nvml_errors(f"{fn.__name__}{args}"):
            return fn(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


@functools.lru_cache(maxsize=1)
def nvml_is_available() -> bool:
    """Whether NVML can be initialised (pynvml importable, driver loaded). Probed once, then cached."""
    try:
        import pynvml
    except ImportError:
        logger.info("pynvml is not importable; install nvidia-ml-py to measure GPU energy")
        return False
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        logger.info("NVML is not available: %s", exc)
        return False
    pynvml.nvmlShutdown()
    return True


def nvml_unavailable_reason() -> str:
    """Why NVML cannot be used here, probed again (uncached) for a message: the import or init error."""
    try:
        import pynvml
    except ImportError as exc:
        return f"pynvml not importable: {exc}; install nvidia-ml-py"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError or a broken binding: the reason is the message
        return f"nvmlInit failed: {exc}"
    pynvml.nvmlShutdown()
    return "the first probe failed; NVML initialised on a later try"


def _field_value(value: Any) -> float:
    """The number inside an ``nvmlFieldValue_t`` union, by its value type."""
    import pynvml

    attr = {
        pynvml.NVML_VALUE_TYPE_DOUBLE: "dVal",
        pynvml.NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal",
        pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal",
        pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal",
        pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal",
        pynvml.NVML_VALUE_TYPE_SIGNED_INT: "siVal",
        pynvml.NVML_VALUE_TYPE_UNSIGNED_SHORT: "usVal",
    }.get(value.valueType)
    if attr is None:
        raise NvmlError(f"NVML field {value.fieldId} has an unknown value type {value.valueType}")
    return float(getattr(value.value, attr))


class NvmlBackend(GpuBackend):
    """:class:`GpuBackend` on NVML. Initialises NVML on construction; :meth:`close` shuts it down.

    Raises:
        GpuUnavailableError: pynvml is missing or NVML cannot initialise (no driver / no GPU).
    """

    def __init__(self) -> None:
        if not nvml_is_available():
            raise GpuUnavailableError(
                f"NVML is not available ({nvml_unavailable_reason()}; pynvml missing, or no NVIDIA "
                "driver/GPU on this machine). Fix: run on a machine with an NVIDIA GPU and nvidia-ml-py "
                "installed, or use a CPU-only EnergyMeter."
            )
        import pynvml

        self._nvml = pynvml
        with nvml_errors("nvmlInit"):
            pynvml.nvmlInit()
        self._handles: dict[int, Any] = {}
        self._closed = False

    def _handle(self, index: int) -> Any:
        if index not in self._handles:
            with nvml_errors(f"nvmlDeviceGetHandleByIndex({index})"):
                self._handles[index] = self._nvml.nvmlDeviceGetHandleByIndex(index)
        return self._handles[index]

    @_mapped
    def device_count(self) -> int:
        return int(self._nvml.nvmlDeviceGetCount())

    @_mapped
    def device_uuid(self, index: int) -> str:
        return str(self._nvml.nvmlDeviceGetUUID(self._handle(index)))

    @_mapped
    def energy_mj(self, index: int) -> int:
        return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle(index)))

    @_mapped
    def power_mw(self, index: int) -> int:
        return int(self._nvml.nvmlDeviceGetPowerUsage(self._handle(index)))

    @_mapped
    def field_values(self, index: int, field_ids: Sequence[int]) -> dict[int, float | None]:
        values = self._nvml.nvmlDeviceGetFieldValues(self._handle(index), list(field_ids))
        out: dict[int, float | None] = {}
        for fid, value in zip(field_ids, values, strict=True):
            ok = value.nvmlReturn == self._nvml.NVML_SUCCESS
            out[fid] = _field_value(value) if ok else None
        return out

    @_mapped
    def name(self, index: int) -> str:
        return str(self._nvml.nvmlDeviceGetName(self._handle(index)))

    @_mapped
    def driver_version(self) -> str:
        return str(self._nvml.nvmlSystemGetDriverVersion())

    @_mapped
    def cuda_driver_version(self) -> int:
        return int(self._nvml.nvmlSystemGetCudaDriverVersion_v2())

    @_mapped
    def power_limit_mw(self, index: int) -> int:
        return int(self._nvml.nvmlDeviceGetEnforcedPowerLimit(self._handle(index)))

    @_mapped
    def clocks_mhz(self, index: int) -> tuple[int, int, int]:
        nv, handle = self._nvml, self._handle(index)
        return (
            int(nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_SM)),
            int(nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_MEM)),
            int(nv.nvmlDeviceGetMaxClockInfo(handle, nv.NVML_CLOCK_SM)),
        )

    @_mapped
    def temperature_c(self, index: int) -> int:
        return int(self._nvml.nvmlDeviceGetTemperature(self._handle(index), self._nvml.NVML_TEMPERATURE_GPU))

    @_mapped
    def clock_event_reasons(self, index: int) -> int:
        getter = getattr(self._nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
        if getter is None:  # nvidia-ml-py older than 12.535 only has the "throttle" name
            getter = self._nvml.nvmlDeviceGetCurrentClocksThrottleReasons
        return int(getter(self._handle(index)))

    @_mapped
    def compute_process_pids(self, index: int) -> list[int]:
        return [int(p.pid) for p in self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle(index))]

    def persistence_mode(self, index: int) -> bool | None:
        try:
            with nvml_errors(f"nvmlDeviceGetPersistenceMode({index})"):
                mode = self._nvml.nvmlDeviceGetPersistenceMode(self._handle(index))
        except NvmlError as exc:
            logger.info("persistence mode unreadable on GPU %d: %s", index, exc)
            return None
        return bool(mode == self._nvml.NVML_FEATURE_ENABLED)

    def close(self) -> None:
        """Shut NVML down (once)."""
        if not self._closed:
            self._closed = True
            with nvml_errors("nvmlShutdown"):
                self._nvml.nvmlShutdown()
