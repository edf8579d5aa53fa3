"""``--energy-results`` and ``--energy-baseline`` are checked when pytest starts, before any test measures.

Before issue 17 a corrupt or unwritable results file made every energy test fail after measuring, and a bad
baseline was reported at session end, after all the GPU benchmarks. Here the test body writes a marker file:
if it exists, the session ran a test it should have refused to start.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from unwritable import unwritable_folder

pytest_plugins = ["pytester"]

GOLDEN = Path(__file__).parent / "data" / "results" / "synthetic_v1.json"
MARKER_TEST = """
from pathlib import Path

def test_would_measure():
    Path("ran.marker").write_text("a test ran")
"""


def _refused(pytester: pytest.Pytester, *args: str) -> str:
    pytester.makepyfile(MARKER_TEST)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not (pytester.path / "ran.marker").exists()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.lines
    assert "Traceback" not in result.stderr.str()
    return errors[0]


def test_corrupt_results_file_is_refused_at_start(pytester: pytest.Pytester) -> None:
    (pytester.path / "results.json").write_text('{"schema": "t2v-energy/results", "records": [')
    line = _refused(pytester, "--energy-results=results.json")
    assert line.startswith("ERROR: --energy-results") and "not valid JSON" in line


def test_unwritable_results_path_is_refused_at_start(pytester: pytest.Pytester, tmp_path: Path) -> None:
    target = unwritable_folder(tmp_path) / "results.json"
    line = _refused(pytester, f"--energy-results={target}")
    assert "--energy-results" in line and "cannot write" in line


def test_results_path_under_a_file_is_refused_at_start(pytester: pytest.Pytester) -> None:
    (pytester.path / "plain").write_text("a file")
    line = _refused(pytester, "--energy-results=plain/results.json")
    assert "is a file" in line


@pytest.mark.parametrize("content", [None, "{not json"])
def test_bad_baseline_is_refused_at_start(pytester: pytest.Pytester, content: str | None) -> None:
    if content is not None:
        (pytester.path / "base.json").write_text(content)
    line = _refused(pytester, "--energy-baseline=base.json")
    assert line.startswith("ERROR: --energy-baseline") and "base.json" in line


def test_good_paths_start_the_session(pytester: pytest.Pytester) -> None:
    (pytester.path / "base.json").write_text(json.dumps(json.loads(GOLDEN.read_text())))
    pytester.makepyfile(MARKER_TEST)
    result = pytester.runpytest("--energy-baseline=base.json", "--energy-results=out/results.json")
    assert (pytester.path / "ran.marker").exists()
    # no energy benchmark ran, so the gate has nothing to judge: that is the gate's failure, not a path error
    assert "ERROR: --energy" not in result.stderr.str()
