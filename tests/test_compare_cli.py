"""`t2v-energy compare`: exit codes (0 pass, 1 regression, 2 errors), table output and the ratio chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2v_energy_lib.cli import main

GOLDEN = Path(__file__).parent / "data" / "results" / "synthetic_v1.json"
DENOISER = "synthetic/tiny-model/16x16x9-s2/denoiser_step"


def write_variant(path: Path, factor: float = 1.0, **gpu: object) -> Path:
    """The golden file with the denoiser's per-round energies scaled by ``factor`` (synthetic)."""
    doc = json.loads(GOLDEN.read_text())
    rounds = doc["records"][0]["rounds"]
    rounds["gpu_energy_j"] = [v * factor for v in rounds["gpu_energy_j"]]
    doc["provenance"]["gpu"].update(gpu)
    path.write_text(json.dumps(doc))
    return path


def test_same_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(GOLDEN), str(GOLDEN)]) == 0
    out = capsys.readouterr().out
    assert "PASSED: 0 regression(s)" in out and DENOISER in out


def test_regression_exits_1_and_writes_the_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current = write_variant(tmp_path / "current.json", factor=1.10)
    chart = tmp_path / "charts" / "ratio.png"
    assert main(["compare", str(GOLDEN), str(current), "--fail", "energy:5%", "--chart", str(chart)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and DENOISER in out and f"chart: {chart}" in out
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_folder_and_two_sided_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "baselines" / "synthetic-gpu-80gb" / "0.42.1"
    folder.mkdir(parents=True)
    write_variant(folder / "synthetic.json")
    faster = write_variant(tmp_path / "faster.json", factor=0.8)
    assert main(["compare", str(folder), str(faster)]) == 0
    assert main(["compare", str(folder), str(faster), "--two-sided"]) == 1
    assert "improvement" in capsys.readouterr().out


def test_hardware_mismatch_exits_2_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = write_variant(tmp_path / "other.json", name="Other Synthetic GPU")
    assert main(["compare", str(GOLDEN), str(other)]) == 2
    err = capsys.readouterr().err
    assert "different hardware" in err and "--allow-hardware-mismatch" in err
    assert main(["compare", str(GOLDEN), str(other), "--allow-hardware-mismatch"]) == 0


@pytest.mark.parametrize(
    ("content", "args", "expected"),
    [
        ('{"schema": "t2v-energy.results", "schema_ver', [], "is not valid JSON"),
        ('{"schema": "other", "records": []}', [], "'schema' is 'other'"),
        (None, ["--fail", "power:5%"], "--fail: unknown metric 'power'"),
        (None, ["--confidence", "1.5"], "--confidence must be in (0, 1)"),
    ],
)
def test_errors_exit_2_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, args: list[str], expected: str
) -> None:
    current = tmp_path / "current.json"
    if content is None:
        write_variant(current)
    else:
        current.write_text(content)
    assert main(["compare", str(GOLDEN), str(current), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("t2v-energy compare: error:") and expected in err
    if content is not None:
        assert str(current) in err
