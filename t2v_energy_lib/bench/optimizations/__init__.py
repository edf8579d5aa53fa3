"""The optimisation suite: what saves energy per video, by how much, at what deviation, and proof it engaged.

Public API (nothing here imports torch or diffusers at import time)::

    from t2v_energy_lib.bench.optimizations import (
        Lever, Variant, Target, TARGETS, single_levers, variants_from_names, combination,
        OptimizeOptions, OptimizationRunner, run_optimizations,
    )
"""

from __future__ import annotations

from t2v_energy_lib.bench.optimizations.api import catalogue, run_optimizations, tiny_target
from t2v_energy_lib.bench.optimizations.runner import SUITE, OptimizationRunner, OptimizeOptions
from t2v_energy_lib.bench.optimizations.variants import (
    DEFAULT,
    TARGETS,
    Lever,
    Target,
    Variant,
    combination,
    single_levers,
    variants_from_names,
)

__all__ = [
    "DEFAULT",
    "SUITE",
    "TARGETS",
    "Lever",
    "OptimizationRunner",
    "OptimizeOptions",
    "Target",
    "Variant",
    "catalogue",
    "combination",
    "run_optimizations",
    "single_levers",
    "tiny_target",
    "variants_from_names",
]
