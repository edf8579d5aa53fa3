"""Two GPUs side by side, and the ``t2v-energy gpus`` command (SYNTHETIC second GPU: a relabelled copy).

The "H200" folders are copies of the stored H100 resolution sweep RELABELLED in a tmp dir with values scaled
by the test's factors; nothing here is a measurement of an H200.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2v_energy_lib.analysis.gpu_compare import compare_gpus
from t2v_energy_lib.cli import main
from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.report.gpu_compare import gpu_comparison_section, short_labels
from tests.test_cross_gpu import H100_FOLDER, relabelled_copy, source_folder, synthetic_calibration


def test_rows_pair_records_and_carry_ratios_power_and_flops(tmp_path: Path) -> None:
    second = relabelled_copy(tmp_path / "h200", scale_latency=0.8, scale_energy=0.9, keep=6)
    cmp = compare_gpus(source_folder(tmp_path), second)
    assert cmp.gpus[1] == "NVIDIA H200" and cmp.gpus[0].startswith("NVIDIA H100")
    steps = cmp.of("denoiser_step")
    assert len(steps) == 13  # parts of every point are kept; only the composed records were thinned
    assert len(cmp.of("composed")) == 6 and len(cmp.only_first) == 7
    for row in cmp.rows:
        assert row.latency_ratio == pytest.approx(0.8) and row.energy_ratio == pytest.approx(0.9)
        assert row.power_w[1] == pytest.approx(row.power_w[0] * 0.9 / 0.8)
    for row in steps:
        assert row.achieved_flops_per_s is not None
        assert row.achieved_flops_per_s[1] == pytest.approx(row.achieved_flops_per_s[0] / 0.8)
        # datasheets: same peak, 1.43x bandwidth -> never slower, at most 1.43x faster
        assert row.expected_latency_ratio is not None and 1 / 1.433 < row.expected_latency_ratio <= 1.0
    # larger shapes are more compute-bound: their expected gain is smaller
    by_tokens = sorted(steps, key=lambda r: r.token_length)
    assert by_tokens[0].expected_latency_ratio < by_tokens[-1].expected_latency_ratio


def test_section_lists_every_point_and_no_figure_of_its_own(tmp_path: Path) -> None:
    second = relabelled_copy(tmp_path / "h200", scale_latency=0.5)
    text = gpu_comparison_section(compare_gpus(source_folder(tmp_path), second))
    assert text.startswith("## NVIDIA H100 80GB HBM3 vs NVIDIA H200")
    assert "s/step H100" in text and "s/step H200" in text and "latency H200/H100" in text
    assert text.count("| resolution/wan2.1-t2v-1.3b/") >= 13 * 3
    assert "median latency ratio 0.5" in text


def test_same_gpu_or_nothing_in_common_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BaselineFormatError, match="both measured on"):
        compare_gpus(H100_FOLDER, source_folder(tmp_path))
    other = relabelled_copy(tmp_path / "h200")
    data = json.loads((other / "resolution.json").read_text())
    for r in data["records"]:
        r["id"] = "renamed/" + r["id"]
    (other / "resolution.json").write_text(json.dumps(data))
    with pytest.raises(BaselineFormatError, match="no record id in common"):
        compare_gpus(source_folder(tmp_path / "b"), other)


def test_short_labels() -> None:
    assert short_labels(("NVIDIA H100 80GB HBM3", "NVIDIA H200")) == ("H100", "H200")
    assert short_labels(("NVIDIA H100 PCIe", "NVIDIA H100 80GB HBM3")) == ("1st", "2nd")


def test_cli_predict_then_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = source_folder(tmp_path)
    cal = tmp_path / "h200-cal.json"
    cal.write_text(json.dumps(synthetic_calibration("NVIDIA H200")))
    pred = tmp_path / "prediction.json"
    assert (
        main(["gpus", "predict", "--from", str(source), "--calibration", str(cal), "--out", str(pred)]) == 0
    )
    doc = json.loads(pred.read_text())
    assert doc["target"]["gpu"] == "NVIDIA H200" and len(doc["points"]) == 13 and doc["created_utc"]
    measured = relabelled_copy(tmp_path / "h200", date="2999-01-01T00:00:00Z")
    assert main(["gpus", "score", str(pred), str(measured)]) == 0
    out = capsys.readouterr().out
    assert "per-video points scored: 13" in out and "written before measuring: yes" in out
    assert "latency MAPE" in out and "goal <= 5%" in out
    # the synthetic calibration differs from the H100's: the MAPE is not zero, and a strict gate fails
    assert main(["gpus", "score", str(pred), str(measured), "--fail-above", "0"]) == 1


def test_cli_compare_writes_markdown(tmp_path: Path) -> None:
    out = tmp_path / "gpus.md"
    second = relabelled_copy(tmp_path / "h200")
    assert main(["gpus", "compare", str(source_folder(tmp_path)), str(second), "--out", str(out)]) == 0
    assert "### Denoiser step by token length" in out.read_text()


def test_predict_accepts_a_calibration_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps(synthetic_calibration("NVIDIA H200", loaded_power_w=650.0)))
    assert main(["predict", "--model", "wan2.1-t2v-1.3b", "--gpu", str(cal), "--no-vae"]) == 0
    out = capsys.readouterr().out
    assert "Regime on NVIDIA H200 SXM 141GB (measured): peak 620 TFLOP/s, 3.100 TB/s" in out
    assert "nominal power 650 W" in out


def test_report_appends_the_gpu_section(tmp_path: Path) -> None:
    second = relabelled_copy(tmp_path / "h200", scale_latency=0.9)
    out = tmp_path / "report"
    argv = ["report", str(second), "--out", str(out), "--compare-gpu", str(source_folder(tmp_path))]
    assert main(argv) == 0
    text = (out / "REPORT.md").read_text()
    assert "## NVIDIA H100 80GB HBM3 vs NVIDIA H200, point by point" in text
    assert "median latency ratio 0.9" in text


def test_cli_score_min_points_gives_a_partial_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fewer points than the goal's 10 (e.g. the five H200 cross-model points): scored only with
    --min-points, and the goal is then reported as not judged, never as met."""
    cal = tmp_path / "h200-cal.json"
    cal.write_text(json.dumps(synthetic_calibration("NVIDIA H200")))
    pred = tmp_path / "prediction.json"
    main(
        [
            "gpus",
            "predict",
            "--from",
            str(source_folder(tmp_path)),
            "--calibration",
            str(cal),
            "--out",
            str(pred),
        ]
    )
    few = relabelled_copy(tmp_path / "few", keep=4, date="2999-01-01T00:00:00Z")
    assert main(["gpus", "score", str(pred), str(few)]) == 2
    assert "at least 10 are needed" in capsys.readouterr().err
    assert main(["gpus", "score", str(pred), str(few), "--min-points", "1"]) == 0
    out = capsys.readouterr().out
    assert "per-video points scored: 4" in out and "written before measuring: yes" in out
    assert "goal <= 5%: not judged (4 point(s); the goal is stated over at least 10" in out
    assert ": met" not in out and "NOT met" not in out
