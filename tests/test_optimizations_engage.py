"""Engagement of compilation and FasterCache on the tiny models (CPU, eager Dynamo backend): every compile
variant compiles and counts its own graphs even after another one in the same process; compilation beside a
cache hook whose forward Diffusers decorates ``@torch.compiler.disable`` compiles the block's own forward
inside the hook (graphs added, the hook still skips, output as without compilation), and a compiled block
that would run eagerly says why; FasterCache is not available on a two-pass CFG pipeline (Wan) with the real
cause, and applies and engages on CogVideoX (its documented model); TaylorSeer at its defaults hooks no Wan
module (its default patterns are matched with ``re.fullmatch`` and Wan names a block's attentions ``attn1``
and ``attn2``) and the record says why, while ``cache:taylorseer@attn``, naming them, predicts and engages;
its low-memory mode ``cache:taylorseer@lite`` engages too, and a TaylorSeer variant that runs out of memory is
``failed`` with the cause and that fix. Code paths, not measurements."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tiny_optimize import tiny_optimize  # noqa: E402  (tests/ is on sys.path)

from t2v_energy_lib.bench.optimizations import catalogue, tiny_target  # noqa: E402
from t2v_energy_lib.bench.optimizations.engagement import (  # noqa: E402
    HookActivity,
    compiled_regions,
    compiler_disabled_hooks,
    dynamo_graphs,
    inductor_cache_lookups,
    reset_dynamo,
)
from t2v_energy_lib.bench.optimizations.generation import Generator  # noqa: E402
from t2v_energy_lib.bench.optimizations.levers import (  # noqa: E402
    APPLIERS,
    ApplyContext,
    LeverUnavailable,
    Probe,
)
from t2v_energy_lib.bench.optimizations.variants import (  # noqa: E402
    TAYLORSEER_ATTENTION_PATTERN,
    Lever,
)
from t2v_energy_lib.results.storage import load_results  # noqa: E402

WAN = "wan2.1-t2v-1.3b"
COG = "cogvideox-2b"
STEPS = 4


def _run(out: Path, model: str, variants: tuple[str, ...]) -> dict[str, Any]:
    records = tiny_optimize(out, model, variants, steps=STEPS, profile_attention=False)
    return {name: r.extra for name, r in records.items()}


@pytest.fixture(scope="module")
def wan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    variants = ("compile", "steps:half+compile", "cache:mag", "cache:mag+compile", "cache:faster")
    return _run(tmp_path_factory.mktemp("wan"), WAN, variants)


@pytest.fixture(scope="module")
def cog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run(tmp_path_factory.mktemp("cog"), COG, ("compile", "steps:half+compile", "cache:faster"))


@pytest.mark.parametrize("model", ["wan", "cog"])
def test_every_compile_variant_compiles_and_counts_its_own_graphs(model: str, request: Any) -> None:
    """The second compile variant of a process used to reuse the first's graphs: 0 added, "not engaged"."""
    extra = request.getfixturevalue(model)
    for name in ("compile", "steps:half+compile"):
        verdict = extra[name]["engagement"]["compile"]
        assert verdict["engaged"], (name, verdict)
        assert verdict["activity"]["dynamo_graphs_added"] >= 1, name
        assert verdict["activity"]["compiled_regions"] >= 1, name
        assert "torch._dynamo.reset()" in extra[name]["notes"]["compile_cache"]
    assert extra["steps:half+compile"]["status"] == "engaged", extra["steps:half+compile"]["status_reason"]
    # the eager backend runs the same kernels: compilation alone is bit-identical, never a saving
    alone = extra["compile"]
    assert alone["status"] == "not_engaged" and "bit-identical" in alone["status_reason"]


def test_compile_beside_magcache_engages_inside_the_hook(wan: dict[str, Any]) -> None:
    combo, alone = wan["cache:mag+compile"], wan["cache:mag"]
    assert combo["status"] == "engaged", combo["status_reason"]
    assert combo["engagement"]["compile"]["activity"]["dynamo_graphs_added"] >= 1
    assert combo["engagement"]["cache:mag"]["activity"]["skipped_calls"] > 0
    assert "mag_cache" in combo["notes"]["compile_inside_hooks"]
    assert "torch.compiler.disable" in combo["notes"]["compile_inside_hooks"]
    # eager backend: the compiled block forward computes what the eager one does
    expected = alone["deviation"]["latents_rel_l2"]
    assert combo["deviation"]["latents_rel_l2"] == pytest.approx(expected, rel=1e-3)


def test_fastercache_on_a_two_pass_pipeline_is_not_available_with_the_cause(wan: dict[str, Any]) -> None:
    faster = wan["cache:faster"]
    assert faster["status"] == "not_available"
    assert "two batch-1 forwards" in faster["reason"] and "[uncond, cond]" in faster["reason"]
    assert "IndexError" in faster["reason"]  # names what the bare error was


def test_fastercache_engages_on_cogvideox(cog: dict[str, Any]) -> None:
    faster = cog["cache:faster"]
    assert faster["status"] == "engaged", faster.get("status_reason") or faster.get("reason")
    assert faster["engagement"]["cache:faster"]["activity"]["skipped_by_module"]["blocks.attn1"] > 0


@pytest.fixture(scope="module")
def taylorseer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # 4 steps: TaylorSeer computes steps 0-2 (its warm-up) and predicts step 3
    variants = ("cache:taylorseer", "cache:taylorseer@attn", "cache:taylorseer@lite")
    return _run(tmp_path_factory.mktemp("taylorseer"), WAN, variants)


def test_taylorseer_defaults_hook_nothing_on_wan_and_the_record_says_why(
    taylorseer: dict[str, Any],
) -> None:
    default = taylorseer["cache:taylorseer"]
    assert default["status"] == "not_engaged"
    assert default["notes"]["cache_hooked_modules"] == 0
    reason = default["status_reason"]
    assert "hooked no module of WanTransformer3DModel" in reason
    assert "re.fullmatch" in reason and "attn1" in reason and "cache:taylorseer@attn" in reason


def test_taylorseer_with_the_attention_modules_named_predicts_and_engages(
    taylorseer: dict[str, Any],
) -> None:
    named = taylorseer["cache:taylorseer@attn"]
    assert named["status"] == "engaged", named.get("status_reason")
    assert named["notes"]["cache_hooked_modules"] > 0
    skipped = named["engagement"]["cache:taylorseer@attn"]["activity"]["skipped_by_module"]
    assert skipped["blocks.attn1"] > 0 and skipped["blocks.attn2"] > 0
    assert named["deviation"]["latents_rel_l2"] > 0


def test_taylorseer_lite_skips_the_blocks_and_predicts_the_output_projection(
    taylorseer: dict[str, Any],
) -> None:
    """The documented low-memory mode: on a predicted step every block is skipped and only ``proj_out``'s
    output is predicted, so its Taylor state is one small tensor pair instead of one per attention module."""
    lite = taylorseer["cache:taylorseer@lite"]
    assert lite["status"] == "engaged", lite.get("status_reason")
    skipped = lite["engagement"]["cache:taylorseer@lite"]["activity"]["skipped_by_module"]
    assert skipped["blocks"] > 0 and skipped["proj_out"] > 0
    assert not any(name.startswith("blocks.attn") for name in skipped)
    assert lite["deviation"]["latents_rel_l2"] > 0


def test_taylorseer_out_of_memory_is_failed_with_the_cause_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Wan2.1-14B at 720x1280x81 TaylorSeer on every attention module ran an H200 out of memory: the
    record says where it stopped, why TaylorSeer needs the memory and which variant needs less."""
    real = APPLIERS["cache"]

    class OutOfMemoryAfterApply:
        def apply(self, lever: Lever, ctx: ApplyContext) -> None:
            real.apply(lever, ctx)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.44 GiB.")

    monkeypatch.setitem(APPLIERS, "cache", OutOfMemoryAfterApply())
    failed = _run(tmp_path, WAN, ("cache:taylorseer@attn",))["cache:taylorseer@attn"]
    assert failed["status"] == "failed" and failed["out_of_memory"]
    assert failed["failed_component"] == "setup"
    assert failed["reason"].startswith("OutOfMemoryError: CUDA out of memory")
    hooked = failed["notes"]["cache_hooked_modules"]
    assert f"each of the {hooked} hooked modules" in failed["reason"]
    assert "cache:taylorseer@lite" in failed["reason"]


@pytest.mark.parametrize(
    ("variant", "cause"),
    [
        ("cache:taylorseer", "TaylorSeer keeps"),
        ("cache:taylorseer@attn", "TaylorSeer keeps"),
        ("attention:_native_math", "materialises the attention scores"),
        ("steps:half+cache:taylorseer@attn", "TaylorSeer keeps"),
        ("cache:taylorseer@lite", None),  # its state is one small tensor pair: no known cause
        ("compile", None),
    ],
)
def test_an_out_of_memory_failure_names_the_lever_that_needs_the_memory(
    variant: str, cause: str | None
) -> None:
    from t2v_energy_lib.bench.optimizations.levers import out_of_memory_hint
    from t2v_energy_lib.bench.optimizations.variants import variants_from_names

    (named,) = variants_from_names([variant], catalogue(WAN + "-tiny"), include_default=False)
    ctx = ApplyContext(None, "wan", "cpu", STEPS, STEPS, 5.0)
    hint = out_of_memory_hint(named, ctx)
    assert (hint is None) if cause is None else (cause in (hint or ""))


@pytest.mark.parametrize(
    ("name", "hooked"),
    [
        ("blocks.0.attn1", True),  # Wan self-attention
        ("blocks.12.attn2", True),  # Wan cross-attention
        ("transformer_blocks.3.attn1", True),  # CogVideoX
        ("single_transformer_blocks.7.attn", True),  # Flux-style single blocks
        ("blocks.0.attn1.to_q", False),  # a projection inside the attention
        ("blocks.0.ffn", False),
    ],
)
def test_the_taylorseer_attention_pattern_names_attention_modules_only(name: str, hooked: bool) -> None:
    assert bool(re.fullmatch(TAYLORSEER_ATTENTION_PATTERN, name)) is hooked


def _tiny_wan() -> tuple[Any, Generator]:
    from t2v_energy_lib.models import GenerationSettings, build_pipeline, get_spec

    torch.set_num_threads(1)
    spec = get_spec(WAN).tiny()
    pipe = build_pipeline(spec, "cpu", "bfloat16", seed=0)
    target = tiny_target(WAN, steps=STEPS)
    t = target
    settings = GenerationSettings(t.height, t.width, t.num_frames, STEPS, t.guidance_scale)
    return pipe, Generator(pipe, settings, "a dog", 0)


def _magcache(pipe: Any, gen: Generator) -> ApplyContext:
    """A fresh tiny Wan denoiser with MagCache (calibrated on its own run)."""
    from t2v_energy_lib.models import get_spec
    from t2v_energy_lib.models.builder import build_component

    spec = get_spec(WAN).tiny()
    pipe.transformer = build_component(spec, "transformer", "cpu", "bfloat16", 0)
    pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    ctx = ApplyContext(pipe, "wan", "cpu", STEPS, STEPS, gen.settings.guidance_scale)
    ctx.run_once = lambda: gen(STEPS, keep=False)
    mag = next(lv for lv in catalogue(WAN + "-tiny") if lv.name == "cache:mag")
    APPLIERS["cache"].apply(mag, ctx)
    return ctx


def test_compiled_forward_runs_exactly_when_the_hook_computes() -> None:
    """The hook decides (eagerly) to skip or compute; each computed block call runs the compiled graph."""
    pipe, gen = _tiny_wan()
    _magcache(pipe, gen)  # the un-compiled cache variant
    expected = gen(STEPS).latents

    ctx = _magcache(pipe, gen)
    ran = {"graphs": 0}

    def counting_backend(gm: Any, inputs: Any) -> Any:
        def call(*args: Any) -> Any:
            ran["graphs"] += 1
            return gm.forward(*args)

        return call

    reset_dynamo()
    graphs0 = dynamo_graphs()
    APPLIERS["compile"].apply(Lever.make("compile", "compile", backend=counting_backend), ctx)
    assert compiled_regions(pipe.transformer) == len(pipe.transformer.blocks)
    assert "compile_inside_hooks" in ctx.notes
    with HookActivity(pipe.transformer) as hooks:
        out = gen(STEPS)
    summary = hooks.summary()
    computed = summary["hooked_calls"] - summary["skipped_calls"]
    assert dynamo_graphs() > graphs0
    assert summary["skipped_calls"] > 0 and computed > 0
    assert ran["graphs"] >= computed  # every computed block call went through compiled code
    np.testing.assert_allclose(out.latents, expected, rtol=0, atol=1e-6)


def test_compiled_block_that_runs_eagerly_says_which_hook_disables_it() -> None:
    """The old way (``nn.Module.compile`` of each hooked block): no graph compiled; the verdict says why."""
    pipe, gen = _tiny_wan()
    ctx = _magcache(pipe, gen)
    reset_dynamo()
    graphs0 = dynamo_graphs()
    for block in pipe.transformer.blocks:
        block.compile(backend="eager")
    gen(2, "latent", keep=False)
    disabled = compiler_disabled_hooks(pipe.transformer, compiled_only=True)
    assert sum(disabled.values()) == len(pipe.transformer.blocks)
    assert all(name.startswith("mag_cache") for name in disabled)
    probe = Probe(
        compiled_regions=compiled_regions(pipe.transformer),
        dynamo_graphs_added=dynamo_graphs() - graphs0,
        compiler_disabled_hooks=disabled,
    )
    assert probe.dynamo_graphs_added == 0  # the cause, on the installed Diffusers
    verdict = APPLIERS["compile"].verdict(Lever.make("compile", "compile"), ctx, probe)
    assert not verdict.engaged
    assert "@torch.compiler.disable" in verdict.reason and "mag_cache_block_hook" in verdict.reason


def test_fastercache_on_wan_fails_as_the_recorded_reason_says() -> None:
    """If a later Diffusers runs FasterCache on two-pass CFG, this fails: lift the availability rule."""
    pipe, gen = _tiny_wan()
    faster = next(lv for lv in catalogue(WAN + "-tiny") if lv.name == "cache:faster")
    ctx = ApplyContext(pipe, "wan", "cpu", STEPS, STEPS, gen.settings.guidance_scale, cfg_mode="two_pass")
    with pytest.raises(LeverUnavailable, match="two batch-1 forwards"):
        APPLIERS["cache"].apply(faster, ctx)
    ctx.cfg_mode = ""  # unknown: applied as before, and the pipeline fails as the reason says
    APPLIERS["cache"].apply(faster, ctx)
    with pytest.raises(IndexError, match="tuple index out of range"):
        gen(2, "latent", keep=False)


def test_a_lever_that_fails_while_running_is_failed_and_the_suite_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def apply(self, lever: Lever, ctx: ApplyContext) -> None:
            raise RuntimeError("broken applier")

    monkeypatch.setitem(APPLIERS, "vae", Broken())
    extra = _run(tmp_path, WAN, ("vae:tiling", "steps:half"))
    assert extra["vae:tiling"]["status"] == "failed"
    assert extra["vae:tiling"]["reason"] == "RuntimeError: broken applier"
    assert extra["steps:half"]["status"] == "engaged"  # measured after the failure


def test_every_compile_variant_records_its_inductor_cache_lookups(wan: dict[str, Any]) -> None:
    """The eager backend never asks Inductor's cache: zero lookups, recorded as zero (not left out)."""
    for name in ("compile", "steps:half+compile", "cache:mag+compile"):
        lookups = wan[name]["engagement"]["compile"]["activity"]["inductor_fxgraph_cache"]
        assert lookups == {"hits": 0, "misses": 0}, name
    assert "inductor_fxgraph_cache" not in wan["cache:mag"]["engagement"]["cache:mag"]["activity"]


def test_inductor_cache_lookups_count_what_happened_since(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch._dynamo.utils import counters

    before = inductor_cache_lookups()
    monkeypatch.setitem(counters["inductor"], "fxgraph_cache_hit", before["hits"] + 3)
    monkeypatch.setitem(counters["inductor"], "fxgraph_cache_miss", before["misses"] + 1)
    after = inductor_cache_lookups()
    assert {k: after[k] - before[k] for k in after} == {"hits": 3, "misses": 1}


def test_the_report_says_which_compilation_a_warm_cache_served(tmp_path: Path) -> None:
    """A one-time cost measured with Inductor's cache warm must not read as a fresh machine's compile."""
    from t2v_energy_lib.report.optimizations_section import optimizations_section

    source = Path(__file__).resolve().parents[1] / "baselines" / "nvidia-h200" / "optimizations-5" / "0.42.1"
    rf = load_results(source / "optimizations.json")
    assert "served by Inductor" not in optimizations_section(rf, tmp_path)  # recorded before the counts
    records = []
    for r in rf.records:
        if (
            r.extra.get("variant", {}).get("name") == "steps:half+cache:mag+compile"
            and "engagement" in r.extra
        ):
            compiled = r.extra["engagement"]["compile"]
            activity = {**compiled["activity"], "inductor_fxgraph_cache": {"hits": 2, "misses": 0}}
            engagement = {**r.extra["engagement"], "compile": {**compiled, "activity": activity}}
            r = dataclasses.replace(r, extra={**r.extra, "engagement": engagement})
        records.append(r)
    text = optimizations_section(dataclasses.replace(rf, records=tuple(records)), tmp_path)
    assert "served by Inductor's on-disk FX-graph cache" in text
    assert "`steps:half+cache:mag+compile` (2 hits, 0 misses)" in text
