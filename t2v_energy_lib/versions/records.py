"""History result files: host-side error records, the merge of a version's runs, and per-metric series.

A version's folder holds one result file per job (``runs/r<k>-<model>/history.json``). :func:`merge_version`
writes ``<version>/history.json``: per record id the raw rounds of every run, concatenated in run order
(never averaged), with the runs named in ``extra["history_runs"]`` and the run provenances listed in the
merged provenance (``history_runs``). Runs of other hardware are refused (one history is one machine).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from t2v_energy_lib.errors import BaselineFormatError, HardwareMismatchError
from t2v_energy_lib.results.provenance import hardware_differences
from t2v_energy_lib.results.schema import ResultFile, ResultRecord
from t2v_energy_lib.results.storage import ResultWriter, atomic_write_text, load_results

if TYPE_CHECKING:
    from t2v_energy_lib.analysis.steps import VersionValues
    from t2v_energy_lib.versions.history import Job

RESULT_NAME = "history.json"
#: Metrics a history follows, per record (only those a record has are used; CPU runs have no GPU energy).
METRICS: tuple[str, ...] = ("latency_s", "gpu_energy_j")
#: Components never followed: no figure (errors), not a cost (profiles), or derived from other records.
NOT_FOLLOWED: tuple[str, ...] = ("error", "operator_profile", "composed", "breakdown")


def write_job_error(job: Job, out: Path, message: str, elapsed_s: float, device: str) -> Path:
    """An error record for a job that produced none itself (the environment, a crash, the time limit)."""
    from t2v_energy_lib.results.provenance import collect_provenance

    provenance = collect_provenance(None, {"command": "history", "round": job.round, "device": device})
    provenance["versions"]["diffusers"] = job.version.diffusers  # the version the job was for
    provenance["settings"]["note"] = "written by the history host: the job left no record of its own"
    path = job.folder(out) / RESULT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = ResultWriter(path, provenance, resume=path.exists(), allow_hardware_mismatch=True)
    writer.add(
        ResultRecord(
            id=f"history/{job.model}/job-r{job.round}/error",
            suite="history",
            model=job.model,
            component="error",
            settings={"device": device, "round": job.round},
            rounds={"elapsed_before_error_s": [max(0.0, elapsed_s)]},
            extra={"error": message[:2000], "error_type": "HistoryJobError", "failed_component": "job"},
        )
    )
    return path


def job_errors(path: Path) -> list[str]:
    """The error messages of the error records in ``path`` (empty if none or no file)."""
    if not path.exists():
        return []
    try:
        records = load_results(path).records
    except BaselineFormatError:
        return []
    return [str(r.extra.get("error", "")) for r in records if r.component == "error"]


def _merge_records(parts: Sequence[tuple[str, ResultRecord]]) -> ResultRecord:
    first = parts[0][1]
    rounds: dict[str, list[float]] = {}
    for _, rec in parts:
        for key, values in rec.rounds.items():
            rounds.setdefault(key, []).extend(values)
    extra = dict(first.extra)
    extra["history_runs"] = [name for name, _ in parts]
    extra["rounds_per_run"] = [len(next(iter(rec.rounds.values()))) for _, rec in parts]
    if first.component == "error":
        extra["errors_per_run"] = [str(rec.extra.get("error", "")) for _, rec in parts]
    return ResultRecord(
        id=first.id,
        suite=first.suite,
        model=first.model,
        component=first.component,
        settings=first.settings,
        rounds=rounds,
        units_per_round=first.units_per_round,
        extra=extra,
        machine_state=first.machine_state,
    )


def merge_version(version_dir: Path, *, allow_hardware_mismatch: bool = False) -> ResultFile:
    """Merge ``version_dir/runs/*/history.json`` into ``version_dir/history.json`` (see module docstring).

    Raises:
        BaselineFormatError: No run files.
        HardwareMismatchError: Runs come from different GPUs, drivers or power limits.
    """
    files = sorted(version_dir.glob(f"runs/*/{RESULT_NAME}"), key=lambda p: _run_key(p.parent.name))
    if not files:
        raise BaselineFormatError(f"no history runs in {version_dir}/runs; run `t2v-energy history` first")
    loaded = [(p.parent.name, load_results(p)) for p in files]
    for name, rf in loaded:
        imported = (rf.provenance.get("versions") or {}).get("diffusers")
        if imported != version_dir.name:
            raise BaselineFormatError(
                f"history run {name} in {version_dir} ran diffusers {imported}, not {version_dir.name}: its "
                "environment did not shadow the runner's diffusers; check PYTHONPATH and move that run out"
            )
    base = loaded[0][1].provenance
    for name, rf in loaded[1:]:
        diffs = hardware_differences(base, rf.provenance) if rf.provenance.get("gpu") else []
        if diffs and base.get("gpu") and not allow_hardware_mismatch:
            raise HardwareMismatchError(
                f"history run {name} in {version_dir} comes from other hardware ({'; '.join(diffs)}); "
                "a history is one machine: move that run out, or merge with allow_hardware_mismatch=True"
            )
    by_id: dict[str, list[tuple[str, ResultRecord]]] = {}
    for name, rf in loaded:
        for rec in rf.records:
            by_id.setdefault(rec.id, []).append((name, rec))
    provenance = dict(next((rf.provenance for _, rf in loaded if rf.provenance.get("gpu")), base))
    provenance["history_runs"] = [
        {
            "run": name,
            "date_utc": rf.provenance.get("date_utc"),
            "gpu_uuid": (rf.provenance.get("gpu") or {}).get("uuid"),
            "diffusers": (rf.provenance.get("versions") or {}).get("diffusers"),
            "transformers": (rf.provenance.get("versions") or {}).get("transformers"),
            "n_records": len(rf.records),
        }
        for name, rf in loaded
    ]
    merged = ResultFile(provenance, tuple(_merge_records(parts) for parts in by_id.values()))
    import json

    atomic_write_text(version_dir / RESULT_NAME, json.dumps(merged.to_dict(), indent=1) + "\n")
    return ResultFile(merged.provenance, merged.records, version_dir / RESULT_NAME)


def _run_key(name: str) -> tuple[int, str]:
    head, _, model = name.partition("-")
    return (int(head[1:]) if head[1:].isdigit() else 0, model)


def series_key(record: ResultRecord) -> str:
    """The id of a record without its suite: ``wan2.1-t2v-1.3b/480x832x81-s4/denoiser_step``."""
    return record.id.split("/", 1)[1]


def metric_series(
    files: Mapping[str, ResultFile], metrics: Sequence[str] = METRICS
) -> dict[tuple[str, str], list[VersionValues]]:
    """Per (record key, metric): each version's raw rounds, in the order of ``files`` (release order).

    Measured records are followed (not :data:`NOT_FOLLOWED`, nothing composed or estimated); a version
    without the record is absent from that series (its error record says why, see :func:`errors_by_version`).
    """
    from t2v_energy_lib.analysis.steps import VersionValues

    out: dict[tuple[str, str], list[VersionValues]] = {}
    for version, rf in files.items():
        for rec in rf.records:
            if rec.component in NOT_FOLLOWED or rec.composed or rec.estimated:
                continue
            for metric in metrics:
                values = rec.rounds.get(metric)
                if values and all(math.isfinite(v) for v in values):
                    out.setdefault((series_key(rec), metric), []).append(
                        VersionValues(version, tuple(values))
                    )
    return out


def errors_by_version(files: Mapping[str, ResultFile]) -> dict[str, list[str]]:
    """Per version, the messages of its error records (a version that could not run a model says why)."""
    out: dict[str, list[str]] = {}
    for version, rf in files.items():
        msgs = [f"{r.model}: {r.extra.get('error', '')}" for r in rf.records if r.component == "error"]
        if msgs:
            out[version] = msgs
    return out


def mean_of(values: Sequence[float]) -> float:
    """Mean of raw rounds (computed on read)."""
    return statistics.fmean(values)


def profile_of(rf: ResultFile, model: str) -> dict[str, Any] | None:
    """The operator profile stored for ``model`` in a version's merged file, if any."""
    for rec in rf.records:
        if rec.component == "operator_profile" and rec.model == model and "profile" in rec.extra:
            return dict(rec.extra["profile"])
    return None
