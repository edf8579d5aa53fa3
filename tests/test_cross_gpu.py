"""Prediction across GPUs: calibration files, the roofline transfer, predicting a folder and scoring it.

Every "H200" folder here is a copy of the stored H100 resolution sweep RELABELLED in a tmp dir, its values
scaled by factors the test chooses: SYNTHETIC test data, never a measurement. Calibrations are synthetic too,
except the H100's own meter reference check, read from the stored baseline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from t2v_energy_lib.analysis.cross_gpu import (
    MIN_SCORED_POINTS,
    ceilings,
    load_prediction,
    predict_folder,
    score_prediction,
    write_prediction,
)
from t2v_energy_lib.bench.calibrate import build_document, timed_rounds
from t2v_energy_lib.errors import BaselineFormatError, TooFewPointsError
from t2v_energy_lib.theory import GPUS, linear
from t2v_energy_lib.theory.calibration import SCHEMA, GpuCalibration
from t2v_energy_lib.theory.transfer import BoardPower, power_on_target, predict_part, transfer

H100_FOLDER = Path(__file__).resolve().parents[1] / "baselines" / "nvidia-h100-80gb-hbm3" / "0.42.1"
H200_NAME = "NVIDIA H200"


def synthetic_calibration(name: str, **overrides: Any) -> dict[str, Any]:
    """A SYNTHETIC calibration document (test-only figures)."""
    doc = {
        "schema": SCHEMA,
        "schema_version": 1,
        "gpu": {"name": name, "power_limit_w": 700.0},
        "date_utc": "2026-12-01T00:00:00Z",
        "matmul_flops_per_s": [6.0e14, 6.2e14, 6.1e14],
        "copy_bytes_per_s": [3.0e12, 3.1e12],
        "idle_power_w": 100.0,
        "loaded_power_w": 700.0,
    }
    doc.update(overrides)
    return doc


# ---------------------------------------------------------------------------------------------- calibration
def test_calibration_file_round_trips_and_keeps_rounds() -> None:
    cal = GpuCalibration.from_mapping(synthetic_calibration(H200_NAME), source="synthetic")
    assert cal.peak_matmul_flops_per_s == 6.2e14 and cal.peak_copy_bytes_per_s == 3.1e12
    assert cal.matmul_flops_per_s == (6.0e14, 6.2e14, 6.1e14)
    assert cal.dynamic_power_w == 600.0
    again = GpuCalibration.from_mapping(cal.to_dict(), source="again")
    assert again.matmul_flops_per_s == cal.matmul_flops_per_s and again.idle_power_w == cal.idle_power_w
    spec = cal.spec()
    assert spec.measured and spec.peak_flops == 6.2e14 and spec.tdp_w == GPUS["h200"].tdp_w


def test_calibration_reads_the_stored_meter_reference_check() -> None:
    """The H100 folder's reference.json (idle + matmul windows) reads as the H100's calibration."""
    cal = GpuCalibration.from_json(H100_FOLDER / "reference.json")
    raw = json.loads((H100_FOLDER / "reference.json").read_text())
    matmul = next(r for r in raw["records"] if r["component"] == "matmul")
    assert cal.gpu_name.startswith("NVIDIA H100")
    assert cal.matmul_flops_per_s == (matmul["extra"]["achieved_tflops"] * 1e12,)
    assert cal.loaded_power_w == matmul["extra"]["mean_power_w"]
    assert cal.idle_power_w == matmul["extra"]["idle_power_w"]
    assert cal.copy_bytes_per_s == ()  # the reference check measures no copy bandwidth


def test_calibration_reads_result_records_layout() -> None:
    doc = {
        "schema": "t2v-energy.results",
        "provenance": {"gpu": {"name": H200_NAME}, "date_utc": "2026-12-01T00:00:00Z"},
        "records": [
            {"component": "matmul", "rounds": {"matmul_flops_per_s": [7e14, 7.1e14]}, "extra": {}},
            {"component": "copy", "rounds": {"copy_bytes_per_s": [4e12]}},
            {"component": "idle", "rounds": {"power_w": [110.0, 112.0]}},
            {"component": "loaded", "rounds": {"power_w": [690.0]}},
        ],
    }
    cal = GpuCalibration.from_mapping(doc, source="records")
    assert (cal.peak_matmul_flops_per_s, cal.peak_copy_bytes_per_s) == (7.1e14, 4e12)
    assert (cal.idle_power_w, cal.loaded_power_w) == (111.0, 690.0)


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"idle_power_w": 800.0}, "idle_power_w"),
        ({"matmul_flops_per_s": []}, "matmul_flops_per_s"),
        ({"gpu": {}}, "names no GPU"),
        ({"schema": "other"}, "neither"),
    ],
)
def test_calibration_refuses_incoherent_files(override: dict[str, Any], match: str) -> None:
    with pytest.raises(BaselineFormatError, match=match):
        GpuCalibration.from_mapping(synthetic_calibration(H200_NAME, **override), source="bad")


def test_calibration_runner_document_is_a_readable_result_file(tmp_path: Path) -> None:
    from t2v_energy_lib.results import load_results

    settings = {"matmul_n": 8192, "copy_bytes": 1 << 30}
    prov = {"gpu": {"name": H200_NAME, "power_limit_w": 700.0}, "date_utc": "2026-12-01T00:00:00Z"}
    # SYNTHETIC rounds: (iterations, seconds); idle (5 s, 600 J) = 120 W; matmul window (10 s, 6900 J) = 690 W
    doc = build_document([(100, 2.0), (110, 2.0)], [(50, 1.0)], (5.0, 600.0), (10.0, 6900.0), prov, settings)
    cal = GpuCalibration.from_mapping(doc)
    assert cal.matmul_flops_per_s[1] == pytest.approx(110 * 2 * 8192**3 / 2.0)
    assert cal.copy_bytes_per_s == (50 * 2.0 * (1 << 30),)
    assert (cal.idle_power_w, cal.loaded_power_w) == (120.0, 690.0)
    (tmp_path / "calibration.json").write_text(json.dumps(doc))
    ids = {r.id for r in load_results(tmp_path).records}  # it can sit in a baseline folder
    assert "calibration/matmul-bf16-8192/matmul_ceiling" in ids
    with pytest.raises(BaselineFormatError):
        build_document([(100, 2.0)], [], (5.0, 3500.0), (10.0, 1200.0), prov, settings)  # idle above loaded


def test_timed_rounds_counts_iterations_per_round() -> None:
    calls = []
    rounds = timed_rounds(lambda: calls.append(1), lambda: None, seconds=0.02, rounds=2)
    assert len(rounds) == 2 and sum(i for i, _ in rounds) == len(calls)
    assert all(s >= 0.01 for _, s in rounds)


# ---------------------------------------------------------------------------------------------- transfer
def test_compute_bound_parts_keep_latency_on_datasheets_memory_bound_gain_bandwidth() -> None:
    h100, h200 = GPUS["h100"], GPUS["h200"]
    big = [linear("proj", "mlp", 32760, 1536, 8960)]  # intensity far above the ridge
    small = [linear("proj", "mlp", 1, 4096, 4096)]  # one row: weight-bound
    assert transfer(big, h100, h200).latency_ratio == pytest.approx(1.0)
    ratio = h100.mem_bandwidth_bytes_per_s / h200.mem_bandwidth_bytes_per_s
    assert transfer(small, h100, h200).latency_ratio == pytest.approx(ratio)
    assert transfer(big, h100, h200, measured_memory_share=0.5).latency_ratio == pytest.approx(
        0.5 + 0.5 * ratio
    )
    with pytest.raises(ValueError):
        transfer(big, h100, h200, measured_memory_share=1.5)


def test_power_moves_with_the_boards_dynamic_range() -> None:
    src, tgt = BoardPower(100.0, 700.0), BoardPower(120.0, 690.0)
    assert power_on_target(700.0, src, tgt) == pytest.approx(690.0)
    assert power_on_target(100.0, src, tgt) == pytest.approx(120.0)
    assert power_on_target(400.0, src, tgt) == pytest.approx(120.0 + 0.5 * 570.0)
    t, e, _ = predict_part(
        2.0, 800.0, [linear("p", "mlp", 32760, 1536, 8960)], GPUS["h100"], GPUS["h100"], src, src
    )
    assert (t, e) == pytest.approx((2.0, 800.0))  # same GPU, same board: unchanged


def test_ceilings_use_the_datasheet_ratio_where_one_side_has_no_copy_measurement() -> None:
    src = GpuCalibration.from_json(H100_FOLDER / "reference.json")
    tgt = GpuCalibration.from_mapping(synthetic_calibration(H200_NAME, copy_bytes_per_s=[4.0e12]))
    s, t, how = ceilings(src, tgt)
    assert t.mem_bandwidth_bytes_per_s == 4.0e12
    assert s.mem_bandwidth_bytes_per_s == pytest.approx(4.0e12 * 3.35 / 4.8)
    assert "datasheet ratio" in how


# ---------------------------------------------------------------------------------------------- a folder
def relabelled_copy(
    dest: Path,
    *,
    scale_latency: float = 1.0,
    scale_energy: float = 1.0,
    keep: int | None = None,
    date: str = "2026-12-02T00:00:00Z",
) -> Path:
    """The H100 resolution sweep RELABELLED as an H200 (SYNTHETIC: values scaled by the test's factors)."""
    data = json.loads((H100_FOLDER / "resolution.json").read_text())
    data["provenance"]["gpu"]["name"] = H200_NAME
    data["provenance"]["date_utc"] = date
    composed = 0
    records = []
    for r in data["records"]:
        if r["component"] == "composed":
            composed += 1
            if keep is not None and composed > keep:
                continue
        r["rounds"]["latency_s"] = [v * scale_latency for v in r["rounds"]["latency_s"]]
        if "gpu_energy_j" in r["rounds"]:
            r["rounds"]["gpu_energy_j"] = [v * scale_energy for v in r["rounds"]["gpu_energy_j"]]
        records.append(r)
    data["records"] = records
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "resolution.json").write_text(json.dumps(data))
    return dest


def source_folder(tmp_path: Path) -> Path:
    """The stored H100 resolution sweep and its meter reference check, copied unchanged."""
    src = tmp_path / "h100"
    src.mkdir(parents=True)
    for name in ("resolution.json", "reference.json"):
        (src / name).write_text((H100_FOLDER / name).read_text())
    return src


def identical_target(source: GpuCalibration) -> GpuCalibration:
    """The source's ceilings relabelled as an H200 (bandwidth equal on both sides): a no-op transfer."""
    return GpuCalibration(
        H200_NAME, source.matmul_flops_per_s, (3.0e12,), source.idle_power_w, source.loaded_power_w
    )


def with_copy(cal: GpuCalibration) -> GpuCalibration:
    """``cal`` with a SYNTHETIC copy bandwidth of 3 TB/s (so that both sides have the same)."""
    return GpuCalibration(
        cal.gpu_name, cal.matmul_flops_per_s, (3.0e12,), cal.idle_power_w, cal.loaded_power_w
    )


def test_identical_ceilings_predict_the_source_and_score_zero(tmp_path: Path) -> None:
    src_folder = source_folder(tmp_path)
    src_cal = with_copy(GpuCalibration.from_json(src_folder / "reference.json"))
    doc = predict_folder(src_folder, identical_target(src_cal), src_cal, created_utc="2026-12-01T00:00:00Z")
    assert len(doc["points"]) >= MIN_SCORED_POINTS and not doc["skipped"]
    for p in doc["points"].values():
        assert p["latency_s"] == pytest.approx(p["source_latency_s"], rel=1e-9)
        assert p["gpu_energy_j"] == pytest.approx(p["source_energy_j"], rel=1e-9)
    path = write_prediction(tmp_path / "prediction.json", doc)
    score = score_prediction(load_prediction(path), relabelled_copy(tmp_path / "h200"))
    assert score.latency_mape_pct == pytest.approx(0.0, abs=1e-9) and score.meets_goal
    assert score.predicted_before_measured is True


def test_a_ten_percent_miss_fails_the_goal_and_is_stated(tmp_path: Path) -> None:
    src_folder = source_folder(tmp_path)
    src_cal = with_copy(GpuCalibration.from_json(src_folder / "reference.json"))
    doc = predict_folder(src_folder, identical_target(src_cal), src_cal, created_utc="2026-12-03T00:00:00Z")
    measured = relabelled_copy(tmp_path / "h200", scale_latency=1.1, scale_energy=1.0)
    score = score_prediction(doc, measured)
    assert score.latency_mape_pct == pytest.approx(100 * (1 - 1 / 1.1), rel=1e-6)
    assert score.energy_mape_pct == pytest.approx(0.0, abs=1e-9)
    assert not score.meets_goal
    assert score.predicted_before_measured is False  # written after the (synthetic) measurement date


def test_scoring_needs_ten_points_and_the_predicted_gpu(tmp_path: Path) -> None:
    src_folder = source_folder(tmp_path)
    src_cal = GpuCalibration.from_json(src_folder / "reference.json")
    doc = predict_folder(src_folder, identical_target(src_cal))
    with pytest.raises(TooFewPointsError, match="at least 10"):
        score_prediction(doc, relabelled_copy(tmp_path / "few", keep=4))
    with pytest.raises(BaselineFormatError, match="prediction is for"):
        score_prediction(doc, src_folder)  # the H100 folder itself


def test_h100_to_h200_datasheets_expect_small_gains(tmp_path: Path) -> None:
    """Same matmul ceiling and board power, 1.43x bandwidth: every point a little faster, none slower."""
    src_folder = source_folder(tmp_path)
    src_cal = GpuCalibration.from_json(src_folder / "reference.json")
    tgt = GpuCalibration(
        H200_NAME, src_cal.matmul_flops_per_s, (), src_cal.idle_power_w, src_cal.loaded_power_w
    )
    doc = predict_folder(src_folder, tgt)
    for p in doc["points"].values():
        assert 1 / 1.433 < p["latency_s"] / p["source_latency_s"] <= 1.0 + 1e-12


def test_calibration_runner_refuses_without_a_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the refusal path is for machines without one")
    from t2v_energy_lib.bench.calibrate import main

    assert main([str(tmp_path / "cal.json")]) == 2
    assert "torch.cuda is not available" in capsys.readouterr().err
    assert not (tmp_path / "cal.json").exists()


def test_only_points_measured_after_the_prediction_count_as_blind(tmp_path: Path) -> None:
    """A folder merged from an earlier and a later run: the prediction, written between them, is scored
    prospectively on the later run's points only, and the printed score says which is which."""
    from t2v_energy_lib.report.gpu_compare import score_lines
    from t2v_energy_lib.scaleout.merge import merge_result_files

    src_folder = source_folder(tmp_path)
    src_cal = with_copy(GpuCalibration.from_json(src_folder / "reference.json"))
    doc = predict_folder(src_folder, identical_target(src_cal), src_cal, created_utc="2026-12-02T12:00:00Z")
    both = json.loads(
        (relabelled_copy(tmp_path / "all", date="2026-12-02T00:00:00Z") / "resolution.json").read_text()
    )
    composed = [r for r in both["records"] if r["component"] == "composed"]
    later_ids = {r["id"] for r in composed[:4]}
    runs = tmp_path / "runs"
    runs.mkdir()
    for name, date, keep in (
        ("early.json", "2026-12-02T00:00:00Z", False),
        ("late.json", "2026-12-03T00:00:00Z", True),
    ):
        provenance = {k: v for k, v in both["provenance"].items() if k not in ("workers", "devices")}
        part = dict(both, provenance=dict(provenance, date_utc=date))  # one run each, not a merge
        part["records"] = [
            dict(r, machine_state={k: v for k, v in r["machine_state"].items() if k != "result_file"})
            for r in both["records"]
            if (r["id"] in later_ids) == keep
        ]
        (runs / name).write_text(json.dumps(part))
    (tmp_path / "h200").mkdir()
    merge_result_files([runs / "early.json", runs / "late.json"], tmp_path / "h200" / "resolution.json")
    score = score_prediction(doc, tmp_path / "h200")
    assert score.predicted_before_measured is False  # the folder's first run predates the prediction
    assert {p.record_id for p in score.blind_points} == later_ids
    printed = "\n".join(score_lines(score, doc))
    assert "blind (measured after the prediction was written): 4 point(s)" in printed
    assert "partial" in printed  # 4 blind points: the goal is not judged on them


def test_a_worker_name_seen_twice_dates_its_records_by_the_earlier_run(tmp_path: Path) -> None:
    """Older merges named two workers by the same file name: their records are dated by the earlier run, so
    a record is never counted as measured after a prediction when it may have been measured before."""
    from t2v_energy_lib.analysis.cross_gpu import record_measured_utc

    workers = [
        {"source": "resolution.json", "date_utc": "2026-12-01T00:00:00Z"},
        {"source": "resolution.json", "date_utc": "2026-12-03T00:00:00Z"},  # the later one last
    ]
    record = {"id": "a/b/composed", "machine_state": {"result_file": "resolution.json"}}
    doc = {"provenance": {"date_utc": "2026-12-05T00:00:00Z", "workers": workers}, "records": [record]}
    (tmp_path / "resolution.json").write_text(json.dumps(doc))
    assert record_measured_utc(tmp_path) == {"a/b/composed": "2026-12-01T00:00:00Z"}
