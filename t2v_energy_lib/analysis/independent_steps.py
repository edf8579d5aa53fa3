"""The steps claim judged on independent runs: whole denoising loops of S steps, measured separately.

Prefixes of one traced run (E(1), E(2), ... summed from one run's per-step windows) are linear in S by
construction, so they cannot test the claim. A ``denoise_run`` record holds one complete denoising loop of S
steps per round (``extra['independent']``), each round a separate ``pipe(...)`` call. The claim's band is set
from the measured noise: the largest relative standard deviation of the runs at one step count, times
:data:`NOISE_FACTOR`, never below :data:`MIN_BAND`; above :data:`MAX_BAND` the runs are too noisy to decide.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from t2v_energy_lib.analysis.fits import fit_linear

#: Component of a whole denoising loop of S steps measured as one run per round.
#: Fewest distinct step counts, and runs per step count, the judgement needs.
MIN_STEP_COUNTS = 3
MIN_RUNS = 2
#: Band = max(NOISE_FACTOR x the runs' largest relative standard deviation, MIN_BAND).
NOISE_FACTOR = 3.0
MIN_BAND = 0.005
#: A band wider than this cannot tell a line from a bend of a few percent: undecided.
MAX_BAND = 0.05


def _relative_std(values: Sequence[float]) -> float:
    return statistics.stdev(values) / abs(statistics.fmean(values))


def undecided_reason(points: Sequence[Any]) -> str | None:
    """Why the runs cannot decide the claim (too few step counts or runs), or None when they can."""
    counts = sorted({p.x for p in points})
    if len(counts) < MIN_STEP_COUNTS:
        listed = ", ".join(f"{c:g}" for c in counts)
        return (
            f"{len(counts)} step count(s) measured as independent runs (S = {listed}); "
            f"the claim needs >= {MIN_STEP_COUNTS}"
        )
    thin = [f"S={p.x:g} ({len(p.energy_j)} run(s))" for p in points if len(p.energy_j) < MIN_RUNS]
    if thin:
        return f"the noise band needs >= {MIN_RUNS} runs per step count; {', '.join(thin)}"
    return None


def judge_runs(points: Sequence[Any], metric: str) -> dict[str, Any]:
    """Judge one metric (``energy_j`` or ``latency_s``) of independent runs at several step counts.

    Criteria: every step count's mean within ``band`` of the line ``a + b*S`` fitted to all of them, and every
    increment between consecutive step counts giving a per-step figure ``dE/dS`` within the band propagated
    to it (``band * (E_i + E_j) / (E_j - E_i)``) of ``b``: per-step energy constant.

    Args:
        points: ``SweepPoint`` objects (x = S) of ``denoise_run`` records, sorted by S, >= 2 rounds each.
        metric: ``"energy_j"`` or ``"latency_s"``.

    Returns:
        ``{"linear", "band", "noise", "max_residual", "increments", "holds", "undecided"}``.
    """
    rounds = [p.energy_j if metric == "energy_j" else p.latency_s for p in points]
    xs = [p.x for p in points]
    ys = [statistics.fmean(r) for r in rounds]
    noise = max(_relative_std(r) for r in rounds)
    band = max(NOISE_FACTOR * noise, MIN_BAND)
    line = fit_linear(xs, ys)
    a, b = line.coefficients
    residuals = [abs(y - (a + b * x)) / y for x, y in zip(xs, ys, strict=True)]
    increments = []
    for i in range(len(xs) - 1):
        d_y, d_x = ys[i + 1] - ys[i], xs[i + 1] - xs[i]
        per_step = d_y / d_x
        tolerance = band * (ys[i] + ys[i + 1]) / abs(d_y) if d_y else float("inf")
        increments.append(
            {
                "from_steps": xs[i],
                "to_steps": xs[i + 1],
                "per_step": per_step,
                "relative_to_slope": per_step / b - 1.0 if b else float("inf"),
                "tolerance": tolerance,
            }
        )
    holds = (
        b > 0
        and max(residuals) <= band
        and all(abs(inc["relative_to_slope"]) <= inc["tolerance"] for inc in increments)
    )
    return {
        "linear": line,
        "band": band,
        "noise": noise,
        "max_residual": max(residuals),
        "increments": increments,
        "holds": holds and band <= MAX_BAND,
        "undecided": band > MAX_BAND,
    }


def describe(model: str, metric: str, verdict: dict[str, Any]) -> str:
    """One readable line of a metric's verdict."""
    a, b = verdict["linear"].coefficients
    worst = max(verdict["increments"], key=lambda i: abs(i["relative_to_slope"]) - i["tolerance"])
    state = (
        "undecided (too noisy)"
        if verdict["undecided"]
        else ("holds" if verdict["holds"] else "does NOT hold")
    )
    return (
        f"{model} {metric} = {a:.4g} + {b:.4g}*S over independent runs: largest residual "
        f"{verdict['max_residual']:.2%} (band {verdict['band']:.2%} = {NOISE_FACTOR:g} x the runs' noise "
        f"{verdict['noise']:.2%}, floor {MIN_BAND:.1%}); per-step figure S={worst['from_steps']:g}->"
        f"{worst['to_steps']:g} {worst['relative_to_slope']:+.2%} of the slope (tolerance "
        f"{worst['tolerance']:.2%}): {state}"
    )
