"""Scale-out: one GPU per pytest-xdist worker, merged worker results, multi-GPU energy and efficiency.

Public API (light imports only; torch and diffusers are imported inside the functions that need them)::

    pin_current_worker, worker_gpu, visible_gpus, parse_worker_id          (sharding)
    merge_result_files, worker_result_path, find_worker_files, MergeSummary (merge)
    sum_device_energy, scaling_efficiency, efficiency_from_records,
    DeviceEnergySum, ScalingEfficiency                                      (efficiency)

The context-parallel runner is ``python -m t2v_energy_lib.scaleout.context_parallel`` under torchrun.
"""

from __future__ import annotations

from t2v_energy_lib.scaleout.efficiency import (
    DeviceEnergySum,
    ScalingEfficiency,
    efficiency_from_records,
    scaling_efficiency,
    sum_device_energy,
)
from t2v_energy_lib.scaleout.merge import (
    MergeSummary,
    find_worker_files,
    merge_result_files,
    worker_result_path,
)
from t2v_energy_lib.scaleout.sharding import parse_worker_id, pin_current_worker, visible_gpus, worker_gpu

__all__ = [
    "DeviceEnergySum",
    "MergeSummary",
    "ScalingEfficiency",
    "efficiency_from_records",
    "find_worker_files",
    "merge_result_files",
    "parse_worker_id",
    "pin_current_worker",
    "scaling_efficiency",
    "sum_device_energy",
    "visible_gpus",
    "worker_gpu",
    "worker_result_path",
]
