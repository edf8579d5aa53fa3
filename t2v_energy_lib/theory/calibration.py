"""A GPU's measured ceilings (a short calibration run) read from a file: the reading side of the format.

Two layouts are read. ``python -m t2v_energy_lib.bench.calibrate OUT.json`` writes a t2v-energy RESULT file
(suite ``calibration``: records ``.../matmul_ceiling`` with rounds ``achieved_flops_per_s`` and the window's
``extra.mean_power_w``, ``calibration/copy/copy`` with rounds ``copy_bytes_per_s``, ``calibration/idle/idle``
with ``extra.mean_power_w``), so that it can sit in a baseline folder beside the sweeps. A plain calibration
document is read too::

    {"schema": "t2v-energy.calibration", "schema_version": 1,
     "gpu": {"name": "NVIDIA H200", "power_limit_w": 700.0, ...},      # NVML facts (provenance["gpu"])
     "provenance": {...},                                               # optional: the full provenance
     "matmul_flops_per_s": [r1, r2, ...],   # bf16 n x n matmul throughput, one value per round. FLOP/s
     "copy_bytes_per_s": [r1, r2, ...],     # device copy, bytes read + written per second, per round
     "idle_power_w": 121.0,                 # mean board power over an idle window. W
     "loaded_power_w": 690.0,               # mean board power over the matmul window. W
     "matmul_n": 8192, "date_utc": "..."}

:meth:`GpuCalibration.from_mapping` also reads a t2v-energy result file whose records hold the same figures:
the meter reference check (``python -m t2v_energy_lib.bench.reference``: records ``reference/idle/idle`` and
``reference/matmul-bf16-8192/matmul`` with ``extra.achieved_tflops``/``mean_power_w``/``idle_power_w``; it
measures no copy bandwidth) and records whose component is ``matmul_ceiling``/``matmul``, ``copy``, ``idle``
or ``loaded`` with rounds ``achieved_flops_per_s``/``matmul_flops_per_s``/``copy_bytes_per_s``/``power_w``.
Raw per-round values are kept; the ceilings used are the best round (throughput) and the mean (power).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.theory.gpus import GpuSpec, get_gpu

SCHEMA = "t2v-energy.calibration"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class GpuCalibration:
    """Measured ceilings of one GPU.

    Attributes:
        gpu_name: The GPU's NVML name (e.g. ``"NVIDIA H200"``).
        matmul_flops_per_s: bf16 matmul throughput per round. Units: FLOP/s.
        copy_bytes_per_s: Device-to-device copy bandwidth per round (bytes read + written); empty when not
            measured. Units: bytes/s.
        idle_power_w: Mean board power at idle. Units: W.
        loaded_power_w: Mean board power over the matmul window. Units: W.
        power_limit_w: The board's power limit (None: not recorded). Units: W.
        date_utc: When it was measured (ISO 8601; empty when unknown).
        source: The file it was read from (empty when built in code).
        gpu: The NVML facts recorded with it.
    """

    gpu_name: str
    matmul_flops_per_s: tuple[float, ...]
    copy_bytes_per_s: tuple[float, ...]
    idle_power_w: float
    loaded_power_w: float
    power_limit_w: float | None = None
    date_utc: str = ""
    source: str = ""
    gpu: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.matmul_flops_per_s or min(self.matmul_flops_per_s) <= 0:
            raise BaselineFormatError(
                f"calibration {self.source or self.gpu_name}: needs >= 1 positive matmul_flops_per_s round; "
                "rerun `python -m t2v_energy_lib.bench.calibrate OUT.json` on the GPU"
            )
        if any(v <= 0 for v in self.copy_bytes_per_s):
            raise BaselineFormatError(f"calibration {self.source}: copy_bytes_per_s rounds must be positive")
        if not 0 < self.idle_power_w < self.loaded_power_w:
            raise BaselineFormatError(
                f"calibration {self.source or self.gpu_name}: needs 0 < idle_power_w ({self.idle_power_w}) < "
                f"loaded_power_w ({self.loaded_power_w}); the idle window ran under load or the matmul "
                "window was too short: rerun the calibration on an otherwise idle GPU"
            )

    @property
    def peak_matmul_flops_per_s(self) -> float:
        """Best measured matmul throughput. Units: FLOP/s."""
        return max(self.matmul_flops_per_s)

    @property
    def peak_copy_bytes_per_s(self) -> float | None:
        """Best measured copy bandwidth (None: not measured). Units: bytes/s."""
        return max(self.copy_bytes_per_s) if self.copy_bytes_per_s else None

    @property
    def dynamic_power_w(self) -> float:
        """Loaded minus idle power: what full compute adds. Units: W."""
        return self.loaded_power_w - self.idle_power_w

    def datasheet(self) -> GpuSpec:
        """The datasheet spec of this GPU model (theory/gpus.py)."""
        return get_gpu(self.gpu_name)

    def spec(self) -> GpuSpec:
        """A :class:`GpuSpec` with the measured ceilings (the datasheet bandwidth where none was measured)."""
        base = self.datasheet()
        spec = GpuSpec.from_measured(
            base, self.peak_matmul_flops_per_s, self.peak_copy_bytes_per_s or base.mem_bandwidth_bytes_per_s
        )
        if self.peak_copy_bytes_per_s is None:  # say which ceiling is not measured
            spec = replace(spec, name=f"{base.name} (measured matmul, datasheet bandwidth)")
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The calibration file's content (raw rounds)."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "gpu": dict(self.gpu or {"name": self.gpu_name, "power_limit_w": self.power_limit_w}),
            "date_utc": self.date_utc,
            "matmul_flops_per_s": list(self.matmul_flops_per_s),
            "copy_bytes_per_s": list(self.copy_bytes_per_s),
            "idle_power_w": self.idle_power_w,
            "loaded_power_w": self.loaded_power_w,
        }

    @classmethod
    def from_json(cls, path: str | Path) -> GpuCalibration:
        """Read a calibration document or a result file of calibration records (see the module docstring).

        Raises:
            BaselineFormatError: Missing file, bad JSON, or no calibration figures in it.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise BaselineFormatError(
                f"{path}: no such calibration file; measure one on the GPU with "
                "`python -m t2v_energy_lib.bench.calibrate OUT.json`"
            ) from None
        except json.JSONDecodeError as exc:
            raise BaselineFormatError(
                f"{path}: is not valid JSON ({exc.msg}); rerun the calibration"
            ) from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "") -> GpuCalibration:
        """Parse the calibration layout or a result file's records (see the module docstring)."""
        if not isinstance(data, Mapping):
            raise BaselineFormatError(f"{source}: a calibration file is a JSON object")
        if data.get("schema") == SCHEMA:
            return _from_calibration(data, source)
        if isinstance(data.get("records"), list):
            return _from_records(data, source)
        raise BaselineFormatError(
            f"{source}: neither a {SCHEMA!r} file nor a result file with calibration records "
            "(matmul, copy, idle/loaded power); write one with `python -m t2v_energy_lib.bench.calibrate`"
        )


def _floats(values: Any, what: str, source: str) -> tuple[float, ...]:
    if values is None:
        return ()
    if isinstance(values, (int, float)):
        return (float(values),)
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise BaselineFormatError(f"{source}: {what} must be a number or a list of per-round numbers")
    return tuple(float(v) for v in values)


def _gpu_facts(data: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    gpu = data.get("gpu")
    if not isinstance(gpu, Mapping):
        provenance = data.get("provenance")
        gpu = provenance.get("gpu") if isinstance(provenance, Mapping) else None
    if not isinstance(gpu, Mapping) or not gpu.get("name"):
        raise BaselineFormatError(
            f"{source}: the calibration names no GPU (gpu.name); it must say which GPU it measured"
        )
    return gpu


def _from_calibration(data: Mapping[str, Any], source: str) -> GpuCalibration:
    gpu = _gpu_facts(data, source)
    try:
        idle, loaded = float(data["idle_power_w"]), float(data["loaded_power_w"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BaselineFormatError(f"{source}: idle_power_w and loaded_power_w are required ({exc})") from None
    provenance = data.get("provenance")
    date = data.get("date_utc") or (provenance.get("date_utc") if isinstance(provenance, Mapping) else "")
    return GpuCalibration(
        gpu_name=str(gpu["name"]),
        matmul_flops_per_s=_floats(data.get("matmul_flops_per_s"), "matmul_flops_per_s", source),
        copy_bytes_per_s=_floats(data.get("copy_bytes_per_s"), "copy_bytes_per_s", source),
        idle_power_w=idle,
        loaded_power_w=loaded,
        power_limit_w=gpu.get("power_limit_w"),
        date_utc=str(date or ""),
        source=source,
        gpu=dict(gpu),
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _from_records(data: Mapping[str, Any], source: str) -> GpuCalibration:
    gpu = _gpu_facts(data, source)
    matmul: list[float] = []
    copy: list[float] = []
    idle: list[float] = []
    loaded: list[float] = []
    for record in data["records"]:
        if not isinstance(record, Mapping):
            continue
        component = str(record.get("component", ""))
        rounds = record.get("rounds") if isinstance(record.get("rounds"), Mapping) else {}
        extra = record.get("extra") if isinstance(record.get("extra"), Mapping) else {}
        if component in ("matmul", "matmul_ceiling"):
            for key in ("achieved_flops_per_s", "matmul_flops_per_s"):
                matmul += _floats(rounds.get(key), key, source)
            if not matmul and "achieved_tflops" in extra:  # the meter reference check
                matmul.append(float(extra["achieved_tflops"]) * 1e12)
            if "mean_power_w" in extra:
                loaded.append(float(extra["mean_power_w"]))
            if "idle_power_w" in extra and not idle:
                idle.append(float(extra["idle_power_w"]))
        elif component == "copy":
            copy += _floats(rounds.get("copy_bytes_per_s"), "copy_bytes_per_s", source)
        elif component in ("idle", "loaded"):
            watts = _floats(rounds.get("power_w"), "power_w", source) or _floats(
                extra.get("mean_power_w"), "mean_power_w", source
            )
            (idle if component == "idle" else loaded).extend(watts)
    if not matmul or not idle or not loaded:
        raise BaselineFormatError(
            f"{source}: a result file read as a calibration needs matmul throughput and idle and loaded "
            f"power records (found {len(matmul)} matmul, {len(idle)} idle, {len(loaded)} loaded); measure "
            "them with `python -m t2v_energy_lib.bench.calibrate OUT.json`"
        )
    provenance = data.get("provenance")
    return GpuCalibration(
        gpu_name=str(gpu["name"]),
        matmul_flops_per_s=tuple(matmul),
        copy_bytes_per_s=tuple(copy),
        idle_power_w=_mean(idle),
        loaded_power_w=_mean(loaded),
        power_limit_w=gpu.get("power_limit_w"),
        date_utc=str(provenance.get("date_utc", "")) if isinstance(provenance, Mapping) else "",
        source=source,
        gpu=dict(gpu),
    )
