"""Unit tests of the least-squares fits and the F-test, on SYNTHETIC data made up here (no measurement)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from t2v_energy_lib.analysis.fits import (
    constant_within,
    f_test_nested,
    fit_linear,
    fit_quadratic,
    mape,
    max_relative_deviation,
)
from t2v_energy_lib.errors import FitError

# Synthetic abscissae shaped like pixel counts (256x256 .. 1792x1008): large x, so conditioning matters.
SYNTHETIC_PIXELS = np.array(
    [256 * 256, 480 * 480, 480 * 832, 720 * 720, 720 * 1280, 1024 * 1024, 1792 * 1008]
)


def test_exact_quadratic_recovers_coefficients_and_passes_the_quadratic_test() -> None:
    y = 5.0 + 2e-3 * SYNTHETIC_PIXELS + 3e-10 * SYNTHETIC_PIXELS**2  # synthetic
    quad = fit_quadratic(SYNTHETIC_PIXELS, y)
    lin = fit_linear(SYNTHETIC_PIXELS, y)
    assert quad.coefficients == pytest.approx((5.0, 2e-3, 3e-10), rel=1e-6)
    assert quad.r_squared == pytest.approx(1.0, abs=1e-12)
    assert quad.p_values[2] < 1e-6
    test = f_test_nested(lin, quad)
    assert test.rejects_reduced(0.01)
    assert test.df_num == 1 and test.df_den == len(SYNTHETIC_PIXELS) - 3


def test_linear_data_fails_the_quadratic_term_test() -> None:
    rng = np.random.default_rng(0)
    y = 10.0 + 4e-3 * SYNTHETIC_PIXELS  # synthetic, purely linear
    noisy = y * (1 + 0.002 * rng.standard_normal(y.size))
    for data in (y, noisy):
        quad = fit_quadratic(SYNTHETIC_PIXELS, data)
        test = f_test_nested(fit_linear(SYNTHETIC_PIXELS, data), quad)
        assert not test.rejects_reduced(0.01), quad.describe("px")
    exact = f_test_nested(fit_linear(SYNTHETIC_PIXELS, y), fit_quadratic(SYNTHETIC_PIXELS, y))
    assert exact.p_value == pytest.approx(1.0, abs=1e-6) or exact.p_value > 0.01


def test_f_equals_t_squared_for_one_extra_term() -> None:
    rng = np.random.default_rng(1)
    x = np.arange(1.0, 11.0)
    y = 1.0 + 0.5 * x + 0.05 * x**2 + 0.1 * rng.standard_normal(x.size)  # synthetic
    quad, lin = fit_quadratic(x, y), fit_linear(x, y)
    test = f_test_nested(lin, quad)
    t = quad.coefficients[2] / quad.stderr[2]
    assert test.f == pytest.approx(t * t, rel=1e-9)
    assert test.p_value == pytest.approx(quad.p_values[2], rel=1e-9)


def test_noisy_linear_in_steps_passes_r_squared() -> None:
    rng = np.random.default_rng(2)
    steps = np.array([1, 5, 10, 20, 50, 100, 200], dtype=float)
    energy_j = 30.0 + 900.0 * steps  # synthetic J per video
    noisy = energy_j * (1 + 0.003 * rng.standard_normal(steps.size))
    fit = fit_linear(steps, noisy)
    assert fit.r_squared >= 0.999, fit.describe("S")
    assert fit.coefficients[1] == pytest.approx(900.0, rel=0.01)


def test_five_percent_drift_fails_the_two_percent_band() -> None:
    per_step_j = 900.0 * np.linspace(1.0, 1.05, 6)  # synthetic: drifts 5% over the sweep
    assert max_relative_deviation(per_step_j) == pytest.approx(0.025 / 1.025, rel=1e-9)
    assert not constant_within(per_step_j, 0.02)
    assert constant_within(900.0 * np.array([1.0, 1.01, 0.995, 1.005]), 0.02)


def test_mape_is_a_fraction() -> None:
    assert mape([110.0, 90.0], [100.0, 100.0]) == pytest.approx(0.10)
    with pytest.raises(FitError, match="zero"):
        mape([1.0], [0.0])


def test_residuals_and_predict_agree() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([2.0, 4.1, 5.9, 8.2])  # synthetic
    fit = fit_linear(x, y)
    assert np.allclose(np.asarray(fit.residuals), y - fit.predict(x))
    assert "R^2=" in fit.describe("x")


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "at least 4 points"),
        ([1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], "distinct"),
        ([1.0, 2.0, 3.0, math.nan], [1.0, 2.0, 3.0, 4.0], "finite"),
    ],
)
def test_degenerate_quadratic_inputs_raise_fit_error(x: list[float], y: list[float], match: str) -> None:
    with pytest.raises(FitError, match=match):
        fit_quadratic(x, y)


def test_f_test_refuses_fits_of_different_data() -> None:
    x = np.arange(1.0, 7.0)
    with pytest.raises(FitError, match="same points"):
        f_test_nested(fit_linear(x, x), fit_quadratic(x, x**2))
