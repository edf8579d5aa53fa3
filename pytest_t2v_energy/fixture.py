"""The ``energy`` fixture: pytest-benchmark rounds, each one an energy window.

Design (why the JSON of pytest-benchmark stays correct):

``energy(fn, ...)`` calls ``benchmark.pedantic(target, setup=..., teardown=..., rounds=R,
warmup_rounds=W, iterations=1)``. pytest-benchmark runs, per round, ``setup()`` -> timed ``target`` ->
``teardown()``, and times only ``target``. The energy window is opened in ``setup`` and closed in
``teardown``, so:

- the benchmark's own timing (``stats.data``, one value per round) contains no NVML call: latencies, the
  table and ``--benchmark-json`` are pytest-benchmark's unmodified numbers;
- every measured round has exactly one window, and each window covers exactly that round's timed call plus
  pytest-benchmark's few microseconds of timer bookkeeping. Warmup rounds (the first W ``setup`` calls) and
  any later ``setup`` call (``--benchmark-cprofile``) open no window.

``target`` is ``fn`` followed by a CUDA synchronisation of the measured devices (a no-op unless torch has
initialised CUDA), so the timed latency includes the GPU work ``fn`` launched, as the window does.

Rejected alternatives: opening the window inside the timed function puts NVML reads and device syncs into the
latency; timing rounds ourselves and feeding pytest-benchmark's ``Stats`` is not a public API; calling
``pedantic`` once per round is impossible (the fixture may be used only once per test).

The record is built by the library's one builder (:mod:`t2v_energy_lib.results.record_builder`, through
:func:`pytest_t2v_energy.session.build_record`) from the round windows and pytest-benchmark's timings;
``benchmark.extra_info`` is then filled from that record and the raw per-round values (the keys listed in
:data:`EXTRA_KEYS`; a quantity's key is its ``extra_info_key`` in :mod:`t2v_energy_lib.results.quantities`);
raw floats, never rounded. With ``--benchmark-disable`` the function runs once and nothing is measured.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

EXTRA_KEYS = (
    "energy_gpu_j_rounds",
    "energy_gpu_j_mean",
    "energy_gpu_j_median",
    "energy_gpu_j_stddev",
    "energy_gpu_above_idle_j_rounds",
    "energy_source",
    "short_windows",
    "host_energy_j_rounds",
    "host_energy_estimated",
    "host_energy_method",
    "units_per_round",
    "machine_state",
    "energy_meter",
    "result_id",
    "suite",
    "model",
    "component",
    "settings",
)


class RoundWindows:
    """pytest-benchmark ``setup``/``teardown`` callbacks that open and close one window per measured round.

    Args:
        meter: Anything with ``begin_window(key)`` and ``end_window(key) -> Measurement``.
        key: Prefix of the window keys (``<key>/round<i>``).
        warmup_rounds: How many leading ``setup`` calls are warmup (no window).
        rounds: How many measured rounds follow.
        args: Positional arguments for the benchmarked function.
        kwargs: Keyword arguments for the benchmarked function.
    """

    def __init__(
        self,
        meter: Any,
        key: str,
        warmup_rounds: int,
        rounds: int,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.meter = meter
        self.key = key
        self.warmup_rounds = warmup_rounds
        self.rounds = rounds
        self.args = args
        self.kwargs = kwargs
        self.measurements: list[Any] = []
        self._setups = 0
        self._open_key: str | None = None

    def setup(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Called by pytest-benchmark before each round (outside the timing); opens a window if measured."""
        index = self._setups - self.warmup_rounds
        self._setups += 1
        if 0 <= index < self.rounds:
            self._open_key = f"{self.key}/round{index}"
            self.meter.begin_window(self._open_key)
        return self.args, self.kwargs

    def teardown(self, *args: Any, **kwargs: Any) -> None:
        """Called by pytest-benchmark after each round (outside the timing); closes the open window."""
        if self._open_key is None:
            return
        from t2v_energy_lib.energy import ShortWindowWarning

        key, self._open_key = self._open_key, None
        with warnings.catch_warnings():
            # Short windows are counted in extra_info["short_windows"] and summarised at session end;
            # a warning per round would fail suites that run with filterwarnings=error.
            warnings.simplefilter("ignore", ShortWindowWarning)
            self.measurements.append(self.meter.end_window(key))

    def abandon(self) -> None:
        """Close a window left open because the round raised (its measurement is discarded)."""
        if self._open_key is not None:
            key, self._open_key = self._open_key, None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.meter.end_window(key)


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "stddev": statistics.stdev(values) if len(values) > 1 else None,
    }


_CONTEXT_KEYS = (
    "energy_meter",
    "energy_source",
    "short_windows",
    "host_energy_estimated",
    "host_energy_method",
)


def energy_extra_info(record: Any, raw_rounds: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """The ``extra_info`` entries of one benchmark, from its record and its raw per-round values.

    Args:
        record: The benchmark's :class:`~t2v_energy_lib.results.ResultRecord` (values per unit of work).
        raw_rounds: The rounds before division by ``units_per_round``
            (:func:`~t2v_energy_lib.results.record_builder.window_rounds`): ``extra_info`` keeps raw
            per-round values and the unit count, as pytest-benchmark users read them.
    """
    from t2v_energy_lib.results.quantities import GPU_ENERGY, QUANTITIES

    info: dict[str, Any] = {"units_per_round": record.units_per_round}
    for quantity in QUANTITIES:
        if quantity.extra_info_key and quantity.key in raw_rounds:
            info[quantity.extra_info_key] = list(raw_rounds[quantity.key])
    if GPU_ENERGY.key in raw_rounds:
        stats = _stats(raw_rounds[GPU_ENERGY.key])
        info.update({f"energy_gpu_j_{name}": value for name, value in stats.items()})
    info.update({key: record.extra[key] for key in _CONTEXT_KEYS if key in record.extra})
    info["machine_state"] = dict(record.machine_state)
    info.update(
        result_id=record.id,
        suite=record.suite,
        model=record.model,
        component=record.component,
        settings=dict(record.settings),  # pytest-benchmark cannot serialise dataclass params
    )
    return info


def settings_mapping(settings: Any) -> dict[str, Any]:
    """A plain dict of run settings from a mapping, a dataclass (e.g. ``GenerationSettings``) or None."""
    if settings is None:
        return {}
    if isinstance(settings, Mapping):
        return dict(settings)
    if is_dataclass(settings) and not isinstance(settings, type):
        return asdict(settings)
    raise TypeError(f"settings must be a mapping or a dataclass, got {type(settings).__name__}")


_SHAPE_KEYS = ("height", "width", "num_frames", "num_inference_steps")


def settings_id(settings: Any) -> str:
    """A readable id for settings, as the CLI's records use.

    ``settings.id`` if it has one (``GenerationSettings``); ``HxWxF-sS`` for a mapping holding height,
    width, num_frames and num_inference_steps (the same id ``GenerationSettings.id`` gives); else sorted
    ``k=v`` pairs; ``default`` for no settings.
    """
    sid = getattr(settings, "id", None)
    if isinstance(sid, str) and sid:
        return sid
    pairs = settings_mapping(settings)
    if all(key in pairs for key in _SHAPE_KEYS):
        h, w, f, s = (pairs[key] for key in _SHAPE_KEYS)
        return f"{h}x{w}x{f}-s{s}"
    return ",".join(f"{k}={pairs[k]}" for k in sorted(pairs)) or "default"


def check_rounds_match(latency_s: Sequence[float], measurements: Sequence[Any], rounds: int) -> None:
    """Raise if the benchmark's timing rounds and the energy windows are not one-to-one.

    Raises:
        RuntimeError: Counts differ (pytest-benchmark's pedantic loop changed; the pairing is wrong).
    """
    if not (len(latency_s) == len(measurements) == rounds):
        raise RuntimeError(
            f"energy fixture: {len(latency_s)} timed rounds, {len(measurements)} energy windows, "
            f"{rounds} requested; each measured round must have exactly one window. This pytest-benchmark "
            "version runs pedantic setup/teardown differently: pin pytest-benchmark or update the plugin."
        )


def timed_target(fn: Callable[..., Any], sync: Callable[[], None]) -> Callable[..., Any]:
    """``fn`` followed by ``sync()`` inside the timed call (so latency covers the GPU work ``fn`` queued)."""

    def target(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        sync()
        return result

    return target


def extra_round(
    meter: Any, key: str, target: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[float, Any, Any]:
    """One adaptive round outside pytest-benchmark: a window around a host-timed synchronised call.

    Returns:
        ``(latency_s, measurement, fn's result)``.
    """
    meter.begin_window(key)
    try:
        start = time.perf_counter()
        out = target(*args, **kwargs)
        latency_s = time.perf_counter() - start
    except BaseException:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meter.end_window(key)
        raise
    from t2v_energy_lib.energy import ShortWindowWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortWindowWarning)
        return latency_s, meter.end_window(key), out


def _sync_for(meter: Any) -> Callable[[], None]:
    gpu = getattr(meter, "gpu", None)
    devices = list(getattr(gpu, "devices", []) or [])
    if not devices:
        return lambda: None
    from t2v_energy_lib.energy import cuda_synchronize

    return lambda: cuda_synchronize(devices)


class EnergyFixture:
    """What the ``energy`` fixture returns: call it once per test, like ``benchmark.pedantic``.

    Args:
        benchmark: pytest-benchmark's fixture of this test.
        meter: An :class:`~t2v_energy_lib.energy.EnergyMeter` (or a fake with the same window API).
        record: Called with ``(measurements, latency_s, metadata)`` after the rounds; builds, stores and
            returns the result record (the plugin passes
            :meth:`pytest_t2v_energy.session.EnergySession.add_benchmark`).
        test_id: The test's node id (default record id, window key).
        test_name: The test's name (default component).
        adaptive: ``--energy-adaptive``: called with ``(metadata, units_per_round)`` after the first rounds,
            returns a plan (``wants_more(latency_s, measurements)``, see
            :class:`pytest_t2v_energy.gate.AdaptivePlan`) or None; rounds are added while it wants more.
            These extra rounds are timed by the host clock around the same synchronised call (as
            pytest-benchmark times its rounds); they are in the record and ``extra_info``, not in
            pytest-benchmark's own statistics.
    """

    def __init__(
        self,
        benchmark: Any,
        meter: Any,
        record: Callable[..., None],
        test_id: str,
        test_name: str,
        adaptive: Callable[..., Any] | None = None,
    ) -> None:
        self.benchmark = benchmark
        self.meter = meter
        self._record = record
        self.test_id = test_id
        self.test_name = test_name
        self.adaptive = adaptive

    def __call__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        rounds: int = 3,
        warmup_rounds: int = 1,
        units_per_round: int = 1,
        suite: str | None = None,
        model: str | None = None,
        component: str | None = None,
        settings: Any = None,
        record_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Benchmark ``fn(*args, **kwargs)`` for ``rounds`` rounds, one energy window per round.

        Keyword names of this method (``rounds``, ``suite``...) are not passed on to ``fn``; wrap ``fn``
        in a lambda if it takes arguments of those names.

        Args:
            fn: The work of one round.
            *args: Positional arguments of ``fn``.
            rounds: Measured rounds (each one timed call and one energy window).
            warmup_rounds: Unmeasured rounds before them.
            units_per_round: Units of work one round performs (e.g. denoising steps); the result file stores
                values per unit, ``extra_info`` stores raw per-round values and this count.
            suite: Result-record suite (default ``"pytest"``).
            model: Result-record model id (default ``"unknown"``).
            component: Result-record component (default: the test's name).
            settings: Run settings (mapping or dataclass), stored verbatim in the record.
            record_id: Override the record id (default ``suite/model/<settings id>/component`` when suite,
                model and component are all given, else the test's node id).
            **kwargs: Keyword arguments of ``fn``.

        Returns:
            What ``fn`` returned in the last measured round.
        """
        if isinstance(units_per_round, bool) or not isinstance(units_per_round, int) or units_per_round < 1:
            raise ValueError(f"units_per_round must be an integer >= 1, got {units_per_round!r}")
        if self.benchmark.disabled:
            return fn(*args, **kwargs)
        windows = RoundWindows(self.meter, self.test_id, warmup_rounds, rounds, args, kwargs)
        target = timed_target(fn, _sync_for(self.meter))
        try:
            result = self.benchmark.pedantic(
                target,
                setup=windows.setup,
                teardown=windows.teardown,
                rounds=rounds,
                warmup_rounds=warmup_rounds,
                iterations=1,
            )
        finally:
            windows.abandon()
        latency_s = list(self.benchmark.stats.stats.data)
        check_rounds_match(latency_s, windows.measurements, rounds)
        from t2v_energy_lib.results.record_builder import window_rounds

        metadata = {
            "suite": suite,
            "model": model,
            "component": component,
            "settings": settings,
            "record_id": record_id,
            "units_per_round": units_per_round,
            "energy_meter": str(getattr(self.meter, "description", type(self.meter).__name__)),
        }
        plan = self.adaptive(metadata, units_per_round) if self.adaptive is not None else None
        while plan is not None and plan.wants_more(latency_s, windows.measurements):
            key = f"{self.test_id}/round{len(latency_s)}"
            seconds, measurement, result = extra_round(self.meter, key, target, args, kwargs)
            latency_s.append(seconds)
            windows.measurements.append(measurement)
        record = self._record(windows.measurements, latency_s, metadata)
        raw = window_rounds(windows.measurements, latency_s)
        self.benchmark.extra_info.update(energy_extra_info(record, raw))
        if plan is not None:
            self.benchmark.extra_info["adaptive"] = plan.outcome
        return result
