"""One variant's life on a pipeline: setup (apply + warm-up, metered), metered videos, verdicts and deviation.

Shared by the CLI runner (:mod:`.runner`, which meters the videos itself) and the pytest benchmarks (where
the plugin's ``energy`` fixture meters them): :meth:`VariantRun.setup`, then ``rounds()`` called once per
metered video, then :meth:`VariantRun.finish` for the record's extra (status, engagement, deviation, setup
cost), then :meth:`VariantRun.close`.

A variant that compiles starts with ``torch._dynamo.reset()``: Dynamo keys its cache on code, not on the
module object, so a fresh denoiser would otherwise run an earlier variant's graphs (no graph added, no
compilation paid) and its engagement and setup cost would be another variant's.

Counters sit in place from the application of the levers to the last video, except around compiled regions:
a Python counter inside one becomes a Dynamo guard (a recompilation per count), so a variant that compiles is
counted in one unmetered generation before compiling (every step for a cache, two steps for an attention
backend), and its counters removed before the compilation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from t2v_energy_lib.bench.instrument import peak_memory_bytes, reset_peak
from t2v_energy_lib.bench.optimizations.deviation import deviation
from t2v_energy_lib.bench.optimizations.engagement import (
    attention_kernels,
    compiled_regions,
    compiler_disabled_hooks,
    dynamo_graphs,
    flex_compiled,
    inductor_cache_lookups,
    reset_dynamo,
)
from t2v_energy_lib.bench.optimizations.generation import Counters, Generator, Output
from t2v_energy_lib.bench.optimizations.levers import APPLIERS, ApplyContext, Probe
from t2v_energy_lib.bench.optimizations.select import variant_status
from t2v_energy_lib.bench.optimizations.variants import Variant

RANDOM_WEIGHTS_NOTE = (
    "random weights: deviations are numerical, not perceived quality; activation-dependent caches "
    "(FirstBlock, Mag, Sea) skip differently with trained weights"
)

COMPILE_CACHE_NOTE = (
    "torch._dynamo.reset() before this variant: it compiles its own graphs (a fresh denoiser of the same "
    "class would otherwise reuse an earlier variant's), so its setup cost and payback are its own, as in a "
    "process that runs this configuration alone; Inductor's on-disk caches (FX graphs, autotuning) warmed by "
    "an earlier compile on this machine may still shorten it, as they would for a user"
)


@dataclass
class Reference:
    """What the default variant left for the others: its output, setup cost and attention kernels."""

    output: Output | None = None
    setup: SetupCost | None = None
    kernels: list[str] | None = None


class VideoRounds:
    """One call = one complete metered video; round 1's output is kept and handed to ``after_first``."""

    def __init__(self, gen: Generator, steps: int, after_first: Callable[[Output], None] | None) -> None:
        self.gen = gen
        self.steps = steps
        self.after_first = after_first
        self.first: Output | None = None
        self.repeatable = True

    def __call__(self) -> Output:
        out = self.gen(self.steps, keep=True)
        if self.first is None:
            self.first = out
            if self.after_first is not None:
                self.after_first(out)
        elif out.latents is not None and self.first.latents is not None:
            self.repeatable = self.repeatable and bool((out.latents == self.first.latents).all())
        return out


@dataclass
class VariantRun:
    """A variant applied to ``ctx.pipe`` (fresh denoiser), metered by ``meter`` for its setup.

    Attributes:
        variant: The variant.
        ctx: The apply context (steps, cleanup, notes).
        gen: Seeded generations of the pipeline.
        meter: Meter of the setup windows.
        reference: The default's output and setup (filled by the default variant's run).
        warmup_steps: Steps of the warm-up generation.
        profile_attention: Profile the attention kernels of default and attention variants.
        weights_note: What the weights are (random: the deviation is numerical).
    """

    variant: Variant
    ctx: ApplyContext
    gen: Generator
    meter: Any
    reference: Reference
    warmup_steps: int = 2
    profile_attention: bool = True
    weights_note: str = RANDOM_WEIGHTS_NOTE
    probe: Probe = field(default_factory=Probe)
    setup_reading: SetupCost | None = None
    counters: Counters | None = None
    rounds: VideoRounds | None = None
    counted_in: str | None = None

    def setup(self) -> None:
        """Apply the levers and warm up, in metered setup window(s); counts a compiled variant first."""
        pipe, ctx = self.ctx.pipe, self.ctx
        self.counters = Counters(pipe).__enter__()
        compiled = [lv for lv in self.variant.levers if lv.kind == "compile"]
        if compiled:  # its own compilation: never the graphs an earlier variant of this process compiled
            reset_dynamo()
            ctx.notes["compile_cache"] = COMPILE_CACHE_NOTE
        graphs0, cache0 = dynamo_graphs(), inductor_cache_lookups()
        windows = [self._window("setup", lambda: self._apply(compiled))]
        if compiled:
            if {"cache", "attention"} & set(self.variant.kinds):  # their counts would sit in compiled code
                self._count_before_compiling(dict(compiled[0].settings))
                reset_dynamo()  # the counting pass's own graphs (compiled flex) are not the variant's
                graphs0, cache0 = dynamo_graphs(), inductor_cache_lookups()
            self.counters.unwatch_inside()
            windows.append(self._window("setup2", lambda: self._compile(compiled)))
        self.setup_reading = total(windows)
        if self.variant.is_default:
            self.reference.setup = self.setup_reading
        self.probe.compiled_regions = compiled_regions(pipe.transformer)
        self.probe.dynamo_graphs_added = dynamo_graphs() - graphs0
        if compiled:
            self.probe.inductor_cache = {k: v - cache0[k] for k, v in inductor_cache_lookups().items()}
        self.probe.compiler_disabled_hooks = compiler_disabled_hooks(pipe.transformer, compiled_only=True)
        self.counters.reset()
        if ctx.cfg_batcher is not None:
            ctx.cfg_batcher.reset_counts()
        reset_peak(ctx.device)
        self.rounds = VideoRounds(self.gen, ctx.steps, lambda out: self._snapshot(out, not compiled))

    def _window(self, key: str, work: Callable[[], None]) -> Any:
        self.meter.begin_window(key)
        try:
            work()
        finally:
            window = self.meter.end_window(key)
        return window

    def _apply(self, compiled: list[Any]) -> None:
        for lever in self.variant.levers:
            if lever.kind != "compile":
                APPLIERS[lever.kind].apply(lever, self.ctx)
                self.ctx.applied += 1
        assert self.counters is not None
        self.counters.watch_hooks()  # the cache hooks exist only now
        if not compiled:
            self._warmup()

    def _count_before_compiling(self, compile_settings: dict[str, Any]) -> None:
        """One unmetered generation with the counters in place, before the compilation removes them.

        A cache decides per step, so it is counted over every step; an attention backend is chosen per call,
        so two steps without decoding count it (on the 14B at 720p a full generation costs minutes). Flex
        attention runs compiled alone here (:func:`.engagement.flex_compiled`): eager it would materialise
        the scores.
        """
        ctx = self.ctx
        per_step = "cache" in self.variant.kinds
        flex = any(lv.kind == "attention" and lv.setting("backend") == "flex" for lv in self.variant.levers)
        with flex_compiled(compile_settings) if flex else contextlib.nullcontext():
            if per_step:
                out = self.gen(ctx.steps, keep=False)
            else:
                out = self.gen(min(self.warmup_steps, ctx.steps), "latent", keep=False)
        self._snapshot(out)
        self.counted_in = (
            f"one unmetered {'full' if per_step else f'{out.steps_run}-step'} generation before compiling "
            "(counters inside compiled code would recompile)"
            + ("; flex_attention compiled alone in it (eager flex materialises the scores)" if flex else "")
        )

    def _compile(self, compiled: list[Any]) -> None:
        for lever in compiled:
            APPLIERS[lever.kind].apply(lever, self.ctx)
        self._warmup()

    def _warmup(self) -> None:
        """A short generation without decoding (the runner's first generation warmed the VAE), the same for
        every variant so that setup costs compare."""
        self.gen(self.warmup_steps, "latent", keep=False)

    def _snapshot(self, out: Output, inside: bool = True) -> None:
        """Copy the counts of one generation into the probe (``inside``: also hooks and dispatcher)."""
        assert self.counters is not None
        if inside:
            self.probe.hooks = self.counters.hooks.summary()
            self.probe.dispatch = self.counters.dispatch.used()
        self.probe.vae = dict(self.counters.vae.counts)
        self.probe.steps_run = out.steps_run
        if self.ctx.cfg_batcher is not None:
            self.ctx.notes["cfg_batch_activity"] = self.ctx.cfg_batcher.activity()

    def finish(self) -> dict[str, Any]:
        """After the videos: verdicts, deviation, status: the record's extra (JSON-ready)."""
        assert self.rounds is not None and self.rounds.first is not None, "no metered video ran"
        ctx, ref, first = self.ctx, self.reference, self.rounds.first
        peak = peak_memory_bytes(ctx.device)
        if self.profile_attention and (self.variant.is_default or "attention" in self.variant.kinds):
            self.probe.attention_kernels = attention_kernels(lambda: self.gen(1, "latent", False), ctx.device)
            if self.variant.is_default:
                ref.kernels = self.probe.attention_kernels
        ctx.default_attention_kernels = ref.kernels
        verdicts = {
            lv.name: APPLIERS[lv.kind].verdict(lv, ctx, self.probe).to_dict() for lv in self.variant.levers
        }
        dev = None
        if self.variant.is_default:
            ref.output = first
        elif ref.output is not None:
            dev = deviation(first.frames, first.latents, ref.output.frames, ref.output.latents)
        status, reason = variant_status(self.variant, verdicts, dev)
        setup, base = self.setup_reading, ref.setup
        extra: dict[str, Any] = {
            "variant": self.variant.to_dict(),
            "lever_packages": self.variant.packages(),
            "status": status,
            "status_reason": reason,
            "engagement": verdicts,
            "deviation": dev,
            "deviation_reference": "default variant, round 1, same seed and prompt" if dev else None,
            "probe": {"hooks": self.probe.hooks, "dispatch": self.probe.dispatch, "vae": self.probe.vae},
            "steps_run": first.steps_run,
            "setup_s": setup.duration_s if setup else None,
            "setup_gpu_energy_j": setup.gpu_energy_j if setup else None,
            "default_setup_s": base.duration_s if base else None,
            "default_setup_gpu_energy_j": base.gpu_energy_j if base else None,
            "peak_memory_bytes": peak,
            "repeatable_latents": self.rounds.repeatable,
            "notes": ctx.notes,
            "composed": False,
            "weights_note": self.weights_note,
        }
        if self.probe.attention_kernels is not None:
            extra["attention_kernels"] = self.probe.attention_kernels
        if self.counted_in:
            extra["counted_in"] = self.counted_in
        return extra

    def close(self) -> None:
        """Remove the counters and undo changes to shared components (the VAE, the dispatcher's default)."""
        if self.counters is not None:
            self.counters.__exit__(None, None, None)
        for undo in reversed(self.ctx.cleanup):
            undo()
        self.ctx.cleanup.clear()


@dataclass(frozen=True)
class SetupCost:
    """What applying a variant and warming it up cost, over one or two metered windows.

    Attributes:
        duration_s: Summed window lengths. Units: s.
        gpu_energy_j: Summed GPU energy, None without a GPU meter. Units: J.
    """

    duration_s: float
    gpu_energy_j: float | None


def total(windows: list[Any]) -> SetupCost:
    """The cost of consecutive energy-layer windows (``Measurement``): durations and GPU energies summed."""
    energies = [w.gpu_energy_j for w in windows]
    return SetupCost(
        duration_s=float(sum(w.duration_s for w in windows)),
        gpu_energy_j=None if any(e is None for e in energies) else float(sum(e for e in energies if e)),
    )
