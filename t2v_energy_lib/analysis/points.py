"""From stored result records to the points a claim fits: per-video energy and latency vs a sweep variable.

Reads the results layer's objects only through their documented attributes (``suite``, ``model``,
``component``, ``settings``, ``rounds``, ``extra``, ``id``) and ``ResultFile.select``. Rounds are raw
per-unit-of-work floats, so a ``denoiser_step`` record is turned into per-video values by multiplying by the
record's ``num_inference_steps``; ``end_to_end`` and ``composed`` records already hold per-video values.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.errors import FitError, MissingResultsError
from t2v_energy_lib.results.quantities import GPU_ENERGY, HOST_ENERGY, LATENCY

ENERGY_KEY = GPU_ENERGY.key
LATENCY_KEY = LATENCY.key
HOST_ENERGY_KEY = HOST_ENERGY.key

#: Per-video sources, most direct first: a whole measured generation, parts composed into one, or the
#: denoiser's per-step figures times the step count (which leaves out text encoding and decoding).
PER_VIDEO_SOURCES = ("end_to_end", "composed", "denoiser_step")
#: The steps sweep's own source first: the denoising loop of S steps, measured as a prefix of one traced run.
STEPS_SOURCES = ("denoise_loop", *PER_VIDEO_SOURCES)
#: What the predictors model: the denoising work only (S x denoiser_step, or a measured denoise_loop).
DENOISING_SOURCES = ("denoise_loop", "denoiser_step")


@dataclass(frozen=True)
class SweepPoint:
    """One setting of a sweep with its per-video GPU energy and latency, per measured round.

    The one point type of the sweep claims: :func:`sweep_points` fills the GPU energy;
    :func:`~t2v_energy_lib.analysis.latency_view.latency_points` (a run without GPU energy) leaves
    ``energy_j`` empty and carries the host energy instead.

    Attributes:
        model: Model id.
        settings: The record's generation settings (height, width, num_frames, num_inference_steps, ...).
        x: The sweep variable at this setting (pixels, latent frames or steps).
        energy_j: GPU energy per video, one value per round; empty when the run measured no GPU energy (a
            CPU run). Units: J.
        latency_s: Latency per video (or of the denoising loop), one value per round. Units: s.
        source: Which component the values came from (``end_to_end``, ``composed``, ``denoiser_step``,
            ``denoise_loop``).
        record_id: The record's stable id.
        token_length: Denoiser token length if the record states it.
        host_energy_j: Host CPU + RAM energy per video, one value per round, or None (not carried). Units: J.
        host_estimated: True when the host energy is an estimate (no RAPL), never a measurement.
    """

    model: str
    settings: Mapping[str, Any]
    x: float
    energy_j: tuple[float, ...]
    latency_s: tuple[float, ...]
    source: str
    record_id: str
    token_length: int | None = None
    host_energy_j: tuple[float, ...] | None = None
    host_estimated: bool = False

    def _gpu_energy_j(self) -> tuple[float, ...]:
        if not self.energy_j:
            raise FitError(
                f"point {self.record_id} has no GPU energy (a run without a GPU meter); judge its latency "
                "only, or re-run its suite on a GPU"
            )
        return self.energy_j

    @property
    def energy_mean_j(self) -> float:
        """Mean GPU energy per video over rounds. Units: J.

        Raises:
            FitError: The point has no GPU energy.
        """
        return statistics.fmean(self._gpu_energy_j())

    @property
    def latency_mean_s(self) -> float:
        """Mean latency per video over rounds. Units: s."""
        return statistics.fmean(self.latency_s)

    @property
    def energy_std_j(self) -> float:
        """Sample standard deviation of energy over rounds (0 for one round). Units: J.

        Raises:
            FitError: The point has no GPU energy.
        """
        values = self._gpu_energy_j()
        return statistics.stdev(values) if len(values) > 1 else 0.0

    @property
    def latency_std_s(self) -> float:
        """Sample standard deviation of latency over rounds (0 for one round). Units: s."""
        return statistics.stdev(self.latency_s) if len(self.latency_s) > 1 else 0.0

    @property
    def host_energy_mean_j(self) -> float | None:
        """Mean host energy over rounds, None without host energy. Units: J."""
        return None if self.host_energy_j is None else statistics.fmean(self.host_energy_j)


def open_results(results: Any) -> tuple[Any, str]:
    """The results as an indexed :class:`~t2v_energy_lib.results.folder.ResultFolder` (opened once: a folder
    passed in comes back as it is) and a label naming where they came from (for messages).

    Args:
        results: A ``ResultFolder``, a ``ResultFile`` (anything with ``records`` and ``select``), or a path to
            a result file or a folder of ``*.json`` result files.
    """
    from t2v_energy_lib.results.folder import ResultFolder

    folder = ResultFolder.open(results)
    return folder, folder.label


def require_records(
    result_file: Any, label: str, suite: str, component: str | None = None, model: str | None = None
) -> tuple[Any, ...]:
    """The records of ``suite`` (and ``component``), or a :class:`MissingResultsError` naming the fix."""
    records = tuple(result_file.select(suite=suite, model=model, component=component))
    if records:
        return records
    what = f"'{suite}'" if component is None else f"'{suite}' {component}"
    of_model = "" if model is None else f" of {model}"
    raise MissingResultsError(
        f"no {what} records{of_model} in {label}: run `t2v-energy characterize --suites {suite}`",
        suite=suite,
        component=component,
    )


def is_estimated(record: Any) -> bool:
    """True when the record says some of its values were estimated rather than measured."""
    return bool((record.extra or {}).get("estimated", False))


def is_composed_loop(record: Any) -> bool:
    """True for a ``denoise_loop`` record not measured as such (composed from a mean step past the trace)."""
    extra = record.extra or {}
    return record.component == "denoise_loop" and (
        bool(extra.get("composed", False)) or not bool(extra.get("measured", False))
    )


def is_left_out(record: Any) -> bool:
    """True for records a claim must not fit: estimated values, or a composed (not measured) denoise_loop."""
    return is_estimated(record) or is_composed_loop(record)


def token_length_of(record: Any) -> int | None:
    """The record's denoiser token length from ``extra['token_length']``, if stated."""
    value = (record.extra or {}).get("token_length")
    return int(value) if value is not None else None


def steps_of(record: Any) -> int:
    """The record's ``num_inference_steps`` setting (raises :class:`FitError` when it is absent)."""
    try:
        return int(record.settings["num_inference_steps"])
    except KeyError:
        raise FitError(
            f"record {record.id} has no num_inference_steps setting; cannot scale per-step values"
        ) from None


def round_values(record: Any, key: str) -> tuple[float, ...]:
    """The raw per-round values of ``key`` (per unit of work), or a :class:`FitError` naming the key."""
    values = (record.rounds or {}).get(key)
    if not values:
        raise FitError(
            f"record {record.id} has no '{key}' rounds (has {sorted(record.rounds or {})}); "
            f"re-run its suite with a GPU meter attached"
        )
    return tuple(float(v) for v in values)


def per_video_values(record: Any, key: str) -> tuple[float, ...]:
    """Per-video values of ``key`` per round: per-step values are multiplied by the step count."""
    values = round_values(record, key)
    if record.component == "denoiser_step":
        steps = steps_of(record)
        return tuple(v * steps for v in values)
    return values


def pixels(_model: str, settings: Mapping[str, Any]) -> float:
    """The sweep variable of the resolution claim: ``height * width``. Units: pixels."""
    return float(settings["height"]) * float(settings["width"])


def latent_frames(model: str, settings: Mapping[str, Any]) -> float:
    """The sweep variable of the frames claim: ``(F - 1) / t + 1`` with the model's VAE temporal factor t.

    The factor is the registered spec's (its family's shape rules: ``spec.latent_frames``).

    Raises:
        FitError: ``model`` is not in the model registry (no known temporal factor).
    """
    from t2v_energy_lib.errors import UnknownModelError
    from t2v_energy_lib.models import get_spec

    try:
        spec = get_spec(model)
    except UnknownModelError as exc:
        raise FitError(f"no VAE temporal compression known for model '{model}': {exc}") from None
    return float(spec.latent_frames(int(settings["num_frames"])))


def steps(_model: str, settings: Mapping[str, Any]) -> float:
    """The sweep variable of the steps claim: ``num_inference_steps``."""
    return float(settings["num_inference_steps"])


def models_in(records: Iterable[Any]) -> tuple[str, ...]:
    """Model ids of the records, in first-seen order."""
    return tuple(dict.fromkeys(r.model for r in records))


#: Settings held fixed in each sweep; points are grouped by them so one fit never mixes two resolutions.
FIXED_SETTINGS = {
    "resolution": ("num_frames", "num_inference_steps", "guidance_scale"),
    "frames": ("height", "width", "num_inference_steps", "guidance_scale"),
    "steps": ("height", "width", "num_frames", "guidance_scale"),
}


def group_label(settings: Mapping[str, Any], keys: Iterable[str]) -> str:
    """A readable label of the fixed settings, e.g. ``height=720, width=1280, num_inference_steps=50``."""
    return ", ".join(f"{k}={settings.get(k)}" for k in keys)


def group_points(
    records: Iterable[Any], suite: str, point_of: Callable[[Any], SweepPoint]
) -> dict[str, list[SweepPoint]]:
    """The points of ``records`` grouped by the settings ``suite`` holds fixed, each group sorted by x.

    Args:
        records: The records to turn into points (already chosen: one source, measured only).
        suite: The sweep's suite (its fixed settings are :data:`FIXED_SETTINGS`).
        point_of: Builds the point of one record.
    """
    fixed = FIXED_SETTINGS.get(suite, ())
    groups: dict[str, list[SweepPoint]] = {}
    for r in records:
        groups.setdefault(group_label(r.settings, fixed), []).append(point_of(r))
    return {k: sorted(v, key=lambda p: p.x) for k, v in groups.items()}


def first_source(
    records: Iterable[Any],
    sources: tuple[str, ...],
    *,
    model: str,
    suite: str,
    label: str,
    measured_only: bool = False,
) -> str:
    """The first of ``sources`` (components) that the records have, measured ones only if asked.

    Args:
        records: One model's records of one suite.
        sources: Components to take the points from, most direct first.
        model: The records' model (for the error).
        suite: The records' suite (for the error).
        label: Where the records came from (for the error).
        measured_only: Count only records a claim may fit (not :func:`is_left_out`).

    Raises:
        MissingResultsError: None of ``sources`` has (measured) records; the message names the fix.
    """
    usable = [r for r in records if not (measured_only and is_left_out(r))]
    source = next((src for src in sources if any(r.component == src for r in usable)), None)
    if source is not None:
        return source
    what = "measured per-video" if measured_only else "per-video"
    raise MissingResultsError(
        f"no {what} records ({', '.join(sources)}) of {model} in the '{suite}' records of {label}: "
        f"run `t2v-energy characterize --suites {suite}`",
        suite=suite,
        component=sources[0],
    )


def record_point(
    record: Any,
    model: str,
    x_of: Callable[[str, Mapping[str, Any]], float],
    source: str,
    *,
    gpu_energy: bool = True,
) -> SweepPoint:
    """The point of one record: per-video latency, and GPU energy unless ``gpu_energy`` is False.

    Raises:
        FitError: The record lacks the rounds asked for (``gpu_energy_j``, ``latency_s``).
    """
    x = x_of(model, record.settings)
    return SweepPoint(
        model=model,
        settings=dict(record.settings),
        x=x,
        energy_j=per_video_values(record, ENERGY_KEY) if gpu_energy else (),
        latency_s=per_video_values(record, LATENCY_KEY),
        source=source,
        record_id=record.id,
        token_length=token_length_of(record),
    )


def sweep_points(
    result_file: Any,
    label: str,
    suite: str,
    x_of: Callable[[str, Mapping[str, Any]], float],
    model: str,
    sources: tuple[str, ...] = PER_VIDEO_SOURCES,
) -> tuple[dict[str, list[SweepPoint]], int]:
    """The measured per-video points of one model's sweep, from the first source in ``sources`` present.

    Records flagged ``estimated`` and ``denoise_loop`` records composed past the measured prefix are left out
    (claims are checked on measured points only). Points are grouped by the settings the sweep holds fixed
    (:data:`FIXED_SETTINGS`).

    Returns:
        Group label -> points sorted by x, and how many records were left out (estimated or composed).

    Raises:
        MissingResultsError: The suite has no records of this model in any of ``sources``.
    """
    records = require_records(result_file, label, suite, model=model)
    source = first_source(records, sources, model=model, suite=suite, label=label)
    chosen = [r for r in records if r.component == source]
    measured = [r for r in chosen if not is_left_out(r)]
    points = group_points(measured, suite, lambda r: record_point(r, model, x_of, source))
    return points, len(chosen) - len(measured)
