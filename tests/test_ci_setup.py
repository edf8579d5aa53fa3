"""CI and tox set-up (issue 17): a CPU-only torch, said and checked; robust to what tox and runs leave.

PyPI's Linux wheel of ``torch==2.13.0`` is the CUDA build; only the ``+cpu`` wheel (PyTorch's CPU index, or a
local wheel folder) is CPU-only. tox 4.6x leaves a ``.venv`` redirect file in the project root, on which
``python3 -m venv .venv`` failed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CI_RUN = ROOT / ".ci" / "run"
TORCH_REQS = ROOT / ".ci" / "torch-cpu.txt"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _requirements() -> list[Requirement]:
    lines = [ln.strip() for ln in TORCH_REQS.read_text().splitlines()]
    return [Requirement(ln) for ln in lines if ln and not ln.startswith(("#", "-"))]


def test_tox_and_ci_pin_the_cpu_only_torch() -> None:
    reqs = _requirements()
    linux = [r for r in reqs if r.marker is None or r.marker.evaluate({"sys_platform": "linux"})]
    assert [str(r.specifier) for r in linux] and all(str(r.specifier).endswith("+cpu") for r in linux)
    assert f"--extra-index-url {CPU_INDEX}" in TORCH_REQS.read_text()
    tox = (ROOT / "tox.ini").read_text()
    testenv = tox[tox.index("[testenv]") : tox.index("[testenv:lint]")]
    assert "-r .ci/torch-cpu.txt" in testenv and "torch.version.cuda" in testenv
    assert not re.search(r"^\s*torch==[\d.]+\s*$", testenv, re.M), "a bare torch pin is the CUDA build"
    run = CI_RUN.read_text()
    version = re.search(r'^TORCH_VERSION="([^"]+)"', run, re.M)
    assert version and all(r.specifier.contains(f"{version.group(1)}+cpu") for r in linux)
    assert CPU_INDEX in run and '"torch==${TORCH_VERSION}+cpu"' in run
    assert "torch.version.cuda is not None" in run  # the step checks what it claims


def test_ci_run_treats_pytest_exit_5_as_failure() -> None:
    run = CI_RUN.read_text()
    assert 'if [ "$rc" -eq 5 ]' in run and "exit 1" in run


def test_venv_leftovers_are_ignored_by_git() -> None:
    patterns = {ln.strip() for ln in (ROOT / ".gitignore").read_text().splitlines()}
    assert ".venv" in patterns  # no trailing slash: tox's redirect FILE too, not only a folder
    assert ".ci-venv" in patterns or ".ci-venv/" in patterns


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_ci_run_survives_what_tox_and_earlier_runs_left(tmp_path: Path) -> None:
    """A .venv redirect file (tox) and a stale .ci-venv file: the CI's venv step still succeeds."""
    (tmp_path / ".ci").mkdir()
    shutil.copy2(CI_RUN, tmp_path / ".ci" / "run")
    (tmp_path / ".venv").write_text(".tox/py")  # what tox 4.67 leaves
    (tmp_path / ".ci-venv").write_text("left over")  # not a folder
    env = {**os.environ, "T2V_CI_STOP_AFTER": "venv"}
    env.pop("VIRTUAL_ENV", None)
    # python3 of the interpreter running the tests, first on PATH (it can make a venv)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", str(tmp_path / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / ".ci-venv" / "bin" / "python").exists()
    assert (tmp_path / ".venv").read_text() == ".tox/py"  # the user's (or tox's) .venv is left alone
