"""How each lever kind is applied to a built pipeline, and how its engagement is judged from the probe.

One small class per lever kind (:data:`APPLIERS`): ``apply(lever, ctx)`` changes the pipeline (raising
:class:`LeverUnavailable` with the reason when the lever cannot be installed or configured here), and
``verdict(lever, ctx, probe)`` turns the probe's counters into a :class:`~.engagement.Verdict`.
An activity count of zero is never engaged; the runner adds the bit-identical-output rule on top.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from t2v_energy_lib.bench.optimizations.cfg_batch import CfgBatcher
from t2v_energy_lib.bench.optimizations.engagement import (
    Verdict,
    compiler_disabled_hooks,
    fp8_parameters,
    innermost_forward,
)
from t2v_energy_lib.bench.optimizations.variants import OTHER_ACCELERATOR_BACKENDS, Lever
from t2v_energy_lib.errors import OptimizationError


class LeverUnavailable(OptimizationError):
    """The lever cannot be installed or applied on this machine (the message is the recorded reason)."""


@dataclass
class ApplyContext:
    """What a lever may change, and what it leaves for the verdict.

    Attributes:
        pipe: The pipeline (its transformer is fresh for every variant).
        family: Model family.
        device: ``"cuda"`` or ``"cpu"``.
        steps: Denoising steps each generation will run (the steps lever lowers it).
        default_steps: Steps of the default pipeline.
        guidance_scale: CFG scale.
        run_once: Runs one complete generation at the current settings (MagCache calibration).
        compiled: The variant also compiles the denoiser's blocks.
        applied: Levers applied so far (0: the denoiser is untouched).
        cfg_batcher: The installed CFG batcher, if any.
        default_attention_kernels: Attention kernels/ops in the default pipeline's profile (None: unknown).
        cleanup: Undo functions for changes to shared components (the VAE), run after the variant.
        notes: Per-lever facts found while applying (JSON-ready), stored with the record.
        cfg_mode: How the pipeline runs CFG (the model spec's ``two_pass``, ``batch2`` or ``none``; empty:
            unknown).
        attention_tokens: Sequence length of the denoiser's self-attention at the run's size (None: unknown).
    """

    pipe: Any
    family: str
    device: str
    steps: int
    default_steps: int
    guidance_scale: float
    run_once: Callable[[], Any] = lambda: None
    compiled: bool = False
    applied: int = 0
    cfg_batcher: CfgBatcher | None = None
    default_attention_kernels: list[str] | None = None
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    cfg_mode: str = ""
    attention_tokens: int | None = None


@dataclass
class Probe:
    """Counters of the probe generation (the first measured round of a variant).

    Attributes:
        hooks: :meth:`HookActivity.summary` of the transformer's hooks.
        dispatch: Attention dispatcher calls per backend.
        vae: VAE method calls.
        steps_run: Denoising steps the generation ran (step callbacks).
        compiled_regions: Modules with a compiled call.
        dynamo_graphs_added: Graphs Dynamo compiled while the variant was applied and warmed up (after
            ``torch._dynamo.reset()``: graphs of earlier variants are never reused).
        compiler_disabled_hooks: Per hook name, compiled blocks whose forward is a compiler-disabled hook.
        inductor_cache: Inductor FX-graph cache lookups during the setup (``{"hits", "misses"}``): hits were
            served from the on-disk cache an earlier compile on this machine filled, so the setup cost is
            lower than a fresh machine's first compile.
        attention_kernels: Attention-category kernel/op names of a profiled one-step call (text encoder and
            denoiser, no decode), or None when not profiled.
    """

    hooks: dict[str, Any] = field(default_factory=dict)
    dispatch: dict[str, int] = field(default_factory=dict)
    vae: dict[str, int] = field(default_factory=dict)
    steps_run: int = 0
    compiled_regions: int = 0
    dynamo_graphs_added: int = 0
    compiler_disabled_hooks: dict[str, int] = field(default_factory=dict)
    inductor_cache: dict[str, int] = field(default_factory=dict)
    attention_kernels: list[str] | None = None


def _engaged(lever: Lever, count: float, activity: dict[str, Any], yes: str, no: str) -> Verdict:
    return Verdict(lever.name, count > 0, activity, yes if count > 0 else no)


def repeated_blocks(module: Any) -> list[Any]:
    """The modules of ``module``'s longest ``nn.ModuleList`` of one class (at least 2), else []."""
    import torch

    best: list[Any] = []
    for child in module.modules():
        if isinstance(child, torch.nn.ModuleList) and len(child) >= 2:
            items = list(child)
            if len({type(m) for m in items}) == 1 and len(items) > len(best):
                best = items
    return best


class CompileApplier:
    """Regional compilation: ``transformer.compile_repeated_blocks(**settings)`` (or each block of the longest
    block list where the model declares no ``_repeated_blocks``). A block whose cache hook's forward is
    ``@torch.compiler.disable`` (see :func:`.engagement.compiler_disabled_hooks`) would run eagerly inside
    its compiled call: there the block's own forward, which the hook calls when it computes, is compiled."""

    def apply(self, lever: Lever, ctx: ApplyContext) -> None:
        transformer = ctx.pipe.transformer
        settings = dict(lever.settings)
        declared = getattr(transformer, "_repeated_blocks", None)
        if declared:
            blocks = [m for m in transformer.modules() if type(m).__name__ in declared]
        else:  # e.g. CogVideoX in Diffusers 0.42.1 declares none: compile its repeated blocks the same way
            blocks = repeated_blocks(transformer)
        if not blocks:
            raise LeverUnavailable(
                f"{type(transformer).__name__} declares no _repeated_blocks and has no block list"
            )
        hooked = [b for b in blocks if compiler_disabled_hooks(b, recurse=False)]
        if declared and not hooked:
            transformer.compile_repeated_blocks(**settings)
            return
        for block in blocks:
            if block in hooked:
                compile_inside_hooks(block, settings)
            else:
                block.compile(**settings)
        kind = type(blocks[0]).__name__
        if not declared:
            ctx.notes["compile_regions"] = (
                f"{type(transformer).__name__} declares no _repeated_blocks: each of its {len(blocks)} "
                f"{kind} blocks compiled by nn.Module.compile (as compile_repeated_blocks)"
            )
        if hooked:
            names = ", ".join(sorted({n for b in hooked for n in compiler_disabled_hooks(b, recurse=False)}))
            ctx.notes["compile_inside_hooks"] = (
                f"{len(hooked)} of {len(blocks)} {kind} blocks carry the hook(s) {names}, whose "
                "new_forward diffusers decorates @torch.compiler.disable (a compiled block call would run "
                "eagerly): their own forward, which the hook calls when it computes, compiled by "
                "torch.compile instead"
            )

    def verdict(self, lever: Lever, ctx: ApplyContext, probe: Probe) -> Verdict:
        activity: dict[str, Any] = {
            "compiled_regions": probe.compiled_regions,
            "dynamo_graphs_added": probe.dynamo_graphs_added,
        }
        if probe.inductor_cache:
            activity["inductor_fxgraph_cache"] = dict(probe.inductor_cache)
        no = "no compiled region ran (no Dynamo graph compiled)"
        if probe.compiler_disabled_hooks:
            activity["compiler_disabled_hooks"] = probe.compiler_disabled_hooks
            hooks = ", ".join(f"{k} on {v} blocks" for k, v in sorted(probe.compiler_disabled_hooks.items()))
            no = (
                "no compiled region ran: each compiled block's forward is a cache hook's new_forward "
                f"({hooks}) that diffusers decorates @torch.compiler.disable, so everything inside runs "
                "eagerly and Dynamo compiled no graph"
            )
        count = min(probe.compiled_regions, probe.dynamo_graphs_added)
        return _engaged(
            lever,
            count,
            activity,
            f"{probe.compiled_regions} blocks compiled, {probe.dynamo_graphs_added} graphs",
            no,
        )


def compile_inside_hooks(block: Any, settings: dict[str, Any]) -> None:
    """``torch.compile`` the forward that ``block``'s first Diffusers hook wraps (the block's own forward)."""
    import torch

    inner = innermost_forward(block)
    if inner is None:
        raise LeverUnavailable(f"{type(block).__name__} has no Diffusers hook to compile inside")
    fn_ref, attr = inner
    setattr(fn_ref, attr, torch.compile(getattr(fn_ref, attr), **settings))


class AttentionApplier:
    """An attention backend of the Diffusers dispatcher: ``transformer.set_attention_backend(name)``."""

    def unavailable_reason(self, lever: Lever, ctx: ApplyContext) -> str | None:
        """Why the backend cannot run here (another accelerator, eager flex, a package not installed), from
        the dispatcher's own requirement check; None when it may run. Changes nothing."""
        backend = str(lever.setting("backend"))
        if backend in OTHER_ACCELERATOR_BACKENDS:
            return f"{backend} runs only on {'NPU' if 'npu' in backend else 'XLA'} devices"
        if backend == "flex" and not ctx.compiled:
            return (
                "flex needs torch.compile: eager flex_attention materialises the l x l scores (hours, tens "
                "of GB at 480p); measure it as compile+attention:flex"
            )
        try:
            from diffusers.models.attention_dispatch import (
                AttentionBackendName,
                _check_attention_backend_requirements,
            )
        except ImportError:  # another Diffusers: apply() says it
            return None
        try:
            _check_attention_backend_requirements(AttentionBackendName(backend))
        except (RuntimeError, ImportError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if backend == "flex":  # its kernels exist only compiled; the compiled variant shows whether they run
            return None
        if backend == "_native_math":
            reason = scores_exceed_memory(ctx)
            if reason is not None:
                return reason
        return attention_kernel_failure(backend, ctx)

    def apply(self, lever: Lever, ctx: ApplyContext) -> None:
        backend = str(lever.setting("backend"))
        reason = self.unavailable_reason(lever, ctx)
        if reason is not None:
            raise LeverUnavailable(reason)
        from diffusers.models.attention_dispatch import _AttentionBackendRegistry as registry

        previous = registry._active_backend
        # set_attention_backend also sets the dispatcher's process-wide active backend, which every model
        # built later (processor backend None) would use: restore it after the variant.
        ctx.cleanup.append(lambda: registry.set_active_backend(previous))
        try:
            ctx.pipe.transformer.set_attention_backend(backend)
        except (RuntimeError, ImportError, ValueError, ModuleNotFoundError) as exc:
            raise LeverUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def verdict(self, lever: Lever, ctx: ApplyContext, probe: Probe) -> Verdict:
        backend = str(lever.setting("backend"))
        calls = probe.dispatch.get(backend, 0)
        activity: dict[str, Any] = {"dispatched_calls": calls, "dispatch": probe.dispatch}
        kernels, default = probe.attention_kernels, ctx.default_attention_kernels
        if kernels is not None:
            activity["attention_kernels"] = kernels
        if kernels is not None and default is not None:  # evidence; the verdict rests on dispatch + output
            activity["new_attention_kernels"] = sorted(set(kernels) - set(default))
        return _engaged(
            lever,
            calls,
            activity,
            f"{calls} attention calls dispatched to {backend}",
            f"no attention call went to {backend} (dispatcher calls: {probe.dispatch})",
        )


#: Shape of the availability check's attention call: (batch, sequence, heads, head dim).
SMOKE_ATTENTION_SHAPE = (1, 64, 2, 64)


def attention_kernel_failure(backend: str, ctx: ApplyContext) -> str | None:
    """Why ``backend``'s kernels cannot run here, from one tiny attention call through the dispatcher (None
    when it ran).

    The dispatcher's requirement check only sees that a package imports. On the H200 xformers 0.0.35 imported
    and passed it, but its extensions were built for another torch and CUDA, so the first attention call of
    the video failed (``No operator found for memory_efficient_attention_forward``); a 64-token call finds
    that before any measurement. Any exception counts: the backend is then not available here.
    """
    import torch
    from diffusers.models.attention_dispatch import AttentionBackendName, dispatch_attention_fn

    transformer = getattr(ctx.pipe, "transformer", None)
    dtype = getattr(transformer, "dtype", None) or torch.bfloat16
    q, k, v = (torch.randn(SMOKE_ATTENTION_SHAPE, device=ctx.device, dtype=dtype) for _ in range(3))
    try:
        dispatch_attention_fn(q, k, v, backend=AttentionBackendName(backend))
    except Exception as exc:  # whatever stops the backend's kernels is the recorded reason
        message = " ".join(str(exc).split())  # xformers lists every operator it tried, and why not
        message = message if len(message) <= 500 else message[:499] + "…"
        tokens = SMOKE_ATTENTION_SHAPE[1]
        return (
            f"its package imports but a {tokens}-token {dtype} attention call on {ctx.device} "
            f"failed ({type(exc).__name__}: {message}); install a build made for torch "
            f"{torch.__version__} (CUDA {torch.version.cuda})"
        )
    return None


def _cache_config(lever: Lever, ctx: ApplyContext) -> Any:
    import diffusers
    from diffusers import hooks

    s = dict(lever.settings)
    timestep = lambda: ctx.pipe.current_timestep  # noqa: E731 (the documented callback)
    name = lever.name.split("@")[0]
    if name == "cache:fbc":
        return diffusers.FirstBlockCacheConfig(threshold=float(s["threshold"]))
    if name == "cache:pab":
        return diffusers.PyramidAttentionBroadcastConfig(
            spatial_attention_block_skip_range=int(s["spatial_attention_block_skip_range"]),
            spatial_attention_timestep_skip_range=tuple(s["spatial_attention_timestep_skip_range"]),
            current_timestep_callback=timestep,
        )
    if name == "cache:faster":
        weight = float(s["attention_weight"])
        return diffusers.FasterCacheConfig(
            spatial_attention_block_skip_range=int(s["spatial_attention_block_skip_range"]),
            spatial_attention_timestep_skip_range=tuple(s["spatial_attention_timestep_skip_range"]),
            current_timestep_callback=timestep,
            attention_weight_callback=lambda _: weight,
            unconditional_batch_skip_range=int(s["unconditional_batch_skip_range"]),
            unconditional_batch_timestep_skip_range=tuple(s["unconditional_batch_timestep_skip_range"]),
            tensor_format=str(s["tensor_format"]),
        )
    if name == "cache:taylorseer":
        if s.get("use_lite_mode"):
            return diffusers.TaylorSeerCacheConfig(use_lite_mode=True)
        if "cache_identifiers" in s:
            return diffusers.TaylorSeerCacheConfig(cache_identifiers=list(s["cache_identifiers"]))
        return diffusers.TaylorSeerCacheConfig()
    if name == "cache:sea":
        return hooks.SeaCacheConfig()
    if name == "cache:mag":
        return diffusers.MagCacheConfig(
            threshold=float(s["threshold"]),
            max_skip_steps=int(s["max_skip_steps"]),
            retention_ratio=float(s["retention_ratio"]),
            num_inference_steps=ctx.steps,
            mag_ratios=_calibrate_mag_ratios(ctx),
        )
    raise LeverUnavailable(f"no cache configuration for {lever.name}")


def _calibrate_mag_ratios(ctx: ApplyContext) -> list[float]:
    """MagCache's documented calibration: a ``calibrate=True`` generation, ratios read from its print."""
    import diffusers

    transformer = ctx.pipe.transformer
    transformer.enable_cache(diffusers.MagCacheConfig(calibrate=True, num_inference_steps=ctx.steps))
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            ctx.run_once()
    finally:
        transformer.disable_cache()
    lines = buffer.getvalue().splitlines()
    for i, line in enumerate(lines):
        if "Calibration Complete" in line:
            for candidate in lines[i + 1 :]:
                if candidate.strip().startswith("["):
                    ratios = [float(v) for v in ast.literal_eval(candidate.strip())]
                    ctx.notes["mag_ratios_calibrated"] = ratios
                    return ratios
    raise LeverUnavailable("MagCache calibration printed no ratios (the calibration run did not complete)")


def faster_cache_unavailable(ctx: ApplyContext) -> str | None:
    """Why FasterCache cannot run on this pipeline's CFG execution; None when it may (or it is unknown).

    FasterCache (diffusers 0.42.1 ``hooks/faster_cache.py``, documented on CogVideoX) needs the pipeline to
    run CFG as one batch ``[uncond, cond]``: its denoiser hook keeps the conditional half of each batched
    input (``chunk(2)[1]``) and its block hooks cache the conditional half of each attention output.
    """
    if ctx.cfg_mode == "batch2" and ctx.guidance_scale > 1:
        return None
    if ctx.cfg_mode == "two_pass":
        return (
            "FasterCache needs CFG run as one batch [uncond, cond] (diffusers 0.42.1 hooks/faster_cache.py; "
            "documented on CogVideoX, whose pipeline batches CFG): this pipeline runs the conditional and "
            "unconditional passes as two batch-1 forwards, so FasterCacheBlockHook's chunk(2, dim=0)[1] of "
            "a batch-1 attention output raises IndexError: tuple index out of range on the first step "
            "(and the cfg_batch lever batches [cond, uncond], the reverse order, so it cannot be combined)"
        )
    if ctx.cfg_mode == "none" or (ctx.cfg_mode == "batch2" and ctx.guidance_scale <= 1):
        return (
            "FasterCache needs CFG run as one batch [uncond, cond] (diffusers 0.42.1 hooks/faster_cache.py): "
            "this pipeline runs no unconditional pass here (guidance-distilled or guidance_scale <= 1)"
        )
    return None


class CacheApplier:
    """A cache hook: ``transformer.enable_cache(<Config>)`` at its documented settings."""

    def unavailable_reason(self, lever: Lever, ctx: ApplyContext) -> str | None:
        """Why the hook cannot run on this pipeline (FasterCache without batched CFG); None when it may."""
        if lever.name.split("@")[0] == "cache:faster":
            return faster_cache_unavailable(ctx)
        return None

    def apply(self, lever: Lever, ctx: ApplyContext) -> None:
        reason = self.unavailable_reason(lever, ctx)
        if reason is not None:
            raise LeverUnavailable(reason)
        transformer = ctx.pipe.transformer
        if not hasattr(transformer, "enable_cache"):
            raise LeverUnavailable(f"{type(transformer).__name__} has no enable_cache (not a CacheMixin)")
        config = _cache_config(lever, ctx)
        transformer.enable_cache(config)
        ctx.notes["cache_hooked_modules"] = len(forward_hooked_modules(transformer))

    def verdict(self, lever: Lever, ctx: ApplyContext, probe: Probe) -> Verdict:
        skipped = int(probe.hooks.get("skipped_calls", 0))
        activity = {k: probe.hooks.get(k) for k in ("hooked_calls", "skipped_calls", "skipped_by_module")}
        no = f"the hooks ran {probe.hooks.get('hooked_calls', 0)} times and skipped nothing"
        if ctx.notes.get("cache_hooked_modules") == 0:
            no = no_module_hooked_reason(lever, ctx.pipe.transformer)
        return _engaged(
            lever,
            skipped,
            activity,
            f"skipped {skipped} of {probe.hooks.get('hooked_calls', 0)} hooked module calls",
            no,
        )


def forward_hooked_modules(root: Any) -> list[str]:
    """Names of the modules under ``root`` whose forward a Diffusers hook replaced (caches; not casting)."""
    names = []
    for path, module in root.named_modules():
        registry = getattr(module, "_diffusers_hook", None)
        if registry is not None and any(ref.original_forward is not None for ref in registry._fn_refs):
            names.append(path)
    return names


def no_module_hooked_reason(lever: Lever, transformer: Any) -> str:
    """Why a cache hooked nothing: its module patterns match none of the denoiser's module names."""
    reason = f"the cache hooked no module of {type(transformer).__name__}, so nothing could be skipped"
    if lever.name == "cache:taylorseer":
        from diffusers.hooks import taylorseer_cache

        # private in Diffusers 0.42.1: named when present, so a later release that renames it still reports
        patterns = list(getattr(taylorseer_cache, "_TRANSFORMER_BLOCK_IDENTIFIERS", ())) or "(its defaults)"
        attention = [n for n, _ in transformer.named_modules() if n.rsplit(".", 1)[-1].startswith("attn")]
        reason += (
            f": TaylorSeerCacheConfig()'s default cache_identifiers {patterns} are matched with re.fullmatch "
            f"(diffusers hooks/taylorseer_cache.py), and this model's attention modules are named like "
            f"{attention[:2]}; the fix is cache_identifiers naming them (measured as cache:taylorseer@attn)"
        )
    return reason


def scores_exceed_memory(ctx: ApplyContext) -> str | None:
    """Why the math backend cannot run at this size: one self-attention call's scores (heads x tokens^2,
    in bf16 at least, per batch item) would need more memory than the GPU has. None when they fit or the size,
    heads or GPU memory is unknown (then a run shows it).

    The math path materialises the scores where the other backends work in tiles: on the H200 eager flex,
    which does the same in float32, asked for heads x tokens^2 x 4 bytes (47.98 GiB for Wan2.1-1.3B at 480p)
    in its first call and failed out of memory.
    """
    if ctx.attention_tokens is None or not ctx.device.startswith("cuda") or ctx.pipe is None:
        return None
    heads = getattr(getattr(ctx.pipe.transformer, "config", None), "num_attention_heads", None)
    if not heads:
        return None
    import torch

    total = torch.cuda.get_device_properties(torch.device(ctx.device)).total_memory
    need = int(heads) * ctx.attention_tokens**2 * 2
    if need <= total:
        return None
    return (
        f"the math backend materialises the attention scores: one self-attention call at this size needs at "
        f"least {need / 1e9:.0f} GB ({heads} heads x {ctx.attention_tokens:,} tokens^2 x 2 bytes) where this "
        f"GPU has {total / 1e9:.0f} GB: it cannot run at this size (predicted from the shape, not run)"
    )


def out_of_memory_hint(variant: Any, ctx: ApplyContext) -> str | None:
    """What to change when ``variant`` ran out of memory because of a lever's state (None: no lever known)."""
    names = {lever.name for lever in variant.levers}
    if names & {"cache:taylorseer", "cache:taylorseer@attn"}:
        hooked = ctx.notes.get("cache_hooked_modules")
        modules = "each hooked module" if hooked is None else f"each of the {hooked} hooked modules"
        return (
            f"; TaylorSeer keeps max_order + 1 = 2 tensors shaped like the output of {modules}, "
            "for each CFG branch (Diffusers 0.42.1 TaylorSeerState.taylor_factors), beside "
            "the model: hook fewer modules, or use cache:taylorseer@lite (blocks skipped on predicted steps, "
            "only proj_out's output kept)"
        )
    if "attention:_native_math" in names:
        return (
            "; the math backend (torch SDPA's reference path) materialises the attention scores, heads x "
            "tokens^2 values per call, where the other backends compute attention in tiles: at this shape it "
            "needs more memory than the GPU has, so it cannot run here"
        )
    return None


class Fp8Applier:
    """fp8 weights: layerwise casting (storage only), or torchao float8 (weights, or weights+activations)."""

    def unavailable_reason(self, lever: Lever, ctx: ApplyContext) -> str | None:
        """Why the lever cannot run here (torchao not installed); None when it may. Changes nothing."""
        if lever.name != "fp8:layerwise" and importlib.util.find_spec("torchao") is None:
            return "torchao is not installed here (pip install torchao): fp8 not available"
        return None

    def apply(self, lever: Lever, ctx: ApplyContext) -> None:
        import torch

        transformer = ctx.pipe.transformer
        if lever.name == "fp8:layerwise":
            storage = getattr(torch, str(lever.setting("storage_dtype")))
            transformer.enable_layerwise_casting(storage_dtype=storage, compute_dtype=transformer.dtype)
            return
        reason = self.unavailable_reason(lever, ctx)
        if reason is not None:
            raise LeverUnavailable(reason)
        from torchao import quantization as q  # pragma: no cover (not installed on the CPU runner)

        config = (
            q.Float8WeightOnlyConfig()
            if lever.setting("config") == "weight"
            else q.Float8DynamicActivationFloat8WeightConfig()
        )
        try:
            q.quantize_(transformer, config)
        except Exception as exc:  # pragma: no cover (needs a GPU with fp8 support)
            raise LeverUnavailable(f"torchao float8 failed to apply: {type(exc).__name__}: {exc}") from exc

    def verdict(self, lever: Lever, ctx: ApplyContext, probe: Probe) -> Verdict:
        n = fp8_parameters(ctx.pipe.transformer)
        return _engaged(
            lever, n, {"fp8_parameters": n}, f"{n} parameters stored in fp8", "no parameter is stored in fp8"
        )


class CfgBatchApplier:
    """CFG as one batch-2 forward per step (see :mod:`.cfg_batch`)."""

    def unavailable_reason(self, lever: Lever, ctx: ApplyContext) -> str | None:
        """Why CFG batching cannot apply (no unconditional pass); None when it may. Changes nothing."""
        return (
            "guidance_scale <= 1: the pipeline runs no unconditional pass"
            if ctx.guidance_scale <= 1
            else None
        )

    def apply(self, lever: Lever, ctx: ApplyContext) -> None:
        reason = self.unavailable_reason(lever, ctx)
        if reason is not None:
            raise LeverUnavailable(reason)
        ctx.cfg_batcher = CfgBatcher(ctx.pipe).__enter__()
        ctx.cleanup.append(lambda: ctx.cfg_batcher.__exit__(None, None, None) if ctx.cfg_batcher else None)

    def verdict(self, lever: Lever, ctx: ApplyContext, probe: Probe) -> Verdict:
        activity = ctx.notes.get("cfg_batch_activity") or (
            ctx.cfg_batcher.activity() if ctx.cfg_batcher else {}
        )
        served = int(activity.get("uncond_served", 0))
        return _engaged(
            lever,
            served,
            activity,
            f"{served} unconditional passes served from batch-2 forwards",
            f"no unconditional pass was batched (counts {activity})",
        )


class StepsApplier:
    """Fewer steps with the model's own multistep solver (Wan: UniPC; CogVideoX: its DPM solver)."""

    def apply(self, lever: Lever, ctx: ApplyContext) -> None:
        ctx.steps = max(1, round(ctx.default_steps * float(lever.setting("fraction", 0.5))))
        ctx.notes["scheduler"] = type(ctx.pipe.scheduler).__name__

    def verdict(self, lever: Lever, ctx: ApplyContext, probe: Probe) -> Verdict:
        removed = ctx.default_steps - probe.steps_run
        return _engaged(
            lever,
            removed,
            {"steps_run": probe.steps_run, "default_steps": ctx.default_steps},
            f"{probe.steps_run} of {ctx.default_steps} steps run",
            f"ran {probe.steps_run} steps, as many as the default",
        )


class VaeApplier:
    """VAE tiling or slicing (undone after the variant: the VAE is shared)."""

    def apply(self, lever: Lever, ctx: ApplyContext) -> None:
        vae = ctx.pipe.vae
        mode = lever.setting("mode")
        enable, disable = f"enable_{mode}", f"disable_{mode}"
        if not hasattr(vae, enable):
            raise LeverUnavailable(f"{type(vae).__name__} has no {enable}()")
        getattr(vae, enable)()
        ctx.cleanup.append(getattr(vae, disable))

    def verdict(self, lever: Lever, ctx: ApplyContext, probe: Probe) -> Verdict:
        v = probe.vae
        if lever.setting("mode") == "tiling":
            n = v.get("tiled_decode", 0)
            return _engaged(
                lever, n, v, f"{n} tiled decodes", "no tiled decode: frames not larger than one tile"
            )
        n = max(0, v.get("_decode", 0) - v.get("decode", 0))
        return _engaged(
            lever, n, v, f"{n} extra slice decodes", "no slicing: it splits only batches larger than 1"
        )


def unavailable_reason(levers: Any, ctx: ApplyContext) -> str | None:
    """Why one of ``levers`` cannot be installed here, found without changing the pipeline and before any
    measurement (the dispatcher's requirement check and one 64-token attention call, installed packages, the
    CFG scale); None when each may apply.
    Levers whose availability shows only when applied return None and are measured as usual."""
    for lever in levers:
        check = getattr(APPLIERS[lever.kind], "unavailable_reason", None)
        reason = check(lever, ctx) if check is not None else None
        if reason is not None:
            return f"{lever.name}: {reason}" if len(levers) > 1 else reason
    return None


APPLIERS: dict[str, Any] = {
    "compile": CompileApplier(),
    "attention": AttentionApplier(),
    "cache": CacheApplier(),
    "fp8": Fp8Applier(),
    "cfg_batch": CfgBatchApplier(),
    "steps": StepsApplier(),
    "vae": VaeApplier(),
}
