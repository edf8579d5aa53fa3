"""Composition arithmetic: per-video figures from measured parts (pure functions, no hardware).

A video's cost is composed as ``text_encoder + S * denoiser_step + vae_decode (+ fixed overhead)``, per
quantity (``latency_s``, ``gpu_energy_j``, ...). Each part is given as the mean of its per-unit rounds.
Composed figures are flagged wherever they are stored; they are never presented as measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

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
