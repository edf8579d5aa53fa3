"""The time-budget estimate of the next point (pure arithmetic; every latency here is SYNTHETIC)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from t2v_energy_lib.bench.measure import MeasureConfig
from t2v_energy_lib.bench.point_cost import SAFETY, PointTiming, estimate_next_point_s, point_cost_s
from t2v_energy_lib.bench.runner import step_floor_s
from t2v_energy_lib.bench.scenarios import resolution_sweep

CONFIG = MeasureConfig()  # 5 s windows x 3 rounds, 3 decodes (2 above 4 s)


def test_short_steps_cost_the_fixed_windows() -> None:
    # 0.2 s steps fill each 5 s window: 3 windows of 5 s, plus calibration and decodes
    cost = point_cost_s(0.2, 0.1, CONFIG)
    assert 3 * CONFIG.target_window_s <= cost < 3 * CONFIG.target_window_s + 2.5
    # very short steps hit the cap on steps per window: shorter windows
    capped = point_cost_s(0.001, 0.1, CONFIG)
    assert capped < 3 * CONFIG.max_steps_per_window * 0.001 + 1.0


def test_long_steps_cost_one_step_per_window_and_fewer_decodes() -> None:
    step, decode = 8.0, 6.0  # a step longer than the window: one step a window; decodes over 4 s: 2 rounds
    cost = point_cost_s(step, decode, CONFIG)
    expected = (step + decode) + 2 * step + 3 * step + 2 * decode
    assert cost == pytest.approx(expected)
    assert point_cost_s(step, decode, CONFIG, warmups=2) == pytest.approx(expected + step + decode)


def test_build_time_is_not_extrapolated() -> None:
    """The regression of the H200 run: a first point with its build must not forecast an hour."""
    small = PointTiming(
        duration_s=23.0, build_s=8.0, step_s=0.03, decode_s=0.5, tokens=5376, first_shape=True
    )
    old_rule = small.duration_s * (32760 / 5376) ** 1.5  # what the runner used to estimate (~346 s)
    new = estimate_next_point_s(small, 32760, CONFIG, step_floor_s=1.0)
    modelled = point_cost_s(1.0, 0.5 * 32760 / 5376, CONFIG)
    unexplained = max(0.0, 23.0 - 8.0 - point_cost_s(0.03, 0.5, CONFIG, warmups=2))
    assert new == pytest.approx(SAFETY * (modelled + unexplained))
    assert new < old_rule / 3


def test_step_scales_at_least_linearly_and_at_least_to_the_floor() -> None:
    prev = PointTiming(duration_s=20.0, step_s=0.5, decode_s=1.0, tokens=10_000)
    low_floor = estimate_next_point_s(prev, 20_000, CONFIG, step_floor_s=0.1)
    high_floor = estimate_next_point_s(prev, 20_000, CONFIG, step_floor_s=3.0)
    assert low_floor == pytest.approx(
        SAFETY * (point_cost_s(1.0, 2.0, CONFIG) + max(0.0, 20.0 - point_cost_s(0.5, 1.0, CONFIG)))
    )
    assert high_floor > low_floor
    # without a floor the step grows as tokens^1.5
    no_floor = estimate_next_point_s(prev, 40_000, CONFIG)
    assert no_floor >= SAFETY * point_cost_s(0.5 * 4**1.5, 4.0, CONFIG)


def test_smaller_next_point_is_not_scaled_down_below_the_previous() -> None:
    prev = PointTiming(duration_s=30.0, step_s=1.0, decode_s=2.0, tokens=30_000)
    assert estimate_next_point_s(prev, 1_000, CONFIG) == pytest.approx(
        estimate_next_point_s(prev, 30_000, CONFIG)
    )


def test_without_latencies_falls_back_to_the_duration_without_build() -> None:
    prev = PointTiming(duration_s=30.0, build_s=10.0, tokens=1_000)
    assert estimate_next_point_s(prev, 4_000, CONFIG) == pytest.approx(SAFETY * 20.0 * 8.0)


def test_step_floor_uses_the_study_predictor_on_a_known_gpu_only() -> None:
    sc = resolution_sweep()[5]  # 480x832x81
    h100 = step_floor_s(sc, {"gpu": {"name": "NVIDIA H100 80GB HBM3"}})
    assert h100 is not None and 0.1 < h100 < 10.0
    assert step_floor_s(sc, {"gpu": None}) is None
    assert step_floor_s(sc, {"gpu": {"name": "Some Unknown GPU"}}) is None


def test_runner_with_generous_budget_runs_every_point(tmp_path: Path) -> None:
    from tests.test_bench_runner import run

    outcomes, lines = run(tmp_path, ["resolution"], points="0-2", opts={"time_budget_s": 600.0})
    assert not outcomes[0].stopped_for_budget and len(outcomes[0].done) == 3, lines


class ScriptedClock:
    """A clock the test advances: each synthetic point 'takes' the seconds the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run_scripted(tmp_path: Path, budget_s: float) -> tuple[Any, list[str]]:
    """Points 0, 5, 10 of the resolution sweep with SYNTHETIC latencies and durations (no pipeline).

    Each point writes a denoiser_step and a vae_decode record with the test's latencies and advances the clock
    by what :func:`point_cost_s` models plus 5 s; the first point also pays an 8 s build, as on the H200 run
    that stopped after one point.
    """
    from t2v_energy_lib.bench.runner import Characterizer, RunOptions
    from t2v_energy_lib.results.schema import ResultRecord

    clock, lines = ScriptedClock(), []
    prov = {"gpu": {"name": "NVIDIA H200"}, "date_utc": "synthetic"}
    char = Characterizer(
        RunOptions(out_dir=tmp_path, device="cpu", time_budget_s=budget_s),
        None,
        prov,
        log=lines.append,
        clock=clock,
    )
    synthetic = {0: (0.12, 0.6), 5: (1.25, 2.8), 10: (5.0, 6.6)}  # (s/step, s/decode), test-only
    sweep = resolution_sweep()

    def measure_point(sc: Any, writer: Any) -> str:
        i = sweep.index(sc)
        step, decode = synthetic[i]
        for component, value in (("denoiser_step", step), ("vae_decode", decode)):
            rid = sc.record_id(component)
            writer.add(ResultRecord(rid, sc.suite, sc.model_id, component, {}, {"latency_s": [value]}))
        if i == 0:
            char._build_s = 8.0  # what measurer() records when it builds
            char._model_id = sc.model_id
            clock.now += 8.0
        clock.now += point_cost_s(step, decode, CONFIG, warmups=2 if i == 0 else 1) + 5.0
        return "synthetic"

    return char.run_points("resolution", sweep, [0, 5, 10], measure_point), lines


def test_runner_budget_runs_the_points_that_fit(tmp_path: Path) -> None:
    """220 s for points 0, 5, 10: the old estimate stopped after point 0; all three fit in ~140 s."""
    outcome, lines = _run_scripted(tmp_path, 220.0)
    assert len(outcome.done) == 3 and not outcome.stopped_for_budget, lines


def test_runner_budget_stops_before_a_point_that_would_not_fit(tmp_path: Path) -> None:
    outcome, lines = _run_scripted(tmp_path / "tight", 90.0)
    assert len(outcome.done) == 2 and outcome.stopped_for_budget
    assert any(
        "time budget: stopping before resolution/wan2.1-t2v-1.3b/720x1280x81" in line for line in lines
    )
