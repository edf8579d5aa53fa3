"""Adaptive rounds: how many rounds a benchmark needs before the gate can decide at its threshold.

A fixed number of rounds either wastes time (a denoiser step that repeats within 0.2 % needs 3) or cannot
decide (a 3 % change under 1 % noise needs more). The adaptive gate measures a few rounds, then adds one round
at a time until :func:`adaptive_state` says the question is answered, or a per-benchmark cap (rounds or
seconds) is hit, in which case the row stays ``"undecided"`` (a failure in strict mode).

- **Against a baseline record**: the verdict of :func:`~.compare.row_verdict` on every gated metric. Stop when
  one metric is a ``"regression"`` or every metric is decided (``"unchanged"``/``"improvement"``); go on while
  any is ``"undecided"``.
- **Taking a baseline** (no baseline record): stop when every gated metric's mean is known to within
  ``precision x threshold`` (one-sided t bound at the gate's confidence), so that a later comparison is not
  limited by a noisy baseline.

**Repeated looks.** Testing after every round and stopping at the first "regression" inflates the false-alarm
rate of a 99 % bound (a simulation from stored H100 rounds gave 6 % on the text encoder alone). So the
decision is taken only at look points that grow by half each time (3, 5, 8, 12, 18, 27 rounds..., and at the
cap:
:func:`look_points`), and every look uses the Bonferroni confidence ``1 - (1 - confidence) / looks``
(:func:`sequential_confidence`); the final comparison of an adaptive gate uses that confidence too.
:mod:`.power` measures the resulting rates by simulation from stored per-round data.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from t2v_energy_lib.results.compare import METRICS, Thresholds, row_verdict
from t2v_energy_lib.results.stats import ratio_test

CONTINUE, REGRESSION, DECIDED, PRECISE = "continue", "regression", "decided", "precise"
DEFAULT_PRECISION = 0.5
INITIAL_ROUNDS = 3


def look_points(max_rounds: int, initial_rounds: int = INITIAL_ROUNDS) -> tuple[int, ...]:
    """Round counts at which the adaptive gate decides: ``initial``, then x1.5 (at least +1), and the cap."""
    points, n = [], max(2, initial_rounds)
    while n < max_rounds:
        points.append(n)
        n = max(n + 1, math.ceil(n * 1.5))
    return (*points, max_rounds)


def sequential_confidence(confidence: float, max_rounds: int, initial_rounds: int = INITIAL_ROUNDS) -> float:
    """Per-look confidence keeping the false-alarm rate over all looks at ``1 - confidence`` (Bonferroni)."""
    return 1.0 - (1.0 - confidence) / len(look_points(max_rounds, initial_rounds))


def relative_half_width(values: Sequence[float], confidence: float) -> float:
    """One-sided ``confidence`` t bound of the mean, relative to the mean (inf for < 2 values). Unitless."""
    if len(values) < 2:
        return math.inf
    mean = statistics.fmean(values)
    if mean <= 0:
        return math.inf
    from scipy import stats as sps

    t = float(sps.t.ppf(confidence, len(values) - 1))
    return t * statistics.stdev(values) / math.sqrt(len(values)) / mean


def adaptive_state(
    baseline: Mapping[str, Sequence[float]] | None,
    current: Mapping[str, Sequence[float]],
    thresholds: Thresholds,
    *,
    confidence: float = 0.99,
    precision: float = DEFAULT_PRECISION,
) -> str:
    """Whether the rounds so far answer the gate's question.

    Args:
        baseline: The baseline record's per-unit rounds by quantity (``gpu_energy_j``...), None when taking a
            baseline.
        current: This run's per-unit rounds so far, by quantity.
        thresholds: The gate's thresholds (the metrics it decides on).
        confidence: The gate's confidence.
        precision: Taking a baseline: stop when each metric's relative half-width is below
            ``precision x threshold``.

    Returns:
        ``"continue"`` (add a round), ``"regression"`` (decided: a regression), ``"decided"`` (every metric
        decided, none regressed) or ``"precise"`` (baseline precise enough).
    """
    pending = False
    for metric in thresholds.limits:
        key = METRICS[metric]
        values = current.get(key)
        if not values:
            continue
        if baseline is None:
            limit = precision * thresholds.limits[metric]
            pending |= relative_half_width(values, confidence) > limit
            continue
        base = baseline.get(key)
        if not base or len(values) < 2 or statistics.fmean(base) <= 0:
            pending |= len(values) < 2
            continue
        thr = thresholds.threshold_for(metric, tuple(base))
        test = ratio_test(base, values, confidence=confidence)
        verdict = row_verdict(test.ratio - 1.0, thr, test)
        if verdict == "regression":
            return REGRESSION
        pending |= verdict == "undecided"
    if pending:
        return CONTINUE
    return PRECISE if baseline is None else DECIDED
