"""Compare two result sets and decide regressions: :class:`Thresholds`, :func:`compare`, :class:`Comparison`.

Records are matched by id (:mod:`.identity`: the invocation-independent key; older node ids that differ only
by their path prefix are aligned). Per matched id and gated metric, the ratio of per-round means
current/baseline gets a Welch interval (see :mod:`.stats` for why Welch). Verdicts, with
``change = ratio - 1``, the metric's threshold ``thr`` and the bounds ``[low, high]`` (each one-sided at
``confidence``):

- ``"regression"``: ``change > thr`` and ``low > 1`` (beyond the threshold *and* beyond the noise);
- ``"improvement"``: ``-change > thr`` and ``high < 1``;
- ``"unchanged"``: ``high < 1 + thr``: the interval rules out a regression of the threshold's size;
- ``"undecided"``: none of these: the rounds are too few or too noisy to tell a change of ``thr`` from noise.
  Reported always; a failure only when ``strict`` (the adaptive gate adds rounds until it decides);
- ``"excluded"``: a side has one round (no noise estimate). A composed figure whose record names its measured
  parts (``extra["parts"]``, formula ``text_encoder + num_inference_steps * denoiser_step + vae_decode``) is
  instead decided from the parts' rounds (:func:`~.stats.combined_ratio_test`, flag ``from-parts``); any other
  one-round figure is left out of the verdict with a note (the threshold alone would turn noise into alarms).

No silent pass (:attr:`Comparison.problems`): a comparison that decided nothing fails, and so does a baseline
record absent from the current set unless it is excused (``excused_missing``: e.g. deselected with
``-k``/``-m`` in the pytest session) or ``allow_missing`` is set. One-sided by default: only regressions fail.
``two_sided=True`` uses two-sided intervals and also fails on improvements beyond threshold and noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from t2v_energy_lib.errors import HardwareMismatchError
from t2v_energy_lib.results.identity import align_ids
from t2v_energy_lib.results.provenance import hardware_differences, version_changes
from t2v_energy_lib.results.quantities import gate_metrics
from t2v_energy_lib.results.schema import ResultFile, ResultRecord
from t2v_energy_lib.results.stats import RatioTest, combined_ratio_test, ratio_test, summarize

#: Gate metric name -> rounds key, derived from the declared quantities (:mod:`.quantities`).
METRICS: Mapping[str, str] = gate_metrics()
VERDICTS = ("regression", "improvement", "unchanged", "undecided", "excluded")
COMPOSED_FORMULA = "text_encoder + num_inference_steps * denoiser_step + vae_decode"
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
    ``from-parts``, ``composed``, ``estimated``, ``summary-only``, ``aligned`` where they apply.
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
    """The result of :func:`compare`: ``format_table()`` for a terminal, ``format_markdown()`` for CI.

    ``missing_ids`` are baseline ids absent from the current set; ``excused`` maps those that do not fail the
    gate to the reason (deselected, not collected); ``aligned`` maps baseline ids matched to a current id by
    :func:`~.identity.align_ids`.
    """

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
    strict: bool = False
    allow_missing: bool = False
    excused: Mapping[str, str] = field(default_factory=dict)
    aligned: Mapping[str, str] = field(default_factory=dict)

    def _with(self, verdict: str) -> tuple[ComparisonRow, ...]:
        return tuple(r for r in self.rows if r.verdict == verdict)

    @property
    def regressions(self) -> tuple[ComparisonRow, ...]:
        """Rows whose verdict is ``"regression"``."""
        return self._with("regression")

    @property
    def improvements(self) -> tuple[ComparisonRow, ...]:
        """Rows whose verdict is ``"improvement"``."""
        return self._with("improvement")

    @property
    def undecided(self) -> tuple[ComparisonRow, ...]:
        """Rows whose verdict is ``"undecided"``."""
        return self._with("undecided")

    @property
    def decided(self) -> tuple[ComparisonRow, ...]:
        """Rows that entered the verdict (every verdict but ``"excluded"``)."""
        return tuple(r for r in self.rows if r.verdict != "excluded")

    @property
    def failures(self) -> tuple[ComparisonRow, ...]:
        """Rows that fail the gate: regressions, plus improvements when two-sided, undecided when strict."""
        return (
            self.regressions
            + (self.improvements if self.two_sided else ())
            + (self.undecided if self.strict else ())
        )

    @property
    def unexcused_missing(self) -> tuple[str, ...]:
        """Missing baseline ids that fail the gate (none with ``allow_missing``)."""
        if self.allow_missing:
            return ()
        return tuple(i for i in self.missing_ids if i not in self.excused)

    @property
    def problems(self) -> tuple[str, ...]:
        """Failures of the gate beside failing rows: nothing compared, baseline records not produced."""
        out = []
        if not self.decided:
            out.append(
                "nothing compared: no test id and gated metric with rounds on both sides; a gate that judged "
                "nothing fails (check that the baseline holds these tests and the same record ids)"
            )
        missing = self.unexcused_missing
        if missing:
            out.append(
                f"{len(missing)} baseline benchmark(s) not produced by the current run: {_listed(missing)} "
                "(run them, retake the baseline, or allow it: --energy-allow-missing / --allow-missing)"
            )
        return tuple(out)

    @property
    def passed(self) -> bool:
        """True when no row fails the gate and the gate has no problem (:attr:`problems`)."""
        return not self.failures and not self.problems

    def format_table(self) -> str:
        """Plain-text table plus missing/new ids, version changes and a summary line."""
        from t2v_energy_lib.results.table import format_comparison

        return format_comparison(self)

    def format_markdown(self) -> str:
        """A markdown summary (table of ratios, intervals, verdicts; missing ids; versions changed)."""
        from t2v_energy_lib.results.markdown import format_markdown

        return format_markdown(self)


def _listed(ids: tuple[str, ...], most: int = 5) -> str:
    shown = ", ".join(ids[:most])
    return shown if len(ids) <= most else f"{shown} and {len(ids) - most} more (listed above)"


def row_verdict(change: float, thr: float, test: RatioTest) -> str:
    """One row's verdict (module docstring): regression, improvement, unchanged, undecided, excluded."""
    if not test.noise_estimate:
        return "excluded"
    if change > thr and test.ci_low > 1.0:
        return "regression"
    if -change > thr and test.ci_high < 1.0:
        return "improvement"
    return "unchanged" if test.ci_high < 1.0 + thr else "undecided"


def composed_parts(
    record: ResultRecord, by_id: Mapping[str, ResultRecord], key: str
) -> list[tuple[float, tuple[float, ...]]] | None:
    """``(weight, rounds of key)`` of a composed record's measured parts; None when not decidable so.

    Only records whose ``extra["formula"]`` is :data:`COMPOSED_FORMULA` and whose parts are all present with
    at least 2 rounds of ``key``.
    """
    parts = record.extra.get("parts")
    if record.extra.get("formula") != COMPOSED_FORMULA or not isinstance(parts, Mapping):
        return None
    steps = record.settings.get("num_inference_steps")
    out = []
    for name in ("text_encoder", "denoiser_step", "vae_decode"):
        part = by_id.get(str(parts.get(name)))
        if part is None or len(part.rounds.get(key, ())) < 2 or (name == "denoiser_step" and not steps):
            return None
        out.append((float(steps) if name == "denoiser_step" else 1.0, part.rounds[key]))
    return out


def _row(
    test_id: str,
    metric: str,
    base: ResultRecord,
    cur: ResultRecord,
    thr: float,
    sets: tuple[Mapping[str, ResultRecord], Mapping[str, ResultRecord]],
    *,
    confidence: float,
    two_sided: bool,
) -> ComparisonRow:
    key = METRICS[metric]
    b, c = base.rounds[key], cur.rounds[key]
    test = ratio_test(b, c, confidence=confidence, two_sided=two_sided)
    flags = [] if test.noise_estimate else ["no-noise"]
    if not test.noise_estimate:
        b_parts, c_parts = composed_parts(base, sets[0], key), composed_parts(cur, sets[1], key)
        if b_parts and c_parts:
            test = combined_ratio_test(b_parts, c_parts, confidence=confidence, two_sided=two_sided)
            flags = ["from-parts"]
    for flag in ("composed", "estimated", "summary_only"):
        if base.extra.get(flag) or cur.extra.get(flag):
            flags.append(flag.replace("_", "-"))
    if test_id != cur.id:
        flags.append("aligned")
    return ComparisonRow(
        test_id=cur.id,
        metric=metric,
        rounds_key=key,
        baseline_mean=summarize(b).mean,
        current_mean=summarize(c).mean,
        ratio=test.ratio,
        ci_low=test.ci_low,
        ci_high=test.ci_high,
        p_value=test.p_value,
        threshold=thr,
        verdict=row_verdict(test.ratio - 1.0, thr, test),
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
    strict: bool = False,
    allow_missing: bool = False,
    excused_missing: Mapping[str, str] | None = None,
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
        strict: ``"undecided"`` rows fail the gate.
        allow_missing: Baseline records absent from the current set do not fail the gate.
        excused_missing: Baseline id -> why its absence does not fail the gate (e.g. deselected).

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
    aligned = dict(align_ids(base_by_id, cur_by_id))
    matched = {i: aligned.get(i, i) for i in base_by_id if aligned.get(i, i) in cur_by_id}
    rows, notes = [], [f"{b}: matched to {c} (same test, path prefix differs)" for b, c in aligned.items()]
    for test_id in (r.id for r in baseline.records if r.id in matched):
        base, cur = base_by_id[test_id], cur_by_id[matched[test_id]]
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
            sets = (base_by_id, cur_by_id)
            rows.append(
                _row(test_id, metric, base, cur, thr, sets, confidence=confidence, two_sided=two_sided)
            )
    excluded = sorted({r.test_id for r in rows if r.verdict == "excluded"})
    if excluded:
        notes.append(
            f"{len(excluded)} one-round figure(s) excluded from the verdict (no noise estimate, no measured "
            f"parts to decide from): {', '.join(excluded)}"
        )
    for metric in thresholds.limits:
        if not any(r.metric == metric for r in rows):
            notes.append(f"{metric} ({METRICS[metric]}) is in no test common to both sets: not gated")
    missing = tuple(r.id for r in baseline.records if r.id not in matched)
    excused = {i: reason for i, reason in (excused_missing or {}).items() if i in missing}
    return Comparison(
        rows=tuple(rows),
        missing_ids=missing,
        new_ids=tuple(r.id for r in current.records if r.id not in set(matched.values())),
        version_changes=version_changes(baseline.provenance, current.provenance),
        confidence=confidence,
        two_sided=two_sided,
        hardware_differences=diffs,
        notes=tuple(notes),
        baseline_source=b_src,
        current_source=c_src,
        thresholds=dict(thresholds.limits),
        strict=strict,
        allow_missing=allow_missing,
        excused=excused,
        aligned=aligned,
    )
