"""Merging per-worker result files: nothing lost, nothing duplicated, a failed worker's records kept.

All provenance and round values here are synthetic (made-up UUIDs, energies and latencies).
"""

from __future__ import annotations

import json

import pytest

from t2v_energy_lib.errors import BaselineFormatError, HardwareMismatchError, ResultConflictError
from t2v_energy_lib.results.schema import ResultRecord
from t2v_energy_lib.results.storage import ResultWriter, load_results
from t2v_energy_lib.scaleout.merge import find_worker_files, merge_result_files, worker_result_path


def provenance(uuid: str, *, gpu_name: str = "SYNTHETIC GPU", diffusers: str = "0.42.1") -> dict:
    return {
        "gpu": {
            "index": 0,
            "name": gpu_name,
            "uuid": uuid,
            "driver_version": "000.synthetic",
            "power_limit_w": 1.0,
        },
        "versions": {"diffusers": diffusers, "torch": "synthetic"},
        "date_utc": "2000-01-01T00:00:00Z",
        "settings": {},
    }


def record(test: int, energy_j: float = 1.0) -> ResultRecord:
    return ResultRecord(
        id=f"synthetic/model/test{test}/denoiser_step",
        suite="synthetic",
        model="model",
        component="denoiser_step",
        settings={"test": test},
        rounds={"latency_s": [0.5, 0.6], "gpu_energy_j": [energy_j, energy_j * 1.1]},
    )


def write_worker(base, worker: str, uuid: str, tests, **prov) -> object:
    path = worker_result_path(base, worker)
    writer = ResultWriter(path, provenance(uuid, **prov), resume=False)
    for t in tests:
        writer.add(record(t))
    return path


def test_worker_paths_and_discovery(tmp_path):
    base = tmp_path / "suite.json"
    assert worker_result_path(base, "gw3") == tmp_path / "suite.gw3.json"
    assert worker_result_path(base, None) == base
    with pytest.raises(ValueError, match="gw<N>"):
        worker_result_path(base, "master")
    for w, tests in (("gw10", [3]), ("gw2", [1]), ("gw0", [0])):
        write_worker(base, w, f"GPU-{w}", tests)
    (tmp_path / "suite.gwx.json").write_text("{}")  # not a worker file
    assert [p.name for p in find_worker_files(base)] == [
        "suite.gw0.json",
        "suite.gw2.json",
        "suite.gw10.json",
    ]
    with pytest.raises(BaselineFormatError, match="no worker result files"):
        find_worker_files(tmp_path / "other.json")


def test_merge_keeps_every_record_once_with_its_gpu(tmp_path):
    base = tmp_path / "suite.json"
    shards = {"gw0": [0, 2, 4], "gw1": [1, 3], "gw2": [5]}
    paths = [write_worker(base, w, f"GPU-{w}-synthetic", t) for w, t in shards.items()]
    out = tmp_path / "merged.json"
    summary = merge_result_files(paths, out)

    merged = load_results(out)
    assert summary.n_records == 6 == len(merged.records)
    assert sorted(r.settings["test"] for r in merged.records) == list(range(6))
    for r in merged.records:
        worker = next(w for w, t in shards.items() if r.settings["test"] in t)
        assert r.machine_state["gpu_uuid"] == f"GPU-{worker}-synthetic"
        assert r.machine_state["result_file"] == f"suite.{worker}.json"
        assert r.rounds == record(r.settings["test"]).rounds  # energy per test untouched
    assert merged.provenance["devices"] == ["GPU-gw0-synthetic", "GPU-gw1-synthetic", "GPU-gw2-synthetic"]
    assert [w["n_records"] for w in merged.provenance["workers"]] == [3, 2, 1]
    assert summary.n_duplicates_dropped == 0


def test_a_failed_workers_finished_records_are_kept(tmp_path):
    """A worker killed mid-run leaves the records written before it died; they are merged."""
    base = tmp_path / "suite.json"
    ok = write_worker(base, "gw0", "GPU-0-synthetic", [0, 1])
    failed = worker_result_path(base, "gw1")
    writer = ResultWriter(failed, provenance("GPU-1-synthetic"), resume=False)
    writer.add(record(2))
    with pytest.raises(BaselineFormatError):  # the worker's next record fails (NaN energy): it stops there
        writer.add(record(3, energy_j=float("nan")))
    summary = merge_result_files([ok, failed], tmp_path / "merged.json")
    assert summary.n_records == 3
    assert {r.settings["test"] for r in load_results(tmp_path / "merged.json").records} == {0, 1, 2}


def test_identical_duplicates_are_kept_once(tmp_path):
    base = tmp_path / "suite.json"
    a = write_worker(base, "gw0", "GPU-0-synthetic", [0, 1])
    b = write_worker(base, "gw1", "GPU-1-synthetic", [1, 2])
    summary = merge_result_files([a, b], tmp_path / "merged.json")
    assert summary.n_records == 3
    assert summary.n_duplicates_dropped == 1
    by_id = load_results(tmp_path / "merged.json").by_id()
    assert by_id[record(1).id].machine_state["result_file"] == "suite.gw0.json"  # the first copy wins


def test_conflicting_duplicates_name_both_files(tmp_path):
    base = tmp_path / "suite.json"
    a = write_worker(base, "gw0", "GPU-0-synthetic", [0])
    b = worker_result_path(base, "gw1")
    ResultWriter(b, provenance("GPU-1-synthetic"), resume=False).add(record(0, energy_j=2.0))
    out = tmp_path / "merged.json"
    with pytest.raises(ResultConflictError, match=r"suite\.gw0\.json.*suite\.gw1\.json"):
        merge_result_files([a, b], out)
    assert not out.exists()


def test_different_hardware_or_software_is_refused_unless_allowed(tmp_path):
    base = tmp_path / "suite.json"
    a = write_worker(base, "gw0", "GPU-0-synthetic", [0])
    b = write_worker(base, "gw1", "GPU-1-synthetic", [1], gpu_name="OTHER SYNTHETIC GPU")
    c = write_worker(base, "gw2", "GPU-2-synthetic", [2], diffusers="0.33.1")
    with pytest.raises(HardwareMismatchError):
        merge_result_files([a, b], tmp_path / "m1.json")
    with pytest.raises(BaselineFormatError, match="diffusers"):
        merge_result_files([a, c], tmp_path / "m2.json")
    assert merge_result_files([a, b, c], tmp_path / "m3.json", allow_mismatch=True).n_records == 3


def test_bad_inputs_are_refused(tmp_path):
    base = tmp_path / "suite.json"
    a = write_worker(base, "gw0", "GPU-0-synthetic", [0])
    with pytest.raises(BaselineFormatError, match="no result files"):
        merge_result_files([], tmp_path / "m.json")
    with pytest.raises(BaselineFormatError, match="both an input and the output"):
        merge_result_files([a], a)
    with pytest.raises(BaselineFormatError, match="no such result file"):
        merge_result_files([a, tmp_path / "missing.gw1.json"], tmp_path / "m.json")
    json.loads(a.read_text())  # the input is untouched


def test_a_sweep_split_over_two_commands_keeps_both_measurements_of_a_shared_part(tmp_path):
    first = ResultWriter(tmp_path / "part1.json", provenance("GPU-a"), resume=False)
    first.add(record(0, energy_j=1.0))
    later = provenance("GPU-a")
    later["date_utc"] = "2000-01-01T01:00:00Z"
    second = ResultWriter(tmp_path / "part2.json", later, resume=False)
    second.add(record(0, energy_j=2.0))  # the shared part, measured again by the second command
    composed = ResultRecord(
        id="synthetic/model/test9/composed",
        suite="synthetic",
        model="model",
        component="composed",
        settings={},
        rounds={"gpu_energy_j": [3.0]},
        extra={"parts": [record(0).id]},
    )
    second.add(composed)
    with pytest.raises(ResultConflictError):
        merge_result_files([tmp_path / "part1.json", tmp_path / "part2.json"], tmp_path / "x.json")
    merge_result_files(
        [tmp_path / "part1.json", tmp_path / "part2.json"], tmp_path / "merged.json", keep_reruns=True
    )
    merged = load_results(tmp_path / "merged.json").by_id()
    rerun_id = f"{record(0).id}@2000-01-01T01:00:00Z"
    assert merged[record(0).id].rounds["gpu_energy_j"][0] == 1.0
    assert merged[rerun_id].rounds["gpu_energy_j"][0] == 2.0
    assert merged[rerun_id].extra["rerun_of"] == record(0).id
    assert merged[composed.id].extra["parts"] == [rerun_id]  # follows the measurement it was built from


def test_merged_provenance_names_its_parts_by_file_name_run_date_and_gpu_not_by_path(tmp_path):
    base = tmp_path / "suite.json"
    paths = [write_worker(base, w, f"GPU-{w}-synthetic", [i]) for i, w in enumerate(("gw0", "gw1"))]
    merge_result_files(paths, tmp_path / "merged.json")
    workers = json.loads((tmp_path / "merged.json").read_text())["provenance"]["workers"]
    assert [w["source"] for w in workers] == ["suite.gw0.json", "suite.gw1.json"]
    assert [w["gpu_uuid"] for w in workers] == ["GPU-gw0-synthetic", "GPU-gw1-synthetic"]
    assert all("file" not in w and w["date_utc"] == "2000-01-01T00:00:00Z" for w in workers)
    assert str(tmp_path) not in json.dumps(workers)


def test_a_merge_of_a_merged_file_keeps_every_gpu_of_the_first_merge(tmp_path):
    base = tmp_path / "suite.json"
    first = [write_worker(base, w, f"GPU-{w}-synthetic", [i]) for i, w in enumerate(("gw0", "gw1"))]
    merge_result_files(first, tmp_path / "stored.json")
    later = write_worker(tmp_path / "later.json", "gw0", "GPU-later-synthetic", [7])
    summary = merge_result_files([tmp_path / "stored.json", later], tmp_path / "merged.json")
    workers = load_results(tmp_path / "merged.json").provenance["workers"]
    assert [w["gpu_uuid"] for w in workers] == [
        "GPU-gw0-synthetic",
        "GPU-gw1-synthetic",
        "GPU-later-synthetic",
    ]
    assert [w.get("via") for w in workers] == ["stored.json", "stored.json", None]
    assert summary.devices == ("GPU-gw0-synthetic", "GPU-gw1-synthetic", "GPU-later-synthetic")
    by_test = {
        r.settings["test"]: r.machine_state["gpu_uuid"]
        for r in load_results(tmp_path / "merged.json").records
    }
    assert by_test == {0: "GPU-gw0-synthetic", 1: "GPU-gw1-synthetic", 7: "GPU-later-synthetic"}


def test_an_older_merged_file_with_absolute_worker_paths_reads_as_file_names(tmp_path):
    path = write_worker(tmp_path / "old.json", "gw0", "GPU-synthetic", [0])
    doc = json.loads(path.read_text())
    doc["provenance"]["workers"] = [{"file": "/some/machine/run/old.gw0.json", "gpu_uuid": "GPU-synthetic"}]
    path.write_text(json.dumps(doc))
    worker = load_results(path).provenance["workers"][0]
    assert worker == {"source": "old.gw0.json", "gpu_uuid": "GPU-synthetic"}


def test_no_stored_baseline_keeps_a_machine_path_once_read():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "baselines"
    for path in root.rglob("*.json"):
        data = json.loads(path.read_text())
        if not (isinstance(data, dict) and data.get("schema") == "t2v-energy.results"):
            continue
        for worker in load_results(path).provenance.get("workers", []):
            assert "file" not in worker and "/" not in str(worker.get("source")), path
