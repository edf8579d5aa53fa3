"""Prediction across GPUs: one GPU's measured folder plus another GPU's calibration -> that GPU's figures.

:func:`predict_folder` carries every measured part of a source folder (text encoder, denoiser step or whole
denoising loop, VAE decode) to the target GPU through :mod:`t2v_energy_lib.theory.transfer` (roofline split
of the part's operators on the source, plus the share of normalisation/elementwise kernels the source's
operator profile measured; ceilings and board power from a calibration on each GPU), and recomposes each
per-video (composed) figure with the source's formula (``text_encoder + S x denoiser_step + vae_decode``).
The result is a prediction document, written with its creation time BEFORE the target is measured
(:func:`write_prediction`), so that :func:`score_prediction` can later prove the order and state the error
(MAPE over at least :data:`MIN_SCORED_POINTS` per-video points; goal :data:`MAPE_GOAL_PCT` %, reported
whatever it is).

The source's own measurements carry everything this model does not know (kernel choices, launch overheads,
utilisation): only what differs between the GPUs (ceilings and board power) is changed. Random weights: the
parts were measured with random weights, which leaves dense-kernel work and hence these transfers unchanged.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import BaselineFormatError, TooFewPointsError
from t2v_energy_lib.theory.calibration import GpuCalibration
from t2v_energy_lib.theory.gpus import GpuSpec

SCHEMA = "t2v-energy.cross-gpu-prediction"
SCHEMA_VERSION = 1
MAPE_GOAL_PCT = 5.0
MIN_SCORED_POINTS = 10
DENOISER_PARTS = ("denoiser_step", "denoise_loop")
PARTS = ("text_encoder", *DENOISER_PARTS, "vae_decode")
MEMORY_BOUND_PROFILE_SHARES = ("norm_elementwise", "other")  # kernels the analytic operators do not model
MAX_MEASURED_MEMORY_SHARE = 0.95
#: Files of a measured folder read as its GPU's calibration, first found first.
CALIBRATION_FILES = ("calibration.json", "reference.json")


def mean(values: Any) -> float:
    """Mean of a non-empty sequence of rounds."""
    values = list(values)
    return sum(values) / len(values)


def ceilings(source: GpuCalibration, target: GpuCalibration) -> tuple[GpuSpec, GpuSpec, str]:
    """Both GPUs' ceilings for the transfer, and how the bandwidth ratio was obtained.

    Measured matmul throughput on both sides. Copy bandwidth: measured on both sides when it was; when only
    one side measured it, the other side's is that figure times the datasheet ratio (the same fraction of
    the datasheet on both GPUs); when neither did, the datasheets.
    """
    src, tgt = source.spec(), target.spec()
    sheet_src = source.datasheet().mem_bandwidth_bytes_per_s
    sheet_tgt = target.datasheet().mem_bandwidth_bytes_per_s
    b_src, b_tgt = source.peak_copy_bytes_per_s, target.peak_copy_bytes_per_s
    if b_src and b_tgt:
        how = "measured copy bandwidth on both GPUs"
    elif b_tgt:
        b_src, how = b_tgt * sheet_src / sheet_tgt, "target measured; source = target x datasheet ratio"
    elif b_src:
        b_tgt, how = b_src * sheet_tgt / sheet_src, "source measured; target = source x datasheet ratio"
    else:
        b_src, b_tgt, how = sheet_src, sheet_tgt, "datasheets (no copy bandwidth measured)"
    src = GpuSpec.from_measured(source.datasheet(), src.peak_flops, b_src)
    tgt = GpuSpec.from_measured(target.datasheet(), tgt.peak_flops, b_tgt)
    return src, tgt, how


class PartOps:
    """Operators of each measured part, counted once per model and shape (the VAE count takes ~0.1-3 s)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], Any] = {}

    def __call__(self, record: Any) -> list[Any]:
        """Operators of the work one round-unit of ``record`` measures (only their time shares are used)."""
        from t2v_energy_lib.models import get_spec
        from t2v_energy_lib.theory import generation_flops, settings_from_mapping

        spec = get_spec(record.model)
        settings = settings_from_mapping(spec, record.settings)
        key = (record.model, record.component, settings)
        if key not in self._cache:
            vae = record.component == "vae_decode"
            g = generation_flops(spec, settings, include_vae=vae)
            if record.component in DENOISER_PARTS:
                ops = list(g.forward.ops)
            elif record.component == "text_encoder":
                ops = [op for b in g.text_encoders.values() for op in b.ops]
            elif vae and g.vae_decoder is not None:
                ops = list(g.vae_decoder.ops)
            else:
                raise BaselineFormatError(f"{record.id}: no operator model for component {record.component}")
            self._cache[key] = ops
        return self._cache[key]


def tokens_and_steps(record: Any) -> tuple[int, int]:
    from t2v_energy_lib.models import get_spec
    from t2v_energy_lib.theory import settings_from_mapping

    spec = get_spec(record.model)
    s = settings_from_mapping(spec, record.settings)
    return int(spec.token_length(s.height, s.width, s.num_frames)), int(s.num_inference_steps)


def elementwise_seconds_per_token(records: Any) -> dict[str, float]:
    """Per model: seconds of normalisation/elementwise kernels per video token in one step, on the source.

    From each ``operator_profile`` record (kernel-time shares of one step at the model's defaults) and the
    ``denoiser_step`` record of the same point: ``share x step latency / tokens``. These kernels stream the
    activations once or a few times, so their time grows linearly in tokens. Units: s per token.
    """
    by_id = {r.id: r for r in records}
    out: dict[str, float] = {}
    for record in records:
        if record.component != "operator_profile":
            continue
        shares = record.extra.get("profile", {}).get("shares", {})
        step = by_id.get(record.id.rsplit("/", 1)[0] + "/denoiser_step")
        if step is None or not shares:
            continue
        tokens, _ = tokens_and_steps(step)
        share = sum(float(shares.get(k, 0.0)) for k in MEMORY_BOUND_PROFILE_SHARES)
        out.setdefault(record.model, share * mean(step.rounds["latency_s"]) / tokens)
    return out


def measured_memory_share(record: Any, per_token_s: Mapping[str, float]) -> float:
    """Share of a denoiser part's step time in normalisation/elementwise kernels (0 for other parts)."""
    if record.component not in DENOISER_PARTS or record.model not in per_token_s:
        return 0.0
    tokens, steps = tokens_and_steps(record)
    step_s = mean(record.rounds["latency_s"]) / (steps if record.component == "denoise_loop" else 1)
    return min(MAX_MEASURED_MEMORY_SHARE, per_token_s[record.model] * tokens / step_s)


def transfer_part(
    record: Any, ops: PartOps, move: Mapping[str, Any], per_token_s: Mapping[str, float]
) -> dict[str, Any]:
    """One part of the prediction: ``record``'s mean latency and energy on the source, carried to the target.

    Args:
        record: A result record, or any object with its ``id``, ``model``, ``component``, ``settings`` and
            ``rounds`` (``latency_s``, ``gpu_energy_j``), e.g. a part fitted on the source.
        ops: The operator counter.
        move: :func:`~t2v_energy_lib.theory.transfer.predict_part`'s GPU arguments (``TransferSetup.move``).
        per_token_s: :func:`elementwise_seconds_per_token` of the source.
    """
    from t2v_energy_lib.theory.transfer import predict_part

    lat, energy = mean(record.rounds["latency_s"]), mean(record.rounds["gpu_energy_j"])
    measured = measured_memory_share(record, per_token_s)
    t, e, tr = predict_part(lat, energy, ops(record), **move, measured_memory_share=measured)
    return {
        "component": record.component,
        "model": record.model,
        "settings": dict(record.settings),
        "source_latency_s": lat,
        "source_energy_j": energy,
        "latency_s": t,
        "energy_j": e,
        "measured_memory_share": measured,
        "memory_share": tr.memory_share,
        "latency_ratio": tr.latency_ratio,
    }


@dataclass(frozen=True)
class TransferSetup:
    """Both GPUs of a prediction and what the transfer needs of them.

    Attributes:
        source: The source GPU's calibration.
        target: The target GPU's calibration.
        move: :func:`~t2v_energy_lib.theory.transfer.predict_part`'s ``source``, ``target``,
            ``source_power`` and ``target_power`` arguments.
        bandwidth_from: How the two copy bandwidths were obtained (:func:`ceilings`).
    """

    source: GpuCalibration
    target: GpuCalibration
    move: Mapping[str, Any]
    bandwidth_from: str


def transfer_setup(
    source_folder: str | Path, target: GpuCalibration, source: GpuCalibration | None = None
) -> TransferSetup:
    """The transfer's ceilings and board powers from the target's calibration and the source's.

    Args:
        source_folder: The source's measured folder (``baselines/<gpu>/<version>``).
        target: The target GPU's calibration.
        source: The source GPU's calibration (default: the folder's ``calibration.json``, else its meter
            reference check ``reference.json``, which has matmul throughput and idle/loaded power but no copy
            bandwidth).

    Raises:
        BaselineFormatError: No source calibration.
    """
    from t2v_energy_lib.theory.transfer import BoardPower

    folder = Path(source_folder)
    if source is None:
        found = [folder / name for name in CALIBRATION_FILES if (folder / name).is_file()]
        if not found:
            raise BaselineFormatError(
                f"{folder}: holds no {' or '.join(CALIBRATION_FILES)} to read the source GPU's ceilings "
                "from; "
                "pass the source GPU's calibration file (python -m t2v_energy_lib.bench.calibrate OUT.json)"
            )
        source = GpuCalibration.from_json(found[0])
    src_spec, tgt_spec, how = ceilings(source, target)
    move = {
        "source": src_spec,
        "target": tgt_spec,
        "source_power": BoardPower(source.idle_power_w, source.loaded_power_w),
        "target_power": BoardPower(target.idle_power_w, target.loaded_power_w),
    }
    return TransferSetup(source, target, move, how)


def prediction_document(
    setup: TransferSetup,
    source_folder: str | Path,
    measured_utc: str | None,
    *,
    method: str,
    per_token_s: Mapping[str, float],
    parts: Mapping[str, Any],
    points: Mapping[str, Any],
    skipped: Mapping[str, str],
    created_utc: str | None = None,
    git_commit: str | None = None,
) -> dict[str, Any]:
    """The prediction document (:data:`SCHEMA`) that :func:`score_prediction` reads."""
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    src_spec, tgt_spec = setup.move["source"], setup.move["target"]
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created_utc": created_utc or now,
        "git_commit": git_commit,
        "method": method,
        "elementwise_s_per_token": dict(per_token_s),
        "source": {
            "folder": str(source_folder),
            "gpu": setup.source.gpu_name,
            "measured_utc": measured_utc,
            "calibration": setup.source.to_dict() | {"from": setup.source.source},
        },
        "target": {
            "gpu": setup.target.gpu_name,
            "calibration": setup.target.to_dict() | {"from": setup.target.source},
        },
        "ceilings": {
            "source_matmul_flops_per_s": src_spec.peak_flops,
            "target_matmul_flops_per_s": tgt_spec.peak_flops,
            "source_bandwidth_bytes_per_s": src_spec.mem_bandwidth_bytes_per_s,
            "target_bandwidth_bytes_per_s": tgt_spec.mem_bandwidth_bytes_per_s,
            "bandwidth_from": setup.bandwidth_from,
        },
        "parts": dict(parts),
        "points": dict(points),
        "skipped": dict(skipped),
    }


def predict_folder(
    source_folder: str | Path,
    target: GpuCalibration,
    source: GpuCalibration | None = None,
    *,
    created_utc: str | None = None,
    git_commit: str | None = None,
) -> dict[str, Any]:
    """The prediction document of every per-video point of ``source_folder`` on the calibrated target GPU.

    Args:
        source_folder: A measured folder (``baselines/<gpu>/<version>``).
        target: The target GPU's calibration.
        source: The source GPU's calibration (default: see :func:`transfer_setup`).
        created_utc: Creation time to record (default: now).
        git_commit: The code's commit to record.

    Raises:
        BaselineFormatError: No source calibration, or no per-video point in the folder.
    """
    from t2v_energy_lib.results import load_results

    folder = Path(source_folder)
    setup = transfer_setup(folder, target, source)
    results = load_results(folder)
    by_id = results.by_id()
    per_token_s = elementwise_seconds_per_token(results.records)
    ops, parts, points, skipped = PartOps(), {}, {}, {}
    for record in results.records:
        if record.component != "composed" or "error" in record.extra:
            continue
        try:
            ids = dict(record.extra["parts"])
            unknown = set(ids) - set(PARTS)
            if unknown or "text_encoder" not in ids or "vae_decode" not in ids:
                raise BaselineFormatError(f"parts {sorted(ids)} are not text_encoder + denoiser + vae_decode")
            for pid in ids.values():
                if pid not in parts:
                    parts[pid] = transfer_part(by_id[pid], ops, setup.move, per_token_s)
        except Exception as exc:  # one point without a model must not hide the others: say why
            skipped[record.id] = f"{type(exc).__name__}: {exc}"
            continue
        points[record.id] = composed_point(record.suite, record.model, record.settings, ids, parts)
        points[record.id]["source_latency_s"] = mean(record.rounds["latency_s"])
        points[record.id]["source_energy_j"] = mean(record.rounds["gpu_energy_j"])
    if not points:
        raise BaselineFormatError(
            f"{folder}: no per-video (composed) point could be predicted ({len(skipped)} skipped: "
            f"{dict(list(skipped.items())[:3])}); point at a measured folder baselines/<gpu>/<version>"
        )
    return prediction_document(
        setup,
        folder,
        results.provenance.get("date_utc"),
        method="roofline transfer of each measured part (t2v_energy_lib/theory/transfer.py), with the "
        "normalisation/elementwise share of the source's operator profiles",
        per_token_s=per_token_s,
        parts=parts,
        points=points,
        skipped=skipped,
        created_utc=created_utc,
        git_commit=git_commit,
    )


def composed_point(
    suite: str,
    model: str,
    settings: Mapping[str, Any],
    ids: Mapping[str, str],
    parts: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """A per-video point from its predicted parts: ``text_encoder + S x denoiser_step + vae_decode``.

    A ``denoise_loop`` part counts once; ``source_latency_s`` / ``source_energy_j`` compose the parts' source
    values the same way (the caller replaces them with a measured per-video figure where there is one).
    """
    steps = int(settings["num_inference_steps"])
    times = {name: steps if name == "denoiser_step" else 1 for name in ids}

    def total(key: str) -> float:
        return sum(n * parts[ids[name]][key] for name, n in times.items())

    return {
        "suite": suite,
        "model": model,
        "settings": dict(settings),
        "latency_s": total("latency_s"),
        "gpu_energy_j": total("energy_j"),
        "source_latency_s": total("source_latency_s"),
        "source_energy_j": total("source_energy_j"),
        "parts": dict(ids),
    }


def write_prediction(path: str | Path, document: Mapping[str, Any]) -> Path:
    """Write a prediction document atomically (raw floats). Returns the path."""
    from t2v_energy_lib.results.storage import atomic_write_text

    target = Path(path)
    atomic_write_text(target, json.dumps(document, indent=2, allow_nan=False) + "\n")
    return target


def load_prediction(path: str | Path) -> dict[str, Any]:
    """Read a prediction document.

    Raises:
        BaselineFormatError: Missing file, bad JSON or another schema.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise BaselineFormatError(
            f"{path}: cannot read the prediction ({exc}); write one with `t2v-energy gpus predict`"
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise BaselineFormatError(
            f"{path}: not a {SCHEMA!r} document; write one with `t2v-energy gpus predict`"
        )
    return data


@dataclass(frozen=True)
class ScoredPoint:
    """One predicted figure beside its measurement.

    Attributes:
        record_id: The record id (the same on both GPUs).
        component: ``composed`` (per video) or a part's component.
        predicted_latency_s: Units: s.
        measured_latency_s: Units: s.
        predicted_energy_j: Units: J.
        measured_energy_j: Units: J.
    """

    record_id: str
    component: str
    predicted_latency_s: float
    measured_latency_s: float
    predicted_energy_j: float
    measured_energy_j: float

    @property
    def latency_error_pct(self) -> float:
        """(predicted - measured) / measured x 100. Units: %."""
        return (self.predicted_latency_s / self.measured_latency_s - 1.0) * 100.0

    @property
    def energy_error_pct(self) -> float:
        """(predicted - measured) / measured x 100. Units: %."""
        return (self.predicted_energy_j / self.measured_energy_j - 1.0) * 100.0


@dataclass(frozen=True)
class CrossGpuScore:
    """How a prediction did against the target's measurements.

    Attributes:
        points: Per-video points scored.
        parts: Parts scored (denoiser steps, decodes, text encoders).
        unmeasured: Predicted per-video points the measured folder does not hold.
        predicted_utc: When the prediction was written.
        first_measured_utc: The earliest run start among the measured folder's files.
        goal_pct: The MAPE goal. Units: %.
        measured_utc: Record id -> start of the run that measured it (its result file's, or for a merged
            file its worker's ``date_utc``), for the per-video points.
    """

    points: tuple[ScoredPoint, ...]
    parts: tuple[ScoredPoint, ...]
    unmeasured: tuple[str, ...]
    predicted_utc: str
    first_measured_utc: str | None
    goal_pct: float = MAPE_GOAL_PCT
    measured_utc: tuple[tuple[str, str], ...] = ()

    @property
    def blind_points(self) -> tuple[ScoredPoint, ...]:
        """The per-video points measured after the prediction was written: the only prospective score."""
        if not self.predicted_utc:
            return ()
        written = _parse_utc(self.predicted_utc)
        dates = dict(self.measured_utc)
        return tuple(
            p for p in self.points if dates.get(p.record_id) and _parse_utc(dates[p.record_id]) > written
        )

    @staticmethod
    def mape(points: tuple[ScoredPoint, ...], quantity: str) -> float:
        """Mean absolute percentage error of ``latency`` or ``energy`` over ``points``. Units: %."""
        errors = [abs(getattr(p, f"{quantity}_error_pct")) for p in points]
        return sum(errors) / len(errors)

    @property
    def latency_mape_pct(self) -> float:
        """Per-video latency MAPE. Units: %."""
        return self.mape(self.points, "latency")

    @property
    def energy_mape_pct(self) -> float:
        """Per-video energy MAPE. Units: %."""
        return self.mape(self.points, "energy")

    @property
    def meets_goal(self) -> bool:
        """Both MAPEs at or under the goal."""
        return max(self.latency_mape_pct, self.energy_mape_pct) <= self.goal_pct

    @property
    def predicted_before_measured(self) -> bool | None:
        """Whether the prediction was written before the first measurement (None: a time is unknown)."""
        if not self.first_measured_utc or not self.predicted_utc:
            return None
        return _parse_utc(self.predicted_utc) < _parse_utc(self.first_measured_utc)


def _parse_utc(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def first_measured_utc(folder: str | Path) -> str | None:
    """The earliest ``provenance.date_utc`` among the result files of ``folder`` (reports excluded)."""
    dates = []
    for path in sorted(Path(folder).rglob("*.json")):
        if "report" in path.relative_to(folder).parts:
            continue
        try:
            date = json.loads(path.read_text()).get("provenance", {}).get("date_utc")
        except (json.JSONDecodeError, AttributeError):
            continue
        if date:
            dates.append(str(date))
    return min(dates, key=_parse_utc) if dates else None


def record_measured_utc(folder: str | Path) -> dict[str, str]:
    """Record id -> start of the run that measured it, for every result file of ``folder`` (or one file).

    A merged file names its workers (``provenance.workers``) and each record the file it came from
    (``machine_state.result_file``): the record takes that worker's date; otherwise the file's ``date_utc``.
    Generated reports and ``runs/`` copies are passed over.
    """
    from t2v_energy_lib.results.storage import SKIPPED_DIRS

    root = Path(folder)
    files = [root] if root.is_file() else sorted(root.rglob("*.json"))
    out: dict[str, str] = {}
    for path in files:
        if root.is_dir() and set(path.relative_to(root).parts[:-1]) & set(SKIPPED_DIRS):
            continue
        try:
            doc = json.loads(path.read_text())
            provenance = doc.get("provenance", {})
            records = doc.get("records", [])
        except (json.JSONDecodeError, AttributeError):
            continue
        workers: dict[str, str] = {}
        for w in provenance.get("workers") or ():
            if isinstance(w, Mapping) and w.get("date_utc"):
                name, date = Path(str(w.get("source") or w.get("file") or "")).name, str(w["date_utc"])
                # two workers of one name (older merges named files by path): the earlier date, so that a
                # record is never taken for one measured after a prediction when it may not have been
                workers[name] = min(workers.get(name, date), date, key=_parse_utc)
        for record in records:
            if not isinstance(record, Mapping) or "id" not in record:
                continue
            source = str((record.get("machine_state") or {}).get("result_file") or "")
            date = workers.get(source) or provenance.get("date_utc")
            if date:
                out[str(record["id"])] = str(date)
    return out


def score_prediction(
    prediction: Mapping[str, Any], measured_folder: str | Path, min_points: int = MIN_SCORED_POINTS
) -> CrossGpuScore:
    """Compare a prediction with the measured folder of the target GPU, point by point (same record ids).

    Raises:
        TooFewPointsError: Fewer than ``min_points`` per-video points were both predicted and measured.
        HardwareMismatchError-like BaselineFormatError: The measured folder is another GPU than predicted.
    """
    from t2v_energy_lib.results import load_results

    measured = load_results(measured_folder)
    gpu = measured.provenance.get("gpu") or {}
    if gpu.get("name") != prediction["target"]["gpu"]:
        raise BaselineFormatError(
            f"{measured_folder}: measured on {gpu.get('name')!r}, but the prediction is for "
            f"{prediction['target']['gpu']!r}; score it against a folder of that GPU"
        )
    by_id = {r.id: r for r in measured.records if "error" not in r.extra}

    def scored(pid: str, component: str, lat: float, energy: float) -> ScoredPoint | None:
        record = by_id.get(pid)
        if record is None or "gpu_energy_j" not in record.rounds:
            return None
        return ScoredPoint(
            pid, component, lat, mean(record.rounds["latency_s"]), energy, mean(record.rounds["gpu_energy_j"])
        )

    points, unmeasured = [], []
    for pid, p in prediction["points"].items():
        s = scored(pid, "composed", p["latency_s"], p["gpu_energy_j"])
        (points.append(s) if s else unmeasured.append(pid))
    parts = [
        s
        for pid, p in prediction["parts"].items()
        if (s := scored(pid, p["component"], p["latency_s"], p["energy_j"])) is not None
    ]
    if len(points) < min_points:
        raise TooFewPointsError(
            f"the cross-GPU prediction can be scored on {len(points)} per-video point(s) of "
            f"{measured_folder}; at least {min_points} are needed: measure the sweeps there first",
            suite="cross-gpu",
            needed=min_points,
            found=len(points),
        )
    return CrossGpuScore(
        points=tuple(points),
        parts=tuple(parts),
        unmeasured=tuple(unmeasured),
        predicted_utc=str(prediction.get("created_utc") or ""),
        first_measured_utc=first_measured_utc(measured_folder),
        measured_utc=tuple(
            (pid, date)
            for pid, date in record_measured_utc(measured_folder).items()
            if pid in prediction["points"]
        ),
    )
