"""Resuming an optimisation result file honestly: one default record per setting, holding every run's rounds.

Every call of the suite measures the default pipeline first: it is the reference of that call's deviations
(its round-1 output), of its one-time costs and of its in-memory checks. When a call resumes into a file that
already holds the default of the same setting, the new default's raw rounds are **appended** to the stored
default record instead of replacing it, and ``extra["round_runs"]`` names the run (this call's provenance
``date_utc``) each round came from; ``extra["runs"]`` keeps each run's setup cost and machine state. Every
record written by a call carries ``extra["run"]``; a variant's savings are judged against all the default's
rounds (every run), which is stricter than against its own run's rounds alone.

A resume is refused (:class:`~t2v_energy_lib.errors.OptimizationError`) when the stored file comes from
another GPU (uuid) or other library versions (a lever's own package, such as torchao or xformers, may be
installed by a later call: the default does not use it, and each record of that lever stores its version in
``extra["lever_packages"]``), or when its default record has other run settings (dtype,
device, weights) or other measured quantities: pooling those rounds would mix two references.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.errors import OptimizationError
from t2v_energy_lib.results.provenance import OPTIONAL_PACKAGES
from t2v_energy_lib.results.schema import ResultRecord

#: Run label of rounds stored before round_runs were recorded.
UNRECORDED = "unrecorded (stored before runs were labelled)"
FIX = "write this run to a new --out folder (or move the stored file away)"


def run_label(provenance: Mapping[str, Any], existing: ResultRecord | None = None) -> str:
    """This call's run label: its provenance ``date_utc`` (made unique against ``existing``'s runs)."""
    label = str(provenance.get("date_utc") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    taken = set(existing.extra.get("round_runs", ())) if existing is not None else set()
    out, n = label, 1
    while out in taken:
        n += 1
        out = f"{label}#{n}"
    return out


def _gpu_uuid(provenance: Mapping[str, Any]) -> Any:
    gpu = provenance.get("gpu")
    return gpu.get("uuid") if isinstance(gpu, Mapping) else gpu


def check_resumable(stored: Mapping[str, Any], provenance: Mapping[str, Any], path: Any) -> None:
    """Refuse to resume ``path`` (provenance ``stored``) from a run on another GPU or other versions.

    Raises:
        OptimizationError: the GPU uuid or a library version differs.
    """
    diffs = []
    if _gpu_uuid(stored) != _gpu_uuid(provenance):
        diffs.append(f"GPU uuid {_gpu_uuid(stored)} vs {_gpu_uuid(provenance)}")
    old, new = stored.get("versions") or {}, provenance.get("versions") or {}
    diffs += [
        f"{k} {old.get(k)} vs {new.get(k)}"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k) and k not in OPTIONAL_PACKAGES  # the lever's records name its version
    ]
    if diffs:
        raise OptimizationError(
            f"resume refused: {path} was measured with other hardware or versions ({'; '.join(diffs)}); its "
            f"default pipeline is not this run's reference. Fix: {FIX}"
        )


def check_default_settings(existing: ResultRecord | None, settings: Mapping[str, Any]) -> None:
    """Refuse to resume when the stored default of this setting ran with other run settings.

    Raises:
        OptimizationError: dtype, device, weights or steps differ.
    """
    if existing is None:
        return
    diffs = [
        f"{k} {existing.settings.get(k)!r} vs {v!r}"
        for k, v in settings.items()
        if existing.settings.get(k) != v
    ]
    if diffs:
        raise OptimizationError(
            f"resume refused: the stored default {existing.id} ran with other settings ({'; '.join(diffs)}). "
            f"Fix: {FIX}"
        )


def _run_entry(record: ResultRecord, run: str) -> dict[str, Any]:
    e = record.extra
    n = len(next(iter(record.rounds.values()), ()))
    return {
        "run": run,
        "rounds": n,
        "setup_s": e.get("setup_s"),
        "setup_gpu_energy_j": e.get("setup_gpu_energy_j"),
        "machine_state": dict(record.machine_state or {}),
    }


def labelled_default(new: ResultRecord, existing: ResultRecord | None, run: str) -> ResultRecord:
    """The default record to store: ``new`` labelled with ``run``, its rounds appended to ``existing``'s.

    Raises:
        OptimizationError: ``existing`` has other settings or other measured quantities than ``new``.
    """
    n = len(next(iter(new.rounds.values()), ()))
    extra = {**new.extra, "run": run, "round_runs": [run] * n, "runs": [_run_entry(new, run)]}
    if existing is None:
        return dataclasses.replace(new, extra=extra)
    check_default_settings(existing, new.settings)
    if set(existing.rounds) != set(new.rounds):
        raise OptimizationError(
            f"resume refused: the stored default {existing.id} holds quantities {sorted(existing.rounds)}, "
            f"this run measured {sorted(new.rounds)}: their rounds cannot be pooled. Fix: {FIX}"
        )
    old_n = len(next(iter(existing.rounds.values()), ()))
    old_runs = list(existing.extra.get("round_runs") or [UNRECORDED] * old_n)
    old_entries = list(existing.extra.get("runs") or [_run_entry(existing, UNRECORDED)])
    rounds = {q: [*existing.rounds[q], *new.rounds[q]] for q in new.rounds}
    extra.update(round_runs=[*old_runs, *extra["round_runs"]], runs=[*old_entries, *extra["runs"]])
    return dataclasses.replace(new, rounds=rounds, machine_state=existing.machine_state, extra=extra)
