"""Claim checks on SYNTHETIC result folders built in tmp_path (t2v_energy_lib.analysis.synthetic): each claim
must hold where the synthetic data were made to satisfy it and fail where they were made to break it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from t2v_energy_lib.analysis.breakdown import check_denoiser_dominates, check_matmul_attention_dominate
from t2v_energy_lib.analysis.claims import CLAIMS, check_all
from t2v_energy_lib.analysis.roofline import check_compute_bound
from t2v_energy_lib.analysis.sweeps import (
    check_linear_in_steps,
    check_quadratic_in_frames,
    check_quadratic_in_pixels,
)
from t2v_energy_lib.analysis.synthetic import SyntheticKnobs, synthetic_theory, write_synthetic_results
from t2v_energy_lib.analysis.validation import check_predictors
from t2v_energy_lib.errors import FitError, MissingResultsError
from t2v_energy_lib.results import load_results

BROKEN = SyntheticKnobs(
    attention_quadratic=False,
    per_step_drift=0.05,
    low_denoiser_share_models=("cogvideox-2b",),
    low_matmul_models=("cogvideox-2b",),
)


@pytest.fixture(scope="module")
def good_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_results(tmp_path_factory.mktemp("synthetic_good"))


@pytest.fixture(scope="module")
def broken_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_results(tmp_path_factory.mktemp("synthetic_broken"), BROKEN)


@pytest.mark.parametrize("check", [check_quadratic_in_pixels, check_quadratic_in_frames])
def test_quadratic_claims_hold_on_quadratic_data_and_fail_on_linear(
    check: object, good_dir: Path, broken_dir: Path
) -> None:
    good = check(good_dir)  # type: ignore[operator]
    assert good.holds, good.summary
    assert "R^2=" in good.summary and "F=" in good.summary
    group = next(iter(good.details["wan2.1-t2v-1.3b"]["groups"].values()))
    assert group["energy_j"]["quadratic"].coefficients[2] > 0
    bad = check(broken_dir)  # type: ignore[operator]
    assert not bad.holds, bad.summary
    assert "does NOT hold" in bad.summary


def test_steps_claim_holds_and_a_five_percent_drift_breaks_it(good_dir: Path, broken_dir: Path) -> None:
    good = check_linear_in_steps(good_dir)
    assert good.holds, good.summary
    assert good.details["wan2.1-t2v-1.3b"]["max_relative_deviation"] < 0.02
    bad = check_linear_in_steps(broken_dir)
    assert not bad.holds, bad.summary
    assert bad.details["wan2.1-t2v-1.3b"]["max_relative_deviation"] > 0.02


def test_estimated_points_are_left_out_of_the_steps_fit(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path)
    doc = json.loads((folder / "steps.json").read_text())
    composed = [r for r in doc["records"] if r["component"] == "composed"]
    composed[-1]["extra"]["estimated"] = True
    composed[-1]["rounds"]["gpu_energy_j"] = [v * 3 for v in composed[-1]["rounds"]["gpu_energy_j"]]
    (folder / "steps.json").write_text(json.dumps(doc))
    result = check_linear_in_steps(folder)
    assert result.holds, result.summary
    assert result.details["wan2.1-t2v-1.3b"]["estimated_left_out"] == 1


def test_share_claims(good_dir: Path, broken_dir: Path) -> None:
    assert check_denoiser_dominates(good_dir).holds
    assert check_matmul_attention_dominate(good_dir).holds
    bad_share = check_denoiser_dominates(broken_dir)
    assert not bad_share.holds
    assert bad_share.details["wan2.1-t2v-1.3b"]["holds"] and not bad_share.details["cogvideox-2b"]["holds"]
    bad_ops = check_matmul_attention_dominate(broken_dir)
    assert bad_ops.details["cogvideox-2b"]["share"] == pytest.approx(0.50)
    assert not bad_ops.holds


def test_compute_bound_with_a_synthetic_theory(good_dir: Path) -> None:
    result = check_compute_bound(good_dir, theory=synthetic_theory())
    assert result.holds, result.summary
    assert "band: <= 1.35" in result.summary
    wan = result.details["wan2.1-t2v-1.3b"]
    assert wan["flops_ratio_max_min"] <= 1.35 and not wan["below_ridge"]


def test_compute_bound_fails_when_intensity_is_below_the_ridge(good_dir: Path) -> None:
    theory = synthetic_theory()
    low = dataclasses.replace(theory, ridge_flops_per_byte=1e6)
    result = check_compute_bound(good_dir, theory=low)
    assert not result.holds
    assert result.details["wan2.1-t2v-1.3b"]["below_ridge"]


def test_predictor_claim(good_dir: Path) -> None:
    theory = synthetic_theory()
    result = check_predictors(good_dir, theory=theory)
    assert result.holds, result.summary
    assert set(result.details) >= {"resolution", "frames", "steps"}

    def swapped(sweeps: object) -> tuple[dict, bool]:  # the worse predictor presented as the better one
        predictions, cv = theory.fit_predictors(sweeps)  # type: ignore[misc]
        names = list(predictions)
        return {names[1]: predictions[names[1]], names[0]: predictions[names[0]]}, cv

    worse = check_predictors(good_dir, theory=dataclasses.replace(theory, fit_predictors=swapped))
    assert not worse.holds


def test_missing_suite_raises_a_clear_error(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path, SyntheticKnobs(suites=("resolution",)))
    with pytest.raises(
        MissingResultsError, match=r"no 'frames' records in .*characterize --suites frames"
    ) as info:
        check_quadratic_in_frames(folder)
    assert info.value.suite == "frames"
    assert isinstance(info.value, FitError)
    outcome = check_all(load_results(folder), theory=synthetic_theory())
    assert set(outcome) == set(CLAIMS)
    assert outcome["quadratic_in_pixels"].holds  # type: ignore[union-attr]
    assert isinstance(outcome["linear_in_steps"], MissingResultsError)
