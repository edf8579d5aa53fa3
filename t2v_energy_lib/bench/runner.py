"""The characterisation runner: measures the sweeps' points into ``<out_dir>/<suite>.json``, incrementally.

Per model, the pipeline is built once (random weights, on the device, in the target dtype). Per point it
measures what is not already known at that shape (denoiser step, VAE decode; the text encoder once per model
and suite), writes each record as soon as it exists, then the composed per-video figure. Points of one shape
share measurements across suites and across commands (a record found in a result file of ``out_dir`` is
reused and says so in ``extra["reused_from"]``). A failing point (out of memory, or any error) becomes an
error record with no figure; the sweep goes on. ``time_budget_s`` stops cleanly before a point that would not
fit. The steps suite and the per-suite extras live in :mod:`.suites`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t2v_energy_lib.bench import records as rec
from t2v_energy_lib.bench.compose import compose_video, means
from t2v_energy_lib.bench.instrument import free_memory
from t2v_energy_lib.bench.measure import MeasureConfig, Series, ShapeMeasurer
from t2v_energy_lib.bench.point_cost import PointTiming, estimate_next_point_s
from t2v_energy_lib.bench.scenarios import Scenario
from t2v_energy_lib.energy import EnergyMeter
from t2v_energy_lib.results.schema import ResultRecord
from t2v_energy_lib.results.storage import ResultWriter, load_results

MAX_CONSECUTIVE_FAILURES = 3


@dataclass(frozen=True)
class RunOptions:
    """How a characterisation run behaves.

    Attributes:
        out_dir: Folder of the result files (``<suite>.json``).
        device: ``"cuda"`` or ``"cpu"``.
        dtype: Pipeline dtype name (``"bfloat16"``); the Wan VAE stays fp32 as in the real pipeline.
        config: Window lengths and rounds.
        time_budget_s: Stop before a point that would end after this many seconds from the run's start.
        resume: Skip points whose composed record is already in the result file.
        overwrite: Start new result files instead of adding to existing ones.
        measured_steps: Length of the steps suite's measured run (None: the suite's default).
        e2e_max_s: Cross-model: measure complete generations only where the composed latency is below this.
            Units: s.
        profile_ops: Cross-model: profile one denoising step per model at its defaults.
    """

    out_dir: Path
    device: str = "cuda"
    dtype: str = "bfloat16"
    config: MeasureConfig = field(default_factory=MeasureConfig)
    time_budget_s: float | None = None
    resume: bool = False
    overwrite: bool = False
    measured_steps: int | None = None
    e2e_max_s: float = 180.0
    profile_ops: bool = True


@dataclass
class SuiteOutcome:
    """What one suite run did."""

    suite: str
    path: Path
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped_for_budget: bool = False


class BudgetExhausted(Exception):
    """Internal: the time budget does not allow the next point."""


class Characterizer:
    """Runs suites of scenarios on one device with one meter.

    Args:
        options: Run options.
        meter: The bench meter (GPU+host on CUDA, host on the CPU, a fake in tests).
        provenance: Provenance of this run (stored in every result file).
        build: ``build(model_id, device, dtype) -> pipeline`` (default: the models layer's builder).
        log: Where progress lines go.
        clock: Monotonic clock. Units: s.
    """

    def __init__(
        self,
        options: RunOptions,
        meter: EnergyMeter,
        provenance: dict[str, Any],
        build: Callable[[str, str, str], Any] | None = None,
        log: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.meter = meter
        self.provenance = provenance
        self.build = build or default_build
        self.log = log
        self.clock = clock
        self.start_s = clock()
        self._model_id: str | None = None
        self._build_s: float | None = None  # seconds the current pipeline took to build
        self._pipe: Any = None
        self._measurer: ShapeMeasurer | None = None
        self._shape_cache: dict[tuple[Any, ...], ResultRecord] = {}
        self._text: dict[tuple[str, str], ResultRecord] = {}
        self._shape_ready: tuple[Any, ...] | None = None
        self._writers: dict[str, ResultWriter] = {}
        self.run_settings = {"dtype": options.dtype, "device": options.device}
        options.out_dir.mkdir(parents=True, exist_ok=True)
        self._load_existing()

    # ----------------------------------------------------------------- bookkeeping
    def elapsed_s(self) -> float:
        """Seconds since the run started. Units: s."""
        return self.clock() - self.start_s

    def writer(self, suite: str) -> ResultWriter:
        """The incremental writer of ``<out_dir>/<suite>.json`` (one per suite and run)."""
        if suite not in self._writers:
            self._writers[suite] = ResultWriter(
                self.path(suite), self.provenance, resume=not self.options.overwrite
            )
        return self._writers[suite]

    def path(self, suite: str) -> Path:
        """Result file of ``suite``."""
        return self.options.out_dir / f"{suite}.json"

    def _load_existing(self) -> None:
        if self.options.overwrite:
            return
        for path in sorted(self.options.out_dir.glob("*.json")):
            try:
                records = load_results(path).records
            except Exception as exc:  # another tool's JSON in the folder: not ours to judge, but say so
                self.log(f"note: not reusing measurements from {path.name}: {exc}")
                continue
            for r in records:
                self._remember(r)

    def _remember(self, record: ResultRecord) -> None:
        key = rec.shape_key_of(record)
        if key is not None:
            self._shape_cache.setdefault(key, record)
        if record.component == "text_encoder" and "reused_from" not in record.extra:
            self._text.setdefault((record.model, str(record.settings.get("dtype"))), record)

    def add(self, writer: ResultWriter, record: ResultRecord) -> ResultRecord:
        """Write ``record`` now (atomic rewrite) and remember reusable measurements."""
        built = self._build_s is not None and record.model == self._model_id
        if built and "pipeline_build_s" not in record.extra:  # how long the pipeline under test took to build
            record = dataclasses.replace(record, extra={**record.extra, "pipeline_build_s": self._build_s})
        writer.add(record)
        self._remember(record)
        return record

    def shape_key(self, scenario: Scenario, component: str) -> tuple[Any, ...]:
        """Key under which a shape measurement of ``scenario`` is cached."""
        s = scenario.settings
        o = self.options
        return (
            scenario.model_id,
            component,
            s.height,
            s.width,
            s.num_frames,
            float(s.guidance_scale),
            o.dtype,
            o.device,
        )

    # ----------------------------------------------------------------- pipeline
    def measurer(self, model_id: str) -> ShapeMeasurer:
        """The measurer of ``model_id``'s pipeline, building it (and dropping the previous one) if needed."""
        if self._model_id == model_id and self._measurer is not None:
            return self._measurer
        self.release()
        t0 = self.clock()
        self.log(f"building {model_id} on {self.options.device} ({self.options.dtype}, random weights)...")
        self._pipe = self.build(model_id, self.options.device, self.options.dtype)
        self._measurer = ShapeMeasurer(self._pipe, self.meter, self.options.device, self.options.config)
        self._measurer.__enter__()
        self._model_id = model_id
        self._build_s = self.clock() - t0
        self.log(f"built {model_id} in {self._build_s:.1f} s")
        return self._measurer

    def release(self) -> None:
        """Drop the current pipeline and free device memory."""
        if self._measurer is not None:
            self._measurer.__exit__(None, None, None)
        self._measurer = self._pipe = self._model_id = None
        self._build_s = None
        self._shape_ready = None
        free_memory(self.options.device)

    def ensure_warm(self, scenario: Scenario) -> ShapeMeasurer:
        """The measurer, warmed up at ``scenario``'s shape (one untimed short generation with decoding)."""
        m = self.measurer(scenario.model_id)
        key = self.shape_key(scenario, "warm")
        if self._shape_ready != key:
            free_memory(self.options.device)
            first = self._shape_ready is None
            took = m.warmup(scenario.settings)
            if first:  # the first generation after a build also pays one-time start-up costs: once more
                took += m.warmup(scenario.settings)
            self._shape_ready = key
            self.log(f"  warm-up at {scenario.settings.id}: {took:.2f} s")
        else:
            m.settings = scenario.settings
        return m

    # ----------------------------------------------------------------- components
    def text_encoder(self, scenario: Scenario, writer: ResultWriter) -> ResultRecord:
        """The text-encoder record of this suite and model (measured once per model, reused after)."""
        rid = rec.text_encoder_id(scenario.suite, scenario.model_id)
        if rid in writer:
            return writer.result_file().by_id()[rid]
        known = self._text.get((scenario.model_id, self.options.dtype))
        if known is not None:
            return self.add(writer, rec.reused_record(known, scenario, rid))
        m = self.ensure_warm(scenario)
        series = m.measure_text_encoder()
        return self.add(writer, rec.series_record(scenario, series, self.run_settings, rid))

    def shape_component(self, scenario: Scenario, component: str, writer: ResultWriter) -> ResultRecord:
        """``denoiser_step`` or ``vae_decode`` at ``scenario``'s shape: measured, or reused if known."""
        rid = scenario.record_id(component)
        if self.options.resume and rid in writer:  # measured by an earlier run that stopped mid-point
            return writer.result_file().by_id()[rid]
        known = self._shape_cache.get(self.shape_key(scenario, component))
        if known is not None:
            return self.add(writer, rec.reused_record(known, scenario, rid))
        m = self.ensure_warm(scenario)
        series: Series = m.measure_denoiser() if component == "denoiser_step" else m.measure_vae_decode()
        extra = {"token_length": token_length(scenario)}
        run_settings = dict(self.run_settings)
        if component == "vae_decode":
            run_settings["vae_tiling"] = bool(series.extra.get("vae_tiling"))
        return self.add(writer, rec.series_record(scenario, series, run_settings, rid, extra))

    def composed(
        self,
        scenario: Scenario,
        writer: ResultWriter,
        text: ResultRecord,
        step: ResultRecord,
        vae: ResultRecord,
        extra: dict[str, Any] | None = None,
    ) -> ResultRecord:
        """The composed per-video record: text + S x step + VAE decode (no fixed overhead measured here)."""
        steps = scenario.settings.num_inference_steps
        values = compose_video(means(text.rounds), means(step.rounds), steps, means(vae.rounds))
        parts = {"text_encoder": text.id, "denoiser_step": step.id, "vae_decode": vae.id}
        info = {
            "formula": "text_encoder + num_inference_steps * denoiser_step + vae_decode",
            "fixed_overhead_included": False,
            "vae_tiling": bool(vae.settings.get("vae_tiling", False)),
            "token_length": token_length(scenario),
            # cpu/ram figures of a composed record are as estimated as its parts' (never measured silently)
            "host_energy_estimated": any(
                part.extra.get("host_energy_estimated", False) for part in (text, step, vae)
            ),
            **(extra or {}),
        }
        return self.add(
            writer, rec.composed_record(scenario, "composed", values, parts, self.run_settings, info)
        )

    # ----------------------------------------------------------------- suites
    def run_points(
        self,
        suite: str,
        scenarios: Sequence[Scenario],
        indices: Sequence[int],
        measure_point: Callable[[Scenario, ResultWriter], str],
        done_components: Callable[[Scenario], Sequence[str]] = lambda sc: ("composed",),
    ) -> SuiteOutcome:
        """Measure ``scenarios[i]`` for i in ``indices`` with ``measure_point``; budget, errors, progress.

        ``measure_point`` returns the progress text of a point. A point is done when every record of
        ``done_components(scenario)`` exists (``resume`` skips it; a point stopped half-way is completed, its
        finished parts reused).
        """
        writer = self.writer(suite)
        outcome = SuiteOutcome(suite, self.path(suite))
        failures = 0
        durations: list[float] = []
        last: PointTiming | None = None
        for n, i in enumerate(indices):
            sc = scenarios[i]
            if self.options.resume and all(sc.record_id(c) in writer for c in done_components(sc)):
                outcome.skipped.append(sc.id)
                continue
            if self._over_budget(last, sc):
                outcome.stopped_for_budget = True
                self.log(f"time budget: stopping before {sc.id} (elapsed {self.elapsed_s():.0f} s)")
                break
            t0 = self.clock()
            built_before = self._measurer is not None and self._model_id == sc.model_id
            first_shape = self._shape_ready is None or not built_before
            try:
                text = measure_point(sc, writer)
            except Exception as exc:
                if _is_fatal(exc):
                    raise
                failures += 1
                self.add(writer, rec.error_record(sc, "point", exc, self.clock() - t0, self.run_settings))
                outcome.failed.append(sc.id)
                self.log(f"[{n + 1}/{len(indices)}] {sc.id}: FAILED ({type(exc).__name__}: {str(exc)[:200]})")
                self._shape_ready = None
                free_memory(self.options.device)
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    self.log(f"{failures} points failed in a row; stopping this suite (see error records)")
                    break
                continue
            failures = 0
            durations.append(self.clock() - t0)
            last = self._point_timing(
                sc, writer, durations[-1], 0.0 if built_before else self._build_s, first_shape
            )
            outcome.done.append(sc.id)
            remaining = len(indices) - n - 1
            eta = remaining * (sum(durations) / len(durations))
            self.log(
                f"[{n + 1}/{len(indices)}] {sc.id}: {text} | point {durations[-1]:.1f} s, "
                f"elapsed {self.elapsed_s():.0f} s, ETA ~{eta:.0f} s"
            )
        return outcome

    def _point_timing(
        self, sc: Scenario, writer: ResultWriter, duration_s: float, build_s: float | None, first_shape: bool
    ) -> PointTiming:
        """What the point just measured cost, with its step and decode latency when it recorded them."""
        by_id = writer.result_file().by_id()

        def latency(component: str) -> float | None:
            record = by_id.get(sc.record_id(component))
            values = record.rounds.get("latency_s") if record is not None else None
            return sum(values) / len(values) if values else None

        return PointTiming(
            duration_s=duration_s,
            build_s=build_s or 0.0,
            step_s=latency("denoiser_step"),
            decode_s=latency("vae_decode"),
            tokens=token_length(sc),
            first_shape=first_shape,
        )

    def _over_budget(self, last: PointTiming | None, nxt: Scenario) -> bool:
        """Whether ``nxt`` would end past the budget (see :mod:`.point_cost`; the first point always runs)."""
        budget = self.options.time_budget_s
        if budget is None:
            return False
        estimate = 0.0
        if last is not None:
            floor = step_floor_s(nxt, self.provenance)
            estimate = estimate_next_point_s(last, token_length(nxt), self.options.config, floor)
        return self.elapsed_s() + estimate > budget


def _is_fatal(exc: BaseException) -> bool:
    """Errors that must stop the whole run (the budget, an interrupt), not just one point."""
    return isinstance(exc, (BudgetExhausted, KeyboardInterrupt, SystemExit))


def token_length(scenario: Scenario) -> int:
    """Denoiser token length of ``scenario`` from its model spec (0 if the spec cannot say)."""
    from t2v_energy_lib.models import get_spec

    s = scenario.settings
    try:
        return int(get_spec(scenario.model_id).token_length(s.height, s.width, s.num_frames))
    except Exception:  # a spec without a token rule must not stop a measurement
        return 0


def step_floor_s(scenario: Scenario, provenance: dict[str, Any]) -> float | None:
    """The study's predictor for one step of ``scenario`` on this run's GPU (None: cannot say).

    FLOPs of one step / (the study's efficiency x the GPU's datasheet peak); a lower bound on a compute-bound
    step used by the time budget only, never stored.
    """
    from t2v_energy_lib.models import get_spec
    from t2v_energy_lib.theory import STUDY_MU, generation_flops, get_gpu

    gpu = provenance.get("gpu")
    name = gpu.get("name") if isinstance(gpu, dict) else None
    if not name:
        return None
    try:
        peak = get_gpu(str(name)).peak_flops
        flops = generation_flops(get_spec(scenario.model_id), scenario.settings, include_vae=False).step
    except Exception:  # an unknown GPU or a spec without a FLOP rule: fall back to the token scaling
        return None
    return flops.total_flops / (STUDY_MU * peak)


def default_build(model_id: str, device: str, dtype: str) -> Any:
    """Build ``model_id``'s real diffusers pipeline with random weights on ``device`` in ``dtype``."""
    import torch

    from t2v_energy_lib.models import build_pipeline, get_spec

    return build_pipeline(get_spec(model_id), device=device, dtype=getattr(torch, dtype), seed=0)
