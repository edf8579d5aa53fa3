"""Read pytest-benchmark JSON files (``--benchmark-json`` / ``--benchmark-autosave``) as result sets.

Mapping (pytest-benchmark's documented format):

- ``benchmarks[i].fullname`` -> record id; ``group`` -> suite (``"pytest-benchmark"`` when unset);
  ``name`` -> component; ``extra_info["settings"]`` (the plugin's) else ``params`` -> settings; model
  from ``extra_info["model"]`` (else ``"unknown"``).
- ``stats.data`` (per-iteration seconds) -> ``rounds["latency_s"]``. Files saved without data keep only the
  mean: one round, so comparisons flag "no noise estimate" (``extra["summary_only"] = True``).
- ``extra_info`` energy keys written by the t2v-energy plugin (``energy_gpu_j_rounds``,
  ``energy_gpu_above_idle_j_rounds``, ``host_energy_j_rounds``: each quantity's ``extra_info_key`` in
  :mod:`.quantities`), or the plain rounds keys ``gpu_energy_j`` / ``gpu_energy_above_idle_j`` /
  ``host_energy_j`` (a list of per-round J, or one number) -> the rounds of that quantity; other
  ``extra_info`` keys -> ``extra``. With ``extra_info["units_per_round"]`` (e.g. denoising steps per round)
  latency and energy are divided by it, so rounds are per unit of work as in the project's own files; the
  plugin's ``result_id``, ``suite`` and ``component`` become the record's id, suite and component.
- ``machine_info`` -> provenance: ``machine_info["t2v_energy"]`` when the t2v-energy plugin stored a full
  :func:`~t2v_energy_lib.results.collect_provenance` there; otherwise host and Python from pytest-benchmark's
  fields and ``gpu = None``. ``commit_info``, ``datetime`` and ``version`` are kept too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.results.quantities import LATENCY, extra_info_keys
from t2v_energy_lib.results.schema import RecordProblem, ResultFile, ResultRecord

#: ``extra_info`` key -> rounds key: the fixture's keys first, then the plain rounds keys.
ENERGY_KEYS = {**extra_info_keys(), **{key: key for key in extra_info_keys().values()}}
PROVENANCE_KEY = "t2v_energy"


def is_pytest_benchmark(data: Any) -> bool:
    """True when a decoded JSON document looks like pytest-benchmark output."""
    return (
        isinstance(data, Mapping) and "benchmarks" in data and "machine_info" in data and "schema" not in data
    )


def _provenance(data: Mapping[str, Any]) -> dict[str, Any]:
    machine = data.get("machine_info") or {}
    ours = machine.get(PROVENANCE_KEY)
    if isinstance(ours, Mapping):
        provenance = dict(ours)
    else:
        cpu = machine.get("cpu") if isinstance(machine.get("cpu"), Mapping) else {}
        provenance = {
            "gpu": None,
            "host": {
                "cpu_model": cpu.get("brand_raw") or machine.get("processor") or None,
                "hostname": machine.get("node"),
                "os": " ".join(str(machine.get(k, "")) for k in ("system", "release")).strip() or None,
                "python": machine.get("python_version"),
            },
            "versions": {},
            "unavailable": {"gpu": "pytest-benchmark file without t2v-energy provenance"},
        }
    provenance.setdefault("date_utc", data.get("datetime"))
    provenance["pytest_benchmark"] = {
        "version": data.get("version"),
        "datetime": data.get("datetime"),
        "commit_info": data.get("commit_info"),
    }
    return provenance


def _energy_rounds(value: Any) -> tuple[float, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, list):
        return tuple(value)
    raise RecordProblem(
        f"extra_info energy is {type(value).__name__}, expected a number or a list of numbers"
    )


def _record(bench: Any) -> ResultRecord:
    if not isinstance(bench, Mapping):
        raise RecordProblem(f"is a {type(bench).__name__}, not an object")
    for key in ("fullname", "name", "stats"):
        if key not in bench:
            raise RecordProblem(f"has no {key!r}")
    stats = bench["stats"]
    extra_info = dict(bench.get("extra_info") or {})
    extra: dict[str, Any] = {"source": "pytest-benchmark"}
    if isinstance(stats, Mapping) and stats.get("data"):
        latency = tuple(stats["data"])
    elif isinstance(stats, Mapping) and "mean" in stats:
        latency = (stats["mean"],)
        extra.update(summary_only=True, pytest_benchmark_rounds=stats.get("rounds"))
    else:
        raise RecordProblem("has neither 'stats.data' nor 'stats.mean'")
    rounds: dict[str, tuple[float, ...]] = {LATENCY.key: latency}
    for key, rounds_key in ENERGY_KEYS.items():
        if extra_info.get(key) is not None and rounds_key not in rounds:
            rounds[rounds_key] = _energy_rounds(extra_info.pop(key))
    units = extra_info.get("units_per_round") or 1
    if not isinstance(units, int | float) or units <= 0:
        raise RecordProblem(f"extra_info units_per_round is {units!r}, expected a positive number")
    if units != 1:
        rounds = {key: tuple(v / units for v in values) for key, values in rounds.items()}
    # the plugin's plain settings dict; params may hold objects pytest-benchmark could not serialise
    settings = dict(extra_info.pop("settings", None) or bench.get("params") or {})
    model = extra_info.pop("model", None) or "unknown"
    record_id = extra_info.pop("result_id", None) or bench["fullname"]
    suite = extra_info.pop("suite", None) or bench.get("group") or "pytest-benchmark"
    component = extra_info.pop("component", None) or bench["name"]
    extra.update(extra_info)
    if isinstance(stats, Mapping) and "iterations" in stats:
        extra["iterations"] = stats["iterations"]
    return ResultRecord(
        id=str(record_id),
        suite=str(suite),
        model=str(model),
        component=str(component),
        settings=settings,
        rounds=rounds,
        extra=extra,
    )


def convert_pytest_benchmark(data: Mapping[str, Any], where: str, path: Path | None = None) -> ResultFile:
    """Convert a decoded pytest-benchmark document to a :class:`ResultFile`.

    Raises:
        BaselineFormatError: Names ``where``, the benchmark and the problem.
    """
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise BaselineFormatError(f"{where}: pytest-benchmark file whose 'benchmarks' is not a list")
    records = []
    for i, bench in enumerate(benchmarks):
        try:
            records.append(_record(bench))
        except RecordProblem as exc:
            name = bench.get("fullname") if isinstance(bench, Mapping) else None
            label = f"benchmark {i}" + (f" ({name!r})" if name else "")
            raise BaselineFormatError(
                f"{where}: {label} {exc}; rerun pytest with --benchmark-json to regenerate it"
            ) from None
    try:
        return ResultFile(provenance=_provenance(data), records=tuple(records), path=path)
    except BaselineFormatError as exc:
        raise BaselineFormatError(f"{where}: {exc}") from None
