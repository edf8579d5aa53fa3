"""Claim checks on SYNTHETIC result folders built in tmp_path (t2v_energy_lib.analysis.synthetic): each claim
must hold where the synthetic data were made to satisfy it and fail where they were made to break it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from t2v_energy_lib.analysis.breakdown import check_denoiser_dominates, check_matmul_attention_dominate
from t2v_energy_lib.analysis.claims import CLAIMS, check_all
from t2v_energy_lib.analysis.points import SweepPoint
from t2v_energy_lib.analysis.roofline import check_compute_bound
from t2v_energy_lib.analysis.steps_claim import check_linear_in_steps
from t2v_energy_lib.analysis.sweeps import check_quadratic_in_frames, check_quadratic_in_pixels
from t2v_energy_lib.analysis.synthetic import SyntheticKnobs, synthetic_theory, write_synthetic_results
from t2v_energy_lib.analysis.theory_view import PredictorFit
from t2v_energy_lib.analysis.validation import check_predictors
from t2v_energy_lib.errors import FitError, MissingResultsError, TooFewPointsError
from t2v_energy_lib.results import load_results

RUNS = (5, 10, 20, 40)  # step counts "measured" as independent runs in the synthetic steps suite
BROKEN = SyntheticKnobs(
    attention_quadratic=False,
    per_step_drift=0.05,
    low_denoiser_share_models=("cogvideox-2b",),
    low_matmul_models=("cogvideox-2b",),
    independent_steps=RUNS,
)
THEORY = synthetic_theory()


@pytest.fixture(scope="module")
def good_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_results(
        tmp_path_factory.mktemp("synthetic_good"), SyntheticKnobs(independent_steps=RUNS)
    )


@pytest.fixture(scope="module")
def broken_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_results(tmp_path_factory.mktemp("synthetic_broken"), BROKEN)


@pytest.mark.parametrize("check", [check_quadratic_in_pixels, check_quadratic_in_frames])
def test_quadratic_claims_hold_on_quadratic_data_and_fail_on_linear(
    check: object, good_dir: Path, broken_dir: Path
) -> None:
    good = check(good_dir, theory=THEORY)  # type: ignore[operator]
    assert good.holds, good.summary
    assert "R^2=" in good.summary and "l^2 share" in good.summary
    group = next(iter(good.details["wan2.1-t2v-1.3b"]["groups"].values()))
    assert group["energy_j"]["quadratic"].coefficients[2] > 0
    assert group["energy_j"]["slope_high"] > group["energy_j"]["slope_low"] + 0.25
    assert all(row.holds for row in good.rows)
    bad = check(broken_dir, theory=THEORY)  # type: ignore[operator]
    assert not bad.holds, bad.summary
    assert "does NOT hold" in bad.summary


def test_steps_claim_holds_and_a_five_percent_drift_breaks_it(good_dir: Path, broken_dir: Path) -> None:
    good = check_linear_in_steps(good_dir)
    assert good.holds and not good.undecided, good.summary
    assert good.details["wan2.1-t2v-1.3b"]["max_relative_deviation"] < 0.02
    assert "over independent runs" in good.summary
    bad = check_linear_in_steps(broken_dir)
    assert not bad.holds, bad.summary
    assert bad.details["wan2.1-t2v-1.3b"]["max_relative_deviation"] > 0.02


def test_prefixes_of_one_traced_run_leave_the_steps_claim_undecided(tmp_path: Path) -> None:
    result = check_linear_in_steps(write_synthetic_results(tmp_path))  # no independent runs
    assert result.undecided and not result.holds
    assert result.summary.startswith("undecided: ")
    assert "not independently measured" in result.summary


def test_independent_runs_bent_past_their_noise_break_the_steps_claim(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path, SyntheticKnobs(independent_steps=RUNS, per_step_drift=0.03))
    result = check_linear_in_steps(folder)
    assert not result.holds and not result.undecided, result.summary
    group = next(iter(result.details["wan2.1-t2v-1.3b"]["groups"].values()))
    assert group["energy_j"]["max_residual"] > group["energy_j"]["band"]


def test_too_few_independent_step_counts_are_undecided(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path, SyntheticKnobs(independent_steps=(5, 10)))
    result = check_linear_in_steps(folder)
    assert result.undecided and "the claim needs >= 3" in result.summary


def test_one_run_per_step_count_has_no_noise_band_and_is_undecided(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path, SyntheticKnobs(independent_steps=RUNS, rounds=1))
    result = check_linear_in_steps(folder)
    assert result.undecided and "runs per step count" in result.summary


def _edit_steps(folder: Path, edit: object) -> None:
    doc = json.loads((folder / "steps.json").read_text())
    edit(doc["records"])  # type: ignore[operator]
    (folder / "steps.json").write_text(json.dumps(doc))


def test_estimated_and_composed_loops_are_left_out_of_the_steps_fit(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path)

    def spoil(records: list[dict]) -> None:
        loops = [r for r in records if r["component"] == "denoise_loop"]
        measured = [r for r in loops if r["extra"]["measured"]]
        measured[-1]["extra"]["estimated"] = True
        for r in [measured[-1], *(r for r in loops if r["extra"]["composed"])]:
            r["rounds"]["gpu_energy_j"] = [v * 3 for v in r["rounds"]["gpu_energy_j"]]

    _edit_steps(folder, spoil)
    result = check_linear_in_steps(folder)
    assert result.undecided, result.summary  # prefixes only: never a pass
    entry = result.details["wan2.1-t2v-1.3b"]
    group = next(iter(entry["groups"].values()))
    assert group["holds"], "the prefix fit itself is still linear once the spoiled loops are left out"
    assert entry["estimated_left_out"] == 5  # 4 composed loops past the 16-step trace, 1 flagged estimated
    assert "5 denoise_loop records composed or estimated (not measured) excluded" in result.summary
    assert "cumulative prefixes of ONE traced run" in result.summary


def test_a_slow_step_in_the_trace_breaks_the_per_step_band(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path, SyntheticKnobs(independent_steps=RUNS))

    def slow_fourth_step(records: list[dict]) -> None:
        trace = next(r for r in records if r["component"] == "denoiser_step_trace")
        trace["rounds"]["gpu_energy_j"][3] *= 1.05

    _edit_steps(folder, slow_fourth_step)
    result = check_linear_in_steps(folder)
    assert not result.holds
    assert result.details["wan2.1-t2v-1.3b"]["worst_step"] == 4
    assert "does NOT hold" in result.summary


def test_too_few_measured_loops_is_its_own_error(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path)

    def keep_two(records: list[dict]) -> None:
        for r in records:
            if r["component"] == "denoise_loop" and r["settings"]["num_inference_steps"] > 2:
                r["extra"]["composed"], r["extra"]["measured"] = True, False

    _edit_steps(folder, keep_two)
    with pytest.raises(TooFewPointsError, match=r"'steps' sweep has the 4 measured points") as info:
        check_linear_in_steps(folder)
    assert (info.value.suite, info.value.needed, info.value.found) == ("steps", 4, 2)


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
    result = check_compute_bound(good_dir, theory=THEORY)
    assert result.holds, result.summary
    assert "(<= 1.35)" in result.summary and "of the matmul ceiling 700 TFLOP/s" in result.summary
    wan = result.details["wan2.1-t2v-1.3b"]
    assert wan["flops_ratio_max_min"] <= 1.35 and 0.5 <= wan["min_ceiling_fraction"] <= 1.05


def test_analytic_intensity_alone_never_decides_compute_bound(tmp_path: Path) -> None:
    """Without a measured ceiling the claim is undecided, whatever the roofline says."""
    folder = write_synthetic_results(tmp_path, SyntheticKnobs(ceiling_flops_per_s=None))
    result = check_compute_bound(folder, theory=THEORY)
    assert result.undecided and not result.holds
    assert "no matmul ceiling measured" in result.summary


@pytest.mark.parametrize(("ceiling", "failed"), [(4000e12, "reaches_ceiling"), (300e12, "not_above_ceiling")])
def test_compute_bound_fails_far_below_or_above_the_measured_ceiling(
    tmp_path: Path, ceiling: float, failed: str
) -> None:
    folder = write_synthetic_results(tmp_path, SyntheticKnobs(ceiling_flops_per_s=ceiling))
    result = check_compute_bound(folder, theory=THEORY)
    assert not result.holds
    assert not result.details["wan2.1-t2v-1.3b"]["criteria"][failed]


def test_predictor_claim(good_dir: Path) -> None:
    theory = THEORY
    result = check_predictors(good_dir, theory=theory)
    assert result.holds, result.summary
    assert set(result.details) >= {"resolution", "frames", "steps"}
    assert result.details["steps"]["n"] == 5  # the measured denoise_loop prefixes only
    assert "target <= 3%" in result.summary

    def swapped(sweeps: object) -> PredictorFit:  # the worse predictor presented as the better one
        fit = theory.fit_predictors(sweeps)  # type: ignore[misc]
        return dataclasses.replace(fit, study=(fit.ours,), ours=fit.study[0])

    worse = check_predictors(good_dir, theory=dataclasses.replace(theory, fit_predictors=swapped))
    assert not worse.holds


def test_missing_suite_raises_a_clear_error(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path, SyntheticKnobs(suites=("resolution",)))
    with pytest.raises(
        MissingResultsError, match=r"no 'frames' records in .*characterize --suites frames"
    ) as info:
        check_quadratic_in_frames(folder, theory=THEORY)
    assert info.value.suite == "frames"
    assert isinstance(info.value, FitError)
    outcome = check_all(load_results(folder), theory=THEORY)
    assert set(outcome) == set(CLAIMS)
    assert outcome["quadratic_in_pixels"].holds  # type: ignore[union-attr]
    assert all(claim.alternative and claim.statement for claim in CLAIMS.values())
    assert isinstance(outcome["linear_in_steps"], MissingResultsError)


def test_a_point_without_gpu_energy_refuses_energy_statistics():
    """A latency-only point (a CPU run) keeps its latency; asking for its GPU energy names the cause."""
    point = SweepPoint("synthetic-model", {}, 1.0, (), (0.5, 0.7), "composed", "synthetic/no-gpu")
    assert point.latency_mean_s == pytest.approx(0.6)
    assert point.host_energy_mean_j is None
    for stat in ("energy_mean_j", "energy_std_j"):
        with pytest.raises(FitError, match="no GPU energy"):
            getattr(point, stat)


def test_points_scattering_more_than_5_percent_leave_the_shape_undecided(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path, SyntheticKnobs(suites=("resolution",), noise=0.08))
    result = check_quadratic_in_pixels(folder, theory=THEORY)
    assert result.undecided and not result.holds
    assert "too noisy" in result.summary
