"""bench layer: scenarios (frozen dataclasses) and runners that measure pipelines into result records.

Public API (nothing here imports torch or touches a GPU at import)::

    from t2v_energy_lib.bench import Scenario, suite_scenarios, parse_points, SUITES
    from t2v_energy_lib.bench import characterize, RunOptions, MeasureConfig, SuiteOutcome
    from t2v_energy_lib.bench import ShapeMeasurer, compose_video

The runners measure through the energy layer's window API (``EnergyMeter.for_device``) and build their
records with :mod:`t2v_energy_lib.results.record_builder`, as the pytest plugin and the scale-out runner do.
"""

from __future__ import annotations

from t2v_energy_lib.bench.api import characterize
from t2v_energy_lib.bench.compose import compose_video
from t2v_energy_lib.bench.measure import MeasureConfig, ShapeMeasurer
from t2v_energy_lib.bench.runner import RunOptions, SuiteOutcome
from t2v_energy_lib.bench.scenarios import SUITES, Scenario, parse_points, suite_scenarios

__all__ = [
    "SUITES",
    "MeasureConfig",
    "RunOptions",
    "Scenario",
    "ShapeMeasurer",
    "SuiteOutcome",
    "characterize",
    "compose_video",
    "parse_points",
    "suite_scenarios",
]
