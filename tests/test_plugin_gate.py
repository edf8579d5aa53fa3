"""The energy gate as a CI relies on it, through pytester subprocess runs (SYNTHETIC energies, CPU only).

A user's own benchmark file (unnamed benchmarks: their record id is the test's key) lives in a folder of its
own with no pytest ini, outside the project; energies come from a noisy fake meter (tests/pytester_sources.py:
10 J x FAKE_ENERGY_FACTOR per window, Gaussian noise FAKE_ENERGY_NOISE, seeded). Cases: the baseline path
given as a separate argument from another working directory, missing/renamed/skipped/deselected tests, a gate
that compared nothing, pytest-xdist, and a planted 3 % regression decided by the adaptive mode.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytester_sources import NOISY_CONFTEST  # tests/ is on sys.path (no tests/__init__.py)

from t2v_energy_lib.results import load_results

pytest_plugins = ["pytester"]

USER_TEST = """
import os
import pytest

def test_forward(energy):
    if os.environ.get("SKIP_FORWARD"):
        pytest.skip("simulated: the benchmark did not run")
    energy(lambda: None, rounds=3, warmup_rounds=0)

@pytest.mark.parametrize("size", ["small", "large"])
def test_sized(energy, size):
    energy(lambda: None, rounds=3, warmup_rounds=0)
"""
KEYS = {"t_bench.py::test_forward", "t_bench.py::test_sized[small]", "t_bench.py::test_sized[large]"}
ENERGY_ONLY = "--energy-compare-fail=energy:5%"  # latency of a no-op is timer noise: gate energy only


def _user_folder(pytester: pytest.Pytester, source: str = USER_TEST) -> Path:
    """``<tmp>/user/t_bench.py`` with the noisy meter's conftest, and an empty ``<tmp>/store``."""
    user = pytester.path / "user"
    user.mkdir()
    (user / "conftest.py").write_text(NOISY_CONFTEST)
    (user / "t_bench.py").write_text(source)
    (pytester.path / "store").mkdir()
    return user


def _baseline(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> Path:
    """Take the baseline from inside the user's folder (``--energy-results=PATH`` form)."""
    base = pytester.path / "store" / "base.json"
    monkeypatch.chdir(pytester.path / "user")
    pytester.runpytest_subprocess("t_bench.py", f"--energy-results={base}", *args).assert_outcomes(passed=3)
    monkeypatch.chdir(pytester.path)
    return base


def test_identity_survives_working_directory_paths_and_a_separate_baseline_argument(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _user_folder(pytester)
    base = _baseline(pytester, monkeypatch)
    assert {r.id for r in load_results(base).records} == KEYS
    # From the parent folder, absolute test path, baseline as a SEPARATE argument (pytest's rootdir becomes
    # the common ancestor, so node ids change; record ids must not), markdown summary to a path and to
    # GitHub's.
    step_summary = pytester.path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    passed = pytester.runpytest_subprocess(
        str(user / "t_bench.py"), "--energy-baseline", str(base), ENERGY_ONLY,
        "--energy-summary", "out/gate.md", "--energy-results", "store/now.json",
    )  # fmt: skip
    passed.assert_outcomes(passed=3)
    assert passed.ret == 0
    passed.stdout.fnmatch_lines(["PASSED: 0 regression(s)*3 comparison(s)*0 missing*0 new"])
    assert {r.id for r in load_results(pytester.path / "store" / "now.json").records} == KEYS
    summary = (pytester.path / "out" / "gate.md").read_text()
    assert "## t2v-energy gate: PASSED" in summary and "`t_bench.py::test_forward`" in summary
    assert step_summary.read_text().strip() == summary.strip()
    # From the store folder, relative path, 9 % more energy: fails, naming the test.
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    monkeypatch.chdir(pytester.path / "store")
    monkeypatch.setenv("FAKE_ENERGY_FACTOR", "1.09")
    failed = pytester.runpytest_subprocess("../user/t_bench.py", "--energy-baseline=base.json", ENERGY_ONLY)
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    failed.stdout.fnmatch_lines(
        [
            "t_bench.py::test_forward*REGRESSION*",
            "FAILED: 3 regression(s)*3 comparison(s)*0 missing*",
            "FAILED: energy gate: 3 regression(s) beyond energy:5% against base.json",
        ]
    )


def test_missing_renamed_skipped_and_deselected_benchmarks(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _user_folder(pytester)
    base = str(_baseline(pytester, monkeypatch))
    deselected = pytester.runpytest_subprocess(
        str(user / "t_bench.py"), "--energy-baseline", base, ENERGY_ONLY, "-k", "forward"
    )
    assert deselected.ret == 0
    deselected.stdout.fnmatch_lines(
        ["*t_bench.py::test_sized[[]large[]]  (not a failure: deselected in this session (-k/-m))*"]
    )
    monkeypatch.setenv("SKIP_FORWARD", "1")
    skipped = pytester.runpytest_subprocess(str(user / "t_bench.py"), "--energy-baseline", base, ENERGY_ONLY)
    assert skipped.ret == pytest.ExitCode.TESTS_FAILED
    skipped.stdout.fnmatch_lines(
        [
            "*t_bench.py::test_forward  (FAILS the gate: not produced)",
            "*t_bench.py::test_forward: missing, selected in this session but produced no record*",
            "FAILED: energy gate against *base.json: 1 baseline benchmark(s) not produced*test_forward*",
        ]
    )
    allowed = pytester.runpytest_subprocess(
        str(user / "t_bench.py"), "--energy-baseline", base, ENERGY_ONLY, "--energy-allow-missing"
    )
    assert allowed.ret == 0
    allowed.stdout.fnmatch_lines(["*t_bench.py::test_forward  (not a failure: missing allowed explicitly)"])
    monkeypatch.delenv("SKIP_FORWARD")
    (user / "t_bench.py").write_text(USER_TEST.replace("def test_forward", "def test_forward_renamed"))
    renamed = pytester.runpytest_subprocess(str(user / "t_bench.py"), "--energy-baseline", base, ENERGY_ONLY)
    assert renamed.ret == pytest.ExitCode.TESTS_FAILED
    renamed.stdout.fnmatch_lines(
        [
            "new in current (1):",
            "  t_bench.py::test_forward_renamed",
            "*t_bench.py::test_forward: missing, its test file was collected but the test no longer exists*",
        ]
    )


def test_a_gate_that_compared_nothing_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _user_folder(pytester)
    base = str(_baseline(pytester, monkeypatch))
    other = pytester.path / "other"
    other.mkdir()
    (other / "conftest.py").write_text(NOISY_CONFTEST)
    (other / "t_other.py").write_text("def test_other(energy):\n    energy(lambda: None, rounds=3)\n")
    unrelated = pytester.runpytest_subprocess(
        str(other / "t_other.py"), "--energy-baseline", base, ENERGY_ONLY
    )
    assert unrelated.ret == pytest.ExitCode.TESTS_FAILED
    unrelated.stdout.fnmatch_lines(
        ["*3 missing (0 failing)*", "FAILED: energy gate against *: nothing compared*"]
    )
    none_ran = pytester.runpytest_subprocess(
        str(user / "t_bench.py"), "--energy-baseline", base, "-k", "no_such_test"
    )
    assert none_ran.ret == pytest.ExitCode.TESTS_FAILED  # not 5 (no tests), not 0
    none_ran.stdout.fnmatch_lines(["FAILED: energy gate against *: nothing compared*"])


@pytest.fixture
def xdist_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean environment for an inner xdist run with two FAKE GPU ids (nothing touches CUDA)."""
    pytest.importorskip("xdist", reason="pytest-xdist (dev extra) is not installed")
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("T2V_ENERGY_WORKER_GPU", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-fake-0,GPU-fake-1")
    return monkeypatch


def test_xdist_keeps_identities_and_names_a_missing_benchmark(
    pytester: pytest.Pytester, xdist_env: pytest.MonkeyPatch
) -> None:
    user = _user_folder(pytester)
    base = str(_baseline(pytester, xdist_env))
    xdist = ("-p", "xdist", "-n", "2", "--energy-baseline", base, ENERGY_ONLY)
    passed = pytester.runpytest_subprocess(
        str(user / "t_bench.py"), *xdist, "--energy-results", "store/x.json"
    )
    assert passed.ret == 0
    passed.stdout.fnmatch_lines(["PASSED: 0 regression(s)*3 comparison(s)*0 missing*"])
    assert {r.id for r in load_results(pytester.path / "store" / "x.json").records} == KEYS
    xdist_env.setenv("SKIP_FORWARD", "1")
    failed = pytester.runpytest_subprocess(str(user / "t_bench.py"), *xdist, "-k", "forward or small")
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    failed.stdout.fnmatch_lines(
        [
            "*t_bench.py::test_forward  (FAILS the gate: not produced)",
            "*t_bench.py::test_sized[[]large[]]  (not a failure: deselected in this session (-k/-m))",
        ]
    )


ONE_TEST = "def test_step(energy):\n    energy(lambda: None, rounds=3, warmup_rounds=0)\n"


def test_adaptive_mode_decides_a_planted_3_percent_regression_under_1_percent_noise(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SYNTHETIC: 1 % per-round noise (a GPU denoiser step repeats within ~1 %), threshold 2 %, +3 % planted.

    With 3 rounds a side the Welch bound cannot tell +3 % from noise; adaptive rounds make it decide.
    """
    user = _user_folder(pytester, ONE_TEST)
    gate = ("--energy-adaptive", "--energy-compare-fail=energy:2%", "--energy-max-rounds=40")
    base = pytester.path / "store" / "base.json"
    monkeypatch.chdir(user)
    taken = pytester.runpytest_subprocess("t_bench.py", f"--energy-results={base}", *gate)
    taken.stdout.fnmatch_lines(["adaptive: t_bench.py::test_step: precise after * round(s)*"])
    (record,) = load_results(base).records
    assert len(record.rounds["gpu_energy_j"]) > 3  # more rounds than the fixed 3
    strict = (*gate, "--energy-baseline", str(base), "--energy-strict")
    monkeypatch.setenv("FAKE_ENERGY_SEED", "1")
    monkeypatch.setenv("FAKE_ENERGY_FACTOR", "1.03")
    regressed = pytester.runpytest_subprocess("t_bench.py", *strict)
    assert regressed.ret == pytest.ExitCode.TESTS_FAILED
    regressed.stdout.fnmatch_lines(
        [
            "adaptive: t_bench.py::test_step: regression after * round(s)*",
            "t_bench.py::test_step  energy*REGRESSION*",
            "FAILED: energy gate: 1 regression(s) beyond energy:2% against *base.json",
        ]
    )
    monkeypatch.setenv("FAKE_ENERGY_FACTOR", "1.0")
    unchanged = pytester.runpytest_subprocess("t_bench.py", *strict)
    assert unchanged.ret == 0
    unchanged.stdout.fnmatch_lines(
        [
            "adaptive: t_bench.py::test_step: decided after * round(s)*",
            "t_bench.py::test_step  energy*unchanged*",
        ]
    )
