"""The quick start's main job, as a new user runs it on a machine without a GPU: ``t2v-energy characterize``.

Every suite on the tiny variants, then the report. A report that fails after the measurements (a claim check
that assumed GPU energy in a CPU run did) leaves the user without the main job's output: it must not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_characterize_on_the_cpu_measures_every_suite_and_writes_the_report(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-m", "t2v_energy_lib", "characterize", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=tmp_path,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert out.startswith("*** CPU RUN"), out[:300]  # says so in its first line
    for suite in ("resolution", "frames", "steps", "validation", "cross_model"):
        assert f"{suite}: " in out and (tmp_path / "out" / "cpu-tiny" / f"{suite}.json").is_file(), suite
    assert "report: FAILED" not in out, out[-2000:]
    report = tmp_path / "out" / "cpu-tiny" / "report" / "REPORT.md"
    assert report.is_file() and "CPU" in report.read_text()
