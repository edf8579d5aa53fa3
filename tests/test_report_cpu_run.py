"""The report of a run without GPU energy (the CPU main job), on SYNTHETIC results stripped of GPU energy.

The synthetic folders of t2v_energy_lib.analysis.synthetic are turned into what a CPU run stores: latency
and host CPU/RAM energy flagged as estimated, no gpu_energy_j. Every number is synthetic.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from t2v_energy_lib.analysis.latency_view import (
    check_latency_sweeps,
    has_gpu_energy,
    host_energy_is_estimated,
)
from t2v_energy_lib.analysis.synthetic import SyntheticKnobs, synthetic_theory, write_synthetic_results
from t2v_energy_lib.report import write_report

SYNTHETIC_HOST_W = 40.0  # synthetic host power: host energy = 40 W x latency


def _as_cpu_run(folder: Path, flag_estimated: bool = True) -> Path:
    for path in folder.glob("*.json"):
        doc = json.loads(path.read_text())
        doc["provenance"]["gpu"] = None
        doc["provenance"].setdefault("settings", {})["tiny_cpu_run"] = True
        for r in doc["records"]:
            rounds = r["rounds"]
            for key in [k for k in rounds if k.startswith("gpu_")]:
                del rounds[key]
            if "latency_s" in rounds:
                rounds["cpu_energy_j"] = [SYNTHETIC_HOST_W * 0.9 * t for t in rounds["latency_s"]]
                rounds["ram_energy_j"] = [SYNTHETIC_HOST_W * 0.1 * t for t in rounds["latency_s"]]
                if flag_estimated:
                    r["extra"]["host_energy_estimated"] = True
        path.write_text(json.dumps(doc))
    return folder


@pytest.fixture(scope="module")
def cpu_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = _as_cpu_run(write_synthetic_results(tmp_path_factory.mktemp("cpu")))
    return write_report(folder, theory=synthetic_theory())


def test_first_lines_say_cpu_run_of_tiny_models_and_estimated_host_energy(cpu_report: Path) -> None:
    head = "\n".join(cpu_report.read_text().splitlines()[:4])
    assert "CPU RUN OF TINY MODELS, NOT THE STUDY'S MODELS" in head
    assert "GPU energy is not measured" in head and "ESTIMATED (no RAPL)" in head
    assert "SYNTHETIC DATA" in cpu_report.read_text()


def test_claim_table_runs_the_latency_parts_and_says_why_the_rest_is_not_checked(cpu_report: Path) -> None:
    text = cpu_report.read_text()
    for claim in ("quadratic_in_pixels", "quadratic_in_frames", "linear_in_steps"):
        rows = [line for line in text.splitlines() if line.startswith(f"| {claim} |")]
        assert rows and all("| latency_s | yes |" in row for row in rows), rows
    assert "| energy_j |" not in text
    for claim in ("compute_bound", "denoiser_dominates", "matmul_attention_dominate", "better_predictor"):
        assert f"`{claim}`" in text
    assert text.count("GPU energy not measured on this run: CPU run of the tiny model") >= 4
    assert "no 'gpu_energy_j' rounds" not in text


def test_plots_are_latency_sweeps_latency_breakdown_and_cpu_activity(cpu_report: Path) -> None:
    names = sorted(p.name for p in cpu_report.parent.glob("*.png"))
    for prefix in ("resolution_", "frames_", "steps_", "cross_model_latency", "operator_profile_cpu"):
        assert any(n.startswith(prefix) for n in names), names
    assert not any(n.startswith(("predictors_", "cross_model_energy", "power_timeline")) for n in names)
    text = cpu_report.read_text()
    for name in names:
        assert f"]({name})" in text
        assert (cpu_report.parent / name).stat().st_size > 10_000
    assert "CPU activity, not GPU kernel time" in text
    assert "power timeline skipped: no GPU on this run" in text


def test_latency_checks_and_host_labels() -> None:
    assert host_energy_is_estimated(SimpleNamespace(extra={"host_energy_estimated": True}))
    assert host_energy_is_estimated(SimpleNamespace(extra={})), "an unflagged host figure is an estimate"
    assert not host_energy_is_estimated(SimpleNamespace(extra={"host_energy_estimated": False}))


def test_unflagged_host_energy_is_still_labelled_estimated(tmp_path: Path) -> None:
    folder = _as_cpu_run(
        write_synthetic_results(tmp_path / "res", SyntheticKnobs(suites=("steps",))), flag_estimated=False
    )
    assert not has_gpu_energy(folder)
    steps = check_latency_sweeps(folder)["linear_in_steps"]
    points = [p for e in steps.details.values() for g in e["groups"].values() for p in g["points"]]
    assert points and all(p.host_estimated and p.host_energy_j for p in points)
    text = write_report(folder, tmp_path / "out", theory=synthetic_theory()).read_text()
    assert "host CPU+RAM energy is ESTIMATED (no RAPL)" in text.splitlines()[2]
