"""Composition arithmetic: per-video figures from measured parts (pure functions, no hardware).

A video's cost is composed as ``text_encoder + S * denoiser_step + vae_decode (+ fixed overhead)``, per
quantity (``latency_s``, ``gpu_energy_j``, ...). Each part is given as the mean of its per-unit rounds.
Composed figures are flagged wherever they are stored; they are never presented as measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from t2v_energy_lib.results.quantities import GPU_ENERGY, LATENCY

Quantities = dict[str, float]


def means(rounds: Mapping[str, Sequence[float]]) -> Quantities:
    """Mean of each quantity's rounds. Units: those of the quantity."""
    return {k: math.fsum(v) / len(v) for k, v in rounds.items() if len(v) > 0}


def common_quantities(*parts: Mapping[str, float]) -> list[str]:
    """Quantities present in every part (in the first part's order)."""
    if not parts:
        return []
    return [k for k in parts[0] if all(k in p for p in parts[1:])]


def compose_video(
    text: Mapping[str, float],
    step: Mapping[str, float],
    steps: int,
    vae: Mapping[str, float],
    fixed: Mapping[str, float] | None = None,
) -> Quantities:
    """``text + steps * step + vae (+ fixed)`` for every quantity all parts have.

    Args:
        text: Text encoding per video (mean). Units: s, J.
        step: One denoising step (mean). Units: s, J.
        steps: Denoising steps S.
        vae: VAE decode per video (mean). Units: s, J.
        fixed: Measured fixed overhead per video, if any. Units: s, J.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    parts = [text, step, vae] + ([fixed] if fixed is not None else [])
    out: Quantities = {}
    for q in common_quantities(*parts):
        value = text[q] + steps * step[q] + vae[q]
        if fixed is not None:
            value += fixed[q]
        out[q] = value
    return out


def compose_loop(
    step: Mapping[str, float], steps: int, prefix: Mapping[str, float] | None = None, prefix_steps: int = 0
) -> Quantities:
    """Loop of ``steps`` steps: a measured prefix of ``prefix_steps`` steps plus per-step means after it."""
    if prefix is None:
        return {q: steps * v for q, v in step.items()}
    if prefix_steps > steps:
        raise ValueError(f"prefix of {prefix_steps} steps is longer than the loop of {steps}")
    return {q: prefix[q] + (steps - prefix_steps) * step[q] for q in common_quantities(step, prefix)}


def cumulative(per_step: Mapping[str, Sequence[float]]) -> list[Quantities]:
    """Cumulative sums E(S), T(S) for S = 1..N of per-step rounds (all quantities the same length)."""
    lengths = {len(v) for v in per_step.values()}
    if len(lengths) != 1:
        raise ValueError(f"per-step quantities have different lengths {sorted(lengths)}")
    n = lengths.pop()
    out: list[Quantities] = []
    totals = dict.fromkeys(per_step, 0.0)
    for i in range(n):
        for q, values in per_step.items():
            totals[q] += values[i]
        out.append(dict(totals))
    return out


def relative_difference(composed: Mapping[str, float], measured: Mapping[str, float]) -> Quantities:
    """``(composed - measured) / measured`` per common quantity (skips zero measured values)."""
    return {
        q: (composed[q] - measured[q]) / measured[q]
        for q in common_quantities(composed, measured)
        if measured[q] != 0
    }


def subtract(a: Mapping[str, float], b: Mapping[str, float]) -> Quantities:
    """``a - b`` per common quantity (e.g. the rest of the pipeline: end to end minus parts)."""
    return {q: a[q] - b[q] for q in common_quantities(a, b)}


def shares(parts: Mapping[str, Mapping[str, float]], quantity: str) -> dict[str, float]:
    """Each part's share (0..1) of the sum over parts of ``quantity`` (parts lacking it are left out)."""
    values = {name: p[quantity] for name, p in parts.items() if quantity in p}
    total = math.fsum(values.values())
    if total <= 0:
        return {}
    return {name: v / total for name, v in values.items()}


@dataclass(frozen=True)
class CompositionCheck:
    """A composed per-video figure set beside a complete generation measured at the same settings.

    Attributes:
        point_id: Scenario id of the validation point (``suite/model/settings``).
        quantity: ``latency_s`` or ``gpu_energy_j``.
        composed: Text encoder + S x step + VAE decode, from the measured parts. Units: of the quantity.
        overhead: Fixed per-generation overhead added to ``composed`` (pipeline host work: argument checks,
            latent preparation, scheduler set-up, conversion of the video to numpy), taken from the OTHER
            validation points' complete generations (leave-one-out), so it is never fitted on the point it
            checks. Units: of the quantity.
        measured: Mean of the complete generations. Units: of the quantity.
    """

    point_id: str
    quantity: str
    composed: float
    overhead: float
    measured: float

    @property
    def raw_relative_difference(self) -> float:
        """(composed - measured) / measured, without the fixed overhead."""
        return (self.composed - self.measured) / self.measured

    @property
    def relative_difference(self) -> float:
        """(composed + overhead - measured) / measured."""
        return (self.composed + self.overhead - self.measured) / self.measured


def composition_checks(
    points: Mapping[str, tuple[Mapping[str, float], Mapping[str, float]]],
    quantities: Sequence[str] = (LATENCY.key, GPU_ENERGY.key),
) -> list[CompositionCheck]:
    """Leave-one-out check of the composition method on complete generations.

    Args:
        points: Point id -> (composed means, measured end-to-end means), at least two points.
        quantities: The quantities to check.

    Returns:
        One :class:`CompositionCheck` per point and quantity; the overhead of each is the mean of
        ``measured - composed`` over the other points.

    Raises:
        ValueError: Fewer than two points (no overhead can be taken from other points).
    """
    if len(points) < 2:
        raise ValueError(f"composition check needs complete generations at >= 2 settings, got {len(points)}")
    rest = {pid: subtract(measured, composed) for pid, (composed, measured) in points.items()}
    checks = []
    for pid, (composed, measured) in points.items():
        others = [rest[o] for o in points if o != pid]
        for q in quantities:
            overhead = math.fsum(o[q] for o in others) / len(others)
            checks.append(CompositionCheck(pid, q, composed[q], overhead, measured[q]))
    return checks
