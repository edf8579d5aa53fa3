"""pytest-benchmark JSON files read as result sets: a real one (pytest in a subprocess) and minimal ones."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.results import compare, load_results

BENCH_TEST = textwrap.dedent(
    """
    import pytest

    @pytest.mark.parametrize("n", [10, 100])
    def test_sum(benchmark, n):
        benchmark.group = "synthetic-sum"
        benchmark.extra_info["model"] = "no-model"
        # Synthetic per-round energies (J), as a GPU plugin would store them; not a measurement.
        benchmark.extra_info["gpu_energy_j"] = [1.0, 1.1, 0.9]
        benchmark.extra_info["token_length"] = n
        benchmark.pedantic(sum, args=(range(n),), rounds=3, iterations=2)
    """
)


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run pytest-benchmark for real on a trivial function and return its --benchmark-json output."""
    folder = tmp_path_factory.mktemp("pb")
    (folder / "test_bench.py").write_text(BENCH_TEST)
    (folder / "pytest.ini").write_text("[pytest]\n")
    out = folder / "bench.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:t2v_energy",
           f"--rootdir={folder}", "-c", str(folder / "pytest.ini"), str(folder / "test_bench.py"),
           f"--benchmark-json={out}"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}  # see tests/conftest.py
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_real_pytest_benchmark_file_is_converted(bench_json: Path) -> None:
    raw = json.loads(bench_json.read_text())
    rf = load_results(bench_json)
    assert len(rf.records) == 2
    for bench, rec in zip(raw["benchmarks"], rf.records, strict=True):
        assert rec.id == bench["fullname"]
        assert rec.suite == "synthetic-sum"
        assert rec.model == "no-model"
        assert rec.component == bench["name"]
        assert rec.settings == bench["params"]
        assert rec.rounds["latency_s"] == tuple(bench["stats"]["data"])
        assert len(rec.rounds["latency_s"]) == 3
        assert rec.rounds["gpu_energy_j"] == (1.0, 1.1, 0.9)
        assert rec.extra["token_length"] == bench["params"]["n"]
    assert rf.provenance["gpu"] is None
    assert rf.provenance["host"]["python"] == raw["machine_info"]["python_version"]
    assert rf.provenance["pytest_benchmark"]["version"] == raw["version"]


def test_pytest_benchmark_file_compares_with_itself(bench_json: Path) -> None:
    rf = load_results(bench_json)
    result = compare(rf, rf)
    assert result.passed and len(result.rows) == 4  # 2 tests x (energy, latency)
    assert all(math.isclose(r.ratio, 1.0) for r in result.rows)


def minimal_document(**bench_overrides: object) -> dict:
    """The smallest document in pytest-benchmark's documented format; values synthetic."""
    bench = {
        "group": None,
        "name": "test_x",
        "fullname": "tests/test_x.py::test_x",
        "params": None,
        "extra_info": {},
        "stats": {"min": 0.9, "max": 1.1, "mean": 1.0, "stddev": 0.1, "rounds": 3, "data": [0.9, 1.0, 1.1]},
    }
    bench.update(bench_overrides)
    return {
        "machine_info": {"node": "s", "python_version": "3.11.0", "t2v_energy": {"gpu": {"name": "G"}}},
        "commit_info": {"id": "synthetic"},
        "benchmarks": [bench],
        "datetime": "2000-01-01T00:00:00+00:00",
        "version": "5.2.3",
    }


def test_minimal_file_uses_embedded_t2v_energy_provenance(tmp_path: Path) -> None:
    path = tmp_path / "min.json"
    path.write_text(json.dumps(minimal_document()))
    rf = load_results(path)
    assert rf.provenance["gpu"] == {"name": "G"}
    assert rf.records[0].suite == "pytest-benchmark"
    assert rf.records[0].rounds == {"latency_s": (0.9, 1.0, 1.1)}
    result = compare(rf, rf)
    assert result.notes == ("energy (gpu_energy_j) is in no test common to both sets: not gated",)


def test_file_without_data_keeps_the_mean_as_one_round(tmp_path: Path) -> None:
    stats = {"min": 0.9, "max": 1.1, "mean": 1.0, "stddev": 0.1, "rounds": 3}
    path = tmp_path / "nodata.json"
    path.write_text(json.dumps(minimal_document(stats=stats, extra_info={"gpu_energy_j": 2.5})))
    rec = load_results(path).records[0]
    assert rec.rounds == {"latency_s": (1.0,), "gpu_energy_j": (2.5,)}
    assert rec.extra["summary_only"] is True


def test_broken_pytest_benchmark_entry_names_file_and_benchmark(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(minimal_document(extra_info={"gpu_energy_j": [1.0, float("nan")]})))
    expected = r"bad\.json: benchmark 0 \('tests/test_x\.py::test_x'\) .*nan"
    with pytest.raises(BaselineFormatError, match=expected):
        load_results(path)


def test_plugin_energy_keys_are_read_per_unit_of_work_so_energy_is_gated(tmp_path: Path) -> None:
    extra_info = {
        "energy_gpu_j_rounds": [40.0, 44.0, 42.0],  # synthetic, per round of 4 steps
        "units_per_round": 4,
        "result_id": "resolution/m/480x832x81-s50/denoiser_step",
        "suite": "resolution",
        "component": "denoiser_step",
        "model": "m",
    }
    stats = {"mean": 2.0, "rounds": 3, "data": [2.0, 2.2, 1.8]}
    path = tmp_path / "plugin.json"
    path.write_text(json.dumps(minimal_document(extra_info=extra_info, stats=stats)))
    record = load_results(path).records[0]
    assert (record.id, record.suite, record.component, record.model) == (
        "resolution/m/480x832x81-s50/denoiser_step",
        "resolution",
        "denoiser_step",
        "m",
    )
    assert record.rounds["gpu_energy_j"] == pytest.approx((10.0, 11.0, 10.5))
    assert record.rounds["latency_s"] == pytest.approx((0.5, 0.55, 0.45))
    hungrier = json.loads(path.read_text())
    hungrier["benchmarks"][0]["extra_info"]["energy_gpu_j_rounds"] = [48.0, 52.8, 50.4]  # +20%
    (tmp_path / "hungrier.json").write_text(json.dumps(hungrier))
    result = compare(load_results(path), load_results(tmp_path / "hungrier.json"))
    assert [row.test_id for row in result.regressions] == [record.id]


def test_plugin_settings_replace_params_pytest_benchmark_could_not_serialise(tmp_path: Path) -> None:
    """A parametrized dataclass lands in params as "UNSERIALIZABLE[...]"; the plugin's settings dict wins."""
    settings = {"height": 256, "width": 256, "num_frames": 81, "num_inference_steps": 50}
    extra_info = {"settings": settings, "model": "m", "suite": "resolution", "component": "denoiser_step"}
    params = {"sc": "UNSERIALIZABLE[Scenario(...)]"}
    path = tmp_path / "plugin.json"
    path.write_text(json.dumps(minimal_document(extra_info=extra_info, params=params)))
    record = load_results(path).records[0]
    assert record.settings == settings
    assert "settings" not in record.extra
