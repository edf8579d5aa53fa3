"""Merge the result files of the xdist workers of one run (one GPU each) into one baseline file.

Each worker writes its own file (``<name>.gw<N>.json``, see :func:`worker_result_path`) through
:class:`~t2v_energy_lib.results.ResultWriter`, atomically after every record, so a worker that failed or
crashed leaves every record it finished. The merge:

- keeps every record of every file; a record id found in two files with identical content is kept once, with
  different content it is refused (:class:`~t2v_energy_lib.errors.ResultConflictError` names both files);
- keeps the GPU of each record: ``machine_state["gpu_uuid"]`` (from its worker's provenance, unless the record
  already names one) and ``machine_state["result_file"]``;
- writes a provenance that is the first file's, plus ``workers`` (where each part came from by its file's
  name, run commit, date and GPU, never by a path that existed on one machine; record count per worker)
  and ``devices`` (the distinct GPU UUIDs);
- refuses files of different GPU models, drivers, power limits or software versions (one baseline is one
  machine configuration), unless ``allow_mismatch=True``.

Energy stays per record (per test and per device); nothing is summed or averaged here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import BaselineFormatError, ResultConflictError

_WORKER_SUFFIX = re.compile(r"^gw\d+$")


@dataclass(frozen=True)
class MergeSummary:
    """What :func:`merge_result_files` did.

    Attributes:
        out_path: The merged file.
        n_records: Records in the merged file.
        n_duplicates_dropped: Identical copies of a record found in more than one file and kept once.
        workers: Per source file: ``source`` (file name, no folder), ``git_commit``, ``date_utc``,
            ``gpu_uuid``, ``gpu_name``, ``n_records``.
        devices: Distinct GPU UUIDs of the sources (None for a source without a GPU).
    """

    out_path: Path
    n_records: int
    n_duplicates_dropped: int
    workers: tuple[Mapping[str, Any], ...]
    devices: tuple[str | None, ...]


def worker_result_path(path: str | Path, worker_id: str | None) -> Path:
    """The result file of one xdist worker: ``results/x.json`` -> ``results/x.gw3.json`` (unchanged if None).

    Raises:
        ValueError: ``worker_id`` is not of xdist's ``gw<N>`` form.
    """
    path = Path(path)
    if worker_id is None:
        return path
    if not _WORKER_SUFFIX.match(worker_id):
        raise ValueError(f"worker id {worker_id!r} is not of xdist's form 'gw<N>'")
    return path.with_name(f"{path.stem}.{worker_id}{path.suffix}")


def find_worker_files(path: str | Path) -> list[Path]:
    """The worker files of a run written with :func:`worker_result_path` (``x.gw0.json``, ``x.gw1.json``...).

    Sorted by worker number. Raises :class:`BaselineFormatError` if there are none.
    """
    path = Path(path)
    pattern = re.compile(rf"^{re.escape(path.stem)}\.gw(\d+){re.escape(path.suffix)}$")
    found = [
        (int(m.group(1)), p)
        for p in path.parent.glob(f"{path.stem}.gw*{path.suffix}")
        if (m := pattern.match(p.name))
    ]
    if not found:
        raise BaselineFormatError(
            f"no worker result files {path.stem}.gw<N>{path.suffix} in {path.parent}; did the xdist workers "
            "write with worker_result_path()?"
        )
    return [p for _, p in sorted(found)]


def _gpu(provenance: Mapping[str, Any]) -> Mapping[str, Any]:
    gpu = provenance.get("gpu")
    return gpu if isinstance(gpu, Mapping) else {}


def _check_compatible(first: Any, other: Any, allow_mismatch: bool) -> None:
    from t2v_energy_lib.results.provenance import check_same_hardware, version_changes

    if allow_mismatch:
        return
    what = f"worker files {first.path} and {other.path}"
    check_same_hardware(first.provenance, other.provenance, what=what, override="allow_mismatch=True")
    changes = [c for c in version_changes(first.provenance, other.provenance) if c[0] != "driver"]
    if changes:
        listed = "; ".join(f"{name}: {a!r} vs {b!r}" for name, a, b in changes)
        raise BaselineFormatError(
            f"{what} come from different software ({listed}); one baseline holds one configuration. Merge "
            "the files of one run only, or pass allow_mismatch=True."
        )


def _with_worker_state(record: Any, source: Path, gpu_uuid: str | None) -> Any:
    from t2v_energy_lib.results.schema import ResultRecord

    data = record.to_dict()
    state = dict(data["machine_state"])
    state.setdefault("gpu_uuid", gpu_uuid)
    state.setdefault("result_file", source.name)
    data["machine_state"] = state
    return ResultRecord.from_dict(data)


def _worker_entry(part: Any) -> dict[str, Any]:
    gpu = _gpu(part.provenance)
    git = part.provenance.get("git") if isinstance(part.provenance.get("git"), Mapping) else {}
    return {
        "source": Path(part.path).name if part.path is not None else None,
        "git_commit": git.get("commit"),
        "gpu_uuid": gpu.get("uuid"),
        "gpu_name": gpu.get("name"),
        "date_utc": part.provenance.get("date_utc"),
        "n_records": len(part.records),
    }


def _worker_entries(part: Any) -> list[dict[str, Any]]:
    """The workers behind ``part``: its own entry, or, for a file that is itself a merge, the workers it
    names (each with ``via``: the merged file it came through), so a merge of merges keeps every GPU."""
    nested = part.provenance.get("workers")
    if not isinstance(nested, list) or not nested:
        return [_worker_entry(part)]
    via = Path(part.path).name if part.path is not None else None
    return [{**dict(w), "via": via} for w in nested if isinstance(w, Mapping)]


def _renamed(value: Any, renames: Mapping[str, str]) -> Any:
    """``value`` with every string equal to a renamed id replaced (ids of parts inside ``extra``)."""
    if isinstance(value, str):
        return renames.get(value, value)
    if isinstance(value, Mapping):
        return {k: _renamed(v, renames) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_renamed(v, renames) for v in value)
    return value


def _rerun_records(part: Any, taken: Mapping[str, Any]) -> list[Any]:
    """The records of ``part``, with each id already merged with other content renamed to ``<id>@<date>``.

    References to a renamed id inside the part's own records (e.g. the parts a composed figure was built
    from) follow the rename, so every figure keeps pointing at the measurement it was computed from.
    """
    from t2v_energy_lib.results.schema import ResultRecord

    stamp = str(part.provenance.get("date_utc") or part.path)
    renames = {r.id: f"{r.id}@{stamp}" for r in part.records if r.id in taken and r.to_dict() != taken[r.id]}
    if not renames:
        return list(part.records)
    out = []
    for record in part.records:
        data = record.to_dict()
        data["extra"] = _renamed(data["extra"], renames)
        if record.id in renames:
            data["id"] = renames[record.id]
            data["extra"]["rerun_of"] = record.id
        out.append(ResultRecord.from_dict(data))
    return out


def merge_result_files(
    paths: Iterable[str | Path],
    out_path: str | Path,
    *,
    allow_mismatch: bool = False,
    keep_reruns: bool = False,
) -> MergeSummary:
    """Merge per-worker result files into one file, losing and duplicating nothing.

    Args:
        paths: The workers' result files (a worker that failed still contributes the records it finished).
        out_path: The merged file, written atomically (may not be one of ``paths``).
        allow_mismatch: Merge files of different hardware or software versions anyway.
        keep_reruns: For runs of one sweep split over several commands (each measures shared parts such
            as the text encoder again): a record id found again with different content is kept under
            ``<id>@<date of its file>`` with ``extra["rerun_of"]`` instead of being refused.

    Returns:
        A :class:`MergeSummary`.

    Raises:
        ResultConflictError: One record id with different content in two files (names both files).
        BaselineFormatError: No paths, an unreadable file, ``out_path`` among the inputs, or other software.
        HardwareMismatchError: Files of different GPU models, drivers or power limits.
    """
    from t2v_energy_lib.results.schema import ResultFile
    from t2v_energy_lib.results.storage import atomic_write_text, load_results

    sources = [Path(p) for p in paths]
    out_path = Path(out_path)
    if not sources:
        raise BaselineFormatError("no result files to merge; pass the workers' files (see find_worker_files)")
    if out_path.resolve() in {p.resolve() for p in sources}:
        raise BaselineFormatError(f"{out_path} is both an input and the output; write the merge elsewhere")
    parts = [load_results(p) for p in sources]
    merged: dict[str, Any] = {}
    origin: dict[str, tuple[Path, dict[str, Any]]] = {}
    dropped = 0
    for part, source in zip(parts, sources, strict=True):
        _check_compatible(parts[0], part, allow_mismatch)
        records = _rerun_records(part, {k: v[1] for k, v in origin.items()}) if keep_reruns else part.records
        for record in records:
            content = record.to_dict()
            if record.id in origin:
                first_source, first_content = origin[record.id]
                if content != first_content:
                    raise ResultConflictError(
                        f"record id {record.id!r} is in {first_source} and in {source} with different "
                        "content; a test ran twice with different results. Keep one of the two (delete the "
                        "stale file or re-run the test once)."
                    )
                dropped += 1
                continue
            origin[record.id] = (source, content)
            merged[record.id] = _with_worker_state(record, source, _gpu(part.provenance).get("uuid"))
    workers = tuple(w for part in parts for w in _worker_entries(part))
    devices = tuple(dict.fromkeys(w.get("gpu_uuid") for w in workers))
    provenance = dict(parts[0].provenance)
    provenance["workers"] = [dict(w) for w in workers]
    provenance["devices"] = list(devices)
    document = ResultFile(provenance=provenance, records=tuple(merged.values())).to_dict()
    atomic_write_text(out_path, json.dumps(document, indent=1, allow_nan=False) + "\n")
    return MergeSummary(
        out_path=out_path,
        n_records=len(merged),
        n_duplicates_dropped=dropped,
        workers=workers,
        devices=devices,
    )
