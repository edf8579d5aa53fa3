"""The one record builder: windows -> rounds per unit of work, the windows' context, every runner using it.

All windows here are SYNTHETIC (made-up energies and durations), not measurements.
"""

from __future__ import annotations

import pytest
from synthetic_windows import synthetic_window  # tests/ is on sys.path (no tests/__init__.py)

from pytest_t2v_energy.session import build_record as pytest_record
from t2v_energy_lib.bench.measure import Series
from t2v_energy_lib.bench.records import series_record
from t2v_energy_lib.bench.scenarios import suite_scenarios
from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.results.quantities import GPU_ENERGY, GPU_ENERGY_ABOVE_IDLE, HOST_ENERGY, LATENCY
from t2v_energy_lib.results.record_builder import (
    READINGS,
    build_record,
    record_from_windows,
    window_context,
    window_rounds,
)

WINDOWS = [synthetic_window("w0", 2.0, 300.0, 100.0), synthetic_window("w1", 4.0, 500.0, 200.0)]


def test_every_gate_metric_has_a_reading() -> None:
    from t2v_energy_lib.results import METRICS

    assert set(METRICS.values()) <= set(READINGS)


def test_window_rounds_keep_a_quantity_only_when_every_window_has_it() -> None:
    mixed = [WINDOWS[0], synthetic_window("w2", 1.0)]
    rounds = window_rounds(mixed)
    assert rounds[LATENCY.key] == (2.0, 1.0)
    assert GPU_ENERGY.key not in rounds and GPU_ENERGY_ABOVE_IDLE.key not in rounds
    assert rounds[HOST_ENERGY.key] == (0.0, 0.0)
    assert window_rounds(WINDOWS, latency_s=[1.5, 3.5])[LATENCY.key] == (1.5, 3.5)
    with pytest.raises(ValueError, match="one to one"):
        window_rounds(WINDOWS, latency_s=[1.0])
    with pytest.raises(ValueError, match="at least one"):
        window_rounds([])


def test_record_from_windows_divides_by_units_and_keeps_the_windows_context() -> None:
    record = record_from_windows(
        record_id="s/m/x/c",
        suite="s",
        model="m",
        component="c",
        settings={"n": 1},
        measurements=WINDOWS,
        units_per_round=4,
        extra={"flag": True},
    )
    assert record.rounds[LATENCY.key] == (0.5, 1.0)
    assert record.rounds[GPU_ENERGY.key] == (75.0, 125.0)
    assert record.rounds[GPU_ENERGY_ABOVE_IDLE.key] == (25.0, 50.0)
    assert record.units_per_round == 4
    assert record.extra["flag"] is True
    assert record.extra["window_s"] == [2.0, 4.0]
    assert record.extra["energy_source"] == "counter"
    assert record.extra["host_energy_estimated"] is True
    assert window_context([synthetic_window("w", 1.0)])["energy_source"] == "host"


def test_build_record_checks_the_declared_sign_rules() -> None:
    with pytest.raises(BaselineFormatError, match="energies must be >= 0 J"):
        build_record(
            record_id="a", suite="s", model="m", component="c", settings={}, rounds={"gpu_energy_j": [-1]}
        )


def test_cli_and_pytest_runners_build_the_same_rounds_from_the_same_windows() -> None:
    scenario = suite_scenarios("resolution", tiny=True)[0]
    cli = series_record(scenario, Series("denoiser_step", tuple(WINDOWS), 4), {})
    metadata = {"units_per_round": 4, "energy_meter": "synthetic"}
    durations = [w.duration_s for w in WINDOWS]
    via_pytest = pytest_record("tests/x.py::t", "t", WINDOWS, durations, metadata)
    assert cli.rounds == via_pytest.rounds
    context = ("window_s", "short_windows", "energy_source", "host_energy_estimated", "host_energy_method")
    assert {k: cli.extra[k] for k in context} == {k: via_pytest.extra[k] for k in context}
