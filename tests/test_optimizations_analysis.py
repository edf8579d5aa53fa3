"""Savings, significance, payback, Pareto front, the 40% goal and the savings gate on synthetic records."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from t2v_energy_lib.analysis.optimizations import (
    difference_label,
    goal_verdict,
    optimization_rows,
    pareto_front,
    payback_videos,
    vanished_savings,
)
from t2v_energy_lib.errors import MissingResultsError
from t2v_energy_lib.results.schema import ResultRecord

BASE = "optimizations/wan2.1-t2v-1.3b/480x832x81-s10"


def _record(variant: str, status: str, energy: list[float], rel_l2: float | None, setup_j: float) -> Any:
    kinds = [] if variant == "default" else [{"kind": variant.split(":")[0], "name": variant}]
    return ResultRecord(
        id=f"{BASE}/{variant}/end_to_end",
        suite="optimizations",
        model="wan2.1-t2v-1.3b",
        component="end_to_end",
        settings={
            "height": 480,
            "width": 832,
            "num_frames": 81,
            "num_inference_steps": 10,
            "guidance_scale": 5.0,
        },
        rounds={"latency_s": [e / 700 for e in energy], "gpu_energy_j": energy},
        extra={
            "variant": {"name": variant, "levers": kinds},
            "status": status,
            "status_reason": f"{variant} reason",
            "deviation": None if rel_l2 is None else {"frames_rel_l2": rel_l2, "bit_identical": rel_l2 == 0},
            "setup_gpu_energy_j": setup_j,
            "default_setup_gpu_energy_j": 1000.0,
            "peak_memory_bytes": 3e10,
        },
    )


def _records(pab_energy: list[float] | None = None, pab_status: str = "engaged") -> list[Any]:
    return [
        _record("default", "reference", [10000.0, 10100.0], None, 1000.0),
        _record("cache:pab", pab_status, pab_energy or [8200.0, 8300.0], 0.02, 1100.0),
        _record("compile", "engaged", [8600.0, 8700.0], 0.001, 41000.0),
        _record("steps:half", "engaged", [5600.0, 5700.0], 0.2, 1000.0),
        _record("cache:fbc", "not_engaged", [10300.0, 10400.0], 0.0, 1000.0),
        _record("fp8:layerwise", "engaged", [9900.0, 10200.0], 0.01, 1000.0),  # overlaps: n.s.
        _record("vae:tiling", "engaged", [11300.0, 11400.0], 0.03, 1000.0),  # every round above: costs more
    ]


def test_rows_savings_significance_and_payback() -> None:
    rows = {r.variant: r for r in optimization_rows(_records())[f"{BASE.split('/', 1)[1]}"]}
    assert rows["default"].status == "reference" and rows["default"].saving is None
    pab = rows["cache:pab"]
    assert pab.saving == pytest.approx(10050.0 - 8250.0) and pab.saving_fraction == pytest.approx(
        1800 / 10050
    )
    assert pab.significant and pab.is_saving and pab.quantity == "gpu_energy_j"
    assert pab.payback_videos == pytest.approx(100.0 / 1800.0)
    assert rows["compile"].payback_videos == pytest.approx(40000.0 / 1400.0)  # ~29 videos to repay compiling
    assert rows["cache:fbc"].saving is None and not rows["cache:fbc"].is_saving  # not engaged: never a saving
    assert not rows["fp8:layerwise"].significant and not rows["fp8:layerwise"].is_saving
    assert rows["cache:pab"].label == "saves" and rows["fp8:layerwise"].label == "n.s."
    tiling = rows["vae:tiling"]  # a clear cost increase is labelled so, never "n.s."
    assert tiling.label == "costs more" and not tiling.is_saving and tiling.saving == pytest.approx(-1300.0)
    assert payback_videos(-5.0, 10.0) == 0.0 and payback_videos(5.0, -1.0) is None


def test_difference_label_saves_costs_more_or_overlaps() -> None:
    assert difference_label([8.0, 9.0], [10.0, 11.0]) == "saves"
    assert difference_label([12.0, 13.0], [10.0, 11.0]) == "costs more"
    assert difference_label([9.0, 12.0], [10.0, 11.0]) == "n.s."
    assert difference_label([11.0, 12.0], [10.0, 11.0]) == "n.s."  # a tie is an overlap
    with pytest.raises(MissingResultsError, match="needs rounds"):
        difference_label([], [10.0])


def test_a_difference_inside_the_noise_floor_is_not_significant() -> None:
    """One round a side never overlaps: a 0.4% difference (compiled flex on the 1.3B, one video each) is
    inside what repeating the default gives, and is n.s. either way; 2% is a saving or a cost."""
    assert difference_label([10_778.5], [10_825.2]) == "n.s."
    assert difference_label([10_872.0], [10_825.2]) == "n.s."
    assert difference_label([10_600.0], [10_825.2]) == "saves"
    assert difference_label([11_050.0], [10_825.2]) == "costs more"
    assert difference_label([10_778.5], [10_825.2], min_fraction=0.0) == "saves"


def test_report_labels_a_clear_cost_increase_costs_more(tmp_path: Any) -> None:
    from t2v_energy_lib.report.optimizations_section import optimizations_section
    from t2v_energy_lib.results.schema import ResultFile

    text = optimizations_section(ResultFile(provenance={}, records=tuple(_records())), tmp_path)
    tiling = next(line for line in text.splitlines() if line.startswith("| vae:tiling"))
    fp8 = next(line for line in text.splitlines() if line.startswith("| fp8:layerwise"))
    assert "(costs more)" in tiling and "n.s." not in tiling
    assert "(n.s.)" in fp8
    pab = next(line for line in text.splitlines() if line.startswith("| cache:pab"))
    assert "(" not in pab.split("|")[4]  # a significant saving carries no label


def test_variants_measured_beside_a_default_not_stored_are_named(tmp_path: Path) -> None:
    from t2v_energy_lib.report.optimizations_section import optimizations_section
    from t2v_energy_lib.results.schema import ResultFile

    records = _records()
    pab = records[1]
    records[1] = dataclasses.replace(pab, extra={**pab.extra, "default_setup_gpu_energy_j": 990.0})
    rows = {r.variant: r for r in next(iter(optimization_rows(records).values()))}
    assert rows["cache:pab"].own_reference is False and rows["compile"].own_reference is True
    assert rows["default"].own_reference is None
    text = optimizations_section(ResultFile(provenance={}, records=tuple(records)), tmp_path)
    line = next(x for x in text.splitlines() if x.startswith("Measured beside a default"))
    assert "`cache:pab`" in line and "`compile`" not in line
    assert "1 in 6 (2 vs 2 rounds)" in text  # chance of a complete separation at 2 rounds each


def test_pareto_front_and_goal() -> None:
    rows = next(iter(optimization_rows(_records()).values()))
    # fp8 costs as much as the default and deviates more: dominated; the rest trade energy for deviation
    assert [r.variant for r in pareto_front(rows)] == ["default", "compile", "cache:pab", "steps:half"]
    verdict = goal_verdict("g", rows)
    assert verdict.met and verdict.best.variant == "steps:half"  # 44% >= 40%
    weaker = [r for r in _records() if "steps" not in r.id]
    assert not goal_verdict("g", next(iter(optimization_rows(weaker).values()))).met


def test_missing_default_fails() -> None:
    with pytest.raises(MissingResultsError, match="no default record"):
        optimization_rows(_records()[1:])
    with pytest.raises(MissingResultsError, match="no optimizations records"):
        optimization_rows([])


def test_savings_gate_fails_when_a_saving_vanishes() -> None:
    baseline = optimization_rows(_records())
    assert vanished_savings(baseline, optimization_rows(_records())) == []
    gone = optimization_rows(_records(pab_energy=[10050.0, 10150.0]))  # engaged, but no longer saving
    assert any("cache:pab" in line and "n.s." in line for line in vanished_savings(baseline, gone))
    worse = optimization_rows(_records(pab_energy=[10500.0, 10600.0]))  # now a clear cost
    assert any("cache:pab" in line and "costs more" in line for line in vanished_savings(baseline, worse))
    idle = optimization_rows(_records(pab_status="not_engaged"))  # a cache that stopped skipping
    assert any("now not_engaged" in line for line in vanished_savings(baseline, idle))
    nothing = optimization_rows([r for r in _records() if r.extra["status"] != "engaged"])
    with pytest.raises(MissingResultsError, match="no significant saving"):
        vanished_savings(nothing, baseline)


def test_the_optimization_goal_claim_holds_only_with_an_engaged_40_percent_saving() -> None:
    from t2v_energy_lib.analysis.claims import CLAIMS
    from t2v_energy_lib.results.schema import ResultFile

    def judge(records: list[Any]) -> Any:
        return CLAIMS["optimization_goal"](ResultFile(provenance={}, records=tuple(records)))

    assert judge(_records()).verdict == "holds"  # half steps: 44% of the default's energy
    without_half = [r for r in _records() if "steps" not in r.id]
    assert judge(without_half).verdict == "does not hold"  # best left: PAB, 18%
    idle_lever = [r for r in _records() if "steps" not in r.id] + [
        _record("cache:mag", "not_engaged", [3000.0, 3100.0], 0.0, 1000.0)  # cheap, but never engaged
    ]
    assert judge(idle_lever).verdict == "does not hold"
    with pytest.raises(MissingResultsError):
        judge([r for r in _records() if r.suite != "optimizations"])
