"""The report's Scale-out section: table, chart and conditions, on SYNTHETIC scale-out records (and, where the
repository holds one, the stored H100 scale-out baseline, checked against the view it is drawn from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from t2v_energy_lib.analysis.scaleout_view import scaleout_rows
from t2v_energy_lib.report import fmt, write_report
from t2v_energy_lib.report.scaleout_section import PNG_NAME, TABLE_HEADERS, has_scaleout, section_lines
from t2v_energy_lib.results import ResultFile, ResultRecord, load_results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MODEL = "wan2.1-t2v-14b"
SIZE = {"height": 480, "width": 832, "num_frames": 81, "guidance_scale": 5.0}
STORED = Path(__file__).resolve().parents[1] / "baselines/nvidia-h100-80gb-hbm3/0.42.1/scaleout.json"


def step(mode: str, n: int, latency_s: float, device_j: float) -> ResultRecord:
    """Synthetic scale-out record: ``device_j`` J per step on each of ``n`` synthetic devices."""
    devices = [f"GPU-synthetic-{i}" for i in range(n)]
    return ResultRecord(
        id=f"scaleout/{MODEL}/480x832x81-g5/{mode}-n{n}/denoise_step",
        suite="scaleout",
        model=MODEL,
        component="denoise_step",
        settings={**SIZE, "mode": mode, "world_size": n},
        rounds={"latency_s": [latency_s] * 3, "gpu_energy_j": [device_j * n] * 3},
        units_per_round=3,
        extra={
            "devices": devices,
            "per_device_gpu_energy_j": {d: [device_j] * 3 for d in devices},
            "random_weights": True,
        },
    )


def part(component: str, latency_s: float, energy_j: float) -> ResultRecord:
    return ResultRecord(
        id=f"cross_model/{MODEL}/480x832x81-s50/{component}",
        suite="cross_model",
        model=MODEL,
        component=component,
        settings={**SIZE, "num_inference_steps": 50},
        rounds={"latency_s": [latency_s], "gpu_energy_j": [energy_j]},
    )


SYNTHETIC = (
    step("reference", 1, 10.0, 1000.0),
    step("ring", 2, 5.5, 540.0),
    step("ulysses", 2, 5.2, 530.0),
    step("ring", 4, 3.0, 300.0),
    step("ulysses", 4, 2.8, 290.0),
    part("text_encoder", 0.5, 100.0),
    part("vae_decode", 4.0, 3000.0),
)
PROVENANCE = {"synthetic": True, "host": {"hostname": "synthetic-host"}, "gpu": {"name": "synthetic GPU"}}


def synthetic_results(*records: Any) -> ResultFile:
    return ResultFile(provenance=PROVENANCE, records=records or SYNTHETIC)


def test_section_has_the_table_the_chart_and_the_conditions(tmp_path: Path) -> None:
    rf = synthetic_results()
    section = section_lines(rf, tmp_path)
    text = "\n".join(section)
    lines = text.splitlines()
    assert section[:3] == ["", "## Scale-out", ""]
    png = tmp_path / PNG_NAME
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 20_000, f"{png} is suspiciously small ({len(data)} B)"
    assert f"]({PNG_NAME})" in text
    assert fmt.md_table(TABLE_HEADERS, [])[:40] in text
    rows = scaleout_rows(rf, include_reference=True)
    assert len(rows) == 5
    for row in rows:  # every row is in the table, with the view's figures as the formatter writes them
        cells = [row.mode, str(row.n_gpus), fmt.num(row.speedup, 3), fmt.pct(row.efficiency)]
        (line,) = [
            li for li in lines if li.startswith(f"| {MODEL} | 480x832x81-g5 | {row.mode} | {row.n_gpus} |")
        ]
        assert all(f"| {c} |" in line for c in cells[2:]), (row.record_id, cells, line)
    for phrase in (
        "metered per device and summed over the GPUs",
        "how its runs were scheduled",
        "Random weights",
        "denoiser only",
        "COMPOSED, not measured",
        "only the denoiser is parallel",
        "4 distinct GPUs",
        "synthetic-host",
    ):
        assert phrase in text, phrase


def test_results_without_scaleout_records_get_no_section(tmp_path: Path) -> None:
    rf = synthetic_results(part("vae_decode", 4.0, 3000.0))
    assert not has_scaleout(rf)
    assert section_lines(rf, tmp_path) == []
    assert not (tmp_path / PNG_NAME).exists()


def test_a_parallel_record_without_reference_is_said_not_hidden(tmp_path: Path) -> None:
    rf = synthetic_results(step("ring", 2, 5.5, 540.0))
    lines = section_lines(rf, tmp_path)
    assert "## Scale-out" in lines
    assert any(line.startswith("- scale-out table and chart skipped: no 1-GPU reference") for line in lines)
    assert not (tmp_path / PNG_NAME).exists()


def test_write_report_appends_the_scaleout_section_after_cross_model(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "scaleout.json").write_text(json.dumps(synthetic_results().to_dict()))
    report = write_report(folder, out_dir=tmp_path / "report")
    text = report.read_text()
    assert text.index("## Cross-model") < text.index("## Scale-out")
    assert f"]({PNG_NAME})" in text and (report.parent / PNG_NAME).is_file()


@pytest.mark.skipif(not STORED.is_file(), reason=f"no stored scale-out baseline at {STORED}")
def test_stored_h100_baseline_section_matches_its_view(tmp_path: Path) -> None:
    rf = load_results(STORED)
    rows = scaleout_rows(rf, include_reference=True)
    lines = "\n".join(section_lines(rf, tmp_path)).splitlines()
    table = [line for line in lines if line.startswith(f"| {MODEL} |")]
    assert len(table) == len(rows) == len(rf.select(suite="scaleout"))
    for row, line in zip(rows, table, strict=True):
        assert f"| {fmt.pct(row.energy_overhead)} |" in line and f"| {fmt.pct(row.efficiency)} |" in line
