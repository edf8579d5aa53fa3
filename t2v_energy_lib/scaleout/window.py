"""One synchronised measurement window across the ranks of a ``torch.distributed`` job, and its aggregation.

Every rank measures its own GPU with its own meter over the same window:

    device sync -> barrier -> begin window -> work -> device sync -> barrier -> end window

so the window of a fast rank also covers its wait for the slowest one (that idle draw belongs to the parallel
run). The per-rank results are gathered to rank 0 (object collectives go over the CPU/gloo side of the process
group), where energies are summed across devices and latencies taken as the longest rank's.

Nothing here needs CUDA: ``device_sync`` is passed in (``torch.cuda.synchronize`` on a GPU job, None on CPU),
and a meter is anything with ``begin_window(key)`` / ``end_window(key)`` returning an object with
``gpu_energy_j`` (dict device -> J), ``gpu_energy_above_idle_j`` (dict or None), ``duration_s``, ``states``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from t2v_energy_lib.errors import FitError
from t2v_energy_lib.scaleout.efficiency import sum_device_energy


@dataclass(frozen=True)
class RankMeasurement:
    """What one rank measured in one window.

    Attributes:
        rank: Global rank.
        device: The rank's GPU (NVML UUID where known, else ``"cuda:<local rank>"``).
        duration_s: Window duration seen by this rank's meter. Units: s.
        gpu_energy_j: Energy of this rank's GPU in the window. Units: J.
        gpu_energy_above_idle_j: The same above the GPU's idle draw (None without idle measured). Units: J.
        step_end_s: Times at which each denoising step ended, from the window start. Units: s.
        machine_state: The GPU's state around the window (clocks, temperature, throttle reasons).
    """

    rank: int
    device: str
    duration_s: float
    gpu_energy_j: float
    gpu_energy_above_idle_j: float | None
    step_end_s: tuple[float, ...] = ()
    machine_state: Mapping[str, Any] = field(default_factory=dict)

    def step_latencies_s(self) -> tuple[float, ...]:
        """Per-step latencies (differences of ``step_end_s``, the first from the window start). Units: s."""
        ends = (0.0, *self.step_end_s)
        return tuple(b - a for a, b in itertools.pairwise(ends))


@dataclass(frozen=True)
class WindowTotals:
    """One window over all ranks.

    Attributes:
        world_size: Ranks (one GPU each).
        duration_s: Longest rank's window. Units: s.
        gpu_energy_j: Sum over GPUs. Units: J.
        gpu_energy_above_idle_j: Sum over GPUs above idle, or None if any rank lacks it. Units: J.
        per_device_j: Device -> energy. Units: J.
        step_latencies_s: Per step, the longest rank's latency. Units: s.
    """

    world_size: int
    duration_s: float
    gpu_energy_j: float
    gpu_energy_above_idle_j: float | None
    per_device_j: Mapping[str, float]
    step_latencies_s: tuple[float, ...]


def _dist() -> Any:
    import torch.distributed as dist  # lazy: torch is heavy and this module is imported on CPU-only hosts

    return dist if dist.is_available() and dist.is_initialized() else None


def synchronise_ranks(device_sync: Callable[[], None] | None) -> None:
    """Finish this rank's queued device work, then wait for every rank (no process group: no barrier)."""
    if device_sync is not None:
        device_sync()
    dist = _dist()
    if dist is not None:
        dist.barrier()


def _device_of(window: Any, index: int, fallback: str) -> tuple[str, dict[str, Any]]:
    states = getattr(window, "states", None) or {}
    state = states.get(index)
    if state is None:
        return fallback, {}
    as_dict = dataclasses.asdict(state) if dataclasses.is_dataclass(state) else dict(state)
    return str(as_dict.get("uuid") or fallback), as_dict


def measure_window(
    meter: Any,
    key: str,
    work: Callable[[Callable[[], None]], None],
    *,
    rank: int,
    device_index: int,
    device_sync: Callable[[], None] | None,
) -> RankMeasurement:
    """Measure ``work`` on this rank in a window synchronised with every other rank.

    Args:
        meter: This rank's meter (measures ``device_index`` only).
        key: Window name.
        work: Runs the work; it is handed a ``mark_step()`` to call at the end of every step.
        rank: Global rank.
        device_index: The meter's index of this rank's GPU (the CUDA-visible index).
        device_sync: Synchronises this rank's device (``torch.cuda.synchronize``), or None on CPU.
    """
    step_end_s: list[float] = []
    synchronise_ranks(device_sync)
    meter.begin_window(key)
    start = time.perf_counter()

    def mark_step() -> None:
        if device_sync is not None:
            device_sync()
        step_end_s.append(time.perf_counter() - start)

    work(mark_step)
    synchronise_ranks(device_sync)
    window = meter.end_window(key)
    if device_index not in window.gpu_energy_j:
        raise FitError(
            f"rank {rank}: the meter's window has no device {device_index}; measure this rank's GPU"
        )
    above = window.gpu_energy_above_idle_j
    device, state = _device_of(window, device_index, f"cuda:{device_index}")
    return RankMeasurement(
        rank=rank,
        device=device,
        duration_s=float(window.duration_s),
        gpu_energy_j=float(window.gpu_energy_j[device_index]),
        gpu_energy_above_idle_j=None if above is None else float(above[device_index]),
        step_end_s=tuple(step_end_s),
        machine_state=state,
    )


def gather_to_rank0(measurement: RankMeasurement) -> list[RankMeasurement] | None:
    """Every rank's measurement on rank 0, ordered by rank; None on the other ranks.

    Without a process group (a 1-GPU run) the list holds this measurement only.
    """
    dist = _dist()
    if dist is None:
        return [measurement]
    world = dist.get_world_size()
    gathered: list[Any] | None = [None] * world if dist.get_rank() == 0 else None
    dist.gather_object(measurement, gathered, dst=0)
    if gathered is None:
        return None
    return sorted(gathered, key=lambda m: m.rank)


def aggregate(measurements: Sequence[RankMeasurement]) -> WindowTotals:
    """Sum the energies of one window over its ranks' GPUs; latency is the longest rank's.

    Raises:
        FitError: no measurement, two ranks on one device, ranks missing, or ranks with different step counts.
    """
    if not measurements:
        raise FitError("no rank measurements to aggregate; gather them with gather_to_rank0()")
    ranks = sorted(m.rank for m in measurements)
    if ranks != list(range(len(measurements))):
        raise FitError(f"ranks {ranks} are not 0..{len(measurements) - 1}: a rank's measurement is missing")
    devices = [m.device for m in measurements]
    if len(set(devices)) != len(devices):
        raise FitError(f"two ranks measured the same GPU ({devices}); each rank must own one GPU")
    summed = sum_device_energy({m.device: m.gpu_energy_j for m in measurements})
    above = [m.gpu_energy_above_idle_j for m in measurements]
    steps = {len(m.step_end_s) for m in measurements}
    if len(steps) != 1:
        raise FitError(f"ranks ran different numbers of steps ({sorted(steps)}); the window is not one job")
    per_rank_steps = [m.step_latencies_s() for m in measurements]
    return WindowTotals(
        world_size=len(measurements),
        duration_s=max(m.duration_s for m in measurements),
        gpu_energy_j=summed.total_j,
        gpu_energy_above_idle_j=None if any(a is None for a in above) else math.fsum(above),  # type: ignore[arg-type]
        per_device_j=summed.per_device_j,
        step_latencies_s=tuple(max(step) for step in zip(*per_rank_steps, strict=True)),
    )
