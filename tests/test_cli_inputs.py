"""Bad inputs of the CLI fail before anything is measured or written, in one line, exit code 2 (issue 17).

Each case was a silent wrong answer or a late traceback: ``predict --frames 0`` predicted the defaults,
``--power-w -100`` printed negative energy, ``characterize --points 5-2`` measured nothing and exited 0, an
unwritable ``--out`` failed after measuring. Every figure here is computed by the commands themselves.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from unwritable import unwritable_folder

from t2v_energy_lib.analysis.synthetic import write_synthetic_results
from t2v_energy_lib.bench.scenarios import parse_points
from t2v_energy_lib.cli import main
from t2v_energy_lib.errors import InvalidSettingsError
from t2v_energy_lib.results import ResultWriter

GOLDEN = Path(__file__).parent / "data" / "results" / "synthetic_v1.json"
WAN = ["predict", "--model", "wan2.1-t2v-1.3b"]


def _one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Path:
    """A folder this process cannot create files in."""
    return unwritable_folder(tmp_path)


# ----------------------------------------------------------------------------------------------- predict
@pytest.mark.parametrize("option", ["--frames", "--steps", "--height", "--width"])
def test_predict_zero_is_refused_not_the_default(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*WAN, option, "0"]) == 2
    _one_line_error(capsys, option, "positive")


@pytest.mark.parametrize(
    "option", ["--power-w", "--measured-tflops", "--measured-bw-gbs", "--valid-text-tokens"]
)
def test_predict_negative_quantities_are_refused(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    value = "-100" if option != "--valid-text-tokens" else "-1"
    assert main([*WAN, option, value]) == 2
    _one_line_error(capsys, option)


def test_predict_given_power_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*WAN, "--power-w", "100"]) == 0
    assert "nominal power 100 W" in capsys.readouterr().out


def test_predict_absurd_size_warns_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*WAN, "--height", "100000", "--width", "100000"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("WARNING: 100000x100000x81-s50") and "extrapolate" in first
    assert main([*WAN, "--height", "720", "--width", "1280"]) == 0
    assert "WARNING" not in capsys.readouterr().out


def test_predict_fit_on_a_cpu_run_fits_latency_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run without GPU energy (what the CPU main job stores) gives a latency fit, never an energy figure."""
    folder = write_synthetic_results(tmp_path / "cpu")
    for path in folder.glob("*.json"):  # what a CPU run stores: latency, no GPU energy
        doc = json.loads(path.read_text())
        for record in doc["records"]:
            for key in [k for k in record["rounds"] if k.startswith("gpu_")]:
                del record["rounds"][key]
        path.write_text(json.dumps(doc))
    assert main([*WAN, "--fit", str(folder)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "LATENCY ONLY" in out and "energy is not fitted" in out
    fit = out[out.index("Predictors fitted") :]
    assert " J" not in fit and "Wh" not in fit and "latency R^2" in fit
    assert "per step" in fit


# ------------------------------------------------------------------------------------------ characterize
def _characterize(tmp_path: Path, *extra: str) -> int:
    return main(["characterize", "--device", "cpu", "--out", str(tmp_path / "o"), "--no-report", *extra])


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--time-budget-s", "-1"], "--time-budget-s"),
        (["--resume", "--overwrite"], "--resume"),
        (["--dtype", "garbage"], "--dtype"),
        (["--window-s", "0"], "--window-s"),
        (["--measured-steps", "0"], "--measured-steps"),
        (["--idle-s", "-1"], "--idle-s"),
        (["--model", "cogvideox-2b"], "--model"),  # validation has fixed models: --model would be ignored
    ],
)
def test_characterize_refuses_bad_options_before_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    assert _characterize(tmp_path, "--suites", "validation", *extra) == 2
    _one_line_error(capsys, needle)
    assert not (tmp_path / "o").exists()  # nothing built, nothing written


def test_characterize_unknown_model_is_refused_before_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _characterize(tmp_path, "--suites", "cross_model", "--model", "nosuch") == 2
    _one_line_error(capsys, "nosuch", "wan2.1-t2v-1.3b")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("points", ["5-2", "99-"])
def test_characterize_empty_point_range_names_the_valid_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], points: str
) -> None:
    assert _characterize(tmp_path, "--suites", "validation", "--points", points) == 2
    _one_line_error(capsys, points, "0..2", "validation")
    assert not list((tmp_path / "o").glob("*.json"))


def test_parse_points_ranges() -> None:
    assert parse_points("0-2,5", 7) == (0, 1, 2, 5)
    assert parse_points("5-", 7) == (5, 6)
    assert parse_points("6-", 7) == (6,)
    for bad in ("5-2", "7-", "99-"):
        with pytest.raises(InvalidSettingsError, match=r"selects no point.*0\.\.6"):
            parse_points(bad, 7)


def test_characterize_out_is_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "o"
    target.write_text("not a folder")
    assert _characterize(tmp_path, "--suites", "validation") == 2
    _one_line_error(capsys, "--out", "existing file")
    below = ["characterize", "--device", "cpu", "--no-report", "--out", str(target / "sub")]
    assert main(below) == 2
    _one_line_error(capsys, "is a file")


def test_characterize_out_unwritable(unwritable_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = unwritable_dir / "t2v-energy-results"
    assert main(["characterize", "--device", "cpu", "--no-report", "--out", str(out)]) == 2
    _one_line_error(capsys, "--out", "cannot write")


# ------------------------------------------------------------------------------------- report, compare
def test_report_out_unwritable(unwritable_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(GOLDEN), "--out", str(unwritable_dir / "r")]) == 2
    _one_line_error(capsys, "--out", "cannot write")


def test_compare_chart_unwritable_fails_before_the_verdict(
    unwritable_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(GOLDEN), str(GOLDEN), "--chart", str(unwritable_dir / "r.png")]) == 2
    _one_line_error(capsys, "--chart", "cannot write")
    assert "PASSED" not in capsys.readouterr().out


def test_compare_chart_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(GOLDEN), str(GOLDEN), "--chart", str(tmp_path)]) == 2
    _one_line_error(capsys, "--chart", "is a folder")


# -------------------------------------------------------------------------------------- written files
def test_result_files_are_readable_by_others(tmp_path: Path) -> None:
    """mkstemp makes 0600 files; result files are shared (0644 under the usual umask 022)."""
    old = os.umask(0o022)
    try:
        writer = ResultWriter(tmp_path / "r.json", {"gpu": None}, resume=False)
        from t2v_energy_lib.results import load_results

        writer.add(load_results(GOLDEN).records[0])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644


def test_predict_missing_calibration_file_is_named_as_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*WAN, "--gpu", str(tmp_path / "h200-cal.json")]) == 2
    _one_line_error(capsys, "--gpu", "no such calibration file")
