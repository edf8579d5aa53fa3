"""How long the next variant will take, for the runner's time budget.

The runner stops cleanly before a variant that would end past the budget and records it ``not_reached``. The
estimate used to be the last variant's wall time (twice that for compilation). On the H200 that misjudged
twice in one session:

- on Wan2.1-14B at 720p the last variant was the default, whose wall time held a warm-up, two videos *and*
  the composed 50-step generation (298 s). Half the steps was priced at 298 s, about twice its cost.
- after a compiled variant whose setup held the machine's first compilation (115 s), half steps + MagCache
  was priced at 136 s; the run stopped with 106 s of its budget left, and the variant took 25 s in the
  next call.

The estimate is now built from the default's own measurement: the mean video latency scaled by the
variant's step fraction (all but :data:`FIXED_SHARE` of it), times the rounds, plus the default's setup
window (its warm-up generation, which every variant repeats), one more video for MagCache's calibration, and
for compilation the counting generation before it and the longest compile setup seen in this run
(:data:`FIRST_COMPILE_S` before any; at least :data:`DYNAMIC_FP8_COMPILE_S` when the variant quantizes
activations to fp8); an attention backend slower than torch's own choice scales its videos and warm-up by
:data:`ATTENTION_VIDEO_FACTOR`; then
:data:`MARGIN` for what a variant does beside its videos (the probe's deviation, freeing memory). Caches are
priced as if they skipped nothing. A lever slower than the default (fp8 without compilation) can still run
past its estimate by a few percent: the device scripts keep 45 s of their limit for that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import fmean

from t2v_energy_lib.bench.optimizations.variants import Variant
from t2v_energy_lib.results.schema import ResultRecord

#: Setup of a run's first compiled variant before any was measured, seconds: the largest first compile the
#: optimisation runs on the H200 recorded (Wan2.1-1.3B, half steps + MagCache + compilation, 115 s of
#: setup, calibration included), rounded up.
FIRST_COMPILE_S = 120.0
#: Setup of a compiled variant whose fp8 also quantizes activations (torchao's dynamic float8), seconds: its
#: graphs are new to Inductor whatever compiled before them. On the H200 (Wan2.1-1.3B, 2026-12-01) its setup
#: took 187 s after an fp8-weight compile of 86 s had been seen, and the run's estimate (139 s) was 36% short;
#: rounded up.
DYNAMIC_FP8_COMPILE_S = 200.0
#: Share of a default video that does not shrink with fewer steps (text encoding, VAE decode, per-call
#: work). Half the steps took 0.54 (Wan2.1-14B, 720p, 4 steps), 0.61 (Wan2.1-1.3B) and 0.65 (CogVideoX-2b,
#: 10 steps) of the default's video on the H200: shares 0.07, 0.21 and 0.29, so 0.3 prices the largest.
FIXED_SHARE = 0.3
#: Factor over the estimated videos and setup: the work a variant does beside them (probe, deviation).
MARGIN = 1.15
#: Video time of an attention backend forced through the dispatcher, relative to the default's (torch's own
#: SDPA choice), from the H200 runs of 2026-12-01: ``_native_flash`` took 1.27x (Wan2.1-1.3B, 480p) and 1.37x
#: (Wan2.1-14B, 720p) of the default's video, ``_native_efficient`` 1.96x (1.3B) and 2.33x (14B, its warm-up
#: 2.43x), the math reference (it materialises the scores) 11.2x (1.3B; its warm-up 13.4x); rounded up. Priced
#: as the default, flash and memory-efficient ran 35% and 96% past their estimates on the 1.3B; priced at 7x
#: (the lower bound an interrupted run gave), the math reference took 243 s for a 149 s estimate.
ATTENTION_VIDEO_FACTOR = {"_native_flash": 1.4, "_native_efficient": 2.4, "_native_math": 12.0}


def step_fraction(variant: Variant) -> float:
    """The fraction of the default's denoising steps ``variant`` runs (1.0 without a steps lever)."""
    fraction = 1.0
    for lever in variant.levers:
        if lever.kind == "steps":
            fraction *= float(lever.setting("fraction", 1.0))
    return fraction


def attention_factor(variant: Variant, reference: ResultRecord | None = None) -> float:
    """How much slower than the default's a video of ``variant``'s attention backend runs (1.0: as fast).

    1.0 when ``reference`` (the default's record) counted no dispatcher call: that model's attention never
    goes through the dispatcher (CogVideoX in Diffusers 0.42.1 calls torch's SDPA itself), so no backend
    changes it.
    """
    if reference is not None and reference.extra.get("probe", {}).get("dispatch") == {}:
        return 1.0
    factor = 1.0
    for lever in variant.levers:
        if lever.kind == "attention":
            factor = max(factor, ATTENTION_VIDEO_FACTOR.get(str(lever.setting("backend")), 1.0))
    return factor


def compile_setup_s(records: Iterable[ResultRecord]) -> float | None:
    """The longest setup of a compiled variant among ``records`` (None when none was compiled)."""
    setups = [
        float(r.extra["setup_s"])
        for r in records
        if "compile" in str(r.extra.get("variant", {}).get("name", "")).split("+")
        and r.extra.get("setup_s") is not None
    ]
    return max(setups) if setups else None


def estimate_variant_s(
    nxt: Variant, reference: ResultRecord | None, done: Sequence[ResultRecord], rounds: int
) -> float:
    """Seconds ``nxt`` is expected to take (an upper-leaning estimate).

    Args:
        nxt: The variant about to run.
        reference: This run's default record (its ``latency_s`` rounds are videos); None when it failed.
        done: The records measured so far in this run, last one last (the fallback when there is no default).
        rounds: Videos per variant.
    """
    videos = (reference.rounds.get("latency_s") or ()) if reference is not None else ()
    if reference is None or not videos:  # no default videos: the last variant's wall time, as before
        last = float(done[-1].extra.get("variant_wall_s", 0.0)) if done else 0.0
        return last * (2.0 if "compile" in nxt.kinds else 1.0)
    default_video_s = fmean(float(v) for v in videos)
    slower = attention_factor(nxt, reference)
    video_s = default_video_s * (FIXED_SHARE + (1.0 - FIXED_SHARE) * step_fraction(nxt)) * slower
    warmup_s = default_video_s if reference.extra.get("setup_s") is None else reference.extra["setup_s"]
    warmup_s = float(warmup_s) * slower
    estimate = max(1, rounds) * video_s + warmup_s
    if any(lever.name == "cache:mag" for lever in nxt.levers):
        estimate += video_s  # MagCache's calibration generation
    if "compile" in nxt.kinds and "cache" in nxt.kinds:
        estimate += video_s  # the counting generation before compiling: every step (VariantRun)
    elif "compile" in nxt.kinds and "attention" in nxt.kinds:
        estimate += warmup_s  # the counting generation before compiling: two steps, like the warm-up
    if "compile" in nxt.kinds:
        seen = compile_setup_s(done)
        compile_s = FIRST_COMPILE_S if seen is None else seen
        if any(lever.name == "fp8:torchao_dynamic" for lever in nxt.levers):
            compile_s = max(compile_s, DYNAMIC_FP8_COMPILE_S)
        estimate += compile_s
    return estimate * MARGIN
