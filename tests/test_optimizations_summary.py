"""Every stored optimisation run of a GPU side by side: the committed summary is what the code writes, a
lever that did not engage never shows a saving, and a folder without runs is an error, not an empty table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from t2v_energy_lib.cli import main
from t2v_energy_lib.errors import MissingResultsError
from t2v_energy_lib.report.optimizations_summary import (
    CHART_DIR,
    SUMMARY_NAME,
    best_table,
    cell,
    failure_lines,
    find_runs,
    summary_markdown,
)

H200 = Path(__file__).resolve().parents[1] / "baselines" / "nvidia-h200"


def test_the_committed_summary_is_what_the_stored_runs_give(tmp_path: Path) -> None:
    """Regenerate with `t2v-energy optimize --summary baselines/nvidia-h200` after storing a run."""
    text = summary_markdown(H200, find_runs(H200), tmp_path / CHART_DIR)
    assert (H200 / SUMMARY_NAME).read_text(encoding="utf-8") == text
    for chart in (tmp_path / CHART_DIR).iterdir():
        assert (H200 / CHART_DIR / chart.name).is_file(), f"{chart.name} is not committed"


@pytest.mark.parametrize("run", find_runs(H200), ids=lambda run: run.folder)
def test_each_stored_run_report_is_what_its_file_gives(run, tmp_path: Path) -> None:
    """A stored run's ``report/OPTIMIZATIONS.md`` is the report the code writes from its stored file (the
    device wrote it; re-render it here when the report's rules change, its console log keeps what it printed).
    """
    from t2v_energy_lib.report.optimizations_section import write_optimizations_report

    folder = H200 / run.folder
    written = write_optimizations_report(folder / "optimizations.json", tmp_path)
    stored = folder / "report" / written.name
    assert stored.read_text(encoding="utf-8") == written.read_text(encoding="utf-8"), f"re-render {stored}"


def test_every_stored_run_is_a_column_and_raw_call_files_are_not() -> None:
    runs = find_runs(H200)
    folders = [run.folder for run in runs]
    assert len(folders) >= 6 and len(set(folders)) == len(folders)
    assert not [f for f in folders if "runs" in Path(f).parts or "report" in Path(f).parts]
    assert [run.date_utc for run in runs] == sorted(run.date_utc for run in runs)


def test_only_an_engaged_variant_shows_a_saving() -> None:
    """A `not engaged`, `not available`, `not reached` or `failed` variant shows its status, never a %."""
    seen = set()
    for run in find_runs(H200):
        for rows in run.groups.values():
            for row in rows:
                text = cell(row)
                seen.add(row.status)
                assert ("%" in text) == (row.status == "engaged"), (run.folder, row.variant, text)
                if row.status not in ("engaged", "reference"):
                    assert text.startswith(row.status.replace("_", " "))
    assert {"engaged", "not_engaged", "not_available", "not_reached", "failed"} <= seen


def test_a_variant_that_ran_out_of_memory_says_so() -> None:
    """TaylorSeer on the 14B's attention modules needed more memory than an H200 has (optimizations-14b-4)."""
    rows = [
        (row, cell(row))
        for run in find_runs(H200)
        for rows in run.groups.values()
        for row in rows
        if row.status == "failed"
    ]
    assert any(text == "failed (out of memory)" and "taylorseer" in row.variant for row, text in rows)
    assert all(("memory" in text) == ("out of memory" in (row.reason or "").lower()) for row, text in rows)


def test_every_failed_or_unreached_variant_is_listed_with_its_reason() -> None:
    """A `failed` or `not reached` cell says what; the line under the table says why, from the record."""
    runs = find_runs(H200)
    for group in {g for run in runs for g in run.groups}:
        lines = failure_lines(runs, group)
        expected = [
            (run.label, row)
            for run in runs
            for row in run.groups.get(group, ())
            if row.status in ("failed", "not_reached")
        ]
        assert len(lines) == len(expected), group
        for line, (label, row) in zip(lines, expected, strict=True):
            assert line.startswith(f"- `{row.variant}`, run {label}, {row.status.replace('_', ' ')}: ")
            assert len(line) < 320 and line.split(": ", 1)[1][:40] in " ".join(row.reason.split())
    (oom,) = [line for line in failure_lines(runs, "wan2.1-t2v-14b/720x1280x81-s4") if "taylorseer" in line]
    assert "OutOfMemoryError" in oom


def test_a_folder_without_runs_is_an_error_that_says_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "0.42.1" / "runs").mkdir(parents=True)
    (tmp_path / "0.42.1" / "runs" / "optimizations.json").write_text("{}", encoding="utf-8")
    with pytest.raises(MissingResultsError, match=r"t2v-energy optimize"):
        find_runs(tmp_path)


def test_cli_summary_writes_the_file_and_refuses_a_missing_folder(tmp_path: Path, capsys) -> None:
    gpu = tmp_path / "gpu"
    shutil.copytree(H200 / "optimizations-5", gpu / "optimizations-5")
    assert main(["optimize", "--summary", str(gpu)]) == 0
    text = (gpu / SUMMARY_NAME).read_text(encoding="utf-8")
    assert "| 1 | `optimizations-5/0.42.1` |" in text and "## wan2.1-t2v-1.3b/480x832x81-s10" in text
    assert main(["optimize", "--summary", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_the_best_saving_per_model_is_the_largest_of_any_run() -> None:
    runs = find_runs(H200)
    groups = sorted({g for run in runs for g in run.groups})
    table = best_table(runs, groups).splitlines()[2:]
    assert len(table) == len(groups)
    for group, line in zip(groups, table, strict=True):
        savings = [
            row.saving_fraction or 0.0 for run in runs for row in run.groups.get(group, ()) if row.is_saving
        ]
        assert f"{100 * max(savings):.1f}%" in line, line


def test_a_model_without_any_saving_says_so() -> None:
    runs = [run for run in find_runs(H200) if run.folder == "optimizations-6/0.42.1"]
    groups = sorted(runs[0].groups)
    assert "no significant saving in any run" in best_table(runs, groups)
