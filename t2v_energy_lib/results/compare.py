"""Compare two result sets and decide regressions: :class:`Thresholds`, :func:`compare`, :class:`Comparison`.

Per test id present in both sets and per gated metric, the ratio of per-round means current/baseline gets a
Welch interval (see :mod:`.stats` for why Welch). Verdicts, with ``change = ratio - 1`` and the metric's
threshold ``thr``:

- ``"regression"``: ``change > thr`` and the interval's lower bound ``> 1`` (the change exceeds the noise);
- ``"improvement"``: ``-change > thr`` and the upper bound ``< 1``;
- ``"unchanged"``: otherwise;
- ``"no-noise-estimate"``: a side has one round, so there is no interval; within the threshold it gets this
  verdict, beyond it the verdict is decided on the threshold alone (and the row is flagged ``no-noise``).

One-sided by default: only regressions fail. ``two_sided=True`` uses two-sided intervals and p-values and also
fails on improvements beyond threshold and noise (a benchmark that suddenly does less work is suspect).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from t2v_energy_lib.errors import HardwareMismatchError
from t2v_energy_lib.results.provenance import hardware_differences, version_changes
from t2v_energy_lib.results.quantities import gate_metrics
from t2v_energy_lib.results.schema import ResultFile, ResultRecord
from t2v_energy_lib.results.stats import ratio_test, summarize

#: Gate metric name -> rounds key, derived from the declared quantities (:mod:`.quantities`).
METRICS: Mapping[str, str] = gate_metrics()
VERDICTS = ("regression", "improvement", "unchanged", "no-noise-estimate")
OVERRIDE_HINT = (
    "allow_hardware_mismatch=True (CLI: --allow-hardware-mismatch; pytest: --energy-allow-hardware-mismatch)"
)
_ITEM = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*:\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Thresholds:
    """Allowed relative increase per metric, and optionally a per-test floor from the baseline's noise.

    Attributes:
        limits: Metric name (a key of :data:`METRICS`) -> allowed fraction (0.05 = 5 %). Unitless.
        noise_k: If set, a test's threshold is ``max(limit, noise_k * baseline relative stddev)``.
    """

    limits: Mapping[str, float]
    noise_k: float | None = None

    def __post_init__(self) -> None:
        for metric, limit in self.limits.items():
            if metric not in METRICS:
                raise ValueError(_unknown_metric(metric))
            if not (isinstance(limit, (int, float)) and math.isfinite(limit) and limit >= 0):
                raise ValueError(f"threshold for {metric!r} must be a finite fraction >= 0, got {limit!r}")
        if self.noise_k is not None and not self.noise_k >= 0:
            raise ValueError(f"noise_k must be >= 0, got {self.noise_k!r}")
        object.__setattr__(self, "limits", dict(self.limits))

    @classmethod
    def parse(cls, text: str, *, noise_k: float | None = None) -> Thresholds:
        """Parse ``"energy:5%,latency:5%"`` or ``"energy:0.05"`` (a bare number is a fraction).

        Raises:
            ValueError: Unknown metric (the message lists the known ones), or a malformed item.
        """
        limits: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            match = _ITEM.match(item)
            if not match:
                raise ValueError(
                    f"threshold {item!r} is not 'metric:value'; "
                    "write e.g. 'energy:5%,latency:5%' or 'energy:0.05'"
                )
            metric, number, percent = match.group(1), float(match.group(2)), match.group(3)
            if metric not in METRICS:
                raise ValueError(_unknown_metric(metric))
            if not percent and number >= 1:
                raise ValueError(
                    f"threshold {item!r}: a bare number is a fraction, so {number:g} would allow "
                    f"{number * 100:g}%; write '{metric}:{number:g}%' or '{metric}:{number / 100:g}'"
                )
            limits[metric] = number / 100 if percent else number
        if not limits:
            raise ValueError(f"no thresholds in {text!r}; write e.g. 'energy:5%,latency:5%'")
        return cls(limits, noise_k=noise_k)

    @classmethod
    def default(cls) -> Thresholds:
        """5 % on energy and on latency."""
        return cls({"energy": 0.05, "latency": 0.05})

    def threshold_for(self, metric: str, baseline_values: tuple[float, ...]) -> float:
        """The threshold (fraction) for one test's metric, raised to the baseline's noise if ``noise_k``."""
        limit = self.limits[metric]
        if self.noise_k is None or len(baseline_values) < 2:
            return limit
        rel = summarize(baseline_values).rel_stddev
        return max(limit, self.noise_k * rel) if math.isfinite(rel) else limit


def _unknown_metric(metric: str) -> str:
    known = ", ".join(f"{k} ({v})" for k, v in METRICS.items())
    return f"unknown metric {metric!r} in thresholds; known metrics: {known}"


@dataclass(frozen=True)
class ComparisonRow:
    """One test id and metric. Means are per unit of work, in the metric's unit (J or s).

    ``ci_low``, ``ci_high``, ``p_value`` are NaN without a noise estimate. ``flags`` holds ``no-noise``,
    ``composed``, ``estimated``, ``summary-only`` where they apply.
    """

    test_id: str
    metric: str
    rounds_key: str
    baseline_mean: float
    current_mean: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    threshold: float
    verdict: str
    n_baseline: int
    n_current: int
    flags: tuple[str, ...] = ()

    @property
    def change(self) -> float:
        """Relative change ``ratio - 1`` (0.1 = 10 % more). Unitless."""
        return self.ratio - 1.0


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`; ``format_table()`` renders it for a terminal."""

    rows: tuple[ComparisonRow, ...]
    missing_ids: tuple[str, ...]
    new_ids: tuple[str, ...]
    version_changes: tuple[tuple[str, Any, Any], ...]
    confidence: float
    two_sided: bool
    hardware_differences: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    baseline_source: str | None = None
    current_source: str | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)

    @property
    def regressions(self) -> tuple[ComparisonRow, ...]:
        """Rows whose verdict is ``"regression"``."""
        return tuple(r for r in self.rows if r.verdict == "regression")

    @property
    def improvements(self) -> tuple[ComparisonRow, ...]:
        """Rows whose verdict is ``"improvement"``."""
        return tuple(r for r in self.rows if r.verdict == "improvement")

    @property
    def failures(self) -> tuple[ComparisonRow, ...]:
        """Rows that fail the gate: regressions, plus improvements when two-sided."""
        return self.regressions + (self.improvements if self.two_sided else ())

    @property
    def passed(self) -> bool:
        """True when no row fails the gate."""
        return not self.failures

    def format_table(self) -> str:
        """Plain-text table plus missing/new ids, version changes and a summary line."""
        from t2v_energy_lib.results.table import format_comparison

        return format_comparison(self)


def _verdict(change: float, thr: float, ci_low: float, ci_high: float, noise: bool) -> str:
    if not noise:
        if change > thr:
            return "regression"
        return "improvement" if -change > thr else "no-noise-estimate"
    if change > thr and ci_low > 1.0:
        return "regression"
    if -change > thr and ci_high < 1.0:
        return "improvement"
    return "unchanged"


def _row(
    test_id: str,
    metric: str,
    base: ResultRecord,
    cur: ResultRecord,
    thr: float,
    *,
    confidence: float,
    two_sided: bool,
) -> ComparisonRow:
    key = METRICS[metric]
    b, c = base.rounds[key], cur.rounds[key]
    test = ratio_test(b, c, confidence=confidence, two_sided=two_sided)
    flags = [] if test.noise_estimate else ["no-noise"]
    for flag in ("composed", "estimated", "summary_only"):
        if base.extra.get(flag) or cur.extra.get(flag):
            flags.append(flag.replace("_", "-"))
    return ComparisonRow(
        test_id=test_id,
        metric=metric,
        rounds_key=key,
        baseline_mean=summarize(b).mean,
        current_mean=summarize(c).mean,
        ratio=test.ratio,
        ci_low=test.ci_low,
        ci_high=test.ci_high,
        p_value=test.p_value,
        threshold=thr,
        verdict=_verdict(test.ratio - 1.0, thr, test.ci_low, test.ci_high, test.noise_estimate),
        n_baseline=len(b),
        n_current=len(c),
        flags=tuple(flags),
    )


def compare(
    baseline: ResultFile,
    current: ResultFile,
    thresholds: Thresholds | None = None,
    *,
    allow_hardware_mismatch: bool = False,
    confidence: float = 0.99,
    two_sided: bool = False,
) -> Comparison:
    """Compare ``current`` against ``baseline`` test by test and metric by metric.

    Args:
        baseline: The reference results.
        current: The results under test.
        thresholds: Gated metrics and their thresholds; :meth:`Thresholds.default` (5 % energy and latency)
            when None. Only these metrics are compared.
        allow_hardware_mismatch: Compare even across GPU models, drivers or power limits (the differences
            are kept in :attr:`Comparison.hardware_differences` and printed).
        confidence: Confidence of the interval bounds.
        two_sided: Two-sided intervals; improvements beyond threshold and noise fail too.

    Raises:
        HardwareMismatchError: The provenances differ in GPU model, driver or power limit and the override
            is not given; the message says what differs and how to override.
    """
    thresholds = thresholds or Thresholds.default()
    diffs = tuple(hardware_differences(baseline.provenance, current.provenance))
    b_src = str(baseline.path) if baseline.path else "baseline"
    c_src = str(current.path) if current.path else "current"
    if diffs and not allow_hardware_mismatch:
        raise HardwareMismatchError(
            f"baseline {b_src} and current {c_src} come from different hardware ({'; '.join(diffs)}); "
            "energy and latency are not comparable across GPUs, drivers or power limits. Compare against a "
            f"baseline from the same machine, or pass {OVERRIDE_HINT} to compare anyway."
        )
    base_by_id, cur_by_id = baseline.by_id(), current.by_id()
    rows, notes = [], []
    for test_id in (r.id for r in baseline.records if r.id in cur_by_id):
        base, cur = base_by_id[test_id], cur_by_id[test_id]
        for metric in thresholds.limits:
            key = METRICS[metric]
            if key not in base.rounds or key not in cur.rounds:
                if (key in base.rounds) != (key in cur.rounds):
                    side = "baseline" if key in base.rounds else "current"
                    notes.append(f"{test_id}: {key} only in the {side}; not compared")
                continue
            if summarize(base.rounds[key]).mean <= 0:
                notes.append(f"{test_id}: baseline mean {key} is not positive; no ratio, not compared")
                continue
            thr = thresholds.threshold_for(metric, base.rounds[key])
            rows.append(_row(test_id, metric, base, cur, thr, confidence=confidence, two_sided=two_sided))
    for metric in thresholds.limits:
        if not any(r.metric == metric for r in rows):
            notes.append(f"{metric} ({METRICS[metric]}) is in no test common to both sets: not gated")
    return Comparison(
        rows=tuple(rows),
        missing_ids=tuple(r.id for r in baseline.records if r.id not in cur_by_id),
        new_ids=tuple(r.id for r in current.records if r.id not in base_by_id),
        version_changes=version_changes(baseline.provenance, current.provenance),
        confidence=confidence,
        two_sided=two_sided,
        hardware_differences=diffs,
        notes=tuple(notes),
        baseline_source=b_src,
        current_source=c_src,
        thresholds=dict(thresholds.limits),
    )
