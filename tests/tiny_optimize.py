"""One optimisation run of a tiny model on the CPU, compiled with the eager backend, for the tests that need
its records (code paths, not measurements)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from t2v_energy_lib.results.schema import ResultRecord


def tiny_optimize(
    out: Path, model: str, variants: tuple[str, ...], *, steps: int, **options: Any
) -> dict[str, ResultRecord]:
    """Run ``variants`` of ``model``'s tiny variant into ``out`` (one video each unless ``rounds`` says
    otherwise) and return the stored records by variant name."""
    import torch

    from t2v_energy_lib.bench.optimizations import OptimizeOptions, run_optimizations, tiny_target
    from t2v_energy_lib.bench.optimizations.api import optimize_provenance
    from t2v_energy_lib.energy import EnergyMeter
    from t2v_energy_lib.results.storage import load_results

    torch.set_num_threads(1)
    target = tiny_target(model, steps=steps)
    settings = {"rounds": 1, "best_combination": False, **options}
    opts = OptimizeOptions(out_dir=out, device="cpu", **settings)
    run_optimizations(
        [target],
        opts,
        variants,
        meter=EnergyMeter.for_device("cpu"),
        provenance=optimize_provenance(opts, [target]),
        compile_kwargs={"backend": "eager"},
        log=lambda line: None,
    )
    return {r.extra["variant"]["name"]: r for r in load_results(out / "optimizations.json").records}
