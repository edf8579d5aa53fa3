"""The report on SYNTHETIC result folders (t2v_energy_lib.analysis.synthetic): PNGs, REPORT.md, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2v_energy_lib.analysis.synthetic import SyntheticKnobs, synthetic_theory, write_synthetic_results
from t2v_energy_lib.cli import main
from t2v_energy_lib.report import write_report
from t2v_energy_lib.report.published import PUBLISHED_CROSS_MODEL, PUBLISHED_MAPE

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_synthetic_results(tmp_path_factory.mktemp("synthetic"))
    return write_report(folder, theory=synthetic_theory())


def test_report_writes_non_trivial_pngs_for_every_sweep_and_the_cross_model_chart(report: Path) -> None:
    pngs = sorted(report.parent.glob("*.png"))
    names = " ".join(p.name for p in pngs)
    prefixes = ("resolution_", "frames_", "steps_", "steps_trace_", "predictors_steps", "cross_model_energy")
    for prefix in prefixes:
        assert prefix in names, names
    for png in pngs:
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 20_000, f"{png.name} is suspiciously small ({len(data)} bytes)"
        assert f"]({png.name})" in report.read_text(), f"REPORT.md does not link {png.name}"


def test_report_md_has_the_claim_and_mape_tables(report: Path) -> None:
    text = report.read_text()
    assert report.name == "REPORT.md" and report.parent.name == "report"
    assert "SYNTHETIC DATA" in text
    assert "| claim | model [fixed settings] | quantity | holds | R^2 | fit / figure | p |" in text
    assert "| quadratic_in_pixels | wan2.1-t2v-1.3b" in text
    assert "| sweep | quantity | study single-mu | synthetic cost model | published single-mu" in text
    assert "**NO**" not in text  # every claim holds on the good synthetic data
    assert "Published figures from arXiv 2509.19222" in text and "Why figures differ" in text


def test_missing_suites_skip_their_plots_with_a_reason(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path / "res", SyntheticKnobs(suites=("resolution",)))
    path = write_report(folder, tmp_path / "out", theory=synthetic_theory())
    text = path.read_text()
    assert "frames plots skipped: no 'frames' records" in text
    assert "characterize --suites frames" in text
    assert "cross-model chart and table skipped" in text
    pngs = sorted(p.name.split("_")[0] for p in (tmp_path / "out").glob("*.png"))
    assert pngs == ["predictors", "resolution"]  # held-out predictor errors need no other suite


def test_power_timeline_is_plotted_when_a_record_has_one(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path / "res", SyntheticKnobs(suites=("resolution",)))
    doc = json.loads((folder / "resolution.json").read_text())
    times = [i * 0.1 for i in range(60)]
    doc["records"][0]["extra"]["timeline"] = {
        "0": {"timestamps_s": times, "power_w": [650.0] * 60}
    }  # synthetic
    (folder / "resolution.json").write_text(json.dumps(doc))
    text = write_report(folder, tmp_path / "out", theory=synthetic_theory()).read_text()
    assert "](power_timeline.png)" in text
    assert (tmp_path / "out" / "power_timeline.png").stat().st_size > 10_000


def test_cli_report_defaults_to_a_report_folder_beside_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = write_synthetic_results(tmp_path / "res", SyntheticKnobs(suites=("cross_model",)))
    assert main(["report", str(folder)]) == 0
    assert (folder / "report" / "REPORT.md").exists()
    assert "REPORT.md" in capsys.readouterr().out


def test_published_figures_are_the_papers_table() -> None:
    wan = next(r for r in PUBLISHED_CROSS_MODEL if r.model_id == "wan2.1-t2v-1.3b")
    assert (wan.height, wan.width, wan.num_frames, wan.num_inference_steps) == (720, 1280, 81, 50)
    assert (wan.latency_s, wan.gpu_wh) == (410.0, 78.8)
    assert len(PUBLISHED_CROSS_MODEL) == 7
    assert {m.sweep for m in PUBLISHED_MAPE} == {"frames", "resolution", "steps"}
