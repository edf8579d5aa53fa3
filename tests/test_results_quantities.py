"""Quantities declared once: what the gate, the table, the schema, the pytest-benchmark reader and analysis
derive from :mod:`t2v_energy_lib.results.quantities`, and the one representation of host energy.

Every number here is synthetic (no measurement).
"""

from __future__ import annotations

import pytest

from t2v_energy_lib.analysis.latency_view import latency_points
from t2v_energy_lib.analysis.points import steps
from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.results import METRICS, ResultFile, ResultRecord
from t2v_energy_lib.results.pytest_benchmark import ENERGY_KEYS, convert_pytest_benchmark
from t2v_energy_lib.results.quantities import (
    BY_KEY,
    GPU_ENERGY_ABOVE_IDLE,
    HOST_ENERGY,
    QUANTITIES,
    gate_metrics,
    migrate_rounds,
    sign_problem,
    unit_of,
)


def test_gate_metrics_are_the_quantities_with_a_gate_name() -> None:
    assert dict(METRICS) == gate_metrics()
    assert set(METRICS.values()) == {q.key for q in QUANTITIES if q.gate}
    assert list(METRICS) == ["energy", "latency", "energy_above_idle"]


def test_every_declared_quantity_has_its_unit_in_its_key() -> None:
    suffix = {"J": "_j", "s": "_s"}
    for q in QUANTITIES:
        assert q.key.endswith(suffix[q.unit]), q
        assert unit_of(q.key) == q.unit
    assert unit_of("per_device_w") == "W" and unit_of("token_length") == ""


def test_sign_rules_come_from_the_declaration() -> None:
    assert sign_problem("gpu_energy_j", -1.0)
    assert sign_problem(GPU_ENERGY_ABOVE_IDLE.key, -1.0) is None
    assert sign_problem("latency_s", -0.1)
    assert sign_problem("undeclared_energy_j", -1.0), "an undeclared key is judged by its unit suffix"
    with pytest.raises(BaselineFormatError, match="energies must be >= 0 J"):
        ResultRecord("a", "s", "m", "c", {}, {HOST_ENERGY.key: [-1.0]})


def test_legacy_cpu_and_ram_rounds_gain_their_host_energy_sum_on_read_and_keep_the_parts() -> None:
    assert migrate_rounds({"cpu_energy_j": [1.0, 2.0], "ram_energy_j": [0.5, 0.25]}) == {
        "cpu_energy_j": [1.0, 2.0],
        "ram_energy_j": [0.5, 0.25],
        "host_energy_j": [1.5, 2.25],
    }
    only_cpu = {"cpu_energy_j": [1.0]}
    assert migrate_rounds(only_cpu) == only_cpu
    record = ResultRecord.from_dict(
        {"id": "a", "suite": "s", "model": "m", "component": "c", "settings": {},
         "rounds": {"latency_s": [1.0], "cpu_energy_j": [3.0], "ram_energy_j": [1.0]}}
    )  # fmt: skip
    assert record.rounds == {
        "latency_s": (1.0,), "cpu_energy_j": (3.0,), "ram_energy_j": (1.0,), "host_energy_j": (4.0,)
    }  # fmt: skip
    assert (
        ResultRecord.from_dict(record.to_dict()).rounds == record.rounds
    )  # read, written, read: nothing lost


def _benchmark(extra_info: dict[str, object]) -> dict[str, object]:
    return {
        "fullname": "tests/test_x.py::test_a",
        "name": "test_a",
        "stats": {"data": [0.5, 0.7]},
        "extra_info": extra_info,
    }


def test_pytest_benchmark_reader_maps_every_fixture_key() -> None:
    for q in QUANTITIES:
        if q.extra_info_key:
            assert ENERGY_KEYS[q.extra_info_key] == q.key
            assert ENERGY_KEYS[q.key] == q.key
    info = {"energy_gpu_j_rounds": [10.0, 12.0], "host_energy_j_rounds": [4.0, 6.0], "units_per_round": 2}
    rf = convert_pytest_benchmark({"benchmarks": [_benchmark(info)], "machine_info": {}}, "x.json")
    rounds = rf.records[0].rounds
    assert rounds["gpu_energy_j"] == (5.0, 6.0)
    assert rounds["host_energy_j"] == (2.0, 3.0), "host energy of the pytest fixture reaches the rounds"


def _steps_record(rid: str, s: int, rounds: dict[str, list[float]], **extra: object) -> ResultRecord:
    settings = {"height": 32, "width": 48, "num_frames": 9, "num_inference_steps": s, "guidance_scale": 5.0}
    return ResultRecord(rid, "steps", "m-tiny", "end_to_end", settings, rounds, extra=dict(extra))


@pytest.mark.parametrize("runner", ["pytest", "cli-legacy"])
def test_host_energy_of_either_runner_reaches_the_latency_view(runner: str) -> None:
    """The pytest fixture stores host_energy_j; older CLI files cpu+ram: both give the point's host energy."""
    records = []
    for s in (1, 2):
        rounds = {"latency_s": [float(s)]}
        if runner == "pytest":
            rounds["host_energy_j"] = [40.0 * s]
        else:
            rounds.update(cpu_energy_j=[36.0 * s], ram_energy_j=[4.0 * s])
        as_dict = _steps_record(f"r{s}", s, rounds, host_energy_estimated=True).to_dict()
        records.append(ResultRecord.from_dict(as_dict))
    grouped = latency_points(ResultFile({}, tuple(records)), "synthetic", "steps", steps, "m-tiny")
    points = [p for group in grouped.values() for p in group]
    assert [p.host_energy_j for p in points] == [(40.0,), (80.0,)]
    assert all(p.host_estimated for p in points)


def test_declared_keys_are_unique() -> None:
    assert len(BY_KEY) == len(QUANTITIES)
