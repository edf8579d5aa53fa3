"""What the plugin adds to pytest-benchmark's ``machine_info``: GPU, CUDA and library versions.

Built from the session's provenance (:func:`t2v_energy_lib.results.collect_provenance`), which never fails
for a missing GPU: the GPU fields are then None and ``t2v_energy.unavailable`` says why. The full provenance
is stored under ``machine_info["t2v_energy"]``, where ``t2v_energy_lib.results`` looks for it when it reads a
pytest-benchmark JSON file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROVENANCE_KEY = "t2v_energy"
GPU_FIELDS = (
    "name",
    "driver_version",
    "cuda_driver_version",
    "power_limit_w",
    "sm_clock_mhz",
    "max_sm_clock_mhz",
    "memory_clock_mhz",
)


def machine_info_fields(provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``machine_info`` entries (GPU, CUDA, torch, diffusers, transformers) plus the full provenance.

    Args:
        provenance: A provenance dict (layout in :mod:`t2v_energy_lib.results.provenance`).

    Returns:
        ``gpu`` (dict of name, driver, CUDA driver, power limit in W, clocks in MHz; None without a GPU),
        ``cuda_version`` (torch's CUDA build), ``torch_version``, ``diffusers_version``,
        ``transformers_version`` and ``t2v_energy`` (the provenance).
    """
    gpu = provenance.get("gpu")
    versions = provenance.get("versions") or {}
    return {
        "gpu": {key: gpu.get(key) for key in GPU_FIELDS} if isinstance(gpu, Mapping) else None,
        "cuda_version": versions.get("torch_cuda"),
        "torch_version": versions.get("torch"),
        "diffusers_version": versions.get("diffusers"),
        "transformers_version": versions.get("transformers"),
        PROVENANCE_KEY: dict(provenance),
    }
