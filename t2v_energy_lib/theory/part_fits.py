"""Fits of a part's latency and energy over one size variable, and anchoring a fit to another model's point.

A VAE decode streams every output pixel of every frame through the same convolutions: its latency and energy
grow linearly in ``height x width x frames``::

    latency_s = a + b * x        energy_j = c + d * x        x = height * width * num_frames

fitted by least squares on relative errors (each point counts by its percentage, as the MAPE that scores
it). :func:`anchored_value` carries a fit to a model measured at one shape only: that model's measured value
times the ratio the fit gives between the new shape and the measured one (the fit supplies the growth, the
measurement the level). Pure: no hardware, no file access.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from t2v_energy_lib.errors import FitError


@dataclass(frozen=True)
class LinearPartFit:
    """Latency and energy of a part, linear in one size variable ``x``.

    Attributes:
        latency_intercept_s: ``a``. Units: s.
        latency_slope_s: ``b``, per unit of ``x``. Units: s.
        energy_intercept_j: ``c``. Units: J.
        energy_slope_j: ``d``, per unit of ``x``. Units: J.
        n_points: Points fitted.
        latency_mape_pct: In-sample latency MAPE. Units: %.
        energy_mape_pct: In-sample energy MAPE. Units: %.
    """

    latency_intercept_s: float
    latency_slope_s: float
    energy_intercept_j: float
    energy_slope_j: float
    n_points: int
    latency_mape_pct: float
    energy_mape_pct: float

    def predict(self, x: float) -> tuple[float, float]:
        """``(latency_s, energy_j)`` at size ``x``."""
        return (
            self.latency_intercept_s + self.latency_slope_s * x,
            self.energy_intercept_j + self.energy_slope_j * x,
        )


def _relative_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(intercept, slope)`` minimising the sum of ``((a + b x) / y - 1)^2``."""
    design = np.column_stack([np.ones_like(x), x]) / y[:, None]
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(y), rcond=None)
    return float(a), float(b)


def fit_linear_part(
    sizes: Sequence[float], latencies_s: Sequence[float], energies_j: Sequence[float]
) -> LinearPartFit:
    """Fit :class:`LinearPartFit` on measured points (relative least squares, 2 parameters per quantity).

    Args:
        sizes: ``x`` of each point (e.g. pixels x frames).
        latencies_s: Measured latency of each point. Units: s.
        energies_j: Measured energy of each point. Units: J.

    Raises:
        FitError: Fewer than 3 points, lengths that differ, fewer than 2 distinct sizes, or a non-positive
            value.
    """
    x, t, e = (np.asarray(v, dtype=float) for v in (sizes, latencies_s, energies_j))
    if not len(x) == len(t) == len(e):
        raise FitError(f"sizes, latencies and energies differ in length ({len(x)}, {len(t)}, {len(e)})")
    if len(x) < 3 or len(set(x.tolist())) < 2:
        raise FitError(
            f"a linear part fit needs >= 3 points at >= 2 sizes, got {len(x)} point(s); measure the "
            "resolution and frames sweeps first"
        )
    if np.any(x <= 0) or np.any(t <= 0) or np.any(e <= 0):
        raise FitError("every point needs a positive size, latency_s and energy_j")
    a, b = _relative_line(x, t)
    c, d = _relative_line(x, e)
    return LinearPartFit(
        latency_intercept_s=a,
        latency_slope_s=b,
        energy_intercept_j=c,
        energy_slope_j=d,
        n_points=len(x),
        latency_mape_pct=float(np.mean(np.abs((a + b * x) / t - 1.0)) * 100.0),
        energy_mape_pct=float(np.mean(np.abs((c + d * x) / e - 1.0)) * 100.0),
    )


def anchored_value(measured: float, fitted_at_new: float, fitted_at_measured: float) -> float:
    """A model's value at a new shape: its ``measured`` value x the fit's ratio new / measured shape.

    Raises:
        FitError: A non-positive input (no ratio to carry).
    """
    if measured <= 0 or fitted_at_new <= 0 or fitted_at_measured <= 0:
        raise FitError(
            f"anchoring needs positive values, got measured={measured}, fitted_at_new={fitted_at_new}, "
            f"fitted_at_measured={fitted_at_measured}"
        )
    return measured * fitted_at_new / fitted_at_measured
