"""Atomic incremental writer: finished records survive failures and process death (synthetic records)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from t2v_energy_lib.errors import BaselineFormatError, HardwareMismatchError
from t2v_energy_lib.results import ResultRecord, ResultWriter, load_results, storage

PROVENANCE = {"gpu": {"name": "Synthetic GPU", "driver_version": "0.synthetic", "power_limit_w": 100.0}}


def record(i: int, **extra: object) -> ResultRecord:
    """A clearly synthetic record: latencies i+1 s, energies 10*(i+1) J."""
    return ResultRecord(
        id=f"synthetic/m/s/c{i}",
        suite="synthetic",
        model="m",
        component=f"c{i}",
        settings={"i": i},
        rounds={"latency_s": [i + 1.0, i + 1.5], "gpu_energy_j": [10.0 * (i + 1), 10.0 * (i + 1) + 1]},
        extra=extra,
    )


class Unserialisable:
    """json.dumps raises TypeError on this object, in the middle of serialising the document."""


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_each_add_rewrites_a_complete_loadable_file(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.json"
    writer = ResultWriter(path, PROVENANCE)
    for i in range(3):
        writer.add(record(i))
        assert [r.id for r in load_results(path).records] == [record(j).id for j in range(i + 1)]
    assert load_results(path).provenance["gpu"]["name"] == "Synthetic GPU"
    assert record(1).id in writer and "nope" not in writer


def test_failure_inside_json_serialisation_keeps_earlier_records(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    writer = ResultWriter(path, PROVENANCE)
    writer.add(record(0))
    writer.add(record(1))
    before = path.read_bytes()
    with pytest.raises(BaselineFormatError, match=r"record 'synthetic/m/s/c2' cannot be written as JSON"):
        writer.add(record(2, bad=Unserialisable()))
    assert path.read_bytes() == before
    assert [r.component for r in load_results(path).records] == ["c0", "c1"]
    assert len(writer.records) == 2  # the writer did not keep the failed record either
    with pytest.raises(BaselineFormatError, match="finite numbers"):
        writer.add(record(2, peak=float("nan")))  # NaN is not JSON; refused, file unchanged
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_failure_after_the_temp_file_is_written_keeps_earlier_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "results.json"
    writer = ResultWriter(path, PROVENANCE)
    writer.add(record(0))
    writer.add(record(1))

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(storage.os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        writer.add(record(2))
    monkeypatch.undo()
    assert len(load_results(path).records) == 2
    assert leftovers(tmp_path) == []


def test_process_killed_mid_write_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    child = textwrap.dedent(
        f"""
        import os
        from t2v_energy_lib.results import ResultRecord, ResultWriter, storage
        w = ResultWriter({str(path)!r}, {{"gpu": None}})
        for i in range(3):
            if i == 2:  # die abruptly after the temp file is written, before the rename
                storage.os.replace = lambda src, dst: os._exit(3)
            w.add(ResultRecord(f"synthetic/{{i}}", "s", "m", "c", {{}}, {{"latency_s": [1.0 + i]}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert [r.id for r in load_results(path).records] == ["synthetic/0", "synthetic/1"]
    assert len(leftovers(tmp_path)) == 1  # the orphan temp file; loading the folder ignores it
    assert len(load_results(tmp_path).records) == 2


def test_resume_keeps_records_and_original_provenance(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    ResultWriter(path, {**PROVENANCE, "date_utc": "2000-01-01T00:00:00Z"}).add(record(0))
    writer = ResultWriter(path, {**PROVENANCE, "date_utc": "2000-01-02T00:00:00Z"})
    assert record(0).id in writer
    writer.add(record(1))
    writer.add(record(0))  # re-measured: replaces, does not duplicate
    loaded = load_results(path)
    assert [r.id for r in loaded.records] == [record(0).id, record(1).id]
    assert loaded.provenance["date_utc"] == "2000-01-01T00:00:00Z"
    assert loaded.provenance["resumed_utc"] == ["2000-01-02T00:00:00Z"]


def test_resume_refuses_other_hardware_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    ResultWriter(path, PROVENANCE).add(record(0))
    other = {"gpu": {**PROVENANCE["gpu"], "power_limit_w": 90.0}}
    with pytest.raises(HardwareMismatchError, match=r"power limit W: 100.0 vs 90.0.*resume=False"):
        ResultWriter(path, other)
    ResultWriter(path, other, allow_hardware_mismatch=True)  # explicit override
    fresh = ResultWriter(path, other, resume=False)
    assert fresh.records == ()
    fresh.add(record(5))
    assert [r.id for r in load_results(path).records] == [record(5).id]
    path.write_text(json.dumps({"schema": "something-else"}))
    with pytest.raises(BaselineFormatError, match="not a t2v-energy result file"):
        ResultWriter(path, PROVENANCE)
    pytest_benchmark_doc = {"machine_info": {}, "benchmarks": [], "commit_info": {}}
    path.write_text(json.dumps(pytest_benchmark_doc))  # never resumed (nor overwritten) as ours
    with pytest.raises(BaselineFormatError, match="not a t2v-energy result file"):
        ResultWriter(path, PROVENANCE)


def test_written_file_is_plain_json_with_full_precision(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    value = 0.1 + 0.2  # not representable in few digits: must survive unrounded
    ResultWriter(path, {}).add(ResultRecord("x", "s", "m", "c", {}, {"latency_s": [value]}))
    doc = json.loads(path.read_text())
    assert doc["records"][0]["rounds"]["latency_s"] == [value]
    assert doc["schema"] == "t2v-energy.results" and doc["schema_version"] == 1
