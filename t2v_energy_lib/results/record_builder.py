"""From measured windows to a :class:`~t2v_energy_lib.results.ResultRecord`: the one builder of every runner.

The three runners measure with the energy layer's window API (``EnergyMeter.begin_window`` /
``end_window`` -> :class:`~t2v_energy_lib.energy.Measurement`) and build their records here:

- the CLI bench (:mod:`t2v_energy_lib.bench`): one window per round of ``units`` units of work;
- the pytest ``energy`` fixture: one window per pytest-benchmark round, latency from pytest-benchmark's own
  timings (``latency_s=``);
- the scale-out runner: per-rank windows summed over GPUs first, then :func:`build_record` with the totals.

:data:`READINGS` says how each declared quantity (:mod:`.quantities`) is read from one window; a quantity is
stored only when every window has it. Values are stored per unit of work (divided by ``units_per_round``),
raw floats, never rounded. A new gate metric is one row in :mod:`.quantities` plus its reading here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from t2v_energy_lib.results.quantities import GPU_ENERGY, GPU_ENERGY_ABOVE_IDLE, HOST_ENERGY, LATENCY
from t2v_energy_lib.results.schema import ResultRecord


def _gpu(m: Any) -> Any:
    return getattr(m, "gpu", None)


def _host(m: Any) -> Any:
    return getattr(m, "host", None)


#: Rounds key -> how one window (a ``Measurement``) gives its value; None when the window has none.
READINGS: Mapping[str, Callable[[Any], float | None]] = {
    LATENCY.key: lambda m: m.duration_s,
    GPU_ENERGY.key: lambda m: None if _gpu(m) is None else m.gpu.total_gpu_energy_j,
    GPU_ENERGY_ABOVE_IDLE.key: lambda m: None if _gpu(m) is None else m.gpu.total_gpu_energy_above_idle_j,
    HOST_ENERGY.key: lambda m: None if _host(m) is None else m.host.host_energy_j,
}


def window_rounds(
    measurements: Sequence[Any], latency_s: Sequence[float] | None = None
) -> dict[str, tuple[float, ...]]:
    """Raw per-window values (not divided by units) of every quantity that every window has.

    Args:
        measurements: One ``Measurement`` per round.
        latency_s: Per-round latency timed by someone else (pytest-benchmark), replacing the windows'
            durations. Units: s.

    Raises:
        ValueError: No window, or ``latency_s`` of another length than ``measurements``.
    """
    if not measurements:
        raise ValueError("a record needs at least one measured window")
    out: dict[str, tuple[float, ...]] = {}
    for key, read in READINGS.items():
        values = [read(m) for m in measurements]
        if all(v is not None for v in values):
            out[key] = tuple(float(v) for v in values)  # type: ignore[arg-type]
    if latency_s is not None:
        if len(latency_s) != len(measurements):
            raise ValueError(
                f"{len(latency_s)} latencies for {len(measurements)} windows; pair them one to one"
            )
        out[LATENCY.key] = tuple(float(v) for v in latency_s)
    return out


def window_context(measurements: Sequence[Any]) -> dict[str, Any]:
    """What the windows say about themselves, for a record's ``extra``.

    Keys: ``window_s`` (each window's length, s), ``short_windows`` (how many were shorter than the meter's
    minimum), ``energy_source`` (``counter``, ``power_samples``, joined by ``+`` when mixed, or ``host``
    without GPU), and with host windows ``host_energy_estimated`` and ``host_energy_method``.
    """
    gpus = [_gpu(m) for m in measurements if _gpu(m) is not None]
    out: dict[str, Any] = {
        "window_s": [float(m.duration_s) for m in measurements],
        "short_windows": sum(bool(g.short_window) for g in gpus),
        "energy_source": "+".join(sorted({g.source for g in gpus})) if gpus else "host",
    }
    hosts = [_host(m) for m in measurements if _host(m) is not None]
    if hosts:
        out["host_energy_estimated"] = any(h.estimated for h in hosts)
        out["host_energy_method"] = str(hosts[-1].method)
    return out


def window_machine_state(measurements: Sequence[Any]) -> dict[str, Any]:
    """GPU state (clocks, temperature, throttle reasons) of the last window with a GPU, keyed by device."""
    gpus = [_gpu(m) for m in measurements if _gpu(m) is not None]
    if not gpus or not getattr(gpus[-1], "states", None):
        return {}
    return {str(device): state.to_dict() for device, state in gpus[-1].states.items()}


def per_unit(values: Sequence[float], units_per_round: int) -> tuple[float, ...]:
    """Per-round values divided by the units of work per round."""
    return tuple(float(v) / units_per_round for v in values)


def build_record(
    *,
    record_id: str,
    suite: str,
    model: str,
    component: str,
    settings: Mapping[str, Any],
    rounds: Mapping[str, Sequence[float]],
    units_per_round: int = 1,
    extra: Mapping[str, Any] | None = None,
    machine_state: Mapping[str, Any] | None = None,
) -> ResultRecord:
    """The record of raw per-round values: each divided by ``units_per_round`` (values per unit of work).

    Args:
        record_id: Stable id (``suite/model/settings/component`` by convention).
        suite: The suite.
        model: Model spec id.
        component: What was measured.
        settings: The exact run settings.
        rounds: Rounds key -> one raw value per round (a whole round's work).
        units_per_round: Units of work of one round.
        extra: Context (flags, calibration, the windows' context).
        machine_state: GPU state around the record.

    Raises:
        BaselineFormatError: The record breaks the schema (e.g. a negative energy).
    """
    return ResultRecord(
        id=record_id,
        suite=suite,
        model=model,
        component=component,
        settings=dict(settings),
        rounds={key: per_unit(values, units_per_round) for key, values in rounds.items()},
        units_per_round=units_per_round,
        extra=dict(extra or {}),
        machine_state=dict(machine_state or {}),
    )


def record_from_windows(
    *,
    record_id: str,
    suite: str,
    model: str,
    component: str,
    settings: Mapping[str, Any],
    measurements: Sequence[Any],
    units_per_round: int = 1,
    latency_s: Sequence[float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ResultRecord:
    """The record of measured windows: :func:`window_rounds` per unit, :func:`window_context` in ``extra``.

    Args:
        measurements: One ``Measurement`` per round.
        latency_s: Per-round latency timed outside the windows (pytest-benchmark), if any. Units: s.
        extra: Runner context, added over the windows' context.
        record_id: See :func:`build_record` (as are ``suite``, ``model``, ``component``, ``settings``,
            ``units_per_round``).
    """
    return build_record(
        record_id=record_id,
        suite=suite,
        model=model,
        component=component,
        settings=settings,
        rounds=window_rounds(measurements, latency_s),
        units_per_round=units_per_round,
        extra={**window_context(measurements), **(extra or {})},
        machine_state=window_machine_state(measurements),
    )
