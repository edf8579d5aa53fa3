"""Optimisation levers, variants, combinations, deviation arithmetic, variant status (no pipeline built)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from t2v_energy_lib.bench.optimizations.deviation import deviation, psnr_db, relative_l2
from t2v_energy_lib.bench.optimizations.select import best_combinations, variant_status
from t2v_energy_lib.bench.optimizations.variants import (
    DEFAULT,
    TARGETS,
    Lever,
    Variant,
    combination,
    single_levers,
    variants_from_names,
)
from t2v_energy_lib.errors import OptimizationError

CATALOGUE = single_levers("wan", "two_pass", ["native", "_native_cudnn", "flash"])


def _lever(name: str) -> Lever:
    return next(lv for lv in CATALOGUE if lv.name == name)


def test_catalogue_has_every_lever_kind_and_every_cache_hook() -> None:
    kinds = {lv.kind for lv in CATALOGUE}
    assert kinds == {"compile", "attention", "cache", "fp8", "cfg_batch", "steps", "vae"}
    caches = {lv.name for lv in CATALOGUE if lv.kind == "cache"}
    assert {"cache:fbc", "cache:pab", "cache:faster", "cache:taylorseer", "cache:mag", "cache:sea"} <= caches
    assert "attention:native" not in {lv.name for lv in CATALOGUE}  # the default is not a lever
    assert {lv.name for lv in CATALOGUE} >= {"fp8:layerwise", "fp8:torchao_weight", "fp8:torchao_dynamic"}


def test_cfg_batching_is_a_lever_only_for_two_pass_pipelines() -> None:
    assert "cfg_batch" in {lv.name for lv in CATALOGUE}
    assert "cfg_batch" not in {lv.name for lv in single_levers("cogvideox", "batch2")}
    faster = next(lv for lv in single_levers("cogvideox", "batch2") if lv.name == "cache:faster")
    assert faster.setting("tensor_format") == "BFCHW"  # the documented CogVideoX example


def test_unknown_lever_kind_is_refused() -> None:
    with pytest.raises(OptimizationError, match="unknown kind"):
        Lever("turbo", "turbo")


def test_combination_orders_levers_and_refuses_impossible_sets() -> None:
    combo = combination([_lever("compile"), _lever("cache:pab"), _lever("steps:half"), _lever("cfg_batch")])
    assert combo.name == "steps:half+cache:pab+cfg_batch+compile"
    compile_lever = combo.levers[-1]
    assert compile_lever.setting("fullgraph") is False  # cache hooks break graphs
    assert _lever("compile").setting("fullgraph") is True
    with pytest.raises(OptimizationError, match="2 cache levers"):
        combination([_lever("cache:pab"), _lever("cache:fbc")])
    with pytest.raises(OptimizationError, match="cannot run together"):
        combination([_lever("cache:faster"), _lever("cfg_batch")])
    with pytest.raises(OptimizationError, match="at least one lever"):
        combination([])


def test_variants_from_names() -> None:
    variants = variants_from_names(["cache:pab", "compile+cfg_batch"], CATALOGUE)
    assert [v.name for v in variants] == ["default", "cache:pab", "cfg_batch+compile"]
    assert variants[0] is DEFAULT and DEFAULT.is_default
    assert variants[1].changes_per_step_work and not variants[2].changes_per_step_work
    with pytest.raises(OptimizationError, match="unknown lever"):
        variants_from_names(["cache:nope"], CATALOGUE)


def test_targets_cover_three_models() -> None:
    assert set(TARGETS) == {"wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "cogvideox-2b"}
    wan = TARGETS["wan2.1-t2v-1.3b"]
    assert (wan.height, wan.width, wan.num_frames) == (480, 832, 81) and 10 <= wan.steps <= 20
    assert TARGETS["wan2.1-t2v-14b"].study_steps == 50


def test_deviation_figures() -> None:
    ref = np.linspace(0, 1, 1000, dtype=np.float32).reshape(10, 10, 10)
    noisy = ref + 0.01
    assert psnr_db(noisy, ref) == pytest.approx(40.0, abs=1e-3)
    assert relative_l2(noisy, ref) == pytest.approx(0.01 * np.sqrt(1000) / np.linalg.norm(ref), rel=1e-4)
    same = deviation(ref, ref[:2], ref.copy(), ref[:2].copy())
    assert same["bit_identical"] and same["frames_psnr_db"] is None and same["frames_rel_l2"] == 0.0
    moved = deviation(noisy, None, ref, None)
    assert not moved["bit_identical"] and "latents_rel_l2" not in moved
    with pytest.raises(OptimizationError, match="shape"):
        relative_l2(ref, ref[:5])
    with pytest.raises(OptimizationError, match="no output"):
        deviation(None, None, ref, ref)


def _verdict(engaged: bool, reason: str = "r") -> dict:
    return {"engaged": engaged, "activity": {}, "reason": reason}


def test_variant_status_never_calls_an_inert_lever_engaged() -> None:
    pab = Variant("cache:pab", (_lever("cache:pab"),))
    moved = {"bit_identical": False}
    assert variant_status(DEFAULT, {}, None)[0] == "reference"
    assert variant_status(pab, {"cache:pab": _verdict(True)}, moved)[0] == "engaged"
    status, reason = variant_status(pab, {"cache:pab": _verdict(False, "skipped nothing")}, moved)
    assert status == "not_engaged" and "skipped nothing" in reason
    status, reason = variant_status(pab, {"cache:pab": _verdict(True)}, {"bit_identical": True})
    assert status == "not_engaged" and "bit-identical" in reason


def _result(variant: Variant, status: str, energies: list[float]) -> SimpleNamespace:
    record = SimpleNamespace(rounds={"gpu_energy_j": energies, "latency_s": [1.0] * len(energies)})
    return SimpleNamespace(variant=variant, status=status, record=record)


def test_best_combinations_take_the_best_engaged_saver_of_each_kind() -> None:
    def single(name: str) -> Variant:
        return Variant(name, (_lever(name),))

    results = [
        _result(DEFAULT, "reference", [100.0, 100.0]),
        _result(single("compile"), "engaged", [85.0, 85.0]),
        _result(single("cache:pab"), "engaged", [80.0, 80.0]),
        _result(single("cache:fbc@0.2"), "engaged", [90.0, 90.0]),  # weaker cache: not chosen
        _result(single("cache:mag"), "not_engaged", [50.0, 50.0]),  # not engaged: never chosen
        _result(single("steps:half"), "engaged", [55.0, 55.0]),
        _result(single("vae:tiling"), "engaged", [101.0, 101.0]),  # costs energy: not chosen
    ]
    combos = best_combinations(results)
    assert [c.name for c in combos] == ["steps:half+cache:pab", "steps:half+compile"]
    no_compile = [r for r in results if r.variant.name != "compile"]
    no_compile.append(_result(single("cfg_batch"), "engaged", [95.0, 95.0]))
    names = [c.name for c in best_combinations(no_compile)]
    assert names == ["steps:half+cache:pab+cfg_batch", "cache:pab+cfg_batch"]
    assert best_combinations(results[:1]) == []
