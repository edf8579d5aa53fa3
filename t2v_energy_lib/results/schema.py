"""The result-file schema: :class:`ResultRecord`, :class:`ResultFile` and their validation.

A result file is JSON::

    {"schema": "t2v-energy.results", "schema_version": 1, "provenance": {...}, "records": [...]}

Each record keeps raw per-round floats (``rounds``), one list per quantity, each per unit of work (a denoising
step, a call). Nothing is rounded or summarised when stored; :func:`t2v_energy_lib.results.summarize` computes
summaries on read.

Validation raises :class:`~t2v_energy_lib.errors.BaselineFormatError`. Inside this module the problem is
described without a file name; the loader (:mod:`.storage`) adds the file and the record index.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.results.provenance import migrate_provenance
from t2v_energy_lib.results.quantities import migrate_rounds, sign_problem

SCHEMA = "t2v-energy.results"
SCHEMA_VERSION = 1
REGENERATE_HINT = "regenerate it with `t2v-energy characterize`"

RECORD_KEYS = ("id", "suite", "model", "component", "settings", "rounds")
_STR_KEYS = ("id", "suite", "model", "component")


class RecordProblem(BaselineFormatError):
    """One record breaks the schema (the message describes the problem; the loader adds file and index)."""


def _copy(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy, so later changes to the caller's dict do not reach the record (stays picklable)."""
    return dict(mapping)


def _check_rounds(rounds: Any) -> dict[str, tuple[float, ...]]:
    if not isinstance(rounds, Mapping) or not rounds:
        raise RecordProblem("'rounds' must be a non-empty object of quantity -> list of numbers")
    out: dict[str, tuple[float, ...]] = {}
    for key, values in rounds.items():
        if not isinstance(key, str):
            raise RecordProblem(f"rounds key {key!r} is not a string")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise RecordProblem(f"rounds[{key!r}] must be a list of numbers, got {type(values).__name__}")
        values = tuple(values)
        if not values:
            raise RecordProblem(f"rounds[{key!r}] is empty; a record needs at least one round")
        for i, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RecordProblem(f"rounds[{key!r}][{i}] is {type(value).__name__}, not a number")
            if not math.isfinite(value):
                raise RecordProblem(f"rounds[{key!r}][{i}] is {value!r}; rounds must be finite numbers")
            problem = sign_problem(key, value)
            if problem is not None:
                raise RecordProblem(f"rounds[{key!r}][{i}] {problem}")
        out[key] = tuple(float(v) for v in values)
    return out


@dataclass(frozen=True)
class ResultRecord:
    """One measured (or composed, or estimated) test: raw rounds per unit of work plus context.

    Attributes:
        id: Stable across runs, e.g. ``"resolution/wan2.1-t2v-1.3b/480x832x81-s50/denoiser_step"``.
        suite: The suite the record belongs to (``"resolution"``).
        model: Model spec id (``"wan2.1-t2v-1.3b"``).
        component: What was measured (``"denoiser_step"``, ``"vae_decode"``, ``"end_to_end"``).
        settings: The exact settings of the run (height, width, frames, steps, guidance, dtype...).
        rounds: Quantity name -> raw per-round values, each per unit of work. Keys carry their unit
            (``latency_s`` in s, ``gpu_energy_j`` and ``gpu_energy_above_idle_j`` in J); the known ones and
            their sign rules are declared in :mod:`t2v_energy_lib.results.quantities`.
        units_per_round: How many units of work one round covered (values are already divided by it).
        extra: Free context: token length, peak memory, flags ``composed`` / ``estimated``.
        machine_state: GPU state sampled around the record (clocks, temperature, throttle reasons).
    """

    id: str
    suite: str
    model: str
    component: str
    settings: Mapping[str, Any]
    rounds: Mapping[str, tuple[float, ...]]
    units_per_round: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)
    machine_state: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in _STR_KEYS:
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise RecordProblem(f"{key!r} must be a non-empty string, got {value!r}")
        for key in ("settings", "extra", "machine_state"):
            if not isinstance(getattr(self, key), Mapping):
                raise RecordProblem(f"{key!r} must be an object, got {type(getattr(self, key)).__name__}")
            object.__setattr__(self, key, _copy(getattr(self, key)))
        object.__setattr__(self, "rounds", _copy(_check_rounds(self.rounds)))
        upr = self.units_per_round
        if isinstance(upr, bool) or not isinstance(upr, int) or upr < 1:
            raise RecordProblem(f"'units_per_round' must be an integer >= 1, got {upr!r}")

    @property
    def composed(self) -> bool:
        """True when the figures were composed from measured parts rather than measured whole."""
        return bool(self.extra.get("composed", False))

    @property
    def estimated(self) -> bool:
        """True when the figures are estimates (not measured)."""
        return bool(self.extra.get("estimated", False))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists, not tuples; full float precision)."""
        return {
            "id": self.id,
            "suite": self.suite,
            "model": self.model,
            "component": self.component,
            "settings": dict(self.settings),
            "rounds": {k: list(v) for k, v in self.rounds.items()},
            "units_per_round": self.units_per_round,
            "extra": dict(self.extra),
            "machine_state": dict(self.machine_state),
        }

    @classmethod
    def from_dict(cls, data: Any) -> ResultRecord:
        """Build and validate a record from its dict form (legacy rounds migrated: see ``migrate_rounds``).

        Raises:
            BaselineFormatError: A key is missing or mistyped, or a round is NaN or a negative energy.
        """
        if not isinstance(data, Mapping):
            raise RecordProblem(f"is a {type(data).__name__}, not an object")
        for key in RECORD_KEYS:
            if key not in data:
                raise RecordProblem(f"has no {key!r}")
        return cls(
            id=data["id"],
            suite=data["suite"],
            model=data["model"],
            component=data["component"],
            settings=data["settings"],
            rounds=migrate_rounds(data["rounds"]) if isinstance(data["rounds"], Mapping) else data["rounds"],
            units_per_round=data.get("units_per_round", 1),
            extra=data.get("extra", {}),
            machine_state=data.get("machine_state", {}),
        )


@dataclass(frozen=True)
class ResultFile:
    """A set of records with the provenance of the run that produced them.

    Attributes:
        provenance: What :func:`~t2v_energy_lib.results.collect_provenance` recorded (hardware, versions).
        records: The records, in file order.
        path: Where the results were loaded from (a file or a folder), if anywhere.
    """

    provenance: Mapping[str, Any]
    records: tuple[ResultRecord, ...]
    path: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(self.records))
        seen: set[str] = set()
        for record in self.records:
            if record.id in seen:
                raise BaselineFormatError(
                    f"duplicate record id {record.id!r}; ids must be unique in a result set"
                )
            seen.add(record.id)

    def by_id(self) -> dict[str, ResultRecord]:
        """Records keyed by id."""
        return {r.id: r for r in self.records}

    def select(
        self, suite: str | None = None, model: str | None = None, component: str | None = None
    ) -> list[ResultRecord]:
        """Records matching every given filter (``None`` matches all)."""
        return [
            r
            for r in self.records
            if (suite is None or r.suite == suite)
            and (model is None or r.model == model)
            and (component is None or r.component == component)
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this result set."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "provenance": dict(self.provenance),
            "records": [r.to_dict() for r in self.records],
        }


def check_header(data: Any) -> None:
    """Check the document's top level: our schema name, a readable version, provenance, records.

    Raises:
        BaselineFormatError: Describes the problem (no file name; the caller adds it).
    """
    if not isinstance(data, Mapping):
        raise BaselineFormatError(f"top level is a {type(data).__name__}, not an object; {REGENERATE_HINT}")
    if data.get("schema") != SCHEMA:
        raise BaselineFormatError(
            f"'schema' is {data.get('schema')!r}, expected {SCHEMA!r}: not a t2v-energy result file; "
            f"{REGENERATE_HINT}"
        )
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise BaselineFormatError(f"'schema_version' is {version!r}, not an integer; {REGENERATE_HINT}")
    if version > SCHEMA_VERSION:
        raise BaselineFormatError(
            f"schema_version {version} is newer than this t2v-energy reads ({SCHEMA_VERSION}); "
            "upgrade t2v-energy"
        )
    if version < 1:
        raise BaselineFormatError(f"schema_version {version} is invalid; {REGENERATE_HINT}")
    if not isinstance(data.get("provenance"), Mapping):
        raise BaselineFormatError(f"has no 'provenance' object; {REGENERATE_HINT}")
    if not isinstance(data.get("records"), list):
        raise BaselineFormatError(f"has no 'records' list; {REGENERATE_HINT}")


def parse_document(data: Any, where: str, path: Path | None = None) -> ResultFile:
    """Validate a decoded result document and build the :class:`ResultFile`.

    Args:
        data: The decoded JSON.
        where: How to name the source in messages (usually the file path).
        path: Stored as :attr:`ResultFile.path`.

    Raises:
        BaselineFormatError: Names ``where``, the record (index and id) and the fix.
    """
    try:
        check_header(data)
    except BaselineFormatError as exc:
        raise BaselineFormatError(f"{where}: {exc}") from None
    records = []
    for i, item in enumerate(data["records"]):
        try:
            records.append(ResultRecord.from_dict(item))
        except RecordProblem as exc:
            rid = item.get("id") if isinstance(item, Mapping) else None
            label = f"record {i}" + (f" ({rid!r})" if isinstance(rid, str) else "")
            raise BaselineFormatError(f"{where}: {label} {exc}; {REGENERATE_HINT}") from None
    try:
        return ResultFile(
            provenance=migrate_provenance(data["provenance"]), records=tuple(records), path=path
        )
    except BaselineFormatError as exc:
        raise BaselineFormatError(f"{where}: {exc}; remove the stale copy or {REGENERATE_HINT}") from None
