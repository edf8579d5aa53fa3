"""Predictor fitting on SYNTHETIC data generated from known models (no measured numbers here).

Features are real analytic FLOPs of Wan2.1-1.3B steps; latencies and energies are computed from chosen
parameters, so each fit must recover the parameters that generated them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from t2v_energy_lib.errors import FitError
from t2v_energy_lib.theory import (
    STUDY_MU,
    PredictorPoint,
    fit_predictors,
    predictor_point,
    study_generic_flops,
    study_predictor,
)

# Synthetic generating parameters (chosen, not measured).
TRUE_LAT = {"theta_gemm_tflops": 600.0, "theta_attn_tflops": 450.0, "t0_s": 0.02, "l_half_tokens": 2000.0}
TRUE_EN = {"j_per_gemm_tflop": 1.2, "j_per_attn_tflop": 0.9, "power_w": 150.0}
SIZES = [
    (256, 256, 17),
    (256, 256, 33),
    (480, 832, 5),
    (480, 832, 17),
    (480, 832, 33),
    (480, 832, 81),
    (720, 1280, 17),
    (720, 1280, 49),
    (720, 1280, 81),
    (320, 512, 9),
]


def _features() -> list[PredictorPoint]:
    from t2v_energy_lib.models import GenerationSettings, get_spec

    spec = get_spec("wan2.1-t2v-1.3b")
    return [predictor_point(spec, GenerationSettings(h, w, f, 50, 5.0)) for h, w, f in SIZES]


def _synthetic(points: list[PredictorPoint], noise: float = 0.0, seed: int = 0) -> list[PredictorPoint]:
    rng = np.random.default_rng(seed)
    out = []
    for p in points:
        eff = p.token_length / (p.token_length + TRUE_LAT["l_half_tokens"])
        t = (
            p.forwards * TRUE_LAT["t0_s"]
            + p.gemm_flops / (TRUE_LAT["theta_gemm_tflops"] * 1e12 * eff)
            + p.attention_flops / (TRUE_LAT["theta_attn_tflops"] * 1e12)
        )
        e = (
            TRUE_EN["j_per_gemm_tflop"] * p.gemm_flops + TRUE_EN["j_per_attn_tflop"] * p.attention_flops
        ) / 1e12
        e += TRUE_EN["power_w"] * t
        t_n, e_n = (
            (t, e)
            if noise == 0
            else (t * (1 + noise * rng.standard_normal()), e * (1 + noise * rng.standard_normal()))
        )
        out.append(dataclasses.replace(p, latency_s=t_n, energy_j=e_n))
    return out


@pytest.fixture(scope="module")
def features() -> list[PredictorPoint]:
    return _features()


def test_per_operator_recovers_generating_parameters(features: list[PredictorPoint]) -> None:
    cmp = fit_predictors(_synthetic(features))
    fitted = cmp.per_operator
    for key, value in TRUE_LAT.items():
        assert fitted.latency_params[key] == pytest.approx(value, rel=0.01), key
    for key, value in TRUE_EN.items():
        assert fitted.energy_params[key] == pytest.approx(value, rel=0.01), key
    assert fitted.latency.mape < 0.01 and fitted.latency.r2 > 0.9999
    assert fitted.latency.loo_mape is not None and fitted.latency.loo_mape < 0.1


def test_per_operator_beats_single_mu_with_small_l_inefficiency(features: list[PredictorPoint]) -> None:
    cmp = fit_predictors(_synthetic(features, noise=0.01, seed=1))
    single, per_op = cmp.single_mu, cmp.per_operator
    assert per_op.latency.loo_mape < single.latency.loo_mape
    assert per_op.energy.loo_mape < single.energy.loo_mape
    assert per_op.latency.mape < 2.0  # ~1% noise: in-sample error near the noise level
    assert single.latency.mape > 5.0  # one constant efficiency cannot follow the small sizes
    assert cmp.best() is per_op
    assert cmp.single_mu_generic is not None  # features carry the study's generic-shape FLOPs


def test_single_mu_recovers_mu_and_power() -> None:
    peak, mu, power = 989e12, 0.4, 620.0
    points = [
        PredictorPoint(f, 0.0, 1, 1000, f / (mu * peak), power * f / (mu * peak))
        for f in (1e14, 3e14, 7e14, 2e15)
    ]
    cmp = fit_predictors(points, peak_flops=peak)
    assert cmp.single_mu.latency_params["mu"] == pytest.approx(mu)
    assert cmp.single_mu.energy_params["power_w"] == pytest.approx(power)
    t, e = cmp.single_mu.predict(PredictorPoint(5e14, 0.0, 1, 1000, 0.0, 0.0))
    assert t == pytest.approx(5e14 / (mu * peak)) and e == pytest.approx(power * t)


def test_study_constants_and_generic_flops() -> None:
    t, e = study_predictor(PredictorPoint(989e12, 0.0, 1, 1, 0.0, 0.0), power_w=600.0)
    assert t == pytest.approx(1 / STUDY_MU) and e == pytest.approx(600.0 / STUDY_MU)
    l, m, d = 100, 512, 2048  # noqa: E741 (l: token length, the paper's notation)
    per_layer = 8 * l * d**2 + 4 * l * l * d + 4 * l * d**2 + 4 * m * d**2 + 4 * l * m * d + 16 * l * d**2
    assert study_generic_flops(l, forwards=2) == pytest.approx(2 * 32 * per_layer)


def test_too_few_points_or_bad_measurements_raise(features: list[PredictorPoint]) -> None:
    with pytest.raises(FitError, match="parameters but only 3 points"):
        fit_predictors(_synthetic(features)[:3])
    bad = [dataclasses.replace(p, latency_s=0.0) for p in _synthetic(features)]
    with pytest.raises(FitError, match="positive"):
        fit_predictors(bad)


def test_four_points_fit_without_cross_validation(features: list[PredictorPoint]) -> None:
    cmp = fit_predictors(_synthetic(features)[:4])
    assert cmp.per_operator.latency.loo_mape is None
    assert cmp.single_mu.latency.loo_mape is not None


def test_held_out_score_on_unseen_sizes(features: list[PredictorPoint]) -> None:
    data = _synthetic(features, noise=0.01, seed=2)
    train, held_out = data[::2] + data[1:4:2], data[5::2]
    cmp = fit_predictors(train)
    lat_mape, energy_mape = cmp.per_operator.score(held_out)
    single_lat, _ = cmp.single_mu.score(held_out)
    assert lat_mape < 5.0 and energy_mape < 5.0
    assert lat_mape < single_lat
    with pytest.raises(FitError, match="held-out"):
        cmp.per_operator.score([])
