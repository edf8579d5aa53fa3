"""The console shows what the user needs (issue 17): library output goes to a log file, long id lists are
summarised, report prints progress, announced and reported counts agree, chart and table agree.

Every number here is produced by the code under test or is a SYNTHETIC input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from t2v_energy_lib.cli import main
from t2v_energy_lib.report import cpu_run

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "data" / "results" / "synthetic_v1.json"


LIBRARY_NOISE = """
import logging, os, sys, warnings
from pathlib import Path
from t2v_energy_lib.commands.quiet import library_output_to
from t2v_energy_lib.energy.measurements import ShortWindowWarning

with library_output_to(Path(sys.argv[1])) as library:
    os.write(2, b"USDT: profiler_start (a C++ write to fd 2)\\n")
    warnings.warn("CLIP truncated the prompt (synthetic)", UserWarning, stacklevel=1)
    logging.getLogger("transformers-like").warning("a library logger line (synthetic)")
    print("progress stays on the console", flush=True)
    warnings.warn("our own warning stays on the console", ShortWindowWarning, stacklevel=1)
print(library.summary())
print("stderr is back", file=sys.stderr)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def test_library_output_goes_to_the_log_and_is_counted(tmp_path: Path) -> None:
    """Outside pytest (whose own hooks catch warnings and log records): C++, warnings and loggers."""
    log = tmp_path / "logs" / "run.log"
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY_NOISE, str(log)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "our own warning stays on the console" in done.stderr
    assert done.stderr.endswith("stderr is back\n") and "CLIP" not in done.stderr
    progress, summary = done.stdout.splitlines()
    assert progress == "progress stays on the console"
    text = log.read_text()
    assert "our own warning" not in text
    lines_written = len(text.splitlines()) - 1  # after the header line of the run
    assert lines_written >= 3
    assert summary == f"library output: {lines_written} line(s) of warnings and messages written to {log}"
    assert "USDT: profiler_start" in text and "CLIP truncated" in text and "library logger line" in text


def test_characterize_on_the_cpu_keeps_library_noise_off_the_console(tmp_path: Path) -> None:
    """Mochi's tiny variant warns about CPU autocast on every forward and the profiler prints from C++."""
    out = tmp_path / "o"
    env = _env()
    args = [
        "--device",
        "cpu",
        "--out",
        str(out),
        "--suites",
        "cross_model",
        "--model",
        "mochi-1-preview-tiny",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "t2v_energy_lib", "characterize", *args, "--no-report", "--e2e-max-s", "0"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    log = out / "logs" / "characterize.log"
    summary = [ln for ln in done.stdout.splitlines() if ln.startswith("library output:")]
    assert len(summary) == 1 and str(log) in summary[0]
    assert "autocast" in log.read_text()


def _with_new_records(path: Path, count: int) -> Path:
    doc = json.loads(GOLDEN.read_text())
    first = doc["records"][0]
    doc["records"] += [{**first, "id": f"{first['id']}-extra{i}"} for i in range(count)]
    path.write_text(json.dumps(doc))
    return path


def test_compare_summarises_long_id_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current = _with_new_records(tmp_path / "current.json", 12)
    assert main(["compare", str(GOLDEN), str(current)]) == 0
    out = capsys.readouterr().out
    assert "new in current (12):" in out and "... and 7 more (the full list with -v)" in out
    assert out.count("-extra") == 5
    assert main(["compare", str(GOLDEN), str(current), "-v"]) == 0
    assert capsys.readouterr().out.count("-extra") == 12


def test_report_prints_progress_and_lands_where_help_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "synthetic.json").write_text(GOLDEN.read_text())
    assert main(["report", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("report: ") for line in out) >= 3
    assert out[-1] == f"wrote {folder / 'report' / 'REPORT.md'}"


def test_characterize_writes_its_report_where_report_help_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from t2v_energy_lib import report
    from t2v_energy_lib.cli import build_parser
    from t2v_energy_lib.commands import characterize

    calls = []
    monkeypatch.setattr(report, "write_report", lambda results, out_dir: calls.append((results, out_dir)))
    characterize._report(tmp_path / "cpu-tiny")
    assert calls == [(tmp_path / "cpu-tiny", tmp_path / "cpu-tiny" / "report")]
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices["report"]  # the report subcommand's help
    assert "<results folder>/report/" in sub.format_help()


def test_steps_suite_announces_the_count_it_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["characterize", "--device", "cpu", "--out", str(tmp_path), "--suites", "steps"]
    assert main([*args, "--points", "0-1", "--measured-steps", "2", "--no-report"]) == 0
    out = capsys.readouterr().out
    announced = next(ln for ln in out.splitlines() if ln.startswith("== suite steps:"))
    reported = next(ln for ln in out.splitlines() if ln.startswith("steps: "))
    n_announced = int(announced.split(":")[1].split()[0])
    n_reported = int(reported.split(":")[1].split()[0])
    assert n_announced == n_reported == 3, out  # the traced run and 2 step counts


def test_cpu_cross_model_chart_and_table_share_one_total() -> None:
    """SYNTHETIC shares where the parts, measured alone, add up to more than the measured video."""
    shares = {
        "tiny": {
            "parts_s": {"text_encoder": 0.05, "denoiser_step": 0.03, "vae_decode": 0.10},
            "total_s": 0.12,
            "total_from": "end_to_end",
            "share": 0.25,
            "settings": {},
        }
    }
    d = cpu_run._one_total(shares)["tiny"]
    assert d["total_s"] == pytest.approx(0.18)  # the chart's stacked total
    assert d["share"] == pytest.approx(0.03 / 0.18)
    assert "sum of parts" in d["total_from"] and "0.12" in d["total_from"]
    kept = cpu_run._one_total({"tiny": {**shares["tiny"], "total_s": 0.3}})["tiny"]
    assert kept["total_s"] == 0.3 and kept["total_from"] == "end_to_end"
