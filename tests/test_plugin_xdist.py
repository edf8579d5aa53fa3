"""The plugin under pytest-xdist: a GPU and a result file per worker, merge and gate on the controller.

Real ``-p xdist -n N`` runs through pytester subprocesses, on the CPU. A worker is "pinned to its own GPU" the
way a GPU host pins it (``CUDA_VISIBLE_DEVICES`` lists the GPUs; each worker keeps one), here with FAKE GPU
ids: nothing touches CUDA, and the energies come from a scripted meter injected by overriding the
``energy_meter`` fixture (SYNTHETIC per-window energies, as in tests/test_plugin_energy.py). A CPU host is
simulated by making the NVML GPU count fail. Baselines are built with ``ResultWriter`` from SYNTHETIC values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytester_sources import SCRIPTED_CONFTEST  # tests/ is on sys.path (no tests/__init__.py)

from t2v_energy_lib.results import ResultRecord, ResultWriter, collect_provenance, load_results

pytest_plugins = ["pytester"]
pytest.importorskip("xdist", reason="pytest-xdist (dev extra) is not installed")

FAKE_GPUS = "GPU-fake-0,GPU-fake-1"  # FAKE CUDA_VISIBLE_DEVICES entries: pinning is env-only, CUDA untouched
XDIST_ENV = (
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_WORKER_COUNT",
    "PYTEST_XDIST_TESTRUNUID",
    "T2V_ENERGY_WORKER_GPU",
)


NO_NVML_CONFTEST = """
from t2v_energy_lib.errors import GpuUnavailableError
from t2v_energy_lib.scaleout import sharding

def _no_nvml():  # a host without NVIDIA GPUs: the GPU count through NVML fails
    raise GpuUnavailableError("simulated host without NVML")

sharding.nvml_gpu_count = _no_nvml
"""

# One file per component; with --dist loadfile each of the two workers gets one file.
MEASURED_TEST = """
import pytest

@pytest.mark.parametrize("n", [1, 2])
def test_{name}(energy, energy_meter, benchmark, n):
    energy(lambda: None, rounds=3, warmup_rounds=0, suite="synthetic", model="fake-model",
           component="{name}", settings={{"n": n}})
    assert energy_meter.count == (0 if benchmark.disabled else 3)
"""

IDS = {f"synthetic/fake-model/n={n}/{name}" for n in (1, 2) for name in ("a", "b")}


@pytest.fixture(scope="module")
def provenance() -> dict[str, Any]:
    """This machine's provenance, collected once and before pytester snapshots ``sys.modules``.

    pytester drops the modules a test imported when the test ends; importing torch again in a later test of
    the same process crashes, so torch is imported here, outside any pytester test.
    """
    return collect_provenance(device_index=0)


@pytest.fixture
def xdist_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean environment for the inner run (no xdist variables of an outer xdist run)."""
    for name in (*XDIST_ENV, "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _two_files(pytester: pytest.Pytester, conftest: str = SCRIPTED_CONFTEST) -> None:
    pytester.makeconftest(conftest)
    for name in ("a", "b"):
        pytester.makepyfile(**{f"test_{name}": MEASURED_TEST.format(name=name)})


def _run_xdist(pytester: pytest.Pytester, *args: str, workers: int = 2) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "xdist", "-n", str(workers), *args)


def _record_ids(path: Path) -> list[str]:
    return [record["id"] for record in json.loads(path.read_text())["records"]]


def _stale_file(path: Path, provenance: dict[str, Any]) -> None:
    """A worker file left by an EARLIER run (SYNTHETIC record) that this run must not merge."""
    writer = ResultWriter(path, provenance, resume=False)
    writer.add(
        ResultRecord(
            id="stale/earlier-run",
            suite="stale",
            model="m",
            component="c",
            settings={},
            rounds={"gpu_energy_j": (1.0,)},
        )
    )


def test_workers_write_own_files_and_controller_merges_this_runs_files(
    pytester: pytest.Pytester, xdist_env: pytest.MonkeyPatch, provenance: dict[str, Any]
) -> None:
    xdist_env.setenv("CUDA_VISIBLE_DEVICES", FAKE_GPUS)
    _two_files(pytester)
    out = pytester.path / "out"
    _stale_file(
        out / "results.gw0.json", provenance
    )  # gw0's file of an earlier run: replaced by this run's gw0
    _stale_file(
        out / "results.gw5.json", provenance
    )  # a worker this run does not have: left alone, not merged

    result = _run_xdist(pytester, "--dist", "loadfile", "--energy-results=out/results.json")

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*= t2v-energy =*",
            "pytest-benchmark enabled on xdist worker(s) gw0 (GPU GPU-fake-0), gw1 (GPU GPU-fake-1): *",
            "merged 4 result record(s) from 2 xdist worker file(s) into out/results.json "
            "(worker files kept beside it: results.gw0.json, results.gw1.json)",
        ]
    )
    parts = {w: _record_ids(out / f"results.{w}.json") for w in ("gw0", "gw1")}
    assert set(parts["gw0"]).isdisjoint(parts["gw1"])
    assert set(parts["gw0"]) | set(parts["gw1"]) == IDS
    for ids in parts.values():  # loadfile: one file, so one component, per worker
        assert len(ids) == 2 and len({i.rsplit("/", 1)[1] for i in ids}) == 1
    assert _record_ids(out / "results.gw5.json") == ["stale/earlier-run"]

    merged_ids = _record_ids(out / "results.json")
    assert sorted(merged_ids) == sorted(IDS)  # each record once, nothing stale
    merged = load_results(out / "results.json")
    assert [w["source"] for w in merged.provenance["workers"]] == [
        "results.gw0.json",
        "results.gw1.json",
    ]
    for record in merged.records:
        source = record.machine_state["result_file"]
        assert record.id in parts[source.split(".")[1]]
        assert len(record.rounds["latency_s"]) == 3  # pytest-benchmark measured on the worker
        assert record.rounds["gpu_energy_j"] == pytest.approx([2.0, 2.02, 1.98])  # the SYNTHETIC script


def _write_baseline(path: Path, energy_j: dict[str, float], provenance: dict[str, Any]) -> None:
    """A SYNTHETIC baseline of the four records, on this machine's provenance (the hardware check passes)."""
    writer = ResultWriter(path, provenance, resume=False)
    for record_id in sorted(IDS):
        j = energy_j[record_id.rsplit("/", 1)[1]]
        n = int(record_id.split("/")[2].split("=")[1])
        writer.add(
            ResultRecord(
                id=record_id,
                suite="synthetic",
                model="fake-model",
                component=record_id.rsplit("/", 1)[1],
                settings={"n": n},
                rounds={"gpu_energy_j": (j, j * 1.01, j * 0.99)},
                extra={"synthetic": True},
            )
        )


def test_gate_runs_once_on_the_controller_against_the_merged_results(
    pytester: pytest.Pytester, xdist_env: pytest.MonkeyPatch, provenance: dict[str, Any]
) -> None:
    tmp = pytester.mkdir("tmp")
    xdist_env.setenv("TMPDIR", str(tmp))
    xdist_env.setenv("CUDA_VISIBLE_DEVICES", FAKE_GPUS)
    _two_files(pytester)
    _write_baseline(pytester.path / "lower.json", {"a": 0.2, "b": 2.0}, provenance)

    result = _run_xdist(
        pytester, "--dist", "loadfile", "--energy-baseline=lower.json", "--energy-compare-fail=energy:5%"
    )

    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # Both files ran on different workers; one table compares all four records: the gate saw the merge.
    result.stdout.fnmatch_lines(
        [
            "merged 4 result record(s) of 2 xdist worker file(s) for the gate (temporary, removed; *",
            "t2v-energy compare: baseline lower.json -> current*",
            "synthetic/fake-model/n=1/a * energy * REGRESSION*",
            "synthetic/fake-model/n=1/b * energy * unchanged*",
            "synthetic/fake-model/n=2/a * energy * REGRESSION*",
            "synthetic/fake-model/n=2/b * energy * unchanged*",
            "FAILED: energy gate: 2 regression(s) beyond energy:5% against lower.json",
        ]
    )
    assert result.stdout.str().count("t2v-energy compare:") == 1
    assert not list(tmp.glob("t2v-energy-xdist-*"))  # the temporary worker files are gone
    assert not list(pytester.path.glob("*.gw*.json"))


def test_cpu_host_workers_keep_benchmarks_disabled_and_say_so_once(
    pytester: pytest.Pytester, xdist_env: pytest.MonkeyPatch, provenance: dict[str, Any]
) -> None:
    _two_files(pytester, SCRIPTED_CONFTEST + NO_NVML_CONFTEST)
    _stale_file(pytester.path / "r.gw1.json", provenance)  # this run's gw1 writes nothing: must not merge it

    result = _run_xdist(pytester, "--dist", "loadfile", "--energy-results=r.json")

    result.assert_outcomes(passed=4)  # each test asserts its meter opened no window
    result.stdout.fnmatch_lines(
        [
            "pytest-benchmark stays disabled on xdist worker(s) gw0, gw1: no GPU of their own (they would "
            "share the CPU cores); 4 `energy` test(s) ran once, unmeasured. Run without -n to measure on *"
        ]
    )
    assert result.stdout.str().count("pytest-benchmark stays disabled") == 1
    result.stdout.no_fnmatch_line("*pytest-benchmark enabled*")
    assert not list(
        pytester.path.glob("r*.json")
    )  # nothing measured, nothing written; the stale file removed


def test_crashed_worker_keeps_the_records_it_finished(
    pytester: pytest.Pytester, xdist_env: pytest.MonkeyPatch
) -> None:
    xdist_env.setenv("CUDA_VISIBLE_DEVICES", "GPU-fake-0")
    pytester.makeconftest(SCRIPTED_CONFTEST)
    pytester.makepyfile(
        test_crash="""
import os

def test_measured(energy):
    energy(lambda: None, rounds=3, warmup_rounds=0, suite="synthetic", model="fake-model", component="kept")

def test_crash():
    os._exit(3)
"""
    )

    result = _run_xdist(pytester, "--energy-results=r.json", workers=1)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["xdist worker(s) gw0 went down before finishing; the records they finished are in the merge."]
    )
    merged = load_results(pytester.path / "r.json")
    assert [r.id for r in merged.records] == ["synthetic/fake-model/default/kept"]
    assert merged.records[0].machine_state["result_file"] == "r.gw0.json"


def test_same_record_id_with_different_content_on_two_workers_fails_the_merge(
    pytester: pytest.Pytester, xdist_env: pytest.MonkeyPatch
) -> None:
    xdist_env.setenv("CUDA_VISIBLE_DEVICES", FAKE_GPUS)
    pytester.makeconftest(SCRIPTED_CONFTEST)
    body = "def test_{}(energy):\n    energy(lambda: None, rounds=2, record_id='dup')\n"
    for name in ("a", "b"):
        pytester.makepyfile(**{f"test_{name}": body.format(name)})

    result = _run_xdist(pytester, "--dist", "loadfile", "--energy-results=r.json")

    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "FAILED: merging the xdist workers' result files (r.gw0.json, r.gw1.json) failed: record id "
            "'dup' is in * with different content*two tests produced one record id on different workers*"
        ]
    )
    assert not (pytester.path / "r.json").exists()


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("--benchmark-json=b.json", "--benchmark-json under pytest-xdist (-n): every worker would write*"),
        ("--benchmark-autosave", "--benchmark-autosave under pytest-xdist (-n): *separate run*"),
        ("--benchmark-save=x", "--benchmark-save under pytest-xdist (-n): *separate run*"),
        ("--benchmark-compare-fail=min:5%", "--benchmark-compare-fail under pytest-xdist (-n): *controller*"),
    ],
)
def test_benchmark_outputs_are_refused_under_xdist_naming_energy_results(
    pytester: pytest.Pytester, xdist_env: pytest.MonkeyPatch, option: str, expected: str
) -> None:
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{expected}Use --energy-results PATH instead*; or drop -n."])


def test_benchmark_only_is_refused_under_xdist_naming_marker_selection(
    pytester: pytest.Pytester, xdist_env: pytest.MonkeyPatch
) -> None:
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "--benchmark-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--benchmark-only under pytest-xdist (-n): *Select the benchmarks with -m or -k*"]
    )
