"""The study's claims, checked on every stored baseline folder (``<baseline-dir>/<gpu>/<diffusers>/``).

One test per claim, parametrized by baseline folder (test ids name the folder). A folder that lacks the suite
a claim needs, or has fewer measured points than the claim's judgement needs, gives an explicit skip naming
the folder, the suite and the command that measures it; any other failure to compute is a failure. The
per-model claims of the cross-model suite (denoiser share, matmul + attention share) are in
test_cross_model_claims.py. With no result files under the baseline root at all, every test skips with that
reason (baselines come from the GPU run and are committed afterwards).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.roofline import check_compute_bound
from t2v_energy_lib.analysis.sweeps import (
    check_linear_in_steps,
    check_quadratic_in_frames,
    check_quadratic_in_pixels,
)
from t2v_energy_lib.analysis.validation import check_predictors
from t2v_energy_lib.errors import MissingResultsError, TooFewPointsError
from t2v_energy_lib.results import find_baseline_folders, load_results


def baseline_root_of(config: pytest.Config) -> Path:
    """The plugin's ``--baseline-dir`` (default ``<rootdir>/baselines``), resolved at collection time."""
    option = config.getoption("--baseline-dir", default=None)
    return Path(option).resolve() if option else (config.rootpath / "baselines").resolve()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "baseline_folder" not in metafunc.fixturenames:
        return
    root = baseline_root_of(metafunc.config)
    folders = find_baseline_folders(root)
    if not folders:
        reason = f"no result files under {root}: run the GPU characterization and commit its baselines"
        metafunc.parametrize(
            "baseline_folder",
            [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
            ids=["no-baselines"],
        )
        return
    ids = [str(f.relative_to(root)) for f in folders]
    metafunc.parametrize("baseline_folder", folders, ids=ids)


def check_claim(check: Callable[[Any], ClaimResult], folder: Path) -> ClaimResult:
    """Run ``check`` on the folder; skip only when the folder truly lacks the records (or the number of
    measured points) the claim needs, with a reason naming the folder and the suite."""
    results = load_results(folder)
    try:
        return check(results)
    except MissingResultsError as exc:
        if not results.select(suite=exc.suite, component=exc.component):
            what = exc.suite if exc.component is None else f"{exc.suite} {exc.component}"
            pytest.skip(f"{folder.name}: no '{what}' records: {exc}")
        raise
    except TooFewPointsError as exc:
        pytest.skip(
            f"{folder.name}: this claim needs {exc.needed} measured '{exc.suite}' points, "
            f"the folder has {exc.found}: {exc}"
        )


def test_baseline_folder_is_under_the_baseline_root(baseline_folder: Path, baseline_root: Path) -> None:
    assert baseline_folder.is_relative_to(Path(baseline_root).resolve())


def test_energy_and_latency_are_quadratic_in_pixel_count(baseline_folder: Path) -> None:
    result = check_claim(check_quadratic_in_pixels, baseline_folder)
    assert result.holds, result.summary


def test_energy_and_latency_are_quadratic_in_latent_frames(baseline_folder: Path) -> None:
    result = check_claim(check_quadratic_in_frames, baseline_folder)
    assert result.holds, result.summary


def test_energy_and_latency_are_linear_in_steps_with_constant_per_step_energy(baseline_folder: Path) -> None:
    result = check_claim(check_linear_in_steps, baseline_folder)
    assert result.holds, result.summary


def test_denoiser_is_compute_bound_at_stable_flops_above_the_threshold_tokens(baseline_folder: Path) -> None:
    result = check_claim(check_compute_bound, baseline_folder)
    assert result.holds, result.summary


def test_our_predictor_beats_the_studys_single_mu_model_on_every_sweep(baseline_folder: Path) -> None:
    result = check_claim(check_predictors, baseline_folder)
    assert result.holds, result.summary
