"""The any-GPU suite: ``-m gpu`` on any NVIDIA GPU, ``-m h100`` on an H100 only, per-GPU result paths.

The GPU probe is replaced by SYNTHETIC ones (an H200, an H100) so the outcomes do not depend on the machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pytest_t2v_energy.session as plugin_session
from pytest_t2v_energy.gpu_probe import GpuProbe, h100_requested
from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.results import expand_results_path, load_results

pytest_plugins = ["pytester"]

SUITE = """
import pytest

pytestmark = [pytest.mark.gpu, pytest.mark.h100]

def test_bench():
    pass
"""

H200 = GpuProbe(names=("NVIDIA H200",))
H100 = GpuProbe(names=("NVIDIA H100 80GB HBM3",))
H200_NO_CUDA = GpuProbe(names=("NVIDIA H200",), cuda_error="torch.cuda.is_available() is False (synthetic)")
HINT = "needs an H100, found NVIDIA H200: run `pytest -m gpu` for the suite on this GPU"


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> list[GpuProbe]:
    """Set ``probe[0]`` to the synthetic probe a test wants (default: an H200)."""
    chosen = [H200]
    monkeypatch.setattr(plugin_session, "probe_gpus", lambda: chosen[0])
    return chosen


def test_h100_requested_only_when_the_expression_asks_for_h100_alone() -> None:
    assert h100_requested("", marked_gpu=False)  # a test marked only h100 always needs one
    assert h100_requested("h100", marked_gpu=True)
    assert h100_requested("h100 and slow", marked_gpu=True)
    assert not h100_requested("gpu", marked_gpu=True)
    assert not h100_requested("", marked_gpu=True)
    assert not h100_requested("h100 or gpu", marked_gpu=True)
    assert not h100_requested("h1000", marked_gpu=True)


def test_skip_reason_says_what_to_run_on_another_gpu() -> None:
    assert H200.h100_reason(gpu_suite=True) == HINT
    assert H200.h100_reason() == "needs an H100, found NVIDIA H200"
    # torch cannot use the GPU: `-m gpu` would not run either, so no hint
    assert "pytest -m gpu" not in str(H200_NO_CUDA.h100_reason(gpu_suite=True))
    assert H100.h100_reason(gpu_suite=True) is None


def test_gpu_runs_the_suite_on_an_h200(pytester: pytest.Pytester, probe: list[GpuProbe]) -> None:
    pytester.makepyfile(SUITE)
    pytester.runpytest("--strict-markers", "-m", "gpu", "--require-gpu").assert_outcomes(passed=1)
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


def test_h100_on_an_h200_skips_naming_gpu(pytester: pytest.Pytester, probe: list[GpuProbe]) -> None:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--strict-markers", "-rs", "-m", "h100")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"1 GPU-marked test(s) skipped: {HINT}", "*On this GPU, `pytest -m gpu`*"])


def test_require_gpu_stays_strict_for_h100(pytester: pytest.Pytester, probe: list[GpuProbe]) -> None:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--strict-markers", "-m", "h100", "--require-gpu")
    result.assert_outcomes(errors=1)  # failed at setup
    result.stdout.fnmatch_lines([f"*--require-gpu: {HINT}*"])


def test_h100_still_runs_on_an_h100(pytester: pytest.Pytester, probe: list[GpuProbe]) -> None:
    probe[0] = H100
    pytester.makepyfile(SUITE)
    pytester.runpytest("--strict-markers", "-m", "h100", "--require-gpu").assert_outcomes(passed=1)


def test_the_repository_suite_carries_both_markers() -> None:
    text = (Path(__file__).parent / "gpu" / "test_gpu_bench.py").read_text()
    assert "pytestmark = [pytest.mark.gpu, pytest.mark.h100, pytest.mark.slow]" in text


def test_expand_results_path_fills_gpu_and_diffusers() -> None:
    prov = {"gpu": {"name": "NVIDIA H200"}, "versions": {"diffusers": "0.42.1"}}
    path = expand_results_path("baselines/{gpu}/pytest-{diffusers}/results.json", prov)
    assert path == Path("baselines/nvidia-h200/pytest-0.42.1/results.json")
    assert expand_results_path("plain.json", prov) == Path("plain.json")
    with pytest.raises(BaselineFormatError, match="diffusers"):
        expand_results_path("{diffusers}/x.json", {"gpu": None, "versions": {}})


def test_results_placeholders_in_a_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_cpu(energy):\n    energy(sum, [1, 2], rounds=2, warmup_rounds=0)\n")
    result = pytester.runpytest_subprocess("--energy-results={gpu}/pytest-{diffusers}/r.json")
    result.assert_outcomes(passed=1)
    written = list(pytester.path.glob("*/pytest-*/r.json"))
    assert len(written) == 1, result.stdout.str()
    loaded = load_results(written[0])
    assert written[0].parent.name == f"pytest-{loaded.provenance['versions']['diffusers']}"
    result.stdout.fnmatch_lines([f"wrote 1 result record(s) to {written[0].relative_to(pytester.path)}"])


def collected(*args: str) -> dict[str, int]:
    """Test functions of ``tests/gpu`` that ``pytest --collect-only args`` selects, and how many each."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
    ]
    proc = subprocess.run([*cmd, *args, "tests/gpu"], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        if "::" in line:
            name = line.split("[", 1)[0]
            counts[name] = counts.get(name, 0) + 1
    return counts


def test_minus_m_gpu_selects_the_repository_suite() -> None:
    """`pytest -m gpu` collects the benchmark suite of tests/gpu (what the H200 runs); `-m h100` the same
    benchmarks (they carry both markers); neither selection is empty."""
    gpu, h100 = collected("-m", "gpu"), collected("-m", "h100")
    bench = {name: n for name, n in gpu.items() if name.startswith("tests/gpu/test_gpu_bench.py::")}
    assert bench and bench == h100
    for name in ("resolution_denoiser_step", "frames_denoiser_step", "cross_model_defaults_breakdown"):
        assert gpu.get(f"tests/gpu/test_gpu_bench.py::test_{name}", 0) > 1
    assert any(name.startswith("tests/gpu/test_optimizations.py::") for name in gpu)
