"""The optimisation suite's runner: default pipeline and each variant, complete generations, one record each.

Per target the pipeline is built once (random weights, or ``weights=<local dir>`` through the models layer);
every variant gets a fresh denoiser (same seed or the same checkpoint) and a fresh scheduler, so levers never
leak into the next variant; the VAE's tiling/slicing are undone after the variant. Per variant:

1. **setup window** (metered): apply the levers (MagCache's calibration generation included) and one short
   warm-up generation (compilation happens here). Its cost against the default's is the one-time cost that
   the payback divides by the saving.
2. **probe = round 1** (metered like every round): a complete generation with the counters of
   :mod:`.generation` in place; its frames and final latents give the deviation from the default's round 1
   (same seed), its counters the engagement verdicts.
3. rounds 2..R: complete generations, metered; latents compared with round 1 (``repeatable``).
4. optional: attention-kernel names of one profiled short call (``bench/profile_ops.py``), and a figure
   composed at the study's step count for variants that do not change per-step work (flagged ``composed``).

Before any measurement, every variant whose lever the availability check (:func:`.levers.unavailable_reason`,
no measured work) finds not installable is stored as ``not_measured`` with status ``not_available`` and the
reason, so a time budget never hides them. A lever that turns out unavailable only when applied is stored the
same way; one that fails while running as ``failed``. Variants the time budget stopped before are stored as
``not_measured`` with status ``not_reached`` (and named in the log), unless the file already holds their
measurement; a later measurement replaces that placeholder. Resuming into a file keeps every default round
(see :mod:`.resume`). A variant whose activity count is zero or whose output is
bit-identical to the default's has status ``not_engaged``: the analysis never counts it as a saving.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t2v_energy_lib.bench import records as rec
from t2v_energy_lib.bench.compose import means
from t2v_energy_lib.bench.measure import DEFAULT_PROMPT, Series
from t2v_energy_lib.bench.optimizations import resume
from t2v_energy_lib.bench.optimizations.budget import estimate_variant_s
from t2v_energy_lib.bench.optimizations.generation import Generator, released
from t2v_energy_lib.bench.optimizations.levers import (
    ApplyContext,
    LeverUnavailable,
    out_of_memory_hint,
    unavailable_reason,
)
from t2v_energy_lib.bench.optimizations.select import best_combinations
from t2v_energy_lib.bench.optimizations.variant_run import RANDOM_WEIGHTS_NOTE, Reference, VariantRun
from t2v_energy_lib.bench.optimizations.variants import DEFAULT, Target, Variant
from t2v_energy_lib.bench.scenarios import Scenario
from t2v_energy_lib.errors import OptimizationError
from t2v_energy_lib.results.schema import ResultRecord
from t2v_energy_lib.results.storage import ResultWriter

SUITE = "optimizations"


@dataclass(frozen=True)
class OptimizeOptions:
    """How the optimisation suite runs.

    Attributes:
        out_dir: Folder of ``optimizations.json``.
        device: ``"cuda"`` or ``"cpu"``.
        dtype: Pipeline dtype name.
        rounds: Metered complete generations per variant (round 1 is the probe).
        seed: Seed of the initial noise (and of random weights).
        weights: Local Diffusers-layout checkpoint directory; None builds random weights.
        profile_attention: Record the attention kernels of one profiled call for attention variants.
        compose: Compose per-video figures at ``target.study_steps`` for levers that keep per-step work.
        best_combination: After the single levers, measure the best combinations of them.
        time_budget_s: Stop before a variant that would end after this many seconds. Units: s.
        combo_reserve_s: Of the budget, seconds kept for the best combinations (single levers stop
            earlier). Units: s.
        prompt: The prompt.
        warmup_steps: Steps of the warm-up generation.
    """

    out_dir: Path
    device: str = "cuda"
    dtype: str = "bfloat16"
    rounds: int = 2
    seed: int = 0
    weights: str | None = None
    profile_attention: bool = True
    compose: bool = False
    best_combination: bool = True
    time_budget_s: float | None = None
    combo_reserve_s: float = 0.0
    prompt: str = DEFAULT_PROMPT
    warmup_steps: int = 2


@dataclass
class VariantResult:
    """What one variant gave (for the progress line and the best-combination choice)."""

    variant: Variant
    status: str
    record: ResultRecord


@dataclass
class OptimizeOutcome:
    """What a run of the suite did for one target."""

    target: Target
    path: Path
    results: list[VariantResult] = field(default_factory=list)
    stopped_for_budget: bool = False


class OptimizationRunner:
    """Measures variants of one target's pipeline into ``<out_dir>/optimizations.json``.

    Args:
        options: Run options.
        meter: The energy layer's meter (``begin_window`` / ``end_window -> Measurement``) or a fake.
        provenance: Provenance stored in the result file.
        build: ``build(spec, component) -> pipeline`` or component; default: the models layer
            (``component=None`` builds the pipeline, ``"transformer"`` one fresh denoiser).
        log: Progress output.
    """

    def __init__(
        self,
        options: OptimizeOptions,
        meter: Any,
        provenance: dict[str, Any],
        build: Callable[[Any, str | None], Any] | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.options = options
        self.meter = meter
        self.build = build or self._default_build
        self.log = log
        self.start_s = time.monotonic()
        options.out_dir.mkdir(parents=True, exist_ok=True)
        self.writer = ResultWriter(options.out_dir / f"{SUITE}.json", provenance, resume=True)
        if self.writer.records:  # resuming: the stored defaults must be this run's references too
            resume.check_resumable(self.writer.result_file().provenance, provenance, self.writer.path)
        self.provenance = provenance
        self.run_label = ""
        self.reference = Reference()

    # ------------------------------------------------------------------ building
    def _default_build(self, spec: Any, component: str | None) -> Any:
        from t2v_energy_lib.models import build_pipeline
        from t2v_energy_lib.models.builder import build_component, component_dtype
        from t2v_energy_lib.models.weights import load_component

        o = self.options
        if component is None:
            return build_pipeline(spec, device=o.device, dtype=o.dtype, weights=o.weights, seed=o.seed)
        if o.weights is None:
            return build_component(spec, component, o.device, o.dtype, o.seed)
        dtype = component_dtype(spec, component, o.dtype)
        return load_component(spec, Path(o.weights), component, o.device, dtype)

    def fresh_denoiser(self, pipe: Any, spec: Any) -> None:
        """Replace the denoiser by a fresh one (same seed or checkpoint), and the scheduler by a new one."""
        from t2v_energy_lib.bench.instrument import free_memory

        setattr(pipe, spec.denoiser, None)  # drop the previous denoiser before building the next
        free_memory(self.options.device)
        setattr(pipe, spec.denoiser, self.build(spec, spec.denoiser))
        pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)

    # ------------------------------------------------------------------ the suite
    def run(self, target: Target, variants: Sequence[Variant]) -> OptimizeOutcome:
        """Measure the default and ``variants`` (then the best combinations) of ``target``."""
        from t2v_energy_lib.models import GenerationSettings, get_spec

        spec = get_spec(target.model_id)
        settings = GenerationSettings(
            target.height, target.width, target.num_frames, target.steps, target.guidance_scale
        )
        sc = Scenario(SUITE, spec.id, settings, label=target.label)
        outcome = OptimizeOutcome(target, self.writer.path)
        ordered = [DEFAULT, *(v for v in variants if not v.is_default)]  # in the given order
        stored = {r.id: r for r in self.writer.records}
        default_id = self._record_id(sc, DEFAULT, "end_to_end")
        resume.check_default_settings(stored.get(default_id), self._run_settings(DEFAULT, target.steps))
        self.run_label = resume.run_label(self.provenance, stored.get(default_id))
        self.log(
            f"building {spec.id} on {self.options.device} ({self.options.weights or 'random weights'})..."
        )
        pipe = self.build(spec, None)
        # availability first: it costs no GPU time, so no time budget may leave it out
        ordered = [v for v in ordered if not self._recorded_unavailable(pipe, spec, sc, target, v, outcome)]
        gen = Generator(pipe, settings, self.options.prompt, self.options.seed)
        gen(self.options.warmup_steps, keep=False)  # process start-up costs, before any setup window
        singles: list[VariantResult] = []
        clean = True  # the denoiser has not been touched by a lever yet
        reserve = self.options.combo_reserve_s if self.options.best_combination else 0.0
        for i, variant in enumerate(ordered):
            if self._over_budget(singles, reserve, variant):
                outcome.stopped_for_budget = True
                self._not_reached(sc, target, ordered[i:], outcome)
                break
            result, clean = self._fresh_run(pipe, spec, sc, target, gen, variant, clean)
            singles.append(result)
            outcome.results.append(result)
        if self.options.best_combination:  # the reserve was kept for them even when single levers stopped
            combos = best_combinations(singles)
            for i, combo in enumerate(combos):
                if self._over_budget(outcome.results, 0.0, combo):
                    outcome.stopped_for_budget = True
                    self._not_reached(sc, target, combos[i:], outcome)
                    break
                result, clean = self._fresh_run(pipe, spec, sc, target, gen, combo, clean)
                outcome.results.append(result)
        return outcome

    def _recorded_unavailable(
        self, pipe: Any, spec: Any, sc: Scenario, target: Target, variant: Variant, outcome: OptimizeOutcome
    ) -> bool:
        """Record ``variant`` as ``not_available`` when the availability check says so (nothing applied)."""
        if variant.is_default:
            return False
        ctx = ApplyContext(
            pipe, spec.family, self.options.device, target.steps, target.steps, target.guidance_scale
        )
        ctx.compiled = "compile" in variant.kinds
        ctx.cfg_mode = spec.cfg_mode
        ctx.attention_tokens = spec.token_length(target.height, target.width, target.num_frames)
        reason = unavailable_reason(variant.levers, ctx)
        if reason is None:
            return False
        record = self._placeholder(sc, variant, ctx, "not_available", reason, 0.0)
        record = dataclasses.replace(
            record,
            extra={**record.extra, "checked": "availability check before any measurement (no measured work)"},
        )
        self._store(record)
        self.log(f"  {variant.name}: not_available {reason[:160]}")
        outcome.results.append(VariantResult(variant, "not_available", record))
        return True

    def _not_reached(
        self, sc: Scenario, target: Target, variants: Sequence[Variant], outcome: OptimizeOutcome
    ) -> None:
        """Record the variants the time budget stopped before (unless the file holds their measurement)."""
        budget = self.options.time_budget_s
        names = []
        for variant in variants:
            names.append(variant.name)
            if self._record_id(sc, variant, "end_to_end") in self.writer:
                continue  # measured by an earlier run: its measurement stays
            ctx = ApplyContext(
                None, "", self.options.device, target.steps, target.steps, target.guidance_scale
            )
            reason = f"not reached: the time budget ({budget} s) stopped the run before it; measure it later"
            record = self._placeholder(
                sc, variant, ctx, "not_reached", reason, 0.0, OptimizationError(reason)
            )
            self._store(record)
            outcome.results.append(VariantResult(variant, "not_reached", record))
        self.log(f"time budget: not reached ({len(names)}): {', '.join(names)}")

    def _fresh_run(
        self,
        pipe: Any,
        spec: Any,
        sc: Scenario,
        target: Target,
        gen: Generator,
        variant: Variant,
        clean: bool,
    ) -> tuple[VariantResult, bool]:
        """Run ``variant`` on an untouched denoiser (rebuilt unless the last variant never changed it)."""
        if not clean:
            self.fresh_denoiser(pipe, spec)
        result = self._variant(pipe, spec, sc, target, gen, variant)
        untouched = result.status == "not_available" and not result.record.extra.get("levers_applied")
        return result, untouched

    def _over_budget(self, done: Sequence[VariantResult], reserve_s: float, nxt: Variant) -> bool:
        """True when ``nxt`` (priced by :func:`.budget.estimate_variant_s` from this run's default videos)
        would end past the budget less ``reserve_s``."""
        budget = self.options.time_budget_s
        if budget is None or not done:
            return False
        reference = next(
            (r.record for r in done if r.variant.is_default and r.record.component == "end_to_end"), None
        )
        estimate = estimate_variant_s(nxt, reference, [r.record for r in done], self.options.rounds)
        over = time.monotonic() - self.start_s + estimate > budget - reserve_s
        if over:
            self.log(f"time budget: stopping before {nxt.name} (estimated {estimate:.0f} s)")
        return over

    def writer_record(self, record_id: str) -> ResultRecord | None:
        """The stored record ``record_id`` (this run's or a resumed one), or None."""
        return next((r for r in self.writer.records if r.id == record_id), None)

    def _store(self, record: ResultRecord) -> None:
        """Write ``record`` labelled with this run; a measurement supersedes its variant's placeholder."""
        extra = {**record.extra, "run": self.run_label}
        if record.extra.get("status") != "reference" and record.component != "not_measured":
            extra["reference_run"] = self.run_label  # measured beside this run's default rounds (round_runs)
        record = dataclasses.replace(record, extra=extra)
        self.writer.add(record)
        if record.component == "end_to_end":
            self.writer.discard(record.id.rsplit("/", 1)[0] + "/not_measured")

    def _record_id(self, sc: Scenario, variant: Variant, component: str) -> str:
        return f"{sc.id}/{variant.name}/{component}"

    def _run_settings(self, variant: Variant, steps: int) -> dict[str, Any]:
        o = self.options
        return {
            "dtype": o.dtype,
            "device": o.device,
            "variant": variant.name,
            "num_inference_steps_run": steps,
            "weights": "random" if o.weights is None else str(o.weights),
        }

    # ------------------------------------------------------------------ one variant
    def _variant(
        self, pipe: Any, spec: Any, sc: Scenario, target: Target, gen: Generator, variant: Variant
    ) -> VariantResult:
        t0 = time.monotonic()
        run = self.variant_run(pipe, spec, target, gen, variant)
        try:
            with released(self.options.device):
                record = self._measure(sc, target, run)
        except LeverUnavailable as exc:
            record = self._not_measured(sc, variant, run.ctx, exc, "not_available", t0)
        except KeyboardInterrupt:  # the call's time limit (SIGINT): say what was running, and for how long
            self._interrupted(sc, variant, run, t0)
            raise
        except Exception as exc:  # a failing variant is a result too; the suite goes on
            phase = "setup" if run.rounds is None else "video"  # apply + warm-up, or a metered video
            record = self._not_measured(sc, variant, run.ctx, exc, "failed", t0, phase)
        finally:
            run.close()
        record = dataclasses.replace(record, extra={**record.extra, "variant_wall_s": time.monotonic() - t0})
        if variant.is_default and record.component == "end_to_end":  # every run's default rounds are kept
            record = resume.labelled_default(record, self.writer_record(record.id), self.run_label)
        self._store(record)
        status = str(record.extra.get("status"))
        self.log(f"  {variant.name}: {status} {_summary(record)}")
        return VariantResult(variant, status, record)

    def _interrupted(self, sc: Scenario, variant: Variant, run: VariantRun, t0: float) -> None:
        """Record ``variant`` ``not_reached``: interrupted after its elapsed seconds (a lower bound of its
        cost here), unless the file already holds its measurement from an earlier run."""
        if self._record_id(sc, variant, "end_to_end") in self.writer:
            return
        elapsed_s = time.monotonic() - t0
        phase = "setup" if run.rounds is None else "video"
        reason = (
            f"interrupted after {elapsed_s:.0f} s in its {phase} (the process was stopped, e.g. by the "
            f"call's time limit): not measured; it needs more than {elapsed_s:.0f} s here, so measure it "
            "alone in a longer call"
        )
        exc = OptimizationError(reason)
        record = self._placeholder(sc, variant, run.ctx, "not_reached", reason, elapsed_s, exc, phase)
        record = dataclasses.replace(
            record, extra={**record.extra, "interrupted": True, "variant_wall_s": elapsed_s}
        )
        self._store(record)
        self.log(f"  {variant.name}: not_reached (interrupted after {elapsed_s:.0f} s in its {phase})")

    def variant_run(
        self, pipe: Any, spec: Any, target: Target, gen: Generator, variant: Variant
    ) -> VariantRun:
        """The :class:`VariantRun` of ``variant`` on ``pipe`` (its denoiser must be fresh)."""
        o = self.options
        ctx = ApplyContext(pipe, spec.family, o.device, target.steps, target.steps, target.guidance_scale)
        ctx.run_once = lambda: gen(ctx.steps, keep=False)
        ctx.compiled = "compile" in variant.kinds
        ctx.cfg_mode = spec.cfg_mode
        ctx.attention_tokens = spec.token_length(target.height, target.width, target.num_frames)
        note = RANDOM_WEIGHTS_NOTE if o.weights is None else f"weights loaded from {o.weights}"
        return VariantRun(
            variant, ctx, gen, self.meter, self.reference, o.warmup_steps, o.profile_attention, note
        )

    def _measure(self, sc: Scenario, target: Target, run: VariantRun) -> ResultRecord:
        run.setup()
        assert run.rounds is not None
        readings = []
        for i in range(max(1, self.options.rounds)):
            self.meter.begin_window(f"video#{i}")
            run.rounds()
            readings.append(self.meter.end_window(f"video#{i}"))
        extra = run.finish()
        series = Series("end_to_end", tuple(readings), 1, {"output_type": "np"})
        run_settings = self._run_settings(run.variant, run.ctx.steps)
        rid = self._record_id(sc, run.variant, "end_to_end")
        record = rec.series_record(sc, series, run_settings, rid, extra)
        if self.options.compose and target.study_steps and target.study_steps > target.steps:
            note = self._compose(sc, target, run.gen, run.variant, run.ctx, record, run_settings)
            if note:
                record = dataclasses.replace(record, extra={**record.extra, "not_composed": note})
        return record

    def _not_measured(
        self,
        sc: Scenario,
        variant: Variant,
        ctx: ApplyContext,
        exc: BaseException,
        status: str,
        t0: float,
        phase: str = "apply",
    ) -> ResultRecord:
        reason = str(exc)
        if status == "failed":
            hint = out_of_memory_hint(variant, ctx) if rec.is_out_of_memory(exc) else None
            reason = f"{type(exc).__name__}: {exc}"[: 2000 - len(hint or "")] + (hint or "")
        return self._placeholder(sc, variant, ctx, status, reason, time.monotonic() - t0, exc, phase)

    def _placeholder(
        self,
        sc: Scenario,
        variant: Variant,
        ctx: ApplyContext,
        status: str,
        reason: str,
        elapsed_s: float,
        exc: BaseException | None = None,
        phase: str = "apply",
    ) -> ResultRecord:
        """The ``not_measured`` record of ``variant`` (``not_available``, ``failed`` or ``not_reached``);
        ``phase`` is where it stopped: ``apply``, ``setup`` (apply + warm-up) or ``video``."""
        base = rec.error_record(
            sc, phase, exc or LeverUnavailable(reason), elapsed_s, self._run_settings(variant, ctx.steps)
        )
        return dataclasses.replace(
            base,
            id=self._record_id(sc, variant, "not_measured"),
            component="not_measured",
            extra={
                **base.extra,
                "status": status,
                "reason": reason,
                "variant": variant.to_dict(),
                "lever_packages": variant.packages(),
                "notes": ctx.notes,
                "levers_applied": ctx.applied,
            },
        )

    def _compose(
        self,
        sc: Scenario,
        target: Target,
        gen: Generator,
        variant: Variant,
        ctx: ApplyContext,
        measured: ResultRecord,
        run_settings: dict[str, Any],
    ) -> str | None:
        """A per-video figure at the study's step count from two measured step counts (never for caches).

        Returns:
            Why no figure was composed, or None when one was stored.
        """
        study = int(target.study_steps or 0)
        cid = self._record_id(sc, variant, f"composed_s{study}")
        if variant.changes_per_step_work:
            return (
                f"no figure at {study} steps: this variant changes per-step work (caches decide per step, "
                "fewer steps removes steps), so only complete generations at the reduced count are valid"
            )
        half = max(1, ctx.steps // 2)
        self.meter.begin_window("half")
        gen(half, keep=False)
        short = self.meter.end_window("half")
        full_means = means(measured.rounds)
        short_values = {"latency_s": short.duration_s, "gpu_energy_j": short.gpu_energy_j}
        values = {}
        for q, v in short_values.items():
            if v is None or q not in full_means:
                continue
            per_step = (full_means[q] - v) / (ctx.steps - half)
            if per_step <= 0:
                return (
                    f"no figure at {study} steps: {half} steps cost as much {q} as {ctx.steps} "
                    "(the measurement noise exceeds the steps' cost)"
                )
            values[q] = full_means[q] + (study - ctx.steps) * per_step
        study_sc = sc.with_steps(study)
        composed = rec.composed_record(
            study_sc,
            "end_to_end",
            values,
            {"measured": measured.id},
            {**run_settings, "num_inference_steps_run": study},
            {
                "formula": f"E({ctx.steps}) + ({study} - {ctx.steps}) x [E({ctx.steps}) - E({half})] / "
                f"({ctx.steps} - {half}); E(n): complete generations of n steps, measured",
                "short_generation": {"steps": half, **short_values},
                "variant": variant.to_dict(),
                "status": measured.extra["status"],
            },
        )
        self._store(dataclasses.replace(composed, id=cid))
        return None


def _summary(record: ResultRecord) -> str:
    m = means(record.rounds)
    if "latency_s" not in m:
        return str(record.extra.get("reason", ""))[:160]
    e = m.get("gpu_energy_j")
    return f"{m['latency_s']:.3g} s" + (f", {e:.1f} J" if e is not None else "")
