"""The study's claims, judged on every stored baseline folder (``<baseline-dir>/<gpu>/<version>/``).

Each committed folder carries a ``required.toml`` (t2v_energy_lib/analysis/required.py): the suites, points
and models it must hold, the claims judged on it, and the claims expected to fail there with the reason
(strict expected failures: a claim that starts to hold must be moved out of the list). One test per (folder,
claim); the test fails when the claim does not hold, and when the data cannot decide it ("undecided": too few
points, no independent runs, no measured ceiling). A missing or thinned suite fails
``test_folder_holds_its_required_data`` with the list of what is missing.

Skips remain only for a user's own ``--baseline-dir`` folder without a manifest that never had a suite: the
skip says so. The per-model claims of the cross-model suite (denoiser share, matmul + attention share) are in
test_cross_model_claims.py.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.claims import CLAIMS
from t2v_energy_lib.analysis.required import RequiredData, baseline_folders, load_required, missing_data
from t2v_energy_lib.errors import BaselineFormatError, MissingResultsError, TooFewPointsError
from t2v_energy_lib.results import ResultFile, load_results

#: Claims judged per model in test_cross_model_claims.py (with their own expected failures).
PER_MODEL_CLAIMS = ("denoiser_dominates", "matmul_attention_dominate")
#: Claims judged on a folder without a manifest (a user's own --baseline-dir).
DEFAULT_CLAIMS = tuple(name for name in CLAIMS if name not in PER_MODEL_CLAIMS)


def baseline_root_of(config: pytest.Config) -> Path:
    """The plugin's ``--baseline-dir`` (default ``<rootdir>/baselines``), resolved at collection time."""
    option = config.getoption("--baseline-dir", default=None)
    return Path(option).resolve() if option else (config.rootpath / "baselines").resolve()


def _is_committed(config: pytest.Config, root: Path) -> bool:
    return root == (config.rootpath / "baselines").resolve()


@lru_cache(maxsize=16)
def _results(folder: Path) -> ResultFile:
    return load_results(folder)


def _claim_cases(root: Path) -> list[Any]:
    cases = []
    for folder in baseline_folders(root):
        label = str(folder.relative_to(root))
        required = load_required(folder)
        claims = required.claims if required is not None else DEFAULT_CLAIMS
        for name in claims:
            marks = []
            if required is not None and name in required.expected_failures:
                marks.append(pytest.mark.xfail(strict=True, reason=required.expected_failures[name]))
            cases.append(pytest.param(folder, name, required, marks=marks, id=f"{label}:{name}"))
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    root = baseline_root_of(metafunc.config)
    if "claim_name" in metafunc.fixturenames:
        cases = _claim_cases(root)
        if not cases:
            reason = f"no baseline folders under {root}: run the GPU characterization, commit its baselines"
            cases = [pytest.param(None, None, None, marks=pytest.mark.skip(reason=reason))]
        metafunc.parametrize(("baseline_folder", "claim_name", "required"), cases)
    elif "baseline_folder" in metafunc.fixturenames:
        folders = baseline_folders(root)
        metafunc.parametrize("baseline_folder", folders, ids=[str(f.relative_to(root)) for f in folders])


@pytest.fixture
def committed(request: pytest.FixtureRequest) -> bool:
    """True when the claims run on the repository's own baselines (a manifest is then mandatory)."""
    return _is_committed(request.config, baseline_root_of(request.config))


def _undecided_or_skip(exc: Exception, folder: Path, required: RequiredData | None, committed: bool) -> None:
    """A claim that could not run: a failure where the data were required, else a skip saying why."""
    if required is None and not committed:
        suite = getattr(exc, "suite", "?")
        pytest.skip(
            f"{folder}: your --baseline-dir folder has no required.toml and never had enough '{suite}' data "
            f"for this claim: {exc}"
        )
    where = required.path if required is not None else "the committed baselines (no required.toml)"
    pytest.fail(f"undecided on {folder}: {exc} (required by {where})", pytrace=False)


def judge(folder: Path, claim_name: str, required: RequiredData | None, committed: bool) -> ClaimResult:
    """Run one claim on a folder; a claim that cannot run fails (or skips: a user's folder, no manifest)."""
    try:
        return CLAIMS[claim_name](_results(folder))
    except (MissingResultsError, TooFewPointsError) as exc:
        _undecided_or_skip(exc, folder, required, committed)
        raise  # unreachable: skip and fail raise


def test_claim_holds_on_the_baseline_folder(
    baseline_folder: Path | None, claim_name: str | None, required: RequiredData | None, committed: bool
) -> None:
    assert baseline_folder is not None and claim_name is not None
    result = judge(baseline_folder, claim_name, required, committed)
    assert not result.undecided, f"{claim_name} {result.summary}"
    assert result.holds, f"{claim_name} does not hold: {result.summary}"


def test_folder_holds_its_required_data(baseline_folder: Path, committed: bool) -> None:
    required = load_required(baseline_folder)
    if required is None:
        if committed:
            pytest.fail(
                f"{baseline_folder} has no required.toml: every committed baseline folder declares the "
                "suites, points and models it must hold and its claims (analysis/required.py)",
                pytrace=False,
            )
        pytest.skip(
            f"{baseline_folder}: your --baseline-dir folder declares no required data (no required.toml)"
        )
    try:
        results = _results(baseline_folder)
    except BaselineFormatError as exc:  # every result file deleted: the manifest is all that is left
        pytest.fail(f"{exc}; {required.path.name} requires suites {sorted(required.suites)}", pytrace=False)
    missing = missing_data(results, required)
    assert not missing, f"{baseline_folder} lacks what {required.path.name} requires:\n- " + "\n- ".join(
        missing
    )
