"""The sweeps' method: per-video figures composed from measured parts agree with complete generations.

The characterisation measures a video's parts (text encoder, steady-state denoiser steps, VAE decode) and
composes the per-video figure; the validation suite also runs complete generations (``pipe(...)`` with all
steps, decoded to frames) at several settings. A complete generation also pays a fixed per-call overhead
(pipeline host work: argument checks, latent preparation, scheduler set-up, conversion of the video to numpy).
That overhead is taken from the OTHER validation points (leave-one-out), never from the point it checks; the
composed figure plus that overhead must agree with the measured one within 3% in latency and GPU energy.

On the stored baselines this is the ``composition`` claim (t2v_energy_lib/analysis/composition.py, judged per
folder in test_claims.py with each folder's expected failures; its summary lists every point outside the
band). Here: the leave-one-out arithmetic itself, on SYNTHETIC numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from t2v_energy_lib.bench.compose import composition_checks


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


def test_a_cpu_run_without_gpu_energy_is_judged_on_latency(tmp_path: Path) -> None:
    """A CPU run's validation points carry no GPU energy: the composition claim judges latency alone.

    (The CPU main job's report failed with a KeyError on 'gpu_energy_j' before.)
    """
    import json
    import shutil

    from t2v_energy_lib.analysis.claims import CLAIMS

    stored = Path(__file__).parent.parent / "baselines" / "nvidia-h200" / "0.42.1"
    folder = tmp_path / "cpu-like"
    folder.mkdir()
    for suite in ("validation", "cross_model"):
        doc = json.loads((stored / f"{suite}.json").read_text())
        for record in doc["records"]:
            for key in [k for k in record.get("rounds", {}) if "energy" in k]:
                del record["rounds"][key]
        (folder / f"{suite}.json").write_text(json.dumps(doc))
    shutil.copy(stored / "required.toml", folder / "required.toml")
    result = CLAIMS["composition"](str(folder))
    judged = {row.quantity for row in result.rows if "vs measured" in row.figure}
    assert result.rows and judged == {"latency_s"}
    generations = CLAIMS["complete_generations"](str(folder))
    assert generations.rows and {row.quantity for row in generations.rows} == {"latency_s"}
