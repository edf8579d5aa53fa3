"""Least-squares polynomial fits, the nested-model F-test, and small accuracy measures.

Pure numerics (numpy, scipy.stats): no result files, no units beyond what the caller passes. Every fit returns
a frozen :class:`PolyFit` holding coefficients (lowest order first), their standard errors and two-sided
p-values, R^2 and the residuals, so a claim can print exactly what it tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from t2v_energy_lib.errors import FitError


@dataclass(frozen=True)
class PolyFit:
    """An ordinary least-squares polynomial fit ``y = c0 + c1*x + ... + ck*x^k``.

    Attributes:
        degree: Polynomial degree k.
        coefficients: ``(c0, ..., ck)``, lowest order first, in the units of y per unit of x^i.
        stderr: Standard error of each coefficient (0 where the fit is exact).
        p_values: Two-sided p-value of each coefficient against zero (t-test, n - k - 1 degrees of freedom).
        r_squared: Coefficient of determination (1.0 when the data are fitted exactly).
        residuals: ``y - fitted`` per point, in the order given.
        x: The abscissae fitted.
        y: The ordinates fitted.
    """

    degree: int
    coefficients: tuple[float, ...]
    stderr: tuple[float, ...]
    p_values: tuple[float, ...]
    r_squared: float
    residuals: tuple[float, ...]
    x: tuple[float, ...]
    y: tuple[float, ...]

    @property
    def n(self) -> int:
        """Number of points fitted."""
        return len(self.x)

    @property
    def dof(self) -> int:
        """Residual degrees of freedom ``n - degree - 1``."""
        return self.n - self.degree - 1

    @property
    def rss(self) -> float:
        """Residual sum of squares (units of y squared)."""
        return float(sum(r * r for r in self.residuals))

    def predict(self, x: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """The fitted polynomial evaluated at ``x`` (array in, array out)."""
        xs = np.asarray(x, dtype=float)
        return sum(c * xs**i for i, c in enumerate(self.coefficients))

    def describe(self, x_name: str = "x", digits: int = 4) -> str:
        """A one-line readable form, e.g. ``y = 1.2e+01 + 3.4e-02*x (p=1e-05); R^2=0.9991``."""
        terms = []
        for i, (c, p) in enumerate(zip(self.coefficients, self.p_values, strict=True)):
            var = "" if i == 0 else (f"*{x_name}" if i == 1 else f"*{x_name}^{i}")
            terms.append(f"{c:.{digits}g}{var} (p={p:.2g})")
        return f"y = {' + '.join(terms)}; R^2={self.r_squared:.{digits + 2}f}; n={self.n}"


@dataclass(frozen=True)
class FTest:
    """The nested-model F-test of a reduced polynomial against a fuller one.

    Attributes:
        f: The F statistic ``((RSS_r - RSS_f) / df_num) / (RSS_f / df_den)``; ``inf`` when the full model fits
            exactly and the reduced one does not.
        p_value: Probability of an F at least this large if the extra terms were zero.
        df_num: Extra parameters in the full model.
        df_den: Residual degrees of freedom of the full model.
    """

    f: float
    p_value: float
    df_num: int
    df_den: int

    def rejects_reduced(self, alpha: float) -> bool:
        """True when the reduced model is rejected at significance ``alpha``."""
        return self.p_value < alpha


def _as_arrays(x: Sequence[float], y: Sequence[float], min_points: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.shape != ys.shape:
        raise FitError(f"x and y must have the same length to fit (got {xs.size} and {ys.size}).")
    if xs.size < min_points:
        raise FitError(
            f"a fit of this degree needs at least {min_points} points (one more than its parameters); "
            f"got {xs.size}: measure more settings in the sweep."
        )
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise FitError("x and y must be finite numbers to fit; a NaN or inf came from the results.")
    return xs, ys


def fit_polynomial(x: Sequence[float], y: Sequence[float], degree: int) -> PolyFit:
    """Ordinary least squares of ``y`` on ``1, x, ..., x^degree``.

    The design matrix is built on ``x / max|x|`` for conditioning (pixel counts reach 1e6, their squares 1e12)
    and the coefficients and standard errors are scaled back, so they are exact in the units of x.

    Args:
        x: Abscissae, at least ``degree + 2`` of them with ``degree + 1`` distinct values.
        y: Ordinates, same length.
        degree: Polynomial degree (1 linear, 2 quadratic).

    Returns:
        The fit.

    Raises:
        FitError: Too few points, non-finite data, or fewer distinct x than parameters.
    """
    k = degree + 1
    xs, ys = _as_arrays(x, y, min_points=k + 1)
    if np.unique(xs).size < k:
        raise FitError(f"a degree-{degree} fit needs {k} distinct x values; got {np.unique(xs).size}.")
    scale = float(np.max(np.abs(xs))) or 1.0
    design = np.vander(xs / scale, k, increasing=True)
    beta, _, rank, _ = np.linalg.lstsq(design, ys, rcond=None)
    if rank < k:
        raise FitError(f"the degree-{degree} design matrix is rank-deficient (rank {rank} < {k}).")
    residuals = ys - design @ beta
    rss = float(residuals @ residuals)
    dof = xs.size - k
    sigma2 = rss / dof
    cov = sigma2 * np.linalg.inv(design.T @ design)
    se_scaled = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    powers = scale ** np.arange(k)
    coefficients = beta / powers
    stderr = se_scaled / powers
    p_values = tuple(_t_test_p(b, s, dof) for b, s in zip(beta, se_scaled, strict=True))
    tss = float(np.sum((ys - ys.mean()) ** 2))
    r_squared = 1.0 - rss / tss if tss > 0 else (1.0 if rss == 0 else 0.0)
    return PolyFit(
        degree=degree,
        coefficients=tuple(float(c) for c in coefficients),
        stderr=tuple(float(s) for s in stderr),
        p_values=p_values,
        r_squared=float(r_squared),
        residuals=tuple(float(r) for r in residuals),
        x=tuple(float(v) for v in xs),
        y=tuple(float(v) for v in ys),
    )


def _t_test_p(coef: float, se: float, dof: int) -> float:
    """Two-sided p-value of ``coef / se`` against Student's t; exact fits give 0 (or 1 for a zero coef)."""
    if se <= abs(coef) * 1e-15:
        return 0.0 if coef != 0 else 1.0
    return float(2.0 * stats.t.sf(abs(coef) / se, dof))


def fit_linear(x: Sequence[float], y: Sequence[float]) -> PolyFit:
    """Least-squares line ``y = c0 + c1*x`` (see :func:`fit_polynomial`)."""
    return fit_polynomial(x, y, 1)


def fit_quadratic(x: Sequence[float], y: Sequence[float]) -> PolyFit:
    """Least-squares parabola ``y = c0 + c1*x + c2*x^2`` (see :func:`fit_polynomial`)."""
    return fit_polynomial(x, y, 2)


def f_test_nested(reduced: PolyFit, full: PolyFit) -> FTest:
    """F-test of the reduced polynomial against the full one fitted to the same points.

    Args:
        reduced: The smaller model (e.g. the linear fit).
        full: The larger model (e.g. the quadratic fit) on the same x and y.

    Returns:
        F, its p-value and degrees of freedom.

    Raises:
        FitError: The fits are not nested or not on the same data, or the full model has no residual dof.
    """
    if reduced.x != full.x or reduced.y != full.y:
        raise FitError("an F-test compares two fits of the same points; these were fitted to different data.")
    df_num = full.degree - reduced.degree
    df_den = full.dof
    if df_num <= 0:
        raise FitError(
            f"the full model (degree {full.degree}) must be larger than the reduced ({reduced.degree})."
        )
    if df_den <= 0:
        raise FitError("the full model has no residual degrees of freedom; measure more points.")
    rss_r, rss_f = reduced.rss, full.rss
    tol = 1e-24 * max(1.0, float(np.sum(np.square(full.y))))
    if rss_f <= tol:
        if rss_r - rss_f <= tol:
            return FTest(f=0.0, p_value=1.0, df_num=df_num, df_den=df_den)
        return FTest(f=math.inf, p_value=0.0, df_num=df_num, df_den=df_den)
    f = max(rss_r - rss_f, 0.0) / df_num / (rss_f / df_den)
    return FTest(f=float(f), p_value=float(stats.f.sf(f, df_num, df_den)), df_num=df_num, df_den=df_den)


def max_relative_deviation(values: Sequence[float]) -> float:
    """Largest ``|v - mean| / |mean|`` over the values (0.02 means within 2% of the mean).

    Raises:
        FitError: No values, or a zero mean.
    """
    vs = np.asarray(values, dtype=float)
    if vs.size == 0:
        raise FitError("no values to test for constancy.")
    mean = float(vs.mean())
    if mean == 0:
        raise FitError("the mean is zero, so a relative deviation is undefined.")
    return float(np.max(np.abs(vs - mean)) / abs(mean))


def constant_within(values: Sequence[float], tolerance: float) -> bool:
    """True when every value lies within ``tolerance`` (a fraction, 0.02 = 2%) of their mean."""
    return max_relative_deviation(values) <= tolerance


def mape(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Mean absolute percentage error of predictions against measurements, as a fraction (0.066 = 6.6%).

    Raises:
        FitError: Different lengths, no points, or a measured value of zero.
    """
    p = np.asarray(predicted, dtype=float)
    m = np.asarray(measured, dtype=float)
    if p.shape != m.shape or m.size == 0:
        raise FitError(f"MAPE needs equally many predictions and measurements (got {p.size} and {m.size}).")
    if np.any(m == 0):
        raise FitError("MAPE is undefined where a measured value is zero.")
    return float(np.mean(np.abs(p - m) / np.abs(m)))


def log_log_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the local exponent of a power law over the points.

    Raises:
        FitError: Fewer than two points, or a non-positive value.
    """
    xs, ys = _as_arrays(x, y, 2)
    if np.any(xs <= 0) or np.any(ys <= 0):
        raise FitError("a log-log slope needs positive x and y")
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])
