"""Reading and writing result files: the atomic incremental :class:`ResultWriter` and :func:`load_results`.

Writes go to a temporary file in the target's folder, are flushed and fsync'ed, then ``os.replace``'d over the
target, after every record: a run killed at any point leaves the previous complete file on disk.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import BaselineFormatError, HardwareMismatchError
from t2v_energy_lib.results.provenance import check_same_hardware, hardware_differences
from t2v_energy_lib.results.pytest_benchmark import convert_pytest_benchmark, is_pytest_benchmark
from t2v_energy_lib.results.schema import ResultFile, ResultRecord, parse_document


def _serialise(document: Mapping[str, Any], what: str) -> str:
    try:
        return json.dumps(document, indent=1, allow_nan=False, sort_keys=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise BaselineFormatError(
            f"{what} cannot be written as JSON ({exc}); extra and machine_state values must be finite "
            "numbers, strings, booleans, None, lists or objects"
        ) from exc


#: Mode of written result files before the umask (as ``open()`` would create them).
_FILE_MODE = 0o666


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp_name, _FILE_MODE & ~_umask())  # mkstemp makes 0600; results are shared files (0644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not every platform lets a folder be opened
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineFormatError(
            f"{path}: is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); the file is "
            "corrupt or truncated: restore it from version control or regenerate it with "
            "`t2v-energy characterize`"
        ) from None


def _load_file(path: Path) -> ResultFile:
    data = _read_json(path)
    if is_pytest_benchmark(data):
        return convert_pytest_benchmark(data, str(path), path)
    return parse_document(data, str(path), path)


#: Sub-folders whose JSON files a folder's loader and :func:`find_baseline_folders` pass over: ``report``
#: (generated output) and ``runs`` (the per-job parts of a version history, whose records the merged
#: ``<version>/history.json`` beside them already carries, raw rounds included; see
#: :mod:`t2v_energy_lib.versions.records`).
SKIPPED_DIRS = ("report", "runs")


def _skipped(path: Path, root: Path) -> bool:
    return any(part in SKIPPED_DIRS for part in path.relative_to(root).parts[:-1])


def _load_folder(folder: Path) -> ResultFile:
    files = sorted(
        p
        for p in folder.rglob("*.json")
        if p.is_file() and not p.name.startswith(".") and not _skipped(p, folder)
    )
    if not files:
        raise BaselineFormatError(
            f"{folder}: folder holds no *.json result files; point at a result file or "
            "a folder of them (e.g. baselines/<gpu-slug>/<diffusers-version>)"
        )
    records: list[ResultRecord] = []
    origin: dict[str, Path] = {}
    provenance: Mapping[str, Any] | None = None
    for path in files:
        part = _load_file(path)
        if provenance is None:
            provenance = part.provenance
        else:
            diffs = hardware_differences(provenance, part.provenance)
            if diffs:
                raise HardwareMismatchError(
                    f"{folder}: {files[0]} and {path} come from different hardware ({'; '.join(diffs)}); "
                    "a folder is loaded as one machine's results: point at "
                    "baselines/<gpu-slug>/<diffusers-version> or at one file"
                )
        for record in part.records:
            if record.id in origin:
                raise BaselineFormatError(
                    f"record id {record.id!r} is in both {origin[record.id]} and {path}; ids must be unique "
                    "across a folder: delete the stale file or load the files separately"
                )
            origin[record.id] = path
            records.append(record)
    assert provenance is not None
    return ResultFile(provenance=dict(provenance), records=tuple(records), path=folder)


def find_baseline_folders(root: str | Path) -> list[Path]:
    """Leaf folders under ``root`` that hold result files (``*.json``); ``report`` and ``runs`` excluded.

    A baseline tree is ``<root>/<gpu-slug>/<diffusers-version>/<suite>.json``: each returned folder is one
    GPU and library configuration, checked on its own.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = {p.parent for p in root.rglob("*.json") if not _skipped(p, root)}
    return sorted(found)


def load_results(path: str | Path) -> ResultFile:
    """Load a result file, a folder of them (merged, recursively), or a pytest-benchmark JSON file.

    A folder's files must come from the same hardware; its provenance is that of the first file (sorted).

    Raises:
        BaselineFormatError: Missing path, bad JSON, wrong schema, invalid record, duplicate id across files;
            the message names the file and the fix.
        HardwareMismatchError: A folder mixes results of different GPUs, drivers or power limits.
    """
    path = Path(path)
    if path.is_dir():
        return _load_folder(path)
    if not path.exists():
        raise BaselineFormatError(
            f"{path}: no such result file or folder; check the path, or create a "
            "baseline with `t2v-energy characterize`"
        )
    return _load_file(path)


class ResultWriter:
    """Append records to a result file, rewriting it atomically after each one.

    Args:
        path: The result file.
        provenance: Provenance of this run (see :func:`~t2v_energy_lib.results.collect_provenance`).
        resume: If the file exists, keep its records and provenance and add to them (its schema must be
            readable and its hardware the same as ``provenance``'s). If False, an existing file is replaced
            at the first :meth:`add`.
        allow_hardware_mismatch: Resume even if the existing file comes from other hardware.

    Raises:
        BaselineFormatError: Resuming a file this version cannot read.
        HardwareMismatchError: Resuming a file measured on other hardware.
    """

    def __init__(
        self,
        path: str | Path,
        provenance: Mapping[str, Any],
        *,
        resume: bool = True,
        allow_hardware_mismatch: bool = False,
    ) -> None:
        self.path = Path(path)
        self._provenance = dict(provenance)
        self._records: dict[str, ResultRecord] = {}
        if resume and self.path.exists():
            # Only our own schema is resumed: a pytest-benchmark file here would be overwritten otherwise.
            existing = parse_document(_read_json(self.path), str(self.path), self.path)
            if not allow_hardware_mismatch:
                check_same_hardware(
                    existing.provenance,
                    provenance,
                    what=f"existing {self.path} and this run",
                    override="resume=False to start a new file (or write to another path)",
                )
            self._provenance = dict(existing.provenance)
            resumed = list(self._provenance.get("resumed_utc", []))
            resumed.append(provenance.get("date_utc"))
            self._provenance["resumed_utc"] = resumed
            self._records = existing.by_id()

    @property
    def records(self) -> tuple[ResultRecord, ...]:
        """Records written so far (including resumed ones)."""
        return tuple(self._records.values())

    def __contains__(self, record_id: object) -> bool:
        """True if a record of this id is already in the file (lets a resumed run skip finished work)."""
        return record_id in self._records

    def result_file(self) -> ResultFile:
        """The current content as a :class:`ResultFile`."""
        return ResultFile(provenance=dict(self._provenance), records=self.records, path=self.path)

    def add(self, record: ResultRecord) -> None:
        """Add (or replace, same id) a record and rewrite the file atomically.

        If serialisation or writing fails, the file on disk and this writer keep the previous records.

        Raises:
            BaselineFormatError: The record holds values that JSON cannot store (NaN, objects).
        """
        if not isinstance(record, ResultRecord):
            raise TypeError(f"ResultWriter.add() takes a ResultRecord, got {type(record).__name__}")
        updated = dict(self._records)
        updated[record.id] = record
        document = ResultFile(provenance=self._provenance, records=tuple(updated.values())).to_dict()
        atomic_write_text(self.path, _serialise(document, f"record {record.id!r}"))
        self._records = updated

    def discard(self, record_id: str) -> bool:
        """Remove the record ``record_id`` (a placeholder a later record supersedes) and rewrite the file.

        Returns:
            True if a record was removed, False if none had that id (the file is left as it is).
        """
        if record_id not in self._records:
            return False
        updated = {k: v for k, v in self._records.items() if k != record_id}
        document = ResultFile(provenance=self._provenance, records=tuple(updated.values())).to_dict()
        atomic_write_text(self.path, _serialise(document, f"without record {record_id!r}"))
        self._records = updated
        return True
