"""``t2v-energy characterize`` on the CPU with the real tiny Wan pipeline (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from t2v_energy_lib.cli import main
from t2v_energy_lib.results.storage import load_results


def test_cpu_run_is_loud_and_writes_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "res"
    code = main(
        [
            "characterize",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--suites",
            "validation,steps",
            "--points",
            "0",
            "--measured-steps",
            "2",
            "--no-report",
        ]
    )
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("*** CPU RUN")
    assert code == 0, text
    val = load_results(out / "validation.json")
    assert val.provenance["settings"]["tiny_cpu_run"] is True
    e2e = [r for r in val.records if r.component == "end_to_end"]
    assert e2e and e2e[0].extra["host_energy_estimated"] is True
    assert "host_energy_j" in e2e[0].rounds and "gpu_energy_j" not in e2e[0].rounds
    steps = load_results(out / "steps.json").by_id()
    assert "steps/wan2.1-t2v-1.3b-tiny/32x48x9-s1/denoise_loop" in steps
    # a second command adds to the same files and skips what is there
    assert (
        main(
            [
                "characterize",
                "--device",
                "cpu",
                "--out",
                str(out),
                "--suites",
                "validation",
                "--points",
                "0-1",
                "--resume",
                "--no-report",
            ]
        )
        == 0
    )
    assert "1 measured, 1 skipped" in capsys.readouterr().out


def test_bad_point_selection_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "characterize",
            "--device",
            "cpu",
            "--out",
            str(tmp_path),
            "--suites",
            "validation",
            "--points",
            "0-99",
            "--no-report",
        ]
    )
    assert code == 2
    assert "outside" in capsys.readouterr().err


def test_complete_generations_run_wherever_the_cross_model_claim_requires_them() -> None:
    """characterize's --e2e-max-s default, the runner's and the claim's limit are one figure."""
    from t2v_energy_lib.analysis.complete_generations import COMPLETE_GENERATION_MAX_S
    from t2v_energy_lib.bench import RunOptions
    from t2v_energy_lib.cli import build_parser

    args = build_parser().parse_args(["characterize"])
    assert args.e2e_max_s == COMPLETE_GENERATION_MAX_S
    assert RunOptions(out_dir=Path(".")).e2e_max_s == COMPLETE_GENERATION_MAX_S


def test_a_gpu_characterisation_brings_its_own_ceiling_calibration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compute-bound claim needs a ceiling measured on the same GPU: each GPU run calibrates once."""
    import json

    from t2v_energy_lib.bench import calibrate
    from t2v_energy_lib.commands.characterize import calibrate_once

    calls: list[tuple[Path, int]] = []

    def fake_calibration(path: Path, device: int = 0) -> dict:
        calls.append((path, device))
        doc = {"provenance": {"gpu": {"uuid": "GPU-this"}}, "records": []}
        Path(path).write_text(json.dumps(doc))
        return doc

    monkeypatch.setattr(calibrate, "run_calibration", fake_calibration)
    line = calibrate_once(tmp_path, "cuda:1", "GPU-this")
    assert calls == [(tmp_path / "calibration.json", 1)] and "measured" in line
    assert "kept" in calibrate_once(tmp_path, "cuda:1", "GPU-this") and len(calls) == 1
    other = calibrate_once(tmp_path, "cuda:0", "GPU-other")
    assert len(calls) == 1 and "GPU-this" in other and "bench.calibrate" in other
