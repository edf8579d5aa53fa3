"""``history --find``: bisection over versions with a fake runner (synthetic values, no measurement)."""

from __future__ import annotations

import math
import random

import pytest

from t2v_energy_lib.errors import FitError
from t2v_energy_lib.versions.bisect import bisect_versions
from t2v_energy_lib.versions.matrix import VersionSpec

VERSIONS = tuple(VersionSpec(f"0.{n}.0") for n in range(30, 47))  # 17 fake releases


def fake_runner(step_at: str, before: float = 100.0, after: float = 90.0, noise: float = 0.002):
    """A measure function with one step at ``step_at``; records which versions it was asked for."""
    rng = random.Random(1)
    calls: list[str] = []

    def measure(spec: VersionSpec) -> tuple[float, ...]:
        calls.append(spec.diffusers)
        level = after if spec.key >= VersionSpec(step_at).key else before
        return tuple(level * (1 + rng.gauss(0, noise)) for _ in range(3))

    return measure, calls


@pytest.mark.parametrize("step_at", ["0.31.0", "0.38.0", "0.45.0", "0.46.0"])
def test_finds_the_release_of_a_single_step_in_log2_runs(step_at: str) -> None:
    measure, calls = fake_runner(step_at)
    result = bisect_versions(VERSIONS, measure, log=lambda _: None)
    assert result.after == step_at and result.found
    assert result.ratio == pytest.approx(0.9, abs=0.01) and result.ci_high < 1.0
    assert len(calls) == len(set(calls)) == result.runs <= 2 + math.ceil(math.log2(len(VERSIONS) - 1))


def test_no_change_between_the_ends_is_reported_as_nothing_found() -> None:
    measure, _ = fake_runner("0.99.0")  # the step is after the range: A and B are equal
    result = bisect_versions(VERSIONS, measure, log=lambda _: None)
    assert not result.found


def test_two_versions_need_two_runs_and_one_is_an_error() -> None:
    measure, calls = fake_runner("0.31.0")
    result = bisect_versions(VERSIONS[:2], measure, log=lambda _: None)
    assert (result.before, result.after, len(calls)) == ("0.30.0", "0.31.0", 2)
    with pytest.raises(FitError, match="two versions"):
        bisect_versions(VERSIONS[:1], measure)


def test_a_version_that_measured_nothing_is_an_error() -> None:
    with pytest.raises(FitError, match="no positive figure"):
        bisect_versions(VERSIONS[:3], lambda spec: (), log=lambda _: None)
