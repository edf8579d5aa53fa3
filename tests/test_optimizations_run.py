"""The optimisation suite on the tiny Wan variant (CPU): every lever applies or says why not; a run records
savings, deviations, engagement verdicts, failures and not-available levers with reasons; the analysis,
theory check and report section read it. Latency only (wall clock): a code-path check, not a measurement."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from t2v_energy_lib.analysis.optimization_theory import predict  # noqa: E402
from t2v_energy_lib.analysis.optimizations import optimization_rows, pareto_front  # noqa: E402
from t2v_energy_lib.bench.optimizations import (  # noqa: E402
    OptimizeOptions,
    catalogue,
    run_optimizations,
    tiny_target,
)
from t2v_energy_lib.bench.optimizations.api import optimize_provenance  # noqa: E402
from t2v_energy_lib.energy import EnergyMeter  # noqa: E402
from t2v_energy_lib.results.storage import load_results  # noqa: E402

WAN = "wan2.1-t2v-1.3b"
VARIANTS = (
    "compile",
    "attention:_native_math",
    "attention:flash",
    "attention:_native_npu",
    "attention:flex",
    "cache:fbc",
    "cache:pab",
    "cache:faster",
    "cache:mag",
    "fp8:layerwise",
    "fp8:torchao_weight",
    "cfg_batch",
    "steps:half",
    "vae:slicing",
    "steps:half+cache:pab+cfg_batch",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("optimize")
    target = tiny_target(WAN, steps=4)
    options = OptimizeOptions(out_dir=out, device="cpu", rounds=2, best_combination=False)
    outcomes = run_optimizations(
        [target],
        options,
        VARIANTS,
        meter=EnergyMeter.for_device("cpu"),
        provenance=optimize_provenance(options, [target]),
        compile_kwargs={"backend": "eager"},
        log=lambda line: None,
    )
    result_file = load_results(out / "optimizations.json")
    by_variant = {r.extra["variant"]["name"]: r for r in result_file.records}
    return {"outcome": outcomes[0], "records": by_variant, "file": result_file, "out": out}


def test_every_variant_has_one_record_with_a_status_and_reason(run: dict[str, Any]) -> None:
    records = run["records"]
    assert set(records) == {"default", *VARIANTS}
    allowed = {"reference", "engaged", "not_engaged", "not_available", "failed"}
    for name, r in records.items():
        assert r.extra["status"] in allowed, name
        assert r.extra.get("status_reason") or r.extra.get("reason"), name
    assert records["default"].extra["status"] == "reference"


def test_levers_that_cannot_install_are_not_available_with_the_reason(run: dict[str, Any]) -> None:
    records = run["records"]
    assert records["attention:_native_npu"].extra["status"] == "not_available"
    assert "NPU" in records["attention:_native_npu"].extra["reason"]
    if importlib.util.find_spec("flash_attn") is None:
        assert records["attention:flash"].extra["status"] == "not_available"
        assert "flash-attn" in records["attention:flash"].extra["reason"]
    if importlib.util.find_spec("torchao") is None:
        assert records["fp8:torchao_weight"].extra["status"] == "not_available"
        assert "torchao" in records["fp8:torchao_weight"].extra["reason"]
    assert "torch.compile" in records["attention:flex"].extra["reason"]
    assert records["attention:flash"].component == "not_measured"


def test_inert_levers_are_not_engaged_never_a_saving(run: dict[str, Any]) -> None:
    records = run["records"]
    fbc = records["cache:fbc"].extra  # default threshold: skipped nothing on this model
    assert fbc["status"] == "not_engaged"
    assert fbc["engagement"]["cache:fbc"]["activity"]["skipped_calls"] == 0
    assert fbc["deviation"]["bit_identical"]
    slicing = records["vae:slicing"].extra  # batch 1: slicing has nothing to split
    assert slicing["status"] == "not_engaged" and "batches larger than 1" in slicing["status_reason"]
    compiled = records["compile"].extra  # the eager backend runs the same kernels: bit-identical output
    assert compiled["engagement"]["compile"]["activity"]["compiled_regions"] == 2
    assert compiled["status"] == "not_engaged" and "bit-identical" in compiled["status_reason"]
    rows = optimization_rows(run["file"].records)
    for row in next(iter(rows.values())):
        if row.status != "engaged":
            assert row.saving is None and not row.is_saving, row.variant


def test_engaged_levers_count_what_they_skipped_or_replaced(run: dict[str, Any]) -> None:
    records = run["records"]
    pab = records["cache:pab"].extra
    assert pab["status"] == "engaged"
    assert pab["engagement"]["cache:pab"]["activity"]["skipped_by_module"]["blocks.attn1"] > 0
    assert records["steps:half"].extra["steps_run"] == 2
    math = records["attention:_native_math"].extra
    assert math["engagement"]["attention:_native_math"]["activity"]["dispatched_calls"] > 0
    assert records["default"].extra["probe"]["dispatch"] == {
        "native": pytest.approx(math["probe"]["dispatch"]["_native_math"])
    }
    assert records["fp8:layerwise"].extra["engagement"]["fp8:layerwise"]["activity"]["fp8_parameters"] > 0
    cfg = records["cfg_batch"].extra["engagement"]["cfg_batch"]["activity"]
    assert cfg["uncond_served"] == cfg["batched_forwards"] == 4 * 1  # one batch-2 forward per step (4 steps)
    combo = records["steps:half+cache:pab+cfg_batch"].extra
    assert set(combo["engagement"]) == {"steps:half", "cache:pab", "cfg_batch"}


def test_deviation_is_computed_for_every_measured_variant(run: dict[str, Any]) -> None:
    for name, r in run["records"].items():
        if r.component != "end_to_end" or name == "default":
            continue
        dev = r.extra["deviation"]
        assert {"frames_rel_l2", "latents_rel_l2", "bit_identical"} <= set(dev), name
        assert "random weights" in r.extra["weights_note"]
    assert run["records"]["steps:half"].extra["deviation"]["latents_rel_l2"] > 0


def test_fastercache_on_two_pass_cfg_is_not_available_and_the_suite_goes_on(run: dict[str, Any]) -> None:
    faster = run["records"]["cache:faster"]  # FasterCache needs batched CFG; Wan runs two passes
    assert faster.extra["status"] == "not_available" and faster.component == "not_measured"
    assert "two batch-1 forwards" in faster.extra["reason"]
    assert run["records"]["vae:slicing"].component == "end_to_end"


def test_records_keep_raw_rounds_and_provenance(run: dict[str, Any]) -> None:
    r = run["records"]["cache:pab"]
    assert len(r.rounds["latency_s"]) == 2
    assert r.settings["variant"] == "cache:pab" and r.settings["weights"] == "random"
    assert r.id.endswith("/cache:pab/end_to_end") and r.suite == "optimizations"
    assert run["file"].provenance["settings"]["command"] == "optimize"


def test_theory_check_prices_skips_and_steps(run: dict[str, Any]) -> None:
    records = run["records"]
    pab = predict(records["cache:pab"])
    steps = predict(records["steps:half"])
    assert pab is not None and 0.0 < pab.predicted_fraction < 0.5
    assert steps is not None and 0.0 < steps.predicted_fraction < 0.5
    assert predict(records["cfg_batch"]).predicted_fraction == pytest.approx(0.0)
    assert predict(records["compile"]) is None  # the FLOP model does not describe compilation


def test_report_section_and_pareto_chart(run: dict[str, Any], tmp_path: Path) -> None:
    from t2v_energy_lib.report.optimizations_section import write_optimizations_report

    path = write_optimizations_report(run["out"] / "optimizations.json", tmp_path)
    text = path.read_text()
    assert "Random weights" in text and "Not measured:" in text and "Not engaged" in text
    assert "| cache:pab | engaged |" in text
    assert list(tmp_path.glob("optimizations-*.png"))
    rows = next(iter(optimization_rows(run["file"].records).values()))
    assert pareto_front(rows)[0].variant == "default" or pareto_front(rows)


@pytest.fixture(scope="module")
def tiny_pipe() -> Any:
    from t2v_energy_lib.models import build_pipeline, get_spec

    torch.set_num_threads(1)
    pipe = build_pipeline(get_spec(WAN).tiny(), "cpu", "bfloat16", seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.mark.parametrize("lever", [lv.name for lv in catalogue(WAN + "-tiny")])
def test_every_catalogue_lever_applies_or_says_why_not(tiny_pipe: Any, lever: str) -> None:
    """Each lever of the catalogue on a fresh tiny denoiser: applied, or LeverUnavailable with a reason."""
    from t2v_energy_lib.bench.optimizations.levers import APPLIERS, ApplyContext, LeverUnavailable
    from t2v_energy_lib.models import get_spec
    from t2v_energy_lib.models.builder import build_component

    spec = get_spec(WAN).tiny()
    pipe = tiny_pipe
    pipe.transformer = build_component(spec, "transformer", "cpu", "bfloat16", 0)
    pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    lv = next(x for x in catalogue(WAN + "-tiny") if x.name == lever)
    d = spec.defaults

    def once() -> None:
        pipe("a dog", height=d.height, width=d.width, num_frames=d.num_frames, num_inference_steps=3)

    ctx = ApplyContext(pipe, spec.family, "cpu", 3, 3, d.guidance_scale, run_once=once)
    try:
        APPLIERS[lv.kind].apply(lv, ctx)
    except LeverUnavailable as exc:
        assert str(exc), lever
    finally:
        for undo in reversed(ctx.cleanup):
            undo()


def test_cli_optimize_on_the_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from t2v_energy_lib.cli import main

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "res"
    args = ["--variants", "cache:pab,attention:xformers", "--rounds", "1", "--no-best", "--no-profile"]
    code = main(["optimize", "--device", "cpu", *args, "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "CPU RUN" in text and "'engaged': 1" in text and "'not_available': 1" in text
    assert (out / "optimizations.json").is_file()
    assert list((tmp_path / "report").rglob("OPTIMIZATIONS.md"))
    assert main(["optimize", "--device", "cpu", "--target", "nope"]) == 2  # an InvalidSettingsError
    assert "unknown --target 'nope'" in capsys.readouterr().err


def target_prefix(target: Any) -> str:
    return (
        f"optimizations/{target.model_id}/{target.height}x{target.width}x{target.num_frames}-s{target.steps}"
    )


def test_compose_to_study_steps_never_for_caches(tmp_path: Path) -> None:
    """Huge settings: non-cache levers get a figure composed at the study's steps (flagged); caches do not."""
    import dataclasses

    target = dataclasses.replace(tiny_target(WAN, steps=4), study_steps=10)
    options = OptimizeOptions(
        out_dir=tmp_path,
        device="cpu",
        rounds=1,
        compose=True,
        best_combination=False,
        profile_attention=False,
    )
    run_optimizations(
        [target],
        options,
        ["cache:pab"],
        meter=EnergyMeter.for_device("cpu"),
        provenance=optimize_provenance(options, [target]),
        log=lambda line: None,
    )
    by_id = load_results(tmp_path / "optimizations.json").by_id()
    for variant in ("default",):  # composed, or said why not (CPU timing noise)
        measured = by_id[f"{target_prefix(target)}/{variant}/end_to_end"]
        composed = by_id.get(f"{target_prefix(target)}/{variant}/composed_s10")
        if composed is None:
            assert "noise" in measured.extra["not_composed"], variant
            continue
        assert composed.composed and composed.settings["num_inference_steps"] == 10
        assert "E(4)" in composed.extra["formula"] and composed.extra["parts"]["measured"] == measured.id
    pab = next(r for r in by_id.values() if r.id.endswith("/cache:pab/end_to_end"))
    assert "changes per-step work" in pab.extra["not_composed"]
    rows = next(iter(optimization_rows(by_id.values()).values()))
    assert all(r.saving is None for r in rows if r.composed)  # composed figures are never a measured saving


def test_local_weights_run_the_same_suite(tmp_path: Path) -> None:
    """``weights=<local dir>``: the pipeline and every fresh denoiser load from the checkpoint (a saved tiny
    CogVideoX; Wan's fp32-kept modules would need accelerate to load)."""
    from t2v_energy_lib.models import build_pipeline, get_spec

    torch.set_num_threads(1)
    build_pipeline(get_spec("cogvideox-2b").tiny(), "cpu", "bfloat16", seed=3).save_pretrained(
        tmp_path / "ckpt"
    )
    target = tiny_target("cogvideox-2b", steps=3)
    options = OptimizeOptions(
        out_dir=tmp_path / "res",
        device="cpu",
        rounds=1,
        weights=str(tmp_path / "ckpt"),
        best_combination=False,
        profile_attention=False,
    )
    run_optimizations(
        [target],
        options,
        ["cache:pab"],
        meter=EnergyMeter.for_device("cpu"),
        provenance=optimize_provenance(options, [target]),
        log=lambda line: None,
    )
    records = {
        r.extra["variant"]["name"]: r for r in load_results(tmp_path / "res" / "optimizations.json").records
    }
    assert records["default"].extra["status"] == "reference"
    assert records["cache:pab"].settings["weights"] == str(tmp_path / "ckpt")
    assert records["cache:pab"].extra["deviation"] is not None
    assert "loaded from" in records["cache:pab"].extra["weights_note"]
