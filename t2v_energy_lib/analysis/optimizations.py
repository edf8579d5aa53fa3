"""Savings of the optimisation suite: per variant saving (J, %), latency, memory, deviation, payback, Pareto.

Reads the ``optimizations`` records (one ``end_to_end`` record per measured variant, ``not_measured`` for
levers that could not be installed or failed) and, per model and setting, sets each variant beside the
``default`` record of the same run. A saving is judged on GPU energy per video; on a machine without a GPU
meter (the CPU smoke run) on latency, and the rows say so. Only ``engaged`` variants can have a saving.
The label of a difference (:func:`difference_label`): ``saves`` when every round of the variant is below every
round of the default, ``costs more`` when every round is above every round of the default, ``n.s.`` when the
two sets of rounds overlap or the means differ by less than :data:`MIN_EFFECT_FRACTION` of the default's
(with one round a side the rounds cannot overlap, and repeating the default alone moves it that much).

Random weights: the deviations are numerical (how far the computation moved), not perceived quality, and
activation-dependent caches (FirstBlock, Mag, Sea) decide what to skip from the activations, so trained
weights make them skip differently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.errors import MissingResultsError
from t2v_energy_lib.results.schema import ResultRecord

SUITE = "optimizations"
#: The issue's goal: a combination that cuts GPU energy per video by at least this fraction.
GOAL_SAVING_FRACTION = 0.40
QUANTITIES = ("gpu_energy_j", "latency_s")
#: Labels of a variant's difference from the default (see :func:`difference_label`).
SAVES, COSTS_MORE, NOT_SIGNIFICANT = "saves", "costs more", "n.s."
#: Smallest difference of the means, as a fraction of the default's, that is labelled a saving or a cost.
#: The default's own rounds, repeated in one run on one H200, spread by up to 0.81% of GPU energy per video
#: (Wan2.1-1.3B, 2026-12-01; tests/test_optimizations_noise_floor.py recomputes it from every stored run and
#: fails when a run spreads more): a smaller difference is what repeating the same setting gives.
MIN_EFFECT_FRACTION = 0.01


def difference_label(
    rounds: Sequence[float], default_rounds: Sequence[float], min_fraction: float = MIN_EFFECT_FRACTION
) -> str:
    """``saves`` (every round below every default round), ``costs more`` (every round above every default
    round) or ``n.s.`` (the rounds overlap, or the means differ by less than ``min_fraction`` of the
    default's).

    Raises:
        MissingResultsError: either side has no round (nothing to judge).
    """
    if not rounds or not default_rounds:
        raise MissingResultsError("a difference needs rounds of the variant and of the default", SUITE)
    base = _mean(default_rounds)
    if base and abs(base - _mean(rounds)) < min_fraction * abs(base):
        return NOT_SIGNIFICANT
    if max(rounds) < min(default_rounds):
        return SAVES
    if min(rounds) > max(default_rounds):
        return COSTS_MORE
    return NOT_SIGNIFICANT


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values))


@dataclass(frozen=True)
class OptimizationRow:
    """One variant of one model and setting, beside the default of the same run.

    Attributes:
        group: ``"<model>/<HxWxF-sS>"``.
        variant: Variant name.
        kinds: Lever kinds of the variant.
        status: ``reference``, ``engaged``, ``not_engaged``, ``not_available`` or ``failed``.
        reason: Why (from the record).
        quantity: What the saving is judged on (``gpu_energy_j`` or ``latency_s``).
        value: Mean of ``quantity`` per video (None when not measured). Units: J or s.
        rounds: Per-video rounds of ``quantity``.
        saving: Default's mean minus this one's (None when not measured or not engaged). Units: J or s.
        saving_fraction: ``saving`` / default's mean.
        significant: Every round below every round of the default (a significant saving).
        label: :func:`difference_label` of the rounds (None when there is no saving to judge).
        latency_s: Mean latency per video. Units: s.
        peak_memory_bytes: Peak device memory of the generations. Units: bytes.
        deviation: The record's deviation figures (PSNR, relative L2) or None.
        setup_extra_j: One-time cost beyond the default's setup (compile, calibration). Units: J (or s).
        payback_videos: Videos after which the saving repays ``setup_extra_j`` (0 when it costs nothing; None
            unless the saving is significant).
        composed: True for figures composed at the study's step count.
        record_id: The record.
        own_reference: The default rounds this variant was measured beside are in the default record (its
            ``reference_run`` is among the default's ``round_runs``, or, for records stored before runs were
            labelled, its ``default_setup_gpu_energy_j`` is the stored default's); False: they are not (a
            resume replaced them); None: cannot tell (the default itself, placeholders).
    """

    group: str
    variant: str
    kinds: tuple[str, ...]
    status: str
    reason: str
    quantity: str
    value: float | None
    rounds: tuple[float, ...]
    saving: float | None
    saving_fraction: float | None
    significant: bool
    label: str | None
    latency_s: float | None
    peak_memory_bytes: float | None
    deviation: Mapping[str, Any] | None
    setup_extra_j: float | None
    payback_videos: float | None
    composed: bool
    record_id: str
    own_reference: bool | None = None

    @property
    def is_saving(self) -> bool:
        """An engaged variant with a significant positive saving."""
        return self.status == "engaged" and self.significant and (self.saving or 0.0) > 0.0


def payback_videos(setup_extra: float | None, saving: float | None) -> float | None:
    """Videos needed for ``saving`` per video to repay ``setup_extra`` once; None without a saving."""
    if saving is None or saving <= 0 or setup_extra is None:
        return None
    return max(0.0, setup_extra) / saving


def _group(record: ResultRecord) -> str:
    parts = record.id.split("/")
    return "/".join(parts[1:3])


def _quantity(records: Iterable[ResultRecord]) -> str:
    recs = list(records)
    return next((q for q in QUANTITIES if recs and all(q in r.rounds for r in recs)), "latency_s")


def _setup_cost(record: ResultRecord, quantity: str) -> float | None:
    e = record.extra
    if quantity == "gpu_energy_j":
        own, ref = e.get("setup_gpu_energy_j"), e.get("default_setup_gpu_energy_j")
    else:
        own, ref = e.get("setup_s"), e.get("default_setup_s")
    if own is None or ref is None:
        return None
    return float(own) - float(ref)


def optimization_rows(records: Iterable[ResultRecord]) -> dict[str, list[OptimizationRow]]:
    """Rows per model and setting, the default first.

    Raises:
        MissingResultsError: no optimisation record, or a group without its ``default`` record.
    """
    ours = [r for r in records if r.suite == SUITE]
    if not ours:
        raise MissingResultsError(
            "no optimizations records: run `t2v-energy optimize` (or the GPU script) first", SUITE
        )
    groups: dict[str, list[ResultRecord]] = {}
    for r in ours:
        groups.setdefault(_group(r), []).append(r)
    out: dict[str, list[OptimizationRow]] = {}
    for group, recs in sorted(groups.items()):
        measured = [r for r in recs if r.component == "end_to_end" and not r.composed]
        default = next((r for r in measured if r.extra.get("status") == "reference"), None)
        if default is None:
            raise MissingResultsError(
                f"{group}: no default record; savings need the default pipeline of the same run", SUITE
            )
        q = _quantity(measured)
        rows = [_row(group, r, default, q) for r in [default] + [r for r in recs if r is not default]]
        out[group] = rows
    return out


def _row(group: str, r: ResultRecord, default: ResultRecord, q: str) -> OptimizationRow:
    e = r.extra
    variant = e.get("variant") or {}
    kinds = tuple(lv.get("kind", "") for lv in variant.get("levers", []))
    measured = r.component == "end_to_end" and q in r.rounds
    rounds = tuple(r.rounds[q]) if measured else ()
    value = _mean(rounds) if rounds else None
    base_rounds = default.rounds[q]
    base = _mean(base_rounds)
    status = str(e.get("status", "unknown"))
    saving = frac = None
    label = None
    if value is not None and status == "engaged" and not r.composed:
        saving = base - value
        frac = saving / base if base else None
        label = difference_label(rounds, base_rounds)
    setup = _setup_cost(r, q) if measured else None
    lat = r.rounds.get("latency_s")
    return OptimizationRow(
        group=group,
        variant=str(variant.get("name", r.id.split("/")[-2])),
        kinds=kinds,
        status=status,
        reason=str(e.get("status_reason") or e.get("reason") or ""),
        quantity=q,
        value=value,
        rounds=rounds,
        saving=saving,
        saving_fraction=frac,
        significant=label == SAVES,
        label=label,
        latency_s=_mean(lat) if lat else None,
        peak_memory_bytes=e.get("peak_memory_bytes"),
        deviation=e.get("deviation"),
        setup_extra_j=setup,
        payback_videos=payback_videos(setup, saving) if label == SAVES else None,  # never from noise
        composed=r.composed,
        record_id=r.id,
        own_reference=own_reference(r, default),
    )


def own_reference(r: ResultRecord, default: ResultRecord) -> bool | None:
    """Whether the default rounds ``r`` was measured beside are stored in ``default`` (see the row field)."""
    if r is default or r.component != "end_to_end":
        return None
    runs = default.extra.get("round_runs")
    ref = r.extra.get("reference_run")
    if ref is not None and runs:
        return ref in runs
    entries = default.extra.get("runs") or [default.extra]
    setups = {e.get("setup_gpu_energy_j") for e in entries} - {None}
    own = r.extra.get("default_setup_gpu_energy_j")
    return None if own is None or not setups else own in setups


def deviation_value(row: OptimizationRow) -> float | None:
    """The deviation plotted against energy: relative L2 of the decoded frames (0 for the default)."""
    if row.status == "reference":
        return 0.0
    dev = row.deviation or {}
    v = dev.get("frames_rel_l2", dev.get("latents_rel_l2"))
    return None if v is None else float(v)


def pareto_front(rows: Sequence[OptimizationRow]) -> list[OptimizationRow]:
    """Rows not dominated in (figure per video, deviation), among the default and engaged variants.

    A row dominates another when it is no worse in both and better in one. Sorted by figure, descending.
    """
    pts = [
        (r, r.value, deviation_value(r))
        for r in rows
        if r.status in ("reference", "engaged") and r.value is not None and deviation_value(r) is not None
    ]
    front = []
    for r, v, d in pts:
        dominated = any((v2 <= v and d2 <= d) and (v2 < v or d2 < d) for r2, v2, d2 in pts if r2 is not r)  # type: ignore[operator]
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: -(r.value or 0.0))


def best_saving(rows: Sequence[OptimizationRow]) -> OptimizationRow | None:
    """The variant with the largest significant saving, or None."""
    savers = [r for r in rows if r.is_saving]
    return max(savers, key=lambda r: r.saving_fraction or 0.0, default=None)


@dataclass(frozen=True)
class GoalVerdict:
    """The issue's goal on one model: a variant cutting energy per video by >= 40%."""

    group: str
    best: OptimizationRow | None
    met: bool
    message: str


def goal_verdict(group: str, rows: Sequence[OptimizationRow]) -> GoalVerdict:
    """Whether some engaged variant saves >= :data:`GOAL_SAVING_FRACTION` of GPU energy per video."""
    best = best_saving(rows)
    if best is None:
        return GoalVerdict(group, None, False, f"{group}: no engaged variant with a significant saving")
    if best.quantity != "gpu_energy_j":
        return GoalVerdict(group, best, False, f"{group}: no GPU energy measured (judged on {best.quantity})")
    met = (best.saving_fraction or 0.0) >= GOAL_SAVING_FRACTION
    msg = f"{group}: best {best.variant} saves {best.saving_fraction:.1%} of GPU energy per video"
    return GoalVerdict(group, best, met, msg)


def vanished_savings(
    baseline: Mapping[str, Sequence[OptimizationRow]], current: Mapping[str, Sequence[OptimizationRow]]
) -> list[str]:
    """Savings of the baseline that the current run lost: for every variant that was a significant saving in
    the baseline, the current run must have it engaged and saving significantly again.

    Returns:
        One line per lost saving (empty when every saving held).

    Raises:
        MissingResultsError: the baseline holds no saving at all (nothing to judge).
    """
    lost: list[str] = []
    judged = 0
    for group, rows in baseline.items():
        now = {r.variant: r for r in current.get(group, ())}
        for r in rows:
            if not r.is_saving:
                continue
            judged += 1
            c = now.get(r.variant)
            if c is None:
                lost.append(f"{group} {r.variant}: saved {r.saving_fraction:.1%}, not measured now")
            elif not c.is_saving:
                why = (
                    c.reason if c.status != "engaged" else f"saving {c.saving_fraction or 0.0:.1%}, {c.label}"
                )
                lost.append(f"{group} {r.variant}: saved {r.saving_fraction:.1%}, now {c.status} ({why})")
    if not judged:
        raise MissingResultsError("the baseline holds no significant saving to gate on", SUITE)
    return lost
