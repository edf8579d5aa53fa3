"""Result-file schema: the golden file, validation errors, folders, summaries (synthetic data only)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import statistics
from pathlib import Path

import pytest

from t2v_energy_lib.errors import BaselineFormatError, HardwareMismatchError
from t2v_energy_lib.results import SCHEMA, SCHEMA_VERSION, ResultFile, ResultRecord, load_results, summarize

GOLDEN = Path(__file__).parent / "data" / "results" / "synthetic_v1.json"
DENOISER = "synthetic/tiny-model/16x16x9-s2/denoiser_step"


def golden_doc() -> dict:
    return json.loads(GOLDEN.read_text())


def write(path: Path, doc: dict | str) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_golden_file_loads_with_raw_rounds() -> None:
    rf = load_results(GOLDEN)
    assert rf.path == GOLDEN
    assert [r.component for r in rf.records] == ["denoiser_step", "vae_decode", "end_to_end"]
    rec = rf.by_id()[DENOISER]
    assert rec.rounds["gpu_energy_j"] == (100.0, 101.0, 99.0, 100.5, 99.5)
    assert rec.settings["num_frames"] == 9
    assert rf.by_id()["synthetic/tiny-model/16x16x9-s2/end_to_end"].composed
    assert [r.id for r in rf.select(component="vae_decode")] == ["synthetic/tiny-model/16x16x9-s2/vae_decode"]
    assert len(rf.select(suite="synthetic", model="tiny-model")) == 3
    assert rf.select(model="other") == []


def test_round_trip_reproduces_the_golden_document() -> None:
    rf = load_results(GOLDEN)
    assert rf.to_dict() == golden_doc()
    assert ResultRecord.from_dict(rf.records[0].to_dict()) == rf.records[0]


def test_record_is_frozen_and_copies_its_inputs() -> None:
    rounds = {"latency_s": [1.0, 2.0]}
    rec = ResultRecord("a/b", "a", "m", "c", {}, rounds)
    rounds["latency_s"].append(3.0)
    assert rec.rounds["latency_s"] == (1.0, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.id = "x"  # type: ignore[misc]


def test_negative_energy_above_idle_is_allowed_but_negative_energy_is_not() -> None:
    ResultRecord("a", "s", "m", "c", {}, {"gpu_energy_above_idle_j": [-0.5, 0.5]})
    with pytest.raises(BaselineFormatError, match="negative"):
        ResultRecord("a", "s", "m", "c", {}, {"gpu_energy_j": [-0.5]})


def _corrupt(kind: str) -> dict | str:
    doc = golden_doc()
    if kind == "truncated":
        return json.dumps(doc)[:200]
    if kind == "top-level-list":
        return "[]"
    if kind == "wrong-schema":
        doc["schema"] = "pytest-benchmark"
    elif kind == "no-schema":
        del doc["schema"]
    elif kind == "newer-version":
        doc["schema_version"] = SCHEMA_VERSION + 1
    elif kind == "no-rounds":
        del doc["records"][1]["rounds"]
    elif kind == "nan-energy":
        return json.dumps(doc).replace("101.0", "NaN")
    elif kind == "negative-energy":
        doc["records"][0]["rounds"]["gpu_energy_j"][2] = -1.0
    elif kind == "string-round":
        doc["records"][0]["rounds"]["latency_s"][0] = "1.0"
    elif kind == "no-records":
        del doc["records"]
    elif kind == "duplicate-id":
        doc["records"][1]["id"] = doc["records"][0]["id"]
    elif kind == "bad-units-per-round":
        doc["records"][2]["units_per_round"] = 0
    return doc


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("truncated", r"not valid JSON .*corrupt or truncated"),
        ("top-level-list", r"top level is a list"),
        ("wrong-schema", r"'schema' is 'pytest-benchmark', expected 't2v-energy.results'"),
        ("no-schema", r"'schema' is None"),
        ("newer-version", r"schema_version 2 is newer .*upgrade t2v-energy"),
        ("no-rounds", r"record 1 \('synthetic/tiny-model/16x16x9-s2/vae_decode'\) has no 'rounds'; regen"),
        ("nan-energy", r"record 0 .*rounds\['gpu_energy_j'\]\[1\] is nan"),
        ("negative-energy", r"record 0 .*negative \(-1.0\); energies must be >= 0 J"),
        ("string-round", r"rounds\['latency_s'\]\[0\] is str, not a number"),
        ("no-records", r"has no 'records' list"),
        ("duplicate-id", r"duplicate record id"),
        ("bad-units-per-round", r"record 2 .*'units_per_round' must be an integer >= 1"),
    ],
)
def test_invalid_file_error_names_file_problem_and_fix(tmp_path: Path, kind: str, expected: str) -> None:
    path = write(tmp_path / f"{kind}.json", _corrupt(kind))
    with pytest.raises(BaselineFormatError, match=expected) as info:
        load_results(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "t2v-energy" in message  # every message says how to fix it (regenerate or upgrade)


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BaselineFormatError, match="no such result file or folder"):
        load_results(tmp_path / "absent.json")


def test_folder_merges_files_recursively_and_skips_temp_files(tmp_path: Path) -> None:
    doc = golden_doc()
    first, second = copy.deepcopy(doc), copy.deepcopy(doc)
    first["records"] = doc["records"][:1]
    second["records"] = doc["records"][1:]
    (tmp_path / "sub").mkdir()
    write(tmp_path / "a.json", first)
    write(tmp_path / "sub" / "b.json", second)
    write(tmp_path / ".a.json.123.tmp.json", "{half-written")  # leftover of an interrupted write
    merged = load_results(tmp_path)
    assert merged.path == tmp_path
    assert sorted(merged.by_id()) == sorted(r["id"] for r in doc["records"])
    assert merged.provenance["gpu"]["name"] == "Synthetic GPU 80GB"


def test_history_job_parts_under_runs_are_passed_over_beside_their_merged_file(tmp_path: Path) -> None:
    """``<version>/runs/<job>/history.json`` repeats records of the merged ``<version>/history.json``."""
    from t2v_energy_lib.results.storage import find_baseline_folders

    version = tmp_path / "gpu" / "0.42.1"
    (version / "runs" / "r0-model").mkdir(parents=True)
    write(version / "history.json", golden_doc())
    write(version / "runs" / "r0-model" / "history.json", golden_doc())
    assert sorted(load_results(version).by_id()) == sorted(r["id"] for r in golden_doc()["records"])
    assert find_baseline_folders(tmp_path) == [version]


def test_folder_with_duplicate_ids_names_both_files(tmp_path: Path) -> None:
    write(tmp_path / "a.json", golden_doc())
    write(tmp_path / "b.json", golden_doc())
    with pytest.raises(BaselineFormatError, match=r"is in both .*a\.json and .*b\.json"):
        load_results(tmp_path)


def test_folder_mixing_hardware_is_refused(tmp_path: Path) -> None:
    other = golden_doc()
    other["provenance"]["gpu"]["name"] = "Another Synthetic GPU"
    other["records"] = []
    write(tmp_path / "a.json", golden_doc())
    write(tmp_path / "b.json", other)
    with pytest.raises(HardwareMismatchError, match="GPU model"):
        load_results(tmp_path)


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BaselineFormatError, match=r"holds no \*\.json"):
        load_results(tmp_path)


def test_result_file_header_constants() -> None:
    assert (SCHEMA, SCHEMA_VERSION) == ("t2v-energy.results", 1)
    rf = ResultFile(provenance={}, records=())
    assert rf.to_dict() == {"schema": SCHEMA, "schema_version": 1, "provenance": {}, "records": []}


def test_summarize_matches_hand_computation() -> None:
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert (s.n, s.mean, s.median, s.min, s.max) == (4, 2.5, 2.5, 1.0, 4.0)
    assert s.stddev == pytest.approx(statistics.stdev([1.0, 2.0, 3.0, 4.0]))
    assert s.iqr == pytest.approx(3.25 - 1.75)  # inclusive quartiles of 1..4
    assert s.rel_stddev == pytest.approx(s.stddev / 2.5)
    one = summarize([7.0])
    assert one.n == 1 and one.iqr == 0.0 and math.isnan(one.stddev) and math.isnan(one.rel_stddev)
    with pytest.raises(ValueError, match="at least one value"):
        summarize([])
