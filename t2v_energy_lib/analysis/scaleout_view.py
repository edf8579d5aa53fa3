"""Context-parallel scale-out rows: speed-up, efficiency and energy overhead of each multi-GPU denoiser step.

Reads the ``scaleout`` suite written by :mod:`t2v_energy_lib.scaleout.context_parallel` (rounds per denoising
step; ``gpu_energy_j`` summed over the GPUs of the run; ``extra['per_device_gpu_energy_j']`` per device) and
compares every parallel record with the 1-GPU ``reference`` record of the same model and size through
:func:`~t2v_energy_lib.scaleout.efficiency.efficiency_from_records` (medians of rounds).

Where the same results hold single-GPU ``cross_model`` records of the model's ``text_encoder`` and, at the
same size, its ``vae_decode``, each row also carries a per-video figure composed as
``text encoder + S x step + VAE decode`` (S: the model's default steps from the registry). It is COMPOSED, not
measured: the text encoder and the VAE ran on one GPU in another run, only the denoiser is parallel, and the
energy of the other GPUs while the text encoder and the VAE run is not in it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.analysis.points import (
    ENERGY_KEY,
    LATENCY_KEY,
    is_estimated,
    open_results,
    per_video_values,
    require_records,
)
from t2v_energy_lib.errors import FitError, UnknownModelError
from t2v_energy_lib.results.quantities import GPU_ENERGY_ABOVE_IDLE
from t2v_energy_lib.scaleout.context_parallel import COMPONENT, SUITE, size_label
from t2v_energy_lib.scaleout.efficiency import efficiency_from_records

CROSS_MODEL_SUITE = "cross_model"
#: Settings that make two records the same work per step (besides the model).
WORK_KEYS = ("height", "width", "num_frames", "guidance_scale")
#: Settings that make a single-GPU VAE decode the decode of the same video.
SIZE_KEYS = ("height", "width", "num_frames")
#: Settings a reference should share with the parallel run when several references match the work.
PREFERRED_KEYS = ("attention_backend", "dtype")
ABOVE_IDLE_KEY = GPU_ENERGY_ABOVE_IDLE.key
#: Claim: context parallelism keeps at least this parallel efficiency on every parallel record.
EFFICIENCY_MIN = 0.75
#: Claim: the parallel step's GPU energy (summed over GPUs) exceeds one GPU's by at most this fraction.
ENERGY_OVERHEAD_MAX = 0.25
#: Relative tolerance of "the summed energy equals the sum of the per-device energies".
ENERGY_SUM_REL_TOL = 1e-9
PER_DEVICE_KEY = "per_device_gpu_energy_j"


@dataclass(frozen=True)
class VideoFigure:
    """Per-video latency and GPU energy composed as ``text encoder + S x step + VAE decode``.

    Composed, never measured: the text encoder and the VAE decode are single-GPU ``cross_model`` records;
    only the denoiser step is parallel. The other GPUs' energy during the text encoder and VAE is not counted.

    Attributes:
        steps: Denoising steps S (the model's default in the registry).
        latency_s: Per-video latency with the parallel step. Units: s.
        energy_j: Per-video GPU energy with the parallel step (step energy summed over GPUs). Units: J.
        reference_latency_s: The same composition with the 1-GPU reference step. Units: s.
        reference_energy_j: The same composition with the 1-GPU reference step. Units: J.
        text_encoder_id: Id of the text-encoder record used.
        vae_decode_id: Id of the VAE-decode record used.
        composed: Always True: the figure is a sum of separately measured parts.
    """

    steps: int
    latency_s: float
    energy_j: float
    reference_latency_s: float
    reference_energy_j: float
    text_encoder_id: str
    vae_decode_id: str
    composed: bool = True

    @property
    def speedup(self) -> float:
        """Per-video speed-up over the 1-GPU composition (lower than the step's: text encoder and VAE)."""
        return self.reference_latency_s / self.latency_s

    @property
    def energy_overhead(self) -> float:
        """Per-video GPU-energy overhead over the 1-GPU composition (a fraction)."""
        return self.energy_j / self.reference_energy_j - 1.0


@dataclass(frozen=True)
class ScaleoutRow:
    """One scale-out record against its 1-GPU reference (a reference row compares it with itself).

    Attributes:
        record_id: The scale-out record.
        reference_id: The 1-GPU reference record it is compared with.
        model: Model id.
        size: The work per step, ``<H>x<W>x<F>-g<guidance>``.
        mode: ``reference``, ``ring`` or ``ulysses``.
        n_gpus: GPUs of the run (``settings['world_size']``).
        step_latency_s: Median over rounds of the latency of one denoising step. Units: s.
        step_energy_j: Median over rounds of one step's GPU energy, summed over the run's GPUs. Units: J.
        step_energy_above_idle_j: The same above idle, where measured. Units: J.
        speedup: Reference step latency / this step latency.
        efficiency: ``speedup / n_gpus``.
        energy_overhead: This step's summed energy / the reference's - 1 (a fraction).
        device_energy_j: Per device, median over rounds of its energy per step. Units: J.
        device_energy_spread: Max / min of ``device_energy_j`` (1.0 on one GPU).
        video: The composed per-video figure, or None (``video_note`` says why).
        video_note: Why there is no per-video figure, or what the composed one leaves out.
    """

    record_id: str
    reference_id: str
    model: str
    size: str
    mode: str
    n_gpus: int
    step_latency_s: float
    step_energy_j: float
    step_energy_above_idle_j: float | None
    speedup: float
    efficiency: float
    energy_overhead: float
    device_energy_j: Mapping[str, float]
    device_energy_spread: float
    video: VideoFigure | None
    video_note: str


def _work(record: Any) -> tuple[Any, ...]:
    return (record.model, *(record.settings.get(k) for k in WORK_KEYS))


def per_device_rounds(record: Any) -> dict[str, tuple[float, ...]]:
    """Device -> its energy per step, per round, from ``extra['per_device_gpu_energy_j']``. Units: J.

    Raises:
        FitError: the record has no per-device energies, or a device's rounds differ in number from the
            record's ``gpu_energy_j`` rounds.
    """
    per_device = (record.extra or {}).get(PER_DEVICE_KEY)
    if not isinstance(per_device, Mapping) or not per_device:
        raise FitError(
            f"record {record.id} has no extra[{PER_DEVICE_KEY!r}]; re-run it with "
            "`python -m t2v_energy_lib.scaleout.context_parallel`, which stores each GPU's energy"
        )
    n_rounds = len(record.rounds.get(ENERGY_KEY) or ())
    out = {str(d): tuple(float(v) for v in values) for d, values in per_device.items()}
    for device, values in out.items():
        if len(values) != n_rounds:
            raise FitError(
                f"record {record.id}: device {device} has {len(values)} rounds of energy, the record "
                f"{n_rounds}; the per-device energies must cover every round"
            )
    return out


def round_energy_sums(record: Any) -> tuple[tuple[float, float], ...]:
    """Per round: (stored ``gpu_energy_j``, sum of the per-device energies of that round). Units: J."""
    per_device = per_device_rounds(record)
    totals = record.rounds[ENERGY_KEY]
    return tuple(
        (float(total), math.fsum(values[i] for values in per_device.values()))
        for i, total in enumerate(totals)
    )


def find_reference(records: Sequence[Any], parallel: Any) -> Any:
    """The 1-GPU reference record doing the same work per step as ``parallel``.

    Several matches are narrowed to those sharing ``attention_backend`` and ``dtype`` with ``parallel``. A
    1-GPU record is its own reference.

    Raises:
        FitError: no reference of that model and size, or several that cannot be told apart.
    """
    if parallel.settings.get("world_size") == 1:
        return parallel
    matches = [r for r in records if r.settings.get("world_size") == 1 and _work(r) == _work(parallel)]
    if len(matches) > 1:
        alike = [
            r for r in matches if all(r.settings.get(k) == parallel.settings.get(k) for k in PREFERRED_KEYS)
        ]
        matches = alike or matches
    if not matches:
        raise FitError(
            f"no 1-GPU reference for {parallel.id} ({parallel.model} at {size_label(parallel.settings)}): "
            "run `torchrun --nproc-per-node 1 -m t2v_energy_lib.scaleout.context_parallel --model "
            f"{parallel.model} --mode reference ...` at the same size and add its record beside it"
        )
    if len(matches) > 1:
        raise FitError(
            f"{len(matches)} 1-GPU references match {parallel.id}: {sorted(r.id for r in matches)}; keep one"
        )
    return matches[0]


def _device_medians(record: Any) -> dict[str, float]:
    return {d: statistics.median(values) for d, values in per_device_rounds(record).items()}


def _spread(device_energy_j: Mapping[str, float]) -> float:
    low = min(device_energy_j.values())
    if low <= 0:
        raise FitError(f"a device used {low!r} J per step; the per-device spread needs positive energies")
    return max(device_energy_j.values()) / low


def _above_idle(record: Any) -> float | None:
    values = (record.rounds or {}).get(ABOVE_IDLE_KEY)
    return statistics.median(values) if values else None


def _part(result_file: Any, model: str, component: str, settings: Mapping[str, Any], any_size: bool) -> Any:
    """The single-GPU cross_model record of ``component`` at the size of ``settings`` (first id if several).

    With ``any_size`` (the text encoder, whose work is the prompt's, not the video's) a record of another
    size stands in when none has this size.
    """
    records = [r for r in result_file.select(CROSS_MODEL_SUITE, model, component) if not is_estimated(r)]
    same = [r for r in records if all(r.settings.get(k) == settings.get(k) for k in SIZE_KEYS)]
    chosen = same or (records if any_size else [])
    return min(chosen, key=lambda r: r.id) if chosen else None


def _per_video_median(record: Any, key: str) -> float:
    return statistics.median(per_video_values(record, key))


def video_figure(
    result_file: Any,
    model: str,
    settings: Mapping[str, Any],
    step: tuple[float, float],
    ref: tuple[float, float],
) -> tuple[VideoFigure | None, str]:
    """Per-video figure ``text encoder + S x step + VAE decode`` for a parallel step and its reference step.

    Args:
        result_file: Results holding the single-GPU ``cross_model`` text_encoder and vae_decode records.
        model: Model id (its registry default gives S).
        settings: The scale-out record's settings (height, width, num_frames).
        step: (latency, summed GPU energy) of the parallel step. Units: s, J.
        ref: (latency, GPU energy) of the 1-GPU reference step. Units: s, J.

    Returns:
        The figure and a note, or None and the reason there is none.
    """
    from t2v_energy_lib.models import get_spec

    try:
        steps = int(get_spec(model).defaults.num_inference_steps)
    except UnknownModelError as exc:
        return None, f"no per-video figure: {exc}"
    text = _part(result_file, model, "text_encoder", settings, any_size=True)
    vae = _part(result_file, model, "vae_decode", settings, any_size=False)
    if text is None or vae is None:
        missing = " and ".join(n for n, r in (("text_encoder", text), ("vae_decode", vae)) if r is None)
        return None, (
            f"no per-video figure: no single-GPU cross_model {missing} record of {model} at "
            f"{size_label(settings)}; run `t2v-energy characterize --suites cross_model`"
        )
    fixed_s = _per_video_median(text, LATENCY_KEY) + _per_video_median(vae, LATENCY_KEY)
    fixed_j = _per_video_median(text, ENERGY_KEY) + _per_video_median(vae, ENERGY_KEY)
    figure = VideoFigure(
        steps=steps,
        latency_s=fixed_s + steps * step[0],
        energy_j=fixed_j + steps * step[1],
        reference_latency_s=fixed_s + steps * ref[0],
        reference_energy_j=fixed_j + steps * ref[1],
        text_encoder_id=text.id,
        vae_decode_id=vae.id,
    )
    note = (
        f"composed: text encoder + {steps} x step + VAE decode; the text encoder and VAE ran on one GPU "
        "(cross_model records), only the denoiser is parallel, other GPUs' energy during them not counted"
    )
    return figure, note


def _row(result_file: Any, records: Sequence[Any], record: Any) -> ScaleoutRow:
    reference = find_reference(records, record)
    eff = efficiency_from_records(reference, record)
    devices = _device_medians(record)
    video, note = video_figure(
        result_file, record.model, record.settings, (eff.tn_s, eff.en_total_j), (eff.t1_s, eff.e1_j)
    )
    return ScaleoutRow(
        record_id=record.id,
        reference_id=reference.id,
        model=record.model,
        size=size_label(record.settings),
        mode=str(record.settings.get("mode")),
        n_gpus=eff.n_devices,
        step_latency_s=eff.tn_s,
        step_energy_j=eff.en_total_j,
        step_energy_above_idle_j=_above_idle(record),
        speedup=eff.speedup,
        efficiency=eff.efficiency,
        energy_overhead=eff.energy_overhead,
        device_energy_j=devices,
        device_energy_spread=_spread(devices),
        video=video,
        video_note=note,
    )


def scaleout_records(results: Any) -> tuple[Any, ...]:
    """The ``scaleout`` denoise_step records of a ``ResultFile`` or path.

    Raises:
        MissingResultsError: there are none.
    """
    result_file, label = open_results(results)
    return require_records(result_file, label, SUITE, COMPONENT)


def scaleout_rows(results: Any, include_reference: bool = False) -> tuple[ScaleoutRow, ...]:
    """One row per parallel scale-out record (and per reference with ``include_reference``).

    Rows are sorted by model, size, GPUs and mode.

    Args:
        results: A ``ResultFile``, or a path to a result file or folder.
        include_reference: Also a row per 1-GPU reference (compared with itself: speed-up 1, overhead 0).

    Raises:
        MissingResultsError: no scaleout denoise_step records.
        FitError: a parallel record without a matching 1-GPU reference, or unreadable rounds.
    """
    result_file, _ = open_results(results)
    records = scaleout_records(result_file)
    chosen = [r for r in records if include_reference or r.settings.get("world_size") != 1]
    rows = [_row(result_file, records, r) for r in chosen]
    return tuple(sorted(rows, key=lambda r: (r.model, r.size, r.n_gpus, r.mode)))


def energy_sum_failures(record: Any, rel_tol: float = ENERGY_SUM_REL_TOL) -> list[str]:
    """Messages for rounds whose ``gpu_energy_j`` is not the sum of their per-device energies ([] if none).

    Raises:
        FitError: the record has no per-device energies.
    """
    return [
        f"{record.id} round {i}: gpu_energy_j {total!r} J but the devices sum to {summed!r} J"
        for i, (total, summed) in enumerate(round_energy_sums(record))
        if not math.isclose(total, summed, rel_tol=rel_tol)
    ]


def claim_failures(
    row: ScaleoutRow, efficiency_min: float = EFFICIENCY_MIN, overhead_max: float = ENERGY_OVERHEAD_MAX
) -> dict[str, str]:
    """The scale-out claims a parallel row breaks: ``efficiency`` and/or ``energy_overhead`` -> message.

    Messages carry the measured figures. A 1-GPU row is judged on nothing (it is the reference).
    """
    if row.n_gpus == 1:
        return {}
    failures = {}
    what = f"{row.model} {row.size} {row.mode} on {row.n_gpus} GPUs"
    if row.efficiency < efficiency_min:  # on n >= 2 GPUs this also demands a speed-up > 1
        failures["efficiency"] = (
            f"{what}: speed-up {row.speedup:.3f} ({row.step_latency_s:.4g} s per step), parallel efficiency "
            f"{row.efficiency:.1%} < {efficiency_min:.0%}"
        )
    if row.energy_overhead > overhead_max:
        failures["energy_overhead"] = (
            f"{what}: {row.step_energy_j:.5g} J per step summed over GPUs, {row.energy_overhead:+.1%} vs one "
            f"GPU > +{overhead_max:.0%}"
        )
    return failures
