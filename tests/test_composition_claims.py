"""The sweeps' method: per-video figures composed from measured parts agree with complete generations.

The characterisation measures a video's parts (text encoder, steady-state denoiser steps, VAE decode) and
composes the per-video figure; the validation suite also runs complete generations (``pipe(...)`` with all
steps, decoded to frames) at several settings. A complete generation also pays a fixed per-call overhead
(pipeline host work: argument checks, latent preparation, scheduler set-up, conversion of the video to numpy).
That overhead is taken from the OTHER validation points (leave-one-out), never from the point it checks; the
composed figure plus that overhead must agree with the measured one within 3% in latency and GPU energy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from t2v_energy_lib.bench.compose import CompositionCheck, composition_checks, means
from t2v_energy_lib.results import ResultFile, find_baseline_folders, load_results

TOLERANCE = 0.03


def validation_points(results: ResultFile) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    """Point id -> (composed means, complete-generation means) of the validation suite."""
    by_id = results.by_id()
    points = {}
    for record in results.select(suite="validation", component="composed"):
        e2e_id = record.extra.get("end_to_end")
        if e2e_id in by_id:
            points[record.id.rsplit("/", 1)[0]] = (means(record.rounds), means(by_id[e2e_id].rounds))
    return points


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "check" not in metafunc.fixturenames:
        return
    option = metafunc.config.getoption("--baseline-dir", default=None)
    root = Path(option) if option else metafunc.config.rootpath / "baselines"
    params = []
    for folder in find_baseline_folders(root):
        points = validation_points(load_results(folder))
        if len(points) < 2:
            continue
        for check in composition_checks(points):
            test_id = f"{folder.relative_to(root)}:{check.point_id.split('/', 2)[-1]}:{check.quantity}"
            params.append(pytest.param(check, id=test_id))
    if not params:
        params = [pytest.param(None, marks=pytest.mark.skip(reason=f"no validation suite under {root}"))]
    metafunc.parametrize("check", params)


def test_composed_video_agrees_with_a_complete_generation_within_3_percent(check: CompositionCheck) -> None:
    assert abs(check.relative_difference) <= TOLERANCE, (
        f"{check.point_id} {check.quantity}: composed {check.composed:.6g} + overhead {check.overhead:.4g} "
        f"(from the other points) vs measured {check.measured:.6g}: {check.relative_difference:+.2%} "
        f"(without the overhead {check.raw_relative_difference:+.2%})"
    )


def test_the_overhead_of_a_point_never_comes_from_that_point() -> None:
    # SYNTHETIC numbers: three points whose complete generations each cost their parts + 1.0 s, and a fourth
    # that costs + 5.0 s. The check of the fourth must use only the others' overhead (1.0 s) and fail.
    composed = {"latency_s": 10.0, "gpu_energy_j": 100.0}
    points = {
        f"p{i}": (composed, {"latency_s": 10.0 + extra, "gpu_energy_j": 100.0})
        for i, extra in enumerate((1, 1, 1, 5))
    }
    checks = {(c.point_id, c.quantity): c for c in composition_checks(points)}
    assert checks[("p3", "latency_s")].overhead == pytest.approx(1.0)
    assert checks[("p3", "latency_s")].relative_difference == pytest.approx(-4.0 / 15.0)
    assert checks[("p0", "latency_s")].overhead == pytest.approx((1 + 1 + 5) / 3)
    with pytest.raises(ValueError, match=">= 2 settings"):
        composition_checks({"p0": points["p0"]})
