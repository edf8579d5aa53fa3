"""The ``energy`` fixture, result files, machine info and the energy gate, through pytester subprocess runs.

GPU energies come from fakes injected by overriding the ``energy_meter`` fixture in the inner conftest:
either t2v_energy_lib's ``GpuMeter`` on a ``FakeBackend`` (a SYNTHETIC constant 100 W GPU) or a scripted meter
returning SYNTHETIC per-window energies. Baselines are built with ``ResultWriter`` from SYNTHETIC values.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pytester_sources import SCRIPTED_CONFTEST  # tests/ is on sys.path (no tests/__init__.py)

from t2v_energy_lib.results import ResultRecord, ResultWriter, collect_provenance, load_results

pytest_plugins = ["pytester"]

FAKE_GPU_CONFTEST = """
import pytest
from t2v_energy_lib.energy import EnergyMeter, FakeBackend, FakeDevice, GpuMeter, HostMeter, RealClock

@pytest.fixture(scope="session")
def energy_meter():
    clock = RealClock()
    device = FakeDevice(uuid="GPU-fake-0", power_w=lambda t: 100.0, counter_period_s=0.001)  # SYNTHETIC
    gpu = GpuMeter(backend=FakeBackend(clock, [device]), clock=clock, sync=lambda: None,
                   cuda_visible_devices=None, min_window_s=0.03)
    gpu.measure_idle(0.05)
    return EnergyMeter(gpu, HostMeter())
"""

FAKE_GPU_TEST = """
import time

def test_sleep(energy, benchmark):
    out = energy(time.sleep, 0.005, rounds=4, warmup_rounds=1, units_per_round=2,
                 suite="synthetic", model="fake-model", component="sleep", settings={"n": 1})
    assert out is None
    assert len(benchmark.extra_info["energy_gpu_j_rounds"]) == len(benchmark.stats.stats.data) == 4
"""

CPU_ONLY_TEST = """
def test_cpu_only(energy, benchmark):
    assert energy(sum, [1, 2, 3], rounds=2, warmup_rounds=0) == 6
    info = benchmark.extra_info
    assert len(info["host_energy_j_rounds"]) == 2
    if info["energy_source"] == "host":
        assert "energy_gpu_j_rounds" not in info
"""


SCRIPTED_TEST = """
import pytest

@pytest.mark.parametrize("component", ["same", "better"])
def test_synthetic(energy, component):
    energy(lambda: None, rounds=3, warmup_rounds=0, suite="synthetic", model="fake-model",
           component=component, settings={"n": 1})
"""


def _bench(data: dict, name: str) -> dict:
    return next(b for b in data["benchmarks"] if b["name"] == name)


def test_energy_fixture_json_results_and_machine_info(pytester: pytest.Pytester) -> None:
    pytester.mkpydir("fake_gpu")
    pytester.path.joinpath("fake_gpu", "conftest.py").write_text(FAKE_GPU_CONFTEST)
    pytester.path.joinpath("fake_gpu", "test_fake_gpu.py").write_text(FAKE_GPU_TEST)
    pytester.makepyfile(test_cpu_only=CPU_ONLY_TEST)
    result = pytester.runpytest_subprocess(
        "--benchmark-json=bench.json", "--energy-results=results.json", "-W", "error"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*= t2v-energy =*", "wrote 2 result record(s) to results.json"])

    data = json.loads((pytester.path / "bench.json").read_text())
    info = _bench(data, "test_sleep")["extra_info"]
    stats = _bench(data, "test_sleep")["stats"]
    assert len(info["energy_gpu_j_rounds"]) == stats["rounds"] == len(stats["data"]) == 4
    assert len(info["energy_gpu_above_idle_j_rounds"]) == 4
    assert len(info["host_energy_j_rounds"]) == 4
    assert info["energy_source"] == "counter"
    assert info["short_windows"] == 4  # 5 ms rounds, below the fake meter's min_window_s of 30 ms
    assert info["units_per_round"] == 2
    assert info["machine_state"]["0"]["name"] == "Fake GPU (synthetic)"
    assert (info["result_id"], info["model"]) == ("synthetic/fake-model/n=1/sleep", "fake-model")
    assert info["settings"] == {"n": 1}  # plain JSON, whatever the test's params are
    for key in ("energy_gpu_j_mean", "energy_gpu_j_median", "energy_gpu_j_stddev", "host_energy_estimated"):
        assert key in info
    # A constant SYNTHETIC 100 W over each window: energy tracks the window, which contains the timed call.
    for energy_j, latency_s in zip(info["energy_gpu_j_rounds"], stats["data"], strict=True):
        assert energy_j >= 100.0 * latency_s * 0.5
    assert "host_energy_j_rounds" in _bench(data, "test_cpu_only")["extra_info"]

    machine = data["machine_info"]
    for key in ("gpu", "cuda_version", "torch_version", "diffusers_version", "transformers_version"):
        assert key in machine
    assert machine["t2v_energy"]["versions"]["diffusers"] == machine["diffusers_version"]

    records = load_results(pytester.path / "results.json").by_id()
    record = records["synthetic/fake-model/n=1/sleep"]
    assert record.units_per_round == 2
    assert record.rounds["latency_s"] == pytest.approx([v / 2 for v in stats["data"]])
    assert record.rounds["gpu_energy_j"] == pytest.approx([v / 2 for v in info["energy_gpu_j_rounds"]])
    assert len(records) == 2

    # The benchmark JSON stays readable by pytest-benchmark's own tool, and by ours with energy in it.
    compared = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pytest_benchmark.cli import main; sys.exit(main())",
            "compare",
            str(pytester.path / "bench.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert compared.returncode == 0, compared.stderr
    assert "test_sleep" in compared.stdout
    from_json = load_results(pytester.path / "bench.json").by_id()["synthetic/fake-model/n=1/sleep"]
    assert from_json.rounds["gpu_energy_j"] == pytest.approx(record.rounds["gpu_energy_j"])


def _write_baseline(path: Path, same_j: float, better_j: float) -> None:
    """A SYNTHETIC baseline on this machine's provenance (so the hardware check passes)."""
    writer = ResultWriter(path, collect_provenance(device_index=0), resume=False)
    for component, energy_j in (("same", same_j), ("better", better_j)):
        writer.add(
            ResultRecord(
                id=f"synthetic/fake-model/n=1/{component}",
                suite="synthetic",
                model="fake-model",
                component=component,
                settings={"n": 1},
                rounds={"gpu_energy_j": (energy_j, energy_j * 1.01, energy_j * 0.99)},
                extra={"synthetic": True},
            )
        )


def test_energy_gate_fails_on_regression_and_passes_against_itself(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SCRIPTED_CONFTEST)
    pytester.makepyfile(test_scripted=SCRIPTED_TEST)
    _write_baseline(pytester.path / "lower.json", same_j=0.2, better_j=20.0)
    _write_baseline(pytester.path / "same.json", same_j=2.0, better_j=20.0)

    failed = pytester.runpytest_subprocess("--energy-baseline=lower.json", "--energy-compare-fail=energy:5%")
    failed.assert_outcomes(passed=2)
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    failed.stdout.fnmatch_lines(
        [
            "*= t2v-energy =*",
            "t2v-energy compare: baseline lower.json -> current*",
            "synthetic/fake-model/n=1/same * energy * REGRESSION*",
            "improvements: synthetic/fake-model/n=1/better energy -90.0%",
            "FAILED: energy gate: 1 regression(s) beyond energy:5% against lower.json",
        ]
    )

    passed = pytester.runpytest_subprocess("--energy-baseline=same.json", "--energy-compare-fail=energy:5%")
    passed.assert_outcomes(passed=2)
    assert passed.ret == pytest.ExitCode.OK
    passed.stdout.fnmatch_lines(
        ["synthetic/fake-model/n=1/same * energy * unchanged*", "improvements: *n=1/better energy -90.0%"]
    )
    passed.stdout.no_fnmatch_line("*REGRESSION*")


def test_compare_fail_spec_is_validated(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--energy-baseline=x.json", "--energy-compare-fail=power:5%")
    result.stderr.fnmatch_lines(["*--energy-compare-fail: unknown metric 'power'*"])
    result = pytester.runpytest("--energy-compare-fail=energy:5%")
    result.stderr.fnmatch_lines(["*--energy-compare-fail needs --energy-baseline PATH*"])


def test_benchmark_disable_runs_once_without_measuring(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SCRIPTED_CONFTEST)
    pytester.makepyfile(
        "def test_once(energy, energy_meter, benchmark):\n"
        "    calls = []\n"
        "    assert energy(lambda: calls.append(1) or 7, rounds=3) == 7\n"
        "    assert calls == [1] and energy_meter.count == 0 and benchmark.extra_info == {}\n"
    )
    result = pytester.runpytest("--benchmark-disable", "--energy-results=r.json")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "r.json").exists()
