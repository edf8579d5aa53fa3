"""Step detector on synthetic histories (no step, one step, noise only, slow drift, uncertain versions).

Synthetic values from a seeded generator: they test the detector, not any measurement.
"""

from __future__ import annotations

import random

import pytest

from t2v_energy_lib.analysis.steps import VersionValues, detect_steps
from t2v_energy_lib.errors import FitError

VERSIONS = ("0.33.1", "0.35.2", "0.36.0", "0.37.1", "0.39.0", "0.41.0", "0.42.1")


def history(
    levels: list[float], rel_noise: float = 0.005, rounds: int = 4, seed: int = 0
) -> list[VersionValues]:
    """Per version ``rounds`` values around ``levels[i]`` with relative Gaussian noise (synthetic)."""
    rng = random.Random(seed)
    return [
        VersionValues(v, tuple(level * (1 + rng.gauss(0, rel_noise)) for _ in range(rounds)))
        for v, level in zip(VERSIONS, levels, strict=False)
    ]


def test_flat_history_has_no_step() -> None:
    report = detect_steps(history([10.0] * 7))
    assert report.steps == () and not report.drift
    assert len(report.unchanged) == 6 and report.segments == ((0, 6),)


def test_one_step_is_found_at_its_release_with_its_size() -> None:
    report = detect_steps(history([10.0, 10.0, 10.0, 9.5, 9.5, 9.5, 9.5]))
    assert [(s.before, s.after) for s in report.steps] == [("0.36.0", "0.37.1")]
    step = report.steps[0]
    assert step.segment_ci_low < 0.95 < step.segment_ci_high and step.segment_ci_high < 1.0
    assert step.change == pytest.approx(-0.05, abs=0.01)
    assert ("0.37.1", "0.39.0") in report.unchanged and ("0.36.0", "0.37.1") not in report.unchanged


def test_two_steps_in_opposite_directions() -> None:
    report = detect_steps(history([10.0, 10.0, 11.0, 11.0, 11.0, 10.0, 10.0]))
    assert [s.after for s in report.steps] == ["0.36.0", "0.41.0"]
    assert report.steps[0].change > 0.05 and report.steps[1].change < -0.05


def test_noise_only_finds_no_step_across_seeds() -> None:
    # 3 % noise per round, no true change: nothing beyond the noise may be called a step
    found = [len(detect_steps(history([10.0] * 7, rel_noise=0.03, seed=s)).steps) for s in range(20)]
    assert sum(found) <= 1


def test_small_step_below_min_change_is_not_a_step() -> None:
    report = detect_steps(history([10.0] * 3 + [10.1] * 4, rel_noise=0.0005), min_change=0.02)
    assert report.steps == ()


def test_slow_drift_is_flagged_not_blamed_on_one_release() -> None:
    levels = [10.0 * (1 + 0.006 * i) for i in range(7)]  # +0.6 % per release, 3.6 % in all
    report = detect_steps(history(levels, rel_noise=0.001), min_change=0.02)
    assert report.steps == ()
    assert report.drift and report.total_ratio == pytest.approx(1.036, abs=0.004)


def test_a_noisy_version_does_not_make_a_step() -> None:
    data = history([10.0] * 7, rel_noise=0.002)
    data[3] = VersionValues("0.37.1", (8.0, 12.5, 9.0, 11.0))  # very uncertain, mean ~10.1
    assert detect_steps(data).steps == ()


def test_one_round_versions_borrow_the_others_spread() -> None:
    data = history([10.0, 10.0, 10.0, 9.0, 9.0, 9.0, 9.0], rel_noise=0.003)
    data[4] = VersionValues("0.39.0", (9.01,))
    report = detect_steps(data)
    assert [s.after for s in report.steps] == ["0.37.1"]
    assert report.levels[4].se > 0


def test_interval_of_a_version_contains_its_mean() -> None:
    report = detect_steps(history([10.0] * 7))
    low, high = report.interval(0)
    assert low < report.levels[0].mean < high


def test_too_short_or_empty_history_is_an_error() -> None:
    with pytest.raises(FitError, match="at least two versions"):
        detect_steps(history([10.0]))
    with pytest.raises(FitError, match="no values"):
        detect_steps([VersionValues("0.33.1", ()), VersionValues("0.35.2", (1.0,))])


#: Two latency regimes of one host-bound call (the shape of a text encoder's rounds, synthetic values).
LOW, HIGH = 0.065, 0.104


def bimodal(jobs: list[str], seed: int = 0) -> list[VersionValues]:
    """One job per version; each round in the regime named by its letter (``"l"``/``"h"``), 1 % jitter."""
    rng = random.Random(seed)
    return [
        VersionValues(v, tuple((LOW if c == "l" else HIGH) * (1 + rng.gauss(0, 0.01)) for c in job))
        for v, job in zip(VERSIONS, jobs, strict=False)
    ]


@pytest.mark.parametrize(
    "jobs",
    [
        ["hll", "lll", "hhh", "hhh", "lll", "hhl", "hhh"],  # whole jobs in one regime, some versions mixed
        ["lll", "lll", "lll", "hhh", "hhh", "hhh", "lhh"],  # looks like one step at 0.37.1, but one job mixes
        ["lhl", "hhh", "lll", "hlh", "lll", "hhh", "lll"],
    ],
)
def test_bimodal_host_bound_noise_makes_no_step(jobs: list[str]) -> None:
    report = detect_steps(bimodal(jobs))
    assert report.noisy and report.round_spread > 1.4
    assert report.steps == ()
    assert len(report.unchanged) == 6


def test_the_same_regimes_without_the_noise_rule_would_make_steps() -> None:
    # the rule is what removes them: with the band switched off the detector calls regime switches steps
    report = detect_steps(bimodal(["hll", "lll", "hhh", "hhh", "lll", "hhl", "hhh"]), noisy_spread=10.0)
    assert not report.noisy and report.steps != ()


def test_a_real_8_percent_step_with_small_noise_is_still_found() -> None:
    report = detect_steps(history([10.0, 10.0, 10.0, 9.2, 9.2, 9.2, 9.2], rel_noise=0.002))
    assert not report.noisy and report.round_spread < 1.02
    assert [(s.before, s.after) for s in report.steps] == [("0.36.0", "0.37.1")]
    assert report.steps[0].change == pytest.approx(-0.08, abs=0.005)


def test_a_step_far_beyond_the_noise_band_of_a_noisy_record_is_found() -> None:
    data = history([1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0], rel_noise=0.002)
    data[1] = VersionValues("0.35.2", (0.9, 1.1, 1.0, 1.05))  # 22 % within one version: noisy
    report = detect_steps(data)
    assert report.noisy and [s.after for s in report.steps] == ["0.37.1"]


def test_a_change_inside_the_noise_band_is_not_a_step_even_when_rounds_agree() -> None:
    # 0.39.0 -> 0.41.0 moves 15 % with tight rounds, but 0.33.1's own rounds span 30 %: within the band
    data = history([1.0, 1.0, 1.0, 1.0, 1.0, 1.15, 1.15], rel_noise=0.001)
    data[0] = VersionValues("0.33.1", (0.85, 1.1, 1.0))
    report = detect_steps(data)
    assert report.noisy and report.steps == ()
