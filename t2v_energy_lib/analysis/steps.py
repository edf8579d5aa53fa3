"""Step detection over a version history that weighs each version's measured uncertainty (after asv).

Input: per version, in release order, the raw per-round values of one metric (never rounded). Method:

1. **Per-version mean and standard error** from the rounds. Rounds taken inside one process miss the
   process-to-process spread, so the standard error is floored at ``noise_floor_rel`` of the mean (0.5 % by
   default); a version with one round borrows the median relative spread of the others (or the floor).
2. **Segmentation** (as asv's ``step_detect``, but with a squared-error cost): the exact optimal partition of
   the history into runs of equal level, minimising ``sum w_k (m_k - mu_segment)^2`` with ``w_k = 1/se_k^2``
   plus ``penalty`` per extra segment. The default penalty is the chi-square quantile of one degree of
   freedom at ``confidence``: a new level must explain more than a change of that significance would.
3. **A boundary is a step** when (a) the two segments' weighted means differ by at least ``min_change`` and
   their interval excludes 1, and (b) the release at the boundary moved by itself: the ratio of the two
   adjacent versions has an interval excluding 1 and a change of at least half of ``min_change``. (b) keeps
   a slow drift (a little per release) from being blamed on one release.
4. **Noisy records** (host-bound calls). When the rounds of any one version spread by more than
   ``noisy_spread`` (max/min - 1 > 10 % by default), the rounds do not sample one level: a short, host-bound
   call (a text encoder of tens of ms at a few hundred W) switches between latency regimes within one process
   (0.065 s and 0.104 s rounds of the same call in one H200 session), and a whole job can sit in one regime.
   With one job per version the job-to-job variance is then unknown, and a Welch interval from rounds
   overstates certainty. Such a record takes its largest within-version range ``R`` (max/min) as a noise
   band: every version's standard error is floored at ``(R - 1) / 2`` of its mean (not divided by the rounds:
   the regime is not redrawn every round), and a change within the band (``|log ratio| <= log R``, for both
   the adjacent pair and the two levels) is not a step. The report is flagged ``noisy``: it needs more runs
   (jobs) per version before a step can be claimed. A record whose jobs each sit in one regime without
   mixing within any version is not detected by this rule; only more jobs per version can show it.
5. Every adjacent pair that is not a step is reported as unchanged. The first-to-last ratio is reported too;
   when it is significant and beyond ``min_change`` but the steps explain less than half of it (in log
   terms) the history is flagged as a **drift**.

Intervals are Welch-style (t quantile with Welch-Satterthwaite degrees of freedom) on the difference of means,
divided by the earlier mean, as in :mod:`t2v_energy_lib.results.stats`.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from t2v_energy_lib.errors import FitError


@dataclass(frozen=True)
class VersionValues:
    """Raw per-round values of one metric under one version (in the metric's unit)."""

    version: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class Level:
    """A version's (or a segment's) mean with its standard error and rounds. Units: the metric's."""

    mean: float
    se: float
    n: int


@dataclass(frozen=True)
class Step:
    """A release that changed the metric.

    Attributes:
        before: The last version of the earlier level.
        after: The release that moved it.
        ratio: ``after / before`` (adjacent versions), with ``ci_low``/``ci_high`` at the confidence.
        segment_ratio: Later level / earlier level (all versions of both segments pooled), with its interval.
        change: ``segment_ratio - 1`` (0.05 = 5 % more).
    """

    before: str
    after: str
    ratio: float
    ci_low: float
    ci_high: float
    segment_ratio: float
    segment_ci_low: float
    segment_ci_high: float

    @property
    def change(self) -> float:
        """Relative change of the level (segment ratio - 1). Unitless."""
        return self.segment_ratio - 1.0


@dataclass(frozen=True)
class StepReport:
    """The steps of one metric's history, and which releases did nothing.

    ``levels`` are each version's mean and standard error from its rounds (as measured, what the per-version
    interval shows); ``round_spread`` is the largest max/min of one version's rounds (unitless, 1.0 for a
    single round); ``noisy`` says it exceeded the detector's ``noisy_spread``, so the steps were judged with
    the noise band of step 4 (standard errors widened, changes within the band ignored).
    """

    versions: tuple[str, ...]
    levels: tuple[Level, ...]
    segments: tuple[tuple[int, int], ...]
    steps: tuple[Step, ...]
    unchanged: tuple[tuple[str, str], ...]
    total_ratio: float
    total_ci: tuple[float, float]
    drift: bool
    confidence: float
    min_change: float
    round_spread: float = 1.0
    noisy: bool = False

    def interval(self, i: int) -> tuple[float, float]:
        """The interval of version ``i``'s mean at the report's confidence (t quantile, n-1 dof)."""
        lv = self.levels[i]
        t = _t(self.confidence, max(1, lv.n - 1))
        return lv.mean - t * lv.se, lv.mean + t * lv.se


def _t(confidence: float, dof: float) -> float:
    from scipy import stats as sps  # lazy: scipy is heavy

    return float(sps.t.ppf(0.5 + confidence / 2.0, dof))


def _levels(history: Sequence[VersionValues], noise_floor_rel: float) -> list[Level]:
    rel_spreads = [
        statistics.stdev(h.values) / abs(statistics.fmean(h.values))
        for h in history
        if len(h.values) >= 2 and statistics.fmean(h.values) != 0
    ]
    borrowed = statistics.median(rel_spreads) if rel_spreads else noise_floor_rel
    return [level(h.values, noise_floor_rel, borrowed) for h in history]


def level(values: Sequence[float], noise_floor_rel: float, single_rel: float | None = None) -> Level:
    """Mean and standard error of raw rounds; the error is floored at ``noise_floor_rel`` of the mean, and one
    round takes ``single_rel`` (default: the floor) of the mean as its spread."""
    mean = statistics.fmean(values)
    spread = single_rel if single_rel is not None else noise_floor_rel
    sd = statistics.stdev(values) if len(values) >= 2 else spread * abs(mean)
    return Level(mean, max(sd / math.sqrt(len(values)), noise_floor_rel * abs(mean)), len(values))


def round_spread(history: Sequence[VersionValues]) -> float:
    """The largest max/min of one version's rounds (1.0 when no version has two positive rounds)."""
    spreads = [max(h.values) / min(h.values) for h in history if len(h.values) >= 2 and min(h.values) > 0]
    return max(spreads, default=1.0)


def _widen(levels: Sequence[Level], spread: float) -> list[Level]:
    """Floor every standard error at half the noise band ``spread - 1`` of its mean (step 4)."""
    half = (spread - 1.0) / 2.0
    return [Level(lv.mean, max(lv.se, half * abs(lv.mean)), lv.n) for lv in levels]


def _beyond(ratio: float, band: float) -> bool:
    """True when ``ratio`` lies outside the noise band ``exp(+-band)`` (always, when there is no band)."""
    return band == 0.0 or (ratio > 0 and abs(math.log(ratio)) > band)


def _pool(levels: Sequence[Level]) -> Level:
    w = [1.0 / lv.se**2 for lv in levels]
    mean = sum(wi * lv.mean for wi, lv in zip(w, levels, strict=True)) / sum(w)
    return Level(mean, 1.0 / math.sqrt(sum(w)), sum(lv.n for lv in levels))


def _cost(levels: Sequence[Level]) -> float:
    pooled = _pool(levels)
    return sum(((lv.mean - pooled.mean) / lv.se) ** 2 for lv in levels)


def segment(levels: Sequence[Level], penalty: float) -> tuple[tuple[int, int], ...]:
    """Optimal partition into segments ``(first, last)`` (inclusive indices): weighted SSE + penalty each."""
    n = len(levels)
    best = [0.0] + [math.inf] * n  # best[j]: cost of levels[:j]
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            c = best[i] + _cost(levels[i:j]) + (penalty if i > 0 else 0.0)
            if c < best[j]:
                best[j], cut[j] = c, i
    out, j = [], n
    while j > 0:
        out.append((cut[j], j - 1))
        j = cut[j]
    return tuple(reversed(out))


def ratio_interval(a: Level, b: Level, confidence: float) -> tuple[float, float, float]:
    """``b/a`` with its interval: Welch t on ``b - a`` (Welch-Satterthwaite dof), divided by ``a``'s mean."""
    if a.mean <= 0:
        raise FitError(f"a ratio needs a positive earlier mean, got {a.mean!r}")
    var = a.se**2 + b.se**2
    den = (a.se**4 / max(1, a.n - 1)) + (b.se**4 / max(1, b.n - 1))
    dof = var**2 / den if den > 0 else 1e6
    half = _t(confidence, max(1.0, dof)) * math.sqrt(var)
    diff = b.mean - a.mean
    return b.mean / a.mean, 1.0 + (diff - half) / a.mean, 1.0 + (diff + half) / a.mean


def detect_steps(
    history: Sequence[VersionValues],
    *,
    min_change: float = 0.02,
    confidence: float = 0.99,
    noise_floor_rel: float = 0.005,
    penalty: float | None = None,
    noisy_spread: float = 0.10,
) -> StepReport:
    """Find the releases that changed a metric (see the module docstring for the method).

    Args:
        history: Per version, in release order, the raw rounds (at least one each).
        min_change: Smallest relative change that counts as a step (0.02 = 2 %).
        confidence: Confidence of every interval (two-sided).
        noise_floor_rel: Floor of a version's standard error, relative to its mean.
        penalty: Cost of one more segment (default: chi-square(1) quantile at ``confidence``).
        noisy_spread: Within-version spread (max/min - 1) beyond which the record is noisy (step 4).

    Raises:
        FitError: Fewer than two versions, a version without values, or a non-positive mean.
    """
    if len(history) < 2:
        raise FitError(f"a history needs at least two versions, got {len(history)}; measure more versions")
    for h in history:
        if not h.values:
            raise FitError(f"version {h.version} has no values; it was not measured (see its error record)")
    if penalty is None:
        from scipy import stats as sps

        penalty = float(sps.chi2.ppf(confidence, 1))
    measured = _levels(history, noise_floor_rel)
    spread = round_spread(history)
    noisy = spread - 1.0 > noisy_spread
    band = math.log(spread) if noisy else 0.0
    levels = _widen(measured, spread) if noisy else measured
    segs = segment(levels, penalty)
    names = tuple(h.version for h in history)
    steps: list[Step] = []
    boundaries = set()
    for left, right in itertools.pairwise(segs):
        a, b = left[1], right[0]
        seg = ratio_interval(
            _pool(levels[left[0] : left[1] + 1]), _pool(levels[right[0] : right[1] + 1]), confidence
        )
        pair = ratio_interval(levels[a], levels[b], confidence)
        seg_ok = abs(seg[0] - 1.0) >= min_change and not seg[1] <= 1.0 <= seg[2] and _beyond(seg[0], band)
        pair_ok = (
            abs(pair[0] - 1.0) >= min_change / 2 and not pair[1] <= 1.0 <= pair[2] and _beyond(pair[0], band)
        )
        if seg_ok and pair_ok:
            steps.append(Step(names[a], names[b], *pair, *seg))
            boundaries.add(b)
    unchanged = tuple((names[i - 1], names[i]) for i in range(1, len(names)) if i not in boundaries)
    total = ratio_interval(levels[0], levels[-1], confidence)
    explained = sum(math.log(s.segment_ratio) for s in steps)
    significant = abs(total[0] - 1.0) >= min_change and not total[1] <= 1.0 <= total[2]
    drift = significant and abs(explained) < 0.5 * abs(math.log(total[0]))
    return StepReport(
        versions=names,
        levels=tuple(measured),
        segments=segs,
        steps=tuple(steps),
        unchanged=unchanged,
        total_ratio=total[0],
        total_ci=(total[1], total[2]),
        drift=drift,
        confidence=confidence,
        min_change=min_change,
        round_spread=spread,
        noisy=noisy,
    )
