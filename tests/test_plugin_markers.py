"""The plugin's markers, GPU skips and ``--require-gpu``, driven through pytester (in-process: fast).

The GPU probe is replaced by a SYNTHETIC one (``monkeypatch`` on ``pytest_t2v_energy.session.probe_gpus``)
so the outcomes do not depend on the machine; one test uses the real probe and checks consistency.
"""

from __future__ import annotations

import pytest

import pytest_t2v_energy.session as plugin_session
from pytest_t2v_energy.gpu_probe import GpuProbe, probe_gpus

pytest_plugins = ["pytester"]

MARKED_TESTS = """
import pytest

@pytest.mark.gpu
def test_gpu():
    pass

@pytest.mark.h100
def test_h100():
    pass

@pytest.mark.slow
def test_slow():
    pass

def test_plain():
    pass
"""

NO_NVML = GpuProbe(names=(), nvml_error="NVML unavailable (synthetic: driver not loaded)")
A10G = GpuProbe(names=("NVIDIA A10G",))


def _fake_probe(monkeypatch: pytest.MonkeyPatch, probe: GpuProbe) -> list[int]:
    calls: list[int] = []

    def fake() -> GpuProbe:
        calls.append(1)
        return probe

    monkeypatch.setattr(plugin_session, "probe_gpus", fake)
    return calls


def test_markers_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gpu: *", "@pytest.mark.h100: *", "@pytest.mark.slow: *"])


def test_markers_are_strict_and_probe_is_lazy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_probe(monkeypatch, A10G)
    pytester.makepyfile(MARKED_TESTS)
    result = pytester.runpytest("--strict-markers", "-m", "slow or not slow and not gpu and not h100")
    result.assert_outcomes(passed=2)
    assert calls == [], "no GPU-marked test ran, so the GPU must not be probed"
    pytester.makepyfile(test_unknown="import pytest\n@pytest.mark.gpux\ndef test_x():\n    pass\n")
    result = pytester.runpytest("--strict-markers", "test_unknown.py")
    result.stdout.fnmatch_lines(["*'gpux' not found in `markers` configuration option*"])


def test_h100_skipped_naming_the_gpu_found(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_probe(monkeypatch, A10G)
    pytester.makepyfile(MARKED_TESTS)
    result = pytester.runpytest("--strict-markers", "-rs", "-m", "h100 or gpu")
    result.assert_outcomes(passed=1, skipped=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "*= t2v-energy =*",
            "1 GPU-marked test(s) skipped: needs an H100, found NVIDIA A10G",
            "-m 'h100 or gpu' ran no H100 test on this machine; run on an H100 runner*--require-gpu*",
            "SKIPPED [[]1[]] test_h100_skipped_naming_the_gpu_found.py:*: needs an H100, found NVIDIA A10G",
        ]
    )
    assert result.ret == pytest.ExitCode.OK
    assert calls == [1], "the probe runs once per session and is cached"


def test_no_nvml_skips_with_reason(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_probe(monkeypatch, NO_NVML)
    pytester.makepyfile(MARKED_TESTS)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED * no NVIDIA GPU: NVML unavailable (synthetic: driver not loaded)",
            "SKIPPED * needs an H100, found no NVIDIA GPU (NVML unavailable (synthetic: driver not loaded))",
        ]
    )


def test_require_gpu_turns_skips_into_failures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_probe(monkeypatch, NO_NVML)
    pytester.makepyfile(MARKED_TESTS)
    result = pytester.runpytest("--require-gpu")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(["*--require-gpu: no NVIDIA GPU: NVML unavailable*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_require_gpu_fails_a_session_where_nothing_ran(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_cpu():\n    pass\n")
    plain = pytester.runpytest("-m", "h100")
    assert plain.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result = pytester.runpytest("-m", "h100", "--require-gpu")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["FAILED: --require-gpu: no tests ran (pytest exit code 5*"])


def test_real_probe_outcome_matches_this_machine(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.gpu\ndef test_gpu():\n    pass\n")
    result = pytester.runpytest("-rs")
    reason = probe_gpus().gpu_reason()
    if reason is None:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(skipped=1)
        result.stdout.fnmatch_lines([f"SKIPPED * {reason}"])


def test_baseline_root_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_root(baseline_root, pytestconfig):\n"
        "    assert baseline_root == pytestconfig.rootpath / 'baselines'\n"
        "def test_given(baseline_root, tmp_path_factory):\n"
        "    assert baseline_root.name == 'elsewhere'\n"
    )
    pytester.runpytest("-k", "test_root").assert_outcomes(passed=1)
    pytester.runpytest("-k", "test_given", "--baseline-dir", "elsewhere").assert_outcomes(passed=1)
