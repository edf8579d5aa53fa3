"""``history --find A B``: the release between A and B that changed a metric, in about log2(n) runs.

As ``asv find``: measure both ends, then repeatedly the middle of the current range, and keep the half
with the larger jump (in log ratio) until the two versions are adjacent. This finds the one release of a
single step; with several steps it finds the largest one on the path it takes. Each measurement is a fresh
job in that version's environment; nothing is reused across versions.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from t2v_energy_lib.analysis.steps import level, ratio_interval
from t2v_energy_lib.errors import FitError
from t2v_energy_lib.versions.matrix import VersionSpec

Measure = Callable[[VersionSpec], Sequence[float]]


@dataclass(frozen=True)
class BisectResult:
    """The adjacent pair of versions where the metric moved most, and what was measured on the way.

    Attributes:
        before: Last version on the ``A`` side.
        after: First version on the ``B`` side (the release that changed the metric).
        ratio: ``after / before`` with ``ci_low``/``ci_high``.
        total: ``B / A`` with its interval; when it contains 1 there was no change to find.
        measured: Version -> raw values, in measuring order.
    """

    before: str
    after: str
    ratio: float
    ci_low: float
    ci_high: float
    total: tuple[float, float, float]
    measured: dict[str, tuple[float, ...]]

    @property
    def runs(self) -> int:
        """Number of versions measured."""
        return len(self.measured)

    @property
    def found(self) -> bool:
        """True when A and B differ beyond their noise (there was a change to locate)."""
        return not self.total[1] <= 1.0 <= self.total[2]


def bisect_versions(
    versions: Sequence[VersionSpec],
    measure: Measure,
    *,
    confidence: float = 0.99,
    noise_floor_rel: float = 0.005,
    log: Callable[[str], None] = print,
) -> BisectResult:
    """Locate the release between ``versions[0]`` and ``versions[-1]`` (release order) that changed a metric.

    Raises:
        FitError: Fewer than two versions, or a measurement returned no values or a non-positive mean.
    """
    if len(versions) < 2:
        raise FitError("bisection needs two versions A < B with the range between them declared")
    measured: dict[str, tuple[float, ...]] = {}

    def value(i: int) -> float:
        spec = versions[i]
        if spec.diffusers not in measured:
            values = tuple(measure(spec))
            if not values or statistics.fmean(values) <= 0:
                raise FitError(
                    f"diffusers {spec.diffusers}: no positive figure measured (see its error record)"
                )
            measured[spec.diffusers] = values
            log(f"find: {spec.diffusers} -> {statistics.fmean(values):.6g} ({len(values)} rounds)")
        return statistics.fmean(measured[spec.diffusers])

    lo, hi = 0, len(versions) - 1
    v_lo, v_hi = value(lo), value(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        v_mid = value(mid)
        if abs(math.log(v_mid / v_lo)) > abs(math.log(v_hi / v_mid)):
            hi, v_hi = mid, v_mid
        else:
            lo, v_lo = mid, v_mid
    a, b = versions[lo].diffusers, versions[hi].diffusers
    pair = ratio_interval(
        level(measured[a], noise_floor_rel), level(measured[b], noise_floor_rel), confidence
    )
    first, last = versions[0].diffusers, versions[-1].diffusers
    total = ratio_interval(
        level(measured[first], noise_floor_rel), level(measured[last], noise_floor_rel), confidence
    )
    return BisectResult(a, b, *pair, total=total, measured=measured)
