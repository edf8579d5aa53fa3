"""A result set opened once into an indexed view (ResultFolder); SYNTHETIC records, no measurement."""

from __future__ import annotations

from pathlib import Path

import pytest

from t2v_energy_lib.analysis.points import open_results
from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.results import ResultFile, ResultRecord, ResultWriter
from t2v_energy_lib.results.folder import ResultFolder


def _record(suite: str, model: str, component: str, height: int) -> ResultRecord:
    settings = {"height": height, "width": 32, "num_frames": 9}
    rid = f"{suite}/{model}/{height}/{component}"
    return ResultRecord(rid, suite, model, component, settings, {"latency_s": [float(height)]})


RECORDS = tuple(
    _record(suite, model, component, h)
    for suite in ("resolution", "frames")
    for model in ("m1", "m2")
    for component in ("denoiser_step", "vae_decode")
    for h in (16, 32)
)


def test_select_answers_like_a_result_file_scan() -> None:
    rf = ResultFile({"gpu": None}, RECORDS)
    folder = ResultFolder.open(rf)
    for suite in (None, "resolution", "frames", "steps"):
        for model in (None, "m1", "m2"):
            for component in (None, "denoiser_step", "vae_decode"):
                assert folder.select(suite, model, component) == rf.select(suite, model, component)
    assert folder.suites() == ("resolution", "frames") and folder.models("frames") == ("m1", "m2")
    assert [r.id for r in folder.at_settings("frames", "m2", {"height": 32}, "vae_decode")] == [
        "frames/m2/32/vae_decode"
    ]
    assert folder.result_file is rf and folder.provenance == {"gpu": None} and len(folder) == len(RECORDS)


def test_open_reads_a_path_once_and_passes_an_open_folder_through(tmp_path: Path) -> None:
    writer = ResultWriter(tmp_path / "resolution.json", {"gpu": None, "versions": {}}, resume=False)
    for record in RECORDS[:4]:
        writer.add(record)
    folder, label = open_results(tmp_path)
    assert isinstance(folder, ResultFolder) and label == str(tmp_path)
    assert [r.id for r in folder.records] == [r.id for r in RECORDS[:4]]
    again, again_label = open_results(folder)
    assert again is folder and again_label == label
    with pytest.raises(BaselineFormatError):
        ResultFolder.open(tmp_path / "missing")
