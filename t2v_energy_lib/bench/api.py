"""One call that runs the characterisation: suites -> scenarios -> measured records in result files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from t2v_energy_lib.bench.runner import Characterizer, RunOptions, SuiteOutcome
from t2v_energy_lib.bench.scenarios import SUITES, parse_points, suite_scenarios
from t2v_energy_lib.bench.suites import run_suite
from t2v_energy_lib.energy import EnergyMeter
from t2v_energy_lib.errors import InvalidSettingsError


def characterize(
    suites: Sequence[str],
    options: RunOptions,
    *,
    tiny: bool = False,
    model_ids: Sequence[str] | None = None,
    points: str | None = None,
    meter: EnergyMeter | None = None,
    provenance: dict[str, Any] | None = None,
    build: Callable[[str, str, str], Any] | None = None,
    log: Callable[[str], None] = print,
    idle_s: float = 5.0,
) -> list[SuiteOutcome]:
    """Run ``suites`` and write ``<options.out_dir>/<suite>.json`` incrementally.

    Args:
        suites: Suite names (see :data:`~t2v_energy_lib.bench.scenarios.SUITES`), run in this order.
        options: Run options (device, budget, resume...).
        tiny: Use the tiny Wan variant and the scaled-down sweeps (CPU smoke runs).
        model_ids: Cross-model suite: the models (default: every registered model).
        points: Point selection within each suite (``"0-5"``), see
            :func:`~t2v_energy_lib.bench.scenarios.parse_points`.
        meter: The meter (default: ``EnergyMeter.for_device(options.device)``; tests pass fakes with its
            window API).
        provenance: Provenance to store (default: ``collect_provenance`` with the run's settings).
        build: Pipeline builder (default: the models layer's ``build_pipeline``).
        log: Progress output.
        idle_s: Idle-power measurement before the run on a GPU (enables above-idle energy). Units: s.

    Returns:
        One outcome per suite (what was done, skipped, failed; whether the budget stopped it).
    """
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise InvalidSettingsError(f"unknown suite(s) {unknown}; choose from {', '.join(SUITES)}")
    plans = []
    for suite in suites:
        scenarios = suite_scenarios(
            suite, tiny=tiny, model_ids=model_ids, measured_steps=options.measured_steps
        )
        try:
            indices = parse_points(points, len(scenarios))
        except InvalidSettingsError as exc:
            raise InvalidSettingsError(f"--points {points}, suite {suite}: {exc}") from None
        plans.append((suite, scenarios, indices))
    if meter is None:
        meter = EnergyMeter.for_device(options.device, idle_s=idle_s)
    if provenance is None:
        provenance = run_provenance(options, tiny, suites)
    ch = Characterizer(options, meter, provenance, build=build, log=log)
    outcomes = []
    try:
        for suite, scenarios, indices in plans:
            log(f"== suite {suite}: {_points_text(suite, len(indices), len(scenarios))} -> {ch.path(suite)}")
            outcome = run_suite(ch, suite, scenarios, indices)
            outcomes.append(outcome)
            if outcome.stopped_for_budget:
                break
    finally:
        ch.release()
    return outcomes


def _points_text(suite: str, selected: int, count: int) -> str:
    """The announced point count, counted as the suite's outcome counts them."""
    if suite == "steps":  # the steps suite measures one traced run first; its step counts are read from it
        return (
            f"{selected + 1} of {count + 1} points (1 traced run, then {selected} step counts read from it)"
        )
    return f"{selected} of {count} points"


def run_provenance(options: RunOptions, tiny: bool, suites: Sequence[str]) -> dict[str, Any]:
    """Provenance of a characterisation run (hardware, versions, the run's settings)."""
    from t2v_energy_lib.results.provenance import collect_provenance

    settings = {
        "command": "characterize",
        "suites": list(suites),
        "device": options.device,
        "dtype": options.dtype,
        "tiny_cpu_run": tiny,
        "target_window_s": options.config.target_window_s,
        "rounds": options.config.rounds,
        "time_budget_s": options.time_budget_s,
    }
    if tiny or not options.device.startswith("cuda"):
        settings["note"] = (
            "CPU RUN of the tiny model variant: latency and ESTIMATED host energy only; not a measurement "
            "of the study's models or shapes"
        )
    if not options.device.startswith("cuda"):
        return collect_provenance(None, settings)
    index = int(options.device.partition(":")[2] or 0)  # CUDA index: the GPU this run measures
    return collect_provenance(settings=settings, cuda_index=index)
