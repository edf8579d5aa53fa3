"""Energy summed across the GPUs of one multi-GPU window, and the parallel efficiency of a scale-out.

Definitions (n GPUs against a 1-GPU reference doing the same work):

- speed-up ``S = T1 / Tn``;
- parallel efficiency ``S / n`` (1.0 is perfect scaling);
- energy overhead ``E_n_total / E_1 - 1``, where ``E_n_total`` sums every GPU of the n-GPU run over the same
  window (0.0: the same joules; 0.25: a quarter more energy for the same work).

Energy is never averaged across devices: it is kept per device and summed only here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.errors import FitError
from t2v_energy_lib.results.quantities import GPU_ENERGY, LATENCY


@dataclass(frozen=True)
class DeviceEnergySum:
    """The energy of one window, per device and summed.

    Attributes:
        per_device_j: Device (index or UUID, as text) -> energy in the window. Units: J.
        total_j: Sum over devices. Units: J.
        n_devices: Number of devices summed.
    """

    per_device_j: Mapping[str, float]
    total_j: float
    n_devices: int


@dataclass(frozen=True)
class ScalingEfficiency:
    """Speed-up, parallel efficiency and energy overhead of an n-GPU run against a 1-GPU reference.

    Attributes:
        n_devices: GPUs of the parallel run.
        t1_s: Latency of the 1-GPU reference for the unit of work. Units: s.
        tn_s: Latency of the n-GPU run for the same unit of work. Units: s.
        e1_j: Energy of the reference for the unit of work. Units: J.
        en_total_j: Energy of the n-GPU run, summed over its GPUs. Units: J.
        speedup: ``t1_s / tn_s``.
        efficiency: ``speedup / n_devices``.
        energy_overhead: ``en_total_j / e1_j - 1`` (a fraction; negative means the parallel run used less).
    """

    n_devices: int
    t1_s: float
    tn_s: float
    e1_j: float
    en_total_j: float
    speedup: float
    efficiency: float
    energy_overhead: float

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict of every field (full precision)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _energies_of(window_or_energies: Any) -> Mapping[Any, float]:
    energies = getattr(window_or_energies, "gpu_energy_j", window_or_energies)
    if not isinstance(energies, Mapping):
        raise TypeError(
            f"expected a GpuWindow or a mapping device -> J, got {type(window_or_energies).__name__}"
        )
    return energies


def sum_device_energy(window_or_energies: Any) -> DeviceEnergySum:
    """Sum the per-device energies of one window (a ``GpuWindow`` or its ``gpu_energy_j`` dict).

    Args:
        window_or_energies: ``GpuWindow`` (its ``gpu_energy_j`` is used) or a mapping device -> energy in J.

    Returns:
        Per-device energies (keys as text) and their sum. Units: J.

    Raises:
        FitError: no device, or an energy that is negative or not finite.
    """
    energies = _energies_of(window_or_energies)
    if not energies:
        raise FitError("cannot sum the energy of a window with no devices; measure at least one GPU")
    per_device: dict[str, float] = {}
    for device, value in energies.items():
        value_j = float(value)
        if not math.isfinite(value_j) or value_j < 0:
            raise FitError(f"device {device}: energy {value!r} J is not a finite non-negative number")
        key = str(device)
        if key in per_device:
            raise FitError(f"device {device!r} appears twice in the window; name each device once")
        per_device[key] = value_j
    return DeviceEnergySum(
        per_device_j=per_device, total_j=math.fsum(per_device.values()), n_devices=len(per_device)
    )


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise FitError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def scaling_efficiency(
    t1_s: float, e1_j: float, tn_s: float, en_j: float | Mapping[Any, float], n_devices: int | None = None
) -> ScalingEfficiency:
    """Speed-up, efficiency and energy overhead of an n-GPU run against a 1-GPU reference.

    Args:
        t1_s: Reference latency for the unit of work. Units: s.
        e1_j: Reference energy for the unit of work. Units: J.
        tn_s: Parallel latency for the same unit of work. Units: s.
        en_j: Parallel energy: the total, or a mapping device -> J (then summed, and ``n_devices`` defaults
            to its length). Units: J.
        n_devices: GPUs of the parallel run (required when ``en_j`` is a total).

    Raises:
        FitError: a non-positive time or energy, or ``n_devices`` missing, < 1 or unlike the mapping's size.
    """
    if isinstance(en_j, Mapping):
        summed = sum_device_energy(en_j)
        if n_devices is not None and n_devices != summed.n_devices:
            raise FitError(f"n_devices={n_devices} but the energies name {summed.n_devices} device(s)")
        n_devices, en_total_j = summed.n_devices, summed.total_j
    else:
        en_total_j = float(en_j)
    if n_devices is None or isinstance(n_devices, bool) or n_devices < 1:
        raise FitError(f"n_devices must be an integer >= 1, got {n_devices!r}")
    t1_s, tn_s = _positive("t1_s", t1_s), _positive("tn_s", tn_s)
    e1_j, en_total_j = _positive("e1_j", e1_j), _positive("en_j", en_total_j)
    speedup = t1_s / tn_s
    return ScalingEfficiency(
        n_devices=n_devices,
        t1_s=t1_s,
        tn_s=tn_s,
        e1_j=e1_j,
        en_total_j=en_total_j,
        speedup=speedup,
        efficiency=speedup / n_devices,
        energy_overhead=en_total_j / e1_j - 1.0,
    )


def _median_round(record: Any, key: str) -> float:
    values = record.rounds.get(key)
    if not values:
        raise FitError(f"record {record.id!r} has no rounds[{key!r}]; it cannot enter an efficiency")
    return statistics.median(values)


def efficiency_from_records(
    reference: Any, parallel: Any, energy_key: str = GPU_ENERGY.key
) -> ScalingEfficiency:
    """Scaling efficiency from two ``ResultRecord``s of :mod:`.context_parallel` (medians of their rounds).

    Both records' rounds are per denoising step; ``settings["world_size"]`` gives the GPU counts.

    Raises:
        FitError: the reference is not a 1-GPU run, the two differ in work (model, resolution, frames,
            guidance), or a round quantity is missing.
    """
    n_ref = reference.settings.get("world_size")
    n_par = parallel.settings.get("world_size")
    if n_ref != 1:
        raise FitError(f"reference {reference.id!r} ran on world_size={n_ref!r}; it must be a 1-GPU run")
    if not isinstance(n_par, int) or n_par < 1:
        raise FitError(f"parallel record {parallel.id!r} has no integer settings['world_size']")
    for key in ("height", "width", "num_frames", "guidance_scale"):
        if reference.settings.get(key) != parallel.settings.get(key):
            raise FitError(
                f"{reference.id!r} and {parallel.id!r} differ in {key} ({reference.settings.get(key)!r} vs "
                f"{parallel.settings.get(key)!r}); efficiency needs the same work per step"
            )
    if reference.model != parallel.model:
        raise FitError(f"models differ: {reference.model!r} vs {parallel.model!r}")
    return scaling_efficiency(
        t1_s=_median_round(reference, LATENCY.key),
        e1_j=_median_round(reference, energy_key),
        tn_s=_median_round(parallel, LATENCY.key),
        en_j=_median_round(parallel, energy_key),
        n_devices=n_par,
    )
