"""Latency and energy predictors fitted from measured points, and their comparison.

Two models, each with at most 4 free parameters per quantity:

1. ``single_mu`` (the study): latency = F / (mu * peak); energy = P * latency (mu and P fitted; the study's
   generic-shape FLOPs can be used for F through :func:`study_generic_flops`).
2. ``per_operator``: latency = n_fwd * t0 + F_gemm / (theta_gemm * eff(l)) + F_attn / theta_attn with
   eff(l) = l / (l + l_half) (4 parameters, fitted by ``scipy.optimize.least_squares`` on relative errors);
   energy = a * F_gemm + b * F_attn + P0 * latency_pred (3 non-negative parameters, ``scipy.optimize.nnls``).

Fit quality: R^2 and MAPE in-sample and leave-one-out (each point predicted by a fit without it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from t2v_energy_lib.errors import FitError

#: The study's fitted efficiency (Wan2.1-1.3B on H100, with its generic-shape FLOP model). Not our fit.
STUDY_MU = 0.456
#: The study's peak: dense bf16 of an H100 SXM. Units: FLOP/s.
STUDY_PEAK_FLOPS = 989e12


@dataclass(frozen=True)
class PredictorPoint:
    """One measured (or synthetic) workload with its analytic features.

    Attributes:
        gemm_flops: FLOPs of matrix products and convolutions. Units: FLOP.
        attention_flops: FLOPs of attention scores (QK^T and AV). Units: FLOP.
        forwards: Denoiser forwards (kernel launches sequences) the measurement covers.
        token_length: Rows per GEMM of one forward (batch * tokens), for the small-size efficiency.
        latency_s: Measured latency. Units: s.
        energy_j: Measured energy. Units: J.
        generic_flops: The study's generic-shape FLOPs for the same work (0: not computed). Units: FLOP.
        label: Readable id, e.g. ``480x832x81-s50``.
    """

    gemm_flops: float
    attention_flops: float
    forwards: float
    token_length: float
    latency_s: float
    energy_j: float
    generic_flops: float = 0.0
    label: str = ""

    @property
    def flops(self) -> float:
        """Total analytic FLOPs. Units: FLOP."""
        return self.gemm_flops + self.attention_flops


@dataclass(frozen=True)
class FitQuality:
    """Goodness of fit of one quantity (latency or energy).

    Attributes:
        r2: Coefficient of determination, in-sample.
        mape: Mean absolute percentage error, in-sample. Units: %.
        loo_mape: Leave-one-out MAPE (None when too few points). Units: %.
    """

    r2: float
    mape: float
    loo_mape: float | None


def r2_score(y: np.ndarray, yhat: np.ndarray) -> float:
    """Coefficient of determination."""
    ss_res = float(np.sum((y - yhat) ** 2))
    ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)


def mape_pct(y: np.ndarray, yhat: np.ndarray) -> float:
    """Mean absolute percentage error. Units: %."""
    return float(np.mean(np.abs((yhat - y) / y)) * 100.0)


Params = Mapping[str, float]
Fitter = Callable[[Sequence[PredictorPoint]], tuple[Params, Params]]
Predict = Callable[[Params, Params, PredictorPoint], tuple[float, float]]


@dataclass(frozen=True)
class FittedPredictor:
    """A fitted predictor of latency and energy.

    Attributes:
        name: ``single_mu``, ``single_mu_generic`` or ``per_operator``.
        latency_params: Fitted latency parameters (units in their names).
        energy_params: Fitted energy parameters.
        latency: Fit quality of latency.
        energy: Fit quality of energy.
    """

    name: str
    latency_params: Params
    energy_params: Params
    latency: FitQuality
    energy: FitQuality
    _predict: Predict = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency_params", MappingProxyType(dict(self.latency_params)))
        object.__setattr__(self, "energy_params", MappingProxyType(dict(self.energy_params)))

    def predict(self, point: PredictorPoint) -> tuple[float, float]:
        """``(latency_s, energy_j)`` predicted from the features of ``point`` (its measurements unused)."""
        return self._predict(self.latency_params, self.energy_params, point)

    def score(self, points: Sequence[PredictorPoint]) -> tuple[float, float]:
        """Held-out MAPE of ``(latency, energy)`` on points not used in the fit. Units: %."""
        if not points:
            raise FitError("score needs at least one held-out point")
        pred = np.array([self.predict(p) for p in points])
        y_t = np.array([p.latency_s for p in points])
        y_e = np.array([p.energy_j for p in points])
        return mape_pct(y_t, pred[:, 0]), mape_pct(y_e, pred[:, 1])


# ------------------------------------------------------------------ single mu (the study's model)
def _single_mu_fitter(peak_flops: float, generic: bool) -> tuple[Fitter, Predict]:
    def flops(p: PredictorPoint) -> float:
        if generic and p.generic_flops <= 0:
            raise FitError(
                "the generic-shape variant needs generic_flops on every point (study_generic_flops)"
            )
        return p.generic_flops if generic else p.flops

    def fit(points: Sequence[PredictorPoint]) -> tuple[Params, Params]:
        x = np.array([flops(p) / peak_flops for p in points])
        y = np.array([p.latency_s for p in points])
        inv_mu = float(x @ y / (x @ x))
        t = x * inv_mu
        e = np.array([p.energy_j for p in points])
        return {"mu": 1.0 / inv_mu, "peak_flops": peak_flops}, {"power_w": float(t @ e / (t @ t))}

    def predict(lat: Params, en: Params, p: PredictorPoint) -> tuple[float, float]:
        t = flops(p) / (lat["mu"] * lat["peak_flops"])
        return t, en["power_w"] * t

    return fit, predict


def study_predictor(
    point: PredictorPoint, power_w: float, peak_flops: float = STUDY_PEAK_FLOPS
) -> tuple[float, float]:
    """The study's published model (mu = 0.456) with a stated power: ``(latency_s, energy_j)``.

    Args:
        point: Features (``flops`` is used).
        power_w: Assumed average board power. Units: W.
        peak_flops: Peak throughput. Units: FLOP/s.
    """
    t = point.flops / (STUDY_MU * peak_flops)
    return t, power_w * t


def study_generic_flops(
    token_length: int, forwards: float, text_tokens: int = 512, d: int = 2048, layers: int = 32
) -> float:
    """The study's FLOP model with its generic shapes (d = 2048, N = 32, f = 4d), for ``forwards`` forwards.

    Per layer: 8 l d^2 + 4 l^2 d (self) + 4 l d^2 + 4 m d^2 + 4 l m d (cross) + 16 l d^2 (MLP). Units: FLOP.
    """
    l, m = float(token_length), float(text_tokens)  # noqa: E741 (l: token length, the paper's notation)
    per_layer = 8 * l * d**2 + 4 * l**2 * d + 4 * l * d**2 + 4 * m * d**2 + 4 * l * m * d + 16 * l * d**2
    return forwards * layers * per_layer


# ------------------------------------------------------------------ per-operator efficiencies
_SCALE = 1e12  # parameters are fitted in TFLOP/s and thousands of tokens for conditioning


def _per_op_latency(x: np.ndarray, p: PredictorPoint) -> float:
    theta_gemm, theta_attn, t0, l_half = x
    eff = p.token_length / (p.token_length + l_half * 1e3)
    return (
        p.forwards * t0
        + p.gemm_flops / (theta_gemm * _SCALE * eff)
        + p.attention_flops / (theta_attn * _SCALE)
    )


def _per_op_fit(points: Sequence[PredictorPoint]) -> tuple[Params, Params]:
    from scipy.optimize import least_squares, nnls

    y = np.array([p.latency_s for p in points])

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.array([_per_op_latency(x, p) for p in points]) / y - 1.0

    starts = ([600.0, 500.0, 1e-3, 1.0], [400.0, 300.0, 1e-2, 0.1], [800.0, 800.0, 1e-4, 5.0])
    bounds = ([1.0, 1.0, 0.0, 0.0], [1e5, 1e5, 10.0, 1e4])
    best = min(
        (least_squares(residuals, s, bounds=bounds, x_scale="jac") for s in starts), key=lambda r: r.cost
    )
    x = best.x
    t_pred = np.array([_per_op_latency(x, p) for p in points])
    a = np.column_stack(
        [[p.gemm_flops / _SCALE for p in points], [p.attention_flops / _SCALE for p in points], t_pred]
    )
    e = np.array([p.energy_j for p in points])
    coef, _ = nnls(a / e[:, None], np.ones_like(e))  # relative least squares
    lat = {
        "theta_gemm_tflops": float(x[0]),
        "theta_attn_tflops": float(x[1]),
        "t0_s": float(x[2]),
        "l_half_tokens": float(x[3]) * 1e3,
    }
    en = {"j_per_gemm_tflop": float(coef[0]), "j_per_attn_tflop": float(coef[1]), "power_w": float(coef[2])}
    return lat, en


def _per_op_predict(lat: Params, en: Params, p: PredictorPoint) -> tuple[float, float]:
    x = np.array(
        [lat["theta_gemm_tflops"], lat["theta_attn_tflops"], lat["t0_s"], lat["l_half_tokens"] / 1e3]
    )
    t = _per_op_latency(x, p)
    e = (en["j_per_gemm_tflop"] * p.gemm_flops + en["j_per_attn_tflop"] * p.attention_flops) / _SCALE
    return t, e + en["power_w"] * t


# ------------------------------------------------------------------ fitting and comparison
def fit_predictor(
    name: str, fit: Fitter, predict: Predict, points: Sequence[PredictorPoint], n_params: int
) -> FittedPredictor:
    """Fit one predictor and score it in-sample and leave-one-out (LOO needs more points than parameters)."""
    if len(points) < n_params:
        raise FitError(f"{name} has {n_params} parameters but only {len(points)} points; measure more sizes")
    lat, en = fit(points)
    pred = np.array([predict(lat, en, p) for p in points])
    y_t = np.array([p.latency_s for p in points])
    y_e = np.array([p.energy_j for p in points])
    loo_t = loo_e = None
    if len(points) > n_params:
        loo = []
        for i in range(len(points)):
            rest = [p for j, p in enumerate(points) if j != i]
            lat_i, en_i = fit(rest)
            loo.append(predict(lat_i, en_i, points[i]))
        loo_arr = np.array(loo)
        loo_t, loo_e = mape_pct(y_t, loo_arr[:, 0]), mape_pct(y_e, loo_arr[:, 1])
    return FittedPredictor(
        name,
        lat,
        en,
        FitQuality(r2_score(y_t, pred[:, 0]), mape_pct(y_t, pred[:, 0]), loo_t),
        FitQuality(r2_score(y_e, pred[:, 1]), mape_pct(y_e, pred[:, 1]), loo_e),
        predict,
    )


@dataclass(frozen=True)
class PredictorComparison:
    """The study's single-mu predictor against the per-operator one, fitted on the same points.

    Attributes:
        single_mu: latency = F / (mu * peak), energy = P * latency (real per-model FLOPs).
        per_operator: GEMM/attention throughputs, per-forward overhead, small-l efficiency; energy per
            FLOP kind.
        single_mu_generic: The single-mu model on the study's generic-shape FLOPs (when the points carry
            them).
        n_points: Points fitted.
    """

    single_mu: FittedPredictor
    per_operator: FittedPredictor
    single_mu_generic: FittedPredictor | None
    n_points: int

    def predictors(self) -> dict[str, FittedPredictor]:
        """All fitted predictors by name."""
        out = {"single_mu": self.single_mu, "per_operator": self.per_operator}
        if self.single_mu_generic is not None:
            out["single_mu_generic"] = self.single_mu_generic
        return out

    def best(self) -> FittedPredictor:
        """The predictor with the lowest leave-one-out latency MAPE (in-sample when LOO is unavailable)."""

        def key(p: FittedPredictor) -> float:
            return p.latency.loo_mape if p.latency.loo_mape is not None else p.latency.mape

        return min((self.single_mu, self.per_operator), key=key)


def fit_predictors(
    points: Sequence[PredictorPoint], peak_flops: float = STUDY_PEAK_FLOPS
) -> PredictorComparison:
    """Fit both predictors (and the generic-shape single-mu when every point has ``generic_flops``).

    Args:
        points: At least 4 points (5 or more for leave-one-out scores of the per-operator model).
        peak_flops: The peak used by the single-mu model. Units: FLOP/s.

    Raises:
        FitError: Too few points, or non-positive measurements.
    """
    points = list(points)
    if any(p.latency_s <= 0 or p.energy_j <= 0 or p.flops <= 0 for p in points):
        raise FitError("every point needs positive FLOPs, latency_s and energy_j")
    single = fit_predictor("single_mu", *_single_mu_fitter(peak_flops, False), points, 2)
    per_op = fit_predictor("per_operator", _per_op_fit, _per_op_predict, points, 4)
    generic = None
    if points and all(p.generic_flops > 0 for p in points):
        generic = fit_predictor("single_mu_generic", *_single_mu_fitter(peak_flops, True), points, 2)
    return PredictorComparison(single, per_op, generic, len(points))
