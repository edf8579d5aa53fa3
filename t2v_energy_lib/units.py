"""Unit conversions, in one place. Values carry their unit in their name (``_j``, ``_s``, ``_w``, ``_wh``)."""

from __future__ import annotations

J_PER_WH = 3600.0
J_PER_MJ = 1e-3  # one millijoule, in joules


def mj_to_j(value_mj: float) -> float:
    """Millijoules (NVML's energy unit) to joules."""
    return value_mj * J_PER_MJ


def mw_to_w(value_mw: float) -> float:
    """Milliwatts (NVML's power unit) to watts."""
    return value_mw * 1e-3


def j_to_wh(value_j: float) -> float:
    """Joules to watt-hours."""
    return value_j / J_PER_WH


def wh_to_j(value_wh: float) -> float:
    """Watt-hours to joules."""
    return value_wh * J_PER_WH


def uj_to_j(value_uj: float) -> float:
    """Microjoules (RAPL's energy unit) to joules."""
    return value_uj * 1e-6


BYTES_PER_GIB = 1024**3


def bytes_to_gib(value_bytes: float) -> float:
    """Bytes to gibibytes."""
    return value_bytes / BYTES_PER_GIB
