"""One call that runs the optimisation suite for targets: catalogue -> variants -> records."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from t2v_energy_lib.bench.optimizations.runner import OptimizationRunner, OptimizeOptions, OptimizeOutcome
from t2v_energy_lib.bench.optimizations.variants import (
    TARGETS,
    Lever,
    Target,
    all_attention_backends,
    single_levers,
    variants_from_names,
)


def catalogue(model_id: str, compile_kwargs: Mapping[str, Any] = ()) -> tuple[Lever, ...]:
    """Every single lever for ``model_id``'s family, with every installed attention backend."""
    from t2v_energy_lib.models import get_spec

    spec = get_spec(model_id)
    return single_levers(spec.family, spec.cfg_mode, all_attention_backends(), compile_kwargs)


def tiny_target(model_id: str, steps: int = 4) -> Target:
    """The tiny CPU variant of a target model at its tiny shape (code paths, not a measurement)."""
    from t2v_energy_lib.models import get_spec

    spec = get_spec(model_id).tiny()
    d = spec.defaults
    return Target(spec.id, d.height, d.width, d.num_frames, steps, None, d.guidance_scale, "tiny CPU variant")


def run_optimizations(
    targets: Sequence[Target],
    options: OptimizeOptions,
    variant_names: Sequence[str] | None = None,
    *,
    meter: Any = None,
    provenance: dict[str, Any] | None = None,
    compile_kwargs: Mapping[str, Any] = (),
    log: Callable[[str], None] = print,
    idle_s: float = 5.0,
) -> list[OptimizeOutcome]:
    """Measure the default and the chosen variants of every target into ``<out_dir>/optimizations.json``.

    Args:
        targets: What to measure (see :data:`~.variants.TARGETS`, :func:`tiny_target`).
        options: Run options.
        variant_names: Variants by name (``"cache:pab"``, ``"compile+cfg_batch"``); None: every single lever.
        meter: The meter (default: the energy layer's for ``options.device``).
        provenance: Provenance to store (default: collected for this run).
        compile_kwargs: Extra ``torch.compile`` keywords of the compile lever (tests: ``backend="eager"``).
        log: Progress output.
        idle_s: Idle-power measurement before the run on a GPU (enables above-idle energy). Units: s.
    """
    if meter is None:
        from t2v_energy_lib.energy import EnergyMeter

        meter = EnergyMeter.for_device(options.device, idle_s=idle_s)
    if provenance is None:
        provenance = optimize_provenance(options, targets)
    runner = OptimizationRunner(options, meter, provenance, log=log)
    outcomes = []
    for target in targets:
        levers = catalogue(target.model_id, compile_kwargs)
        names = list(variant_names) if variant_names is not None else [lv.name for lv in levers]
        variants = variants_from_names(names, levers, include_default=False)
        log(f"== optimizations {target.id}: default + {len(variants)} variants -> {runner.writer.path}")
        outcomes.append(runner.run(target, variants))
    return outcomes


def optimize_provenance(options: OptimizeOptions, targets: Sequence[Target]) -> dict[str, Any]:
    """Provenance of an optimisation run (hardware, versions, the run's settings)."""
    from t2v_energy_lib.results.provenance import collect_provenance

    settings = {
        "command": "optimize",
        "suites": ["optimizations"],
        "device": options.device,
        "dtype": options.dtype,
        "rounds": options.rounds,
        "targets": [t.id for t in targets],
        "weights": options.weights or "random",
        "time_budget_s": options.time_budget_s,
        "tiny_cpu_run": any(t.model_id.endswith("-tiny") for t in targets),
    }
    if not options.device.startswith("cuda"):
        settings["note"] = "CPU RUN: latency and ESTIMATED host energy only; not a GPU energy measurement"
        return collect_provenance(None, settings)
    index = int(options.device.partition(":")[2] or 0)
    return collect_provenance(settings=settings, cuda_index=index)


__all__ = ["TARGETS", "catalogue", "optimize_provenance", "run_optimizations", "tiny_target"]
