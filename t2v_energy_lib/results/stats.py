"""Summaries of raw rounds and the ratio-of-means test used for gating.

Choice of interval (documented here because gating depends on it): the ratio current/baseline of per-round
means gets its interval from **Welch's t-test** (``scipy.stats.ttest_ind(equal_var=False)``): the Welch
interval of the difference of means, divided by the baseline mean. Why Welch and not a bootstrap:

- Benchmarks here have few rounds (3-10 denoising-step windows); a bootstrap over 5 values has a coarse,
  too-narrow distribution, while Welch's t accounts for small n through its degrees of freedom.
- It is deterministic (no seed) and cheap, and the interval agrees with the p-value exactly:
  ``ci_low > 1`` if and only if the one-sided p-value is below ``1 - confidence``.
- Welch does not assume equal variances, which matters when a regression also changes the noise.

It treats the baseline mean as exact in the denominator; for the few-percent noise of GPU windows the
error this makes in the ratio's interval is of order (baseline relative standard error)², i.e. negligible.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """Statistics of raw rounds, in the rounds' own unit. ``stddev`` is the sample one (NaN when n = 1)."""

    n: int
    mean: float
    median: float
    stddev: float
    min: float
    max: float
    iqr: float

    @property
    def rel_stddev(self) -> float:
        """Standard deviation over mean (NaN when n = 1 or the mean is 0). Unitless."""
        if self.n < 2 or self.mean == 0:
            return math.nan
        return self.stddev / abs(self.mean)


def summarize(values: Iterable[float]) -> Summary:
    """Summarise raw per-round values (computed on read; nothing is rounded).

    Raises:
        ValueError: ``values`` is empty.
    """
    data = sorted(float(v) for v in values)
    if not data:
        raise ValueError("summarize() needs at least one value")
    n = len(data)
    if n > 1:
        q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
        stddev = statistics.stdev(data)
    else:
        q1 = q3 = data[0]
        stddev = math.nan
    return Summary(
        n=n,
        mean=statistics.fmean(data),
        median=statistics.median(data),
        stddev=stddev,
        min=data[0],
        max=data[-1],
        iqr=q3 - q1,
    )


@dataclass(frozen=True)
class RatioTest:
    """Ratio of means current/baseline with its interval and p-value.

    ``ci_low``/``ci_high``/``p_value`` are NaN when there is no noise estimate (a side has one round).
    One-sided tests give the two one-sided bounds (each at ``confidence``) and the p-value of
    "current > baseline".
    """

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    noise_estimate: bool


def ratio_test(
    baseline: Iterable[float], current: Iterable[float], *, confidence: float = 0.99, two_sided: bool = False
) -> RatioTest:
    """Welch's t-test on per-round values, expressed as a ratio of means current/baseline.

    Args:
        baseline: Baseline raw rounds.
        current: Current raw rounds.
        confidence: Confidence level of each bound (one-sided) or of the interval (two-sided).
        two_sided: Two-sided interval and p-value instead of the two one-sided bounds and p(current > base).

    Raises:
        ValueError: The baseline mean is not positive (no ratio), or ``confidence`` is not in (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    b, c = [float(v) for v in baseline], [float(v) for v in current]
    mean_b, mean_c = statistics.fmean(b), statistics.fmean(c)
    if mean_b <= 0:
        raise ValueError(f"baseline mean is {mean_b!r}; a ratio of means needs a positive baseline")
    ratio = mean_c / mean_b
    if len(b) < 2 or len(c) < 2:
        return RatioTest(ratio, math.nan, math.nan, math.nan, noise_estimate=False)
    if statistics.variance(b) == 0 and statistics.variance(c) == 0:
        # No spread on either side: the difference is exact (Welch's t is undefined here).
        p = 1.0 if mean_c == mean_b else (0.0 if mean_c > mean_b or two_sided else 1.0)
        return RatioTest(ratio, ratio, ratio, p, noise_estimate=True)

    from scipy import stats as sps  # lazy: scipy is heavy and only gating needs it

    if two_sided:
        res = sps.ttest_ind(c, b, equal_var=False, alternative="two-sided")
        low, high = res.confidence_interval(confidence)
        p = float(res.pvalue)
    else:
        res = sps.ttest_ind(c, b, equal_var=False, alternative="greater")
        low = res.confidence_interval(confidence).low
        high = sps.ttest_ind(c, b, equal_var=False, alternative="less").confidence_interval(confidence).high
        p = float(res.pvalue)
    return RatioTest(ratio, 1.0 + float(low) / mean_b, 1.0 + float(high) / mean_b, p, noise_estimate=True)


def combined_ratio_test(
    baseline: Sequence[tuple[float, Sequence[float]]],
    current: Sequence[tuple[float, Sequence[float]]],
    *,
    confidence: float = 0.99,
    two_sided: bool = False,
) -> RatioTest:
    """Welch's test on a weighted sum of measured parts, as a ratio current/baseline of the sums.

    A composed figure (``text_encoder + S x denoiser_step + vae_decode``) has one value per side, hence no
    noise of its own; its parts have rounds. The sum's mean is ``sum(w_k * mean_k)``, the variance of that
    mean ``sum(w_k**2 * var_k / n_k)`` over both sides, and the degrees of freedom Welch-Satterthwaite's.
    With one part of weight 1 this is :func:`ratio_test` exactly.

    Args:
        baseline: ``(weight, raw rounds)`` per part, baseline side.
        current: The same parts, in the same order, current side.
        confidence: Confidence of each bound (one-sided) or of the interval (two-sided).
        two_sided: Two-sided interval and p-value.

    Raises:
        ValueError: Parts differ in number, a part has fewer than 2 rounds, the baseline sum is not positive,
            or ``confidence`` is not in (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if len(baseline) != len(current) or not baseline:
        raise ValueError("combined_ratio_test needs the same, non-empty list of parts on both sides")
    mean_b = mean_c = var = df_den = 0.0
    for (wb, vb), (wc, vc) in zip(baseline, current, strict=True):
        for weight, values in ((wb, vb), (wc, vc)):
            if len(values) < 2:
                raise ValueError("every part needs at least 2 rounds for a noise estimate")
            term = weight**2 * statistics.variance(values) / len(values)
            var += term
            df_den += term**2 / (len(values) - 1)
        mean_b += wb * statistics.fmean(vb)
        mean_c += wc * statistics.fmean(vc)
    if mean_b <= 0:
        raise ValueError(f"baseline sum is {mean_b!r}; a ratio needs a positive baseline")
    ratio = mean_c / mean_b
    diff = mean_c - mean_b
    if var == 0:
        p = 1.0 if diff == 0 else (0.0 if diff > 0 or two_sided else 1.0)
        return RatioTest(ratio, ratio, ratio, p, noise_estimate=True)
    from scipy import stats as sps

    se, df = math.sqrt(var), var**2 / df_den
    q = (1 + confidence) / 2 if two_sided else confidence
    half = float(sps.t.ppf(q, df)) * se
    t_stat = diff / se
    p = float(2 * sps.t.sf(abs(t_stat), df)) if two_sided else float(sps.t.sf(t_stat, df))
    return RatioTest(
        ratio, 1.0 + (diff - half) / mean_b, 1.0 + (diff + half) / mean_b, p, noise_estimate=True
    )
