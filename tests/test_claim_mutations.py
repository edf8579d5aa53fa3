"""Mutation tests: each claim test must FAIL on a perturbed copy of the stored H100 baselines.

A claim test is worth what it would reject. Every mutation below edits a copy of
``baselines/nvidia-h100-80gb-hbm3/0.42.1`` in a tmp folder (the stored files are never touched) in a way that
makes a claim false (or leaves the data unable to decide it), then calls the claim functions directly and
asserts that they fail, raise, or report the missing data. The edited values are SYNTHETIC perturbations of
measured ones. ``test_every_claim_of_the_manifest_has_a_breaking_mutation`` keeps the list honest: a claim
judged on the folder that no mutation breaks is a defect.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from t2v_energy_lib.analysis.breakdown import denoiser_shares, share_holds
from t2v_energy_lib.analysis.claims import CLAIMS
from t2v_energy_lib.analysis.required import load_required, missing_data
from t2v_energy_lib.errors import FitError
from t2v_energy_lib.results import load_results

pytest_plugins = ["pytester"]

BASELINES = Path(__file__).resolve().parents[1] / "baselines"
SOURCE = BASELINES / "nvidia-h100-80gb-hbm3" / "0.42.1"
#: Folders every mutation is applied to (each mutation only where its claim is not an expected failure).
SOURCES = [p for p in (SOURCE, BASELINES / "nvidia-h200" / "0.42.1") if (p / "required.toml").is_file()]
IGNORED = shutil.ignore_patterns("logs", "report", "*.png", "*.md")
Records = list[dict[str, Any]]


def _edit(folder: Path, suite: str, edit: Callable[[Records], None]) -> None:
    path = folder / f"{suite}.json"
    doc = json.loads(path.read_text())
    edit(doc["records"])
    path.write_text(json.dumps(doc))


def _of(records: Records, component: str) -> Records:
    return [r for r in records if r["component"] == component]


def _scale(record: dict[str, Any], factors: dict[str, float]) -> None:
    for key, factor in factors.items():
        if key in record["rounds"]:
            record["rounds"][key] = [v * factor for v in record["rounds"][key]]


def _power_law(exponent: float) -> Callable[[Records], None]:
    """Denoiser step energy and latency ~ l^exponent through the largest point (its values kept)."""

    def edit(records: Records) -> None:
        steps = sorted(_of(records, "denoiser_step"), key=lambda r: r["extra"]["token_length"])
        top = steps[-1]
        for r in steps[:-1]:
            ratio = (r["extra"]["token_length"] / top["extra"]["token_length"]) ** exponent
            for key in ("gpu_energy_j", "latency_s"):
                mean_top = sum(top["rounds"][key]) / len(top["rounds"][key])
                mean = sum(r["rounds"][key]) / len(r["rounds"][key])
                _scale(r, {key: mean_top * ratio / mean})

    return edit


def _straight_top(count: int) -> Callable[[Records], None]:
    """The ``count`` largest points moved onto the straight line through the two points below them."""

    def edit(records: Records) -> None:
        steps = sorted(_of(records, "denoiser_step"), key=lambda r: r["extra"]["token_length"])
        a, b = steps[-count - 2], steps[-count - 1]
        for key in ("gpu_energy_j", "latency_s"):
            ya, yb = (sum(r["rounds"][key]) / len(r["rounds"][key]) for r in (a, b))
            la, lb = a["extra"]["token_length"], b["extra"]["token_length"]
            for r in steps[-count:]:
                target = yb + (yb - ya) / (lb - la) * (r["extra"]["token_length"] - lb)
                _scale(r, {key: target / (sum(r["rounds"][key]) / len(r["rounds"][key]))})

    return edit


def _keep_points(count: int) -> Callable[[Records], None]:
    def edit(records: Records) -> None:
        steps = _of(records, "denoiser_step")
        for r in steps[count:]:
            records.remove(r)

    return edit


def _raise_composed(count: int, factor: float) -> Callable[[Records], None]:
    def edit(records: Records) -> None:
        for r in _of(records, "composed")[:count]:
            _scale(r, {"gpu_energy_j": factor, "latency_s": factor})

    return edit


def _scattered_rounds(records: Records) -> None:
    """Rounds of every step 10% apart around their mean (a noisy run: the shape cannot be decided)."""
    for r in _of(records, "denoiser_step"):
        for key in ("gpu_energy_j", "latency_s"):
            values = r["rounds"][key]
            r["rounds"][key] = [v * (1.1 if i % 2 else 0.9) for i, v in enumerate(values)]


def _slower_steps(records: Records) -> None:
    for r in _of(records, "denoiser_step"):
        _scale(r, {"latency_s": 5.0})


def _slower_steps_in_sweeps(folder: Path) -> None:
    """Every measured step of both sweeps 5x slower (whichever GPU of the folder has a measured ceiling)."""
    for suite in ("resolution", "frames"):
        _edit(folder, suite, _slower_steps)


def _composed_loops_raised(records: Records) -> None:
    for r in _of(records, "denoise_loop"):
        if r["settings"]["num_inference_steps"] >= 20:  # S = 20..200, composed past the 16-step trace
            _scale(r, {"gpu_energy_j": 1.2})


def _slow_trace_step(records: Records) -> None:
    trace = _of(records, "denoiser_step_trace")[0]
    trace["rounds"]["gpu_energy_j"][7] *= 1.06


def _generation_off(records: Records) -> None:
    _scale(_of(records, "end_to_end")[0], {"gpu_energy_j": 1.10})


def _drop_ceiling(folder: Path) -> None:
    (folder / "reference.json").unlink()


#: (mutation id, suite file edited (or None), edit, claim it must break).
MUTATIONS: list[tuple[str, str | None, Callable[..., None], str]] = [
    ("pixels^1.1", "resolution", _power_law(1.1), "quadratic_in_pixels"),
    ("pixels^1.3", "resolution", _power_law(1.3), "quadratic_in_pixels"),
    ("pixels^2.5", "resolution", _power_law(2.5), "quadratic_in_pixels"),
    ("straight top 3 pixels", "resolution", _straight_top(3), "quadratic_in_pixels"),
    ("4 of 13 resolution points", "resolution", _keep_points(4), "quadratic_in_pixels"),
    ("rounds 10% apart (resolution)", "resolution", _scattered_rounds, "quadratic_in_pixels"),
    ("frames^1.1", "frames", _power_law(1.1), "quadratic_in_frames"),
    ("frames^1.3", "frames", _power_law(1.3), "quadratic_in_frames"),
    ("straight top 3 frames", "frames", _straight_top(3), "quadratic_in_frames"),
    ("5x slower steps (resolution and frames)", None, _slower_steps_in_sweeps, "compute_bound"),
    ("no measured ceiling", None, _drop_ceiling, "compute_bound"),
    ("4 composed videos +20% (resolution)", "resolution", _raise_composed(4, 1.2), "composition"),
    ("4 composed videos +20% (frames)", "frames", _raise_composed(4, 1.2), "composition"),
    ("composed loops S=20..200 +20%", "steps", _composed_loops_raised, "composition"),
    ("a complete generation +10%", "validation", _generation_off, "composition"),
]
#: Suite -> the claims that cannot hold without it (compute-bound takes its steps from resolution AND frames).
DEPENDS_ON = {
    "resolution": ["quadratic_in_pixels"],
    "frames": ["quadratic_in_frames"],
    "steps": ["linear_in_steps"],
    "validation": ["composition"],
    "cross_model": ["complete_generations", "denoiser_dominates", "matmul_attention_dominate"],
    "reference": ["compute_bound"],
}
#: Claims of the manifest broken by a mutation elsewhere (a slower test, on synthetic data).
#: The stored steps and cross-model claims already fail (expected failures), so a mutation must show in
#: their evidence instead: tests below, and the independent-run bends of test_analysis_claims.py.
BROKEN_ELSEWHERE = {
    "better_predictor": "test_analysis_claims.py::test_predictor_claim (swapped predictors)",
    "linear_in_steps": "test_a_slow_traced_step_breaks_the_per_step_band_of_the_stored_trace, "
    "test_analysis_claims.py::test_independent_runs_bent_past_their_noise_break_the_steps_claim",
    "complete_generations": "test_mutation_of_a_claim_already_failing_adds_failures",
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("baseline") / "0.42.1"
    shutil.copytree(SOURCE, copy, ignore=IGNORED)
    return copy


@pytest.fixture
def folder(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "0.42.1"
    shutil.copytree(pristine, copy)
    return copy


def _verdict(claim: str, folder: Path) -> str:
    """``holds``, ``does not hold``, ``undecided`` or the error a claim raised."""
    return _judged(claim, folder)[0]


def _judged(claim: str, folder: Path) -> tuple[str, int]:
    """The verdict (or the error a claim raised) and how many of its typed rows fail."""
    try:
        result = CLAIMS[claim](load_results(folder))
    except FitError as exc:
        return f"{type(exc).__name__}: {exc}", 0
    return result.verdict, sum(1 for row in result.rows if row.holds is False)


def _mutation_cases() -> list[Any]:
    cases = []
    for source in SOURCES:
        required = load_required(source)
        assert required is not None
        label = f"{source.parent.name}/{source.name}"
        for name, suite, edit, claim in MUTATIONS:
            if claim in required.claims and claim not in required.expected_failures:
                cases.append(pytest.param(source, suite, edit, claim, id=f"{label}:{name}"))
    return cases


@pytest.mark.parametrize(("source", "suite", "edit", "claim"), _mutation_cases())
def test_mutation_breaks_the_claim(
    source: Path, suite: str | None, edit: Callable[..., None], claim: str, tmp_path: Path
) -> None:
    folder = tmp_path / source.name
    shutil.copytree(source, folder, ignore=IGNORED)
    assert _verdict(claim, folder) == "holds", f"{claim} must hold on the stored {source} before the mutation"
    if suite is None:
        edit(folder)
    else:
        _edit(folder, suite, edit)
    assert _verdict(claim, folder) != "holds", f"{claim} still holds after the mutation"


def test_mutation_of_a_claim_already_failing_adds_failures(folder: Path) -> None:
    """complete_generations fails on the stored H100 data (LTX-Video): a mutation must add failing rows."""
    before = _judged("complete_generations", folder)
    _edit(folder, "cross_model", _raise_composed(12, 1.2))
    after = _judged("complete_generations", folder)
    assert before[0] == after[0] == "does not hold"
    assert after[1] > before[1], (before, after)


@pytest.mark.parametrize("suite", ["resolution", "frames", "steps", "validation", "cross_model", "reference"])
def test_a_deleted_suite_is_reported_missing_and_its_claims_cannot_pass(folder: Path, suite: str) -> None:
    (folder / f"{suite}.json").unlink()
    required = load_required(folder)
    assert required is not None
    missing = missing_data(load_results(folder), required)
    assert any(f"suite '{suite}'" in line for line in missing), missing
    for name in DEPENDS_ON[suite]:
        assert _verdict(name, folder) != "holds", name


def test_thinned_suites_are_listed_with_their_counts(folder: Path) -> None:
    _edit(folder, "resolution", _keep_points(4))
    _edit(folder, "frames", _keep_points(9))
    missing = missing_data(load_results(folder), load_required(folder))  # type: ignore[arg-type]
    assert any("'resolution', wan2.1-t2v-1.3b: 4 measured 'denoiser_step' records" in m for m in missing)
    assert any("'frames', wan2.1-t2v-1.3b: 9 measured" in m for m in missing)


def test_a_denoiser_share_above_100_percent_is_caught(folder: Path) -> None:
    def heavier_step(records: Records) -> None:
        step = next(r for r in _of(records, "denoiser_step") if r["model"] == "cogvideox-2b")
        _scale(step, {"gpu_energy_j": 1.2})

    _edit(folder, "cross_model", heavier_step)
    share = denoiser_shares(load_results(folder))["cogvideox-2b"]["share"]
    assert share > 1.0 and not share_holds(share)
    assert _verdict("denoiser_dominates", folder) == "does not hold"


def test_every_claim_of_the_manifest_has_a_breaking_mutation() -> None:
    required = load_required(SOURCE)
    assert required is not None
    broken = {m[3] for m in MUTATIONS} | set(BROKEN_ELSEWHERE)
    assert set(required.claims) <= broken, f"no mutation breaks {sorted(set(required.claims) - broken)}"


def test_claim_tests_fail_on_a_copy_without_a_suite(pytester: pytest.Pytester, pristine: Path) -> None:
    """Smoke through pytest: the claim tests themselves fail (not skip) on a copy that lost a suite."""
    root = pytester.path / "copy"
    shutil.copytree(pristine, root / "gpu" / "0.42.1")
    (root / "gpu" / "0.42.1" / "resolution.json").unlink()
    pytester.makepyfile(test_claims=(Path(__file__).parent / "test_claims.py").read_text())
    result = pytester.runpytest_subprocess(
        "--baseline-dir", str(root), "-p", "no:randomly", "-k", "required_data or quadratic_in_pixels"
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*undecided*", "*suite 'resolution': no measured 'denoiser_step' records*"])


def test_a_slow_traced_step_breaks_the_per_step_band_of_the_stored_trace(folder: Path) -> None:
    """The H100 steps claim is undecided (prefixes only); its per-step band must still react to one step."""
    _edit(folder, "steps", _slow_trace_step)
    result = CLAIMS["linear_in_steps"](load_results(folder))
    entry = result.details["wan2.1-t2v-1.3b"]
    assert entry["max_relative_deviation"] > 0.02 and entry["worst_step"] == 8
    assert not result.holds
