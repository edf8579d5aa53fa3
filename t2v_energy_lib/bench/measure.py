"""Component measurements at one shape, on a real pipeline: text encoder, denoiser step, VAE decode, video.

:class:`ShapeMeasurer` drives the pipeline's own ``__call__`` (instrumented by :mod:`.instrument`):

* warm-up: one 1-step generation with decoding, which also records the pipeline's ``encode_prompt`` and
  ``vae.decode`` calls;
* denoiser: ``pipe(prompt, ..., num_inference_steps=k, output_type="latent")`` with the prompt embeddings
  cached, ``k`` calibrated so one window lasts >= ``target_window_s``; per-step values = window / k;
* text encoder: the recorded ``encode_prompt`` call repeated to fill a window (CFG as the pipeline runs it);
* VAE decode: the recorded decode calls replayed (latents already normalised, as the pipeline passes them);
* end to end: complete generations ``pipe(prompt, all steps, output_type="np")``, one window each.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from t2v_energy_lib.bench.instrument import (
    DecodeCapture,
    PromptCache,
    calibrate_units,
    peak_memory_bytes,
    reset_peak,
    synchronize,
)
from t2v_energy_lib.energy import EnergyMeter, Measurement, ShortWindowWarning
from t2v_energy_lib.results.record_builder import per_unit, window_rounds

# Fewest denoising steps per pipeline call: the flow-matching Euler schedules of LTX and Mochi fail at 1 step
# (index past their end / divide by steps - 1); the others (Wan's UniPC...) run 1 step.
MIN_CALL_STEPS = 2


def min_call_steps(pipe: Any) -> int:
    """Fewest steps one ``pipe(...)`` call may run (see :data:`MIN_CALL_STEPS`)."""
    scheduler = type(getattr(pipe, "scheduler", None)).__name__
    return MIN_CALL_STEPS if scheduler.startswith("FlowMatch") else 1


DEFAULT_PROMPT = (
    "A golden retriever runs across a sunlit meadow towards the camera, slow motion, shallow depth of field, "
    "cinematic lighting, highly detailed"
)


@dataclass(frozen=True)
class MeasureConfig:
    """How long and how often to measure.

    Attributes:
        target_window_s: Minimum length of a denoiser window. Units: s.
        text_window_s: Minimum length of a text-encoder window. Units: s.
        rounds: Measured rounds (windows) of the denoiser and text encoder.
        vae_rounds: Measured decodes when one decode is short.
        vae_rounds_long: Measured decodes when one decode lasts more than ``long_decode_s``.
        long_decode_s: See ``vae_rounds_long``. Units: s.
        max_steps_per_window: Cap on denoising steps in one window.
        max_text_reps: Cap on text-encoder calls in one window.
        e2e_rounds: Complete generations measured per validation point.
        prompt: The prompt (fixed; Wan, CogVideoX and LTX pad it, so compute does not depend on it).
    """

    target_window_s: float = 5.0
    text_window_s: float = 2.0
    rounds: int = 3
    vae_rounds: int = 3
    vae_rounds_long: int = 2
    long_decode_s: float = 4.0
    max_steps_per_window: int = 50
    max_text_reps: int = 200
    e2e_rounds: int = 3
    prompt: str = DEFAULT_PROMPT


@dataclass(frozen=True)
class Series:
    """Windows of one component: ``units`` units of work per window.

    Attributes:
        component: ``"denoiser_step"``, ``"text_encoder"``, ``"vae_decode"``, ``"end_to_end"``...
        windows: One energy-layer :class:`~t2v_energy_lib.energy.Measurement` per measured window.
        units: Units of work per window (steps, encoder calls, decodes, videos).
        extra: Component context (calibration, tiling, peak memory); the windows' own context (lengths,
            short windows, host-energy flags) is added by the record builder.
    """

    component: str
    windows: tuple[Measurement, ...]
    units: int
    extra: dict[str, Any] = field(default_factory=dict)

    def rounds(self) -> dict[str, tuple[float, ...]]:
        """Per-unit rounds: each window's values divided by ``units``, keyed by quantity (units in names)."""
        return {key: per_unit(v, self.units) for key, v in window_rounds(self.windows).items()}


class ShapeMeasurer:
    """Measures the components of one pipeline; call :meth:`warmup` for each new shape first.

    Args:
        pipe: A diffusers text-to-video pipeline (any family that calls ``encode_prompt`` and ``vae.decode``).
        meter: The energy layer's meter (``EnergyMeter``: GPU + host on CUDA, host only on the CPU), or a
            fake with its window API (``begin_window(key, **gpu_kwargs)``, ``end_window(key) ->
            Measurement``, ``gpu``).
        device: ``"cuda"`` or ``"cpu"``.
        config: Window lengths and rounds.
    """

    def __init__(self, pipe: Any, meter: EnergyMeter, device: str, config: MeasureConfig) -> None:
        self.pipe = pipe
        self.meter = meter
        self.device = device
        self.config = config
        self.prompts = PromptCache(pipe)
        self.decodes = DecodeCapture(pipe, device)
        self.settings: Any = None
        self.min_steps = min_call_steps(pipe)
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)

    def __enter__(self) -> ShapeMeasurer:
        self.prompts.__enter__()
        self.decodes.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.decodes.__exit__(*exc)
        self.prompts.__exit__(*exc)

    def call(self, steps: int, output_type: str, **kwargs: Any) -> Any:
        """One ``pipe(...)`` call at the current shape with ``steps`` denoising steps."""
        s = self.settings
        return self.pipe(
            prompt=self.config.prompt,
            height=s.height,
            width=s.width,
            num_frames=s.num_frames,
            num_inference_steps=steps,
            guidance_scale=s.guidance_scale,
            output_type=output_type,
            **kwargs,
        )

    def _timed(self, fn: Callable[[], Any]) -> float:
        synchronize(self.device)
        start = time.perf_counter()
        out = fn()
        del out
        synchronize(self.device)
        return time.perf_counter() - start

    def warmup(self, settings: Any) -> float:
        """Untimed short generation with decoding at ``settings``; records encode/decode calls. Units: s."""
        self.settings = settings
        self.decodes.start_capture(settings.height, settings.width)
        try:
            return self._timed(lambda: self.call(self.min_steps, "np"))
        finally:
            self.decodes.capturing = False

    def _begin(self, key: str, record_timeline: bool = False) -> None:
        """Open window ``key``; a GPU power timeline is asked for only where a GPU is measured."""
        if record_timeline and getattr(self.meter, "gpu", None) is not None:
            self.meter.begin_window(key, record_timeline=True)
        else:
            self.meter.begin_window(key)

    def _end(self, key: str) -> Measurement:
        """Close window ``key``; short windows (expected on a CPU smoke run) are counted, not warned about."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortWindowWarning)
            return self.meter.end_window(key)

    def _windows(
        self,
        component: str,
        run: Callable[[int], None],
        units: int,
        rounds: int,
        timeline_first: bool = False,
    ) -> list[Measurement]:
        """``rounds`` windows of ``run(units)``; ``timeline_first`` asks for the first one's GPU power."""
        windows = []
        for i in range(rounds):
            key = f"{component}#{i}"
            self._begin(key, record_timeline=timeline_first and i == 0)
            run(units)
            windows.append(self._end(key))
        return windows

    def measure_denoiser(self) -> Series:
        """Per-step windows of the pipeline's own denoising loop (prompt embeddings cached)."""
        cfg = self.config
        reset_peak(self.device)
        one = self._timed(lambda: self.call(self.min_steps, "latent")) / self.min_steps
        steps = max(self.min_steps, calibrate_units(one, cfg.target_window_s, cfg.max_steps_per_window))
        if steps >= 4:
            # cheap steps: refine with a longer call, since one step's figure includes the per-call overhead
            probe = min(steps, max(self.min_steps + 1, steps // 4))
            per = self._timed(lambda: self.call(probe, "latent")) / probe
            steps = max(self.min_steps, calibrate_units(per, cfg.target_window_s, cfg.max_steps_per_window))
        windows = self._windows(
            "denoiser", lambda k: self.call(k, "latent"), steps, cfg.rounds, timeline_first=True
        )
        extra: dict[str, Any] = {
            "steps_per_window": steps,
            "calibration_call_s": one,
            "peak_memory_bytes": peak_memory_bytes(self.device),
        }
        timeline = _timeline(windows[0])
        if timeline:  # GPU power of the first window only (keeps result files small)
            extra["timeline"] = timeline
            extra["timeline_window"] = windows[0].key
        return Series("denoiser_step", tuple(windows), steps, extra)

    def measure_text_encoder(self) -> Series:
        """Windows of the recorded ``encode_prompt`` call (positive and negative prompt, as the pipeline)."""
        cfg = self.config
        reset_peak(self.device)
        for _ in range(2):  # untimed: the encoder ran only once (in the warm-up generation) before this
            self.prompts.run_recorded()
        one = self._timed(self.prompts.run_recorded)
        reps = calibrate_units(one, cfg.text_window_s, cfg.max_text_reps)

        def run(n: int) -> None:
            for _ in range(n):
                self.prompts.run_recorded()

        windows = self._windows("text_encoder", run, reps, cfg.rounds)
        extra = {"calls_per_window": reps, "peak_memory_bytes": peak_memory_bytes(self.device)}
        return Series("text_encoder", tuple(windows), reps, extra)

    def measure_vae_decode(self) -> Series:
        """Windows of the recorded decode calls, one video's decode per window (tiling as decided)."""
        cfg = self.config
        reset_peak(self.device)
        projected_s = self.decodes.warmup_s / self.decodes.warmup_fraction
        full_warmup = self.decodes.warmup_fraction < 1.0 and projected_s < cfg.long_decode_s
        if full_warmup:  # cheap enough: one untimed full decode as well
            self.decodes.replay()
        windows = self._windows("vae_decode", self.decodes.replay, 1, 1)
        rounds = cfg.vae_rounds_long if windows[0].duration_s > cfg.long_decode_s else cfg.vae_rounds
        windows += self._windows("vae_decode", self.decodes.replay, 1, rounds - 1)
        t = self.decodes.tiling
        extra = {
            "vae_tiling": t.enabled,
            "vae_tiling_reason": t.reason,
            "vae_class": self.decodes.vae_class,
            "vae_dtype": str(getattr(self.pipe.vae, "dtype", "")),
            "decode_calls_per_video": len(self.decodes.calls),
            "warmup": "full decode"
            if full_warmup or self.decodes.warmup_fraction == 1.0
            else "3-latent-frame decode",
            "peak_memory_bytes": peak_memory_bytes(self.device),
        }
        return Series("vae_decode", tuple(windows), 1, extra)

    def measure_end_to_end(self, rounds: int | None = None) -> Series:
        """Complete generations (real text encoding, all steps, decode, postprocess), one window each."""
        steps = self.settings.num_inference_steps
        self.prompts.replay = False
        reset_peak(self.device)
        try:
            windows = self._windows(
                "end_to_end", lambda _: self.call(steps, "np"), 1, rounds or self.config.e2e_rounds
            )
        finally:
            self.prompts.replay = True
        extra = {
            "output_type": "np",
            "vae_tiling": self.decodes.tiling.enabled,
            "peak_memory_bytes": peak_memory_bytes(self.device),
        }
        return Series("end_to_end", tuple(windows), 1, extra)

    def trace_steps(self, steps: int) -> tuple[list[Measurement], Measurement]:
        """One denoising run of ``steps`` steps with one window per step (closed/opened in the step callback).

        Returns:
            The per-step windows (the first includes the call's start-up) and the tail window (after the
            last step until the call returned).
        """
        windows: list[Measurement] = []

        def on_step_end(pipe: Any, i: int, t: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            windows.append(self._end(f"step#{i}"))
            self._begin(f"step#{i + 1}")
            return callback_kwargs

        self._begin("step#0")
        try:
            self.call(steps, "latent", callback_on_step_end=on_step_end)
        finally:
            tail = self._end(f"step#{len(windows)}")
        return windows, tail


def _timeline(window: Measurement) -> dict[str, dict[str, list[float]]] | None:
    """The window's GPU power samples, JSON-ready (``{"<device>": {"timestamps_s", "power_w"}}``), or None."""
    timeline = getattr(window.gpu, "timeline", None)
    return {str(d): tl.to_dict() for d, tl in timeline.items()} if timeline else None


#: The CPU smoke run's windows and rounds (tiny variants: short windows, few decodes and videos).
CPU_CONFIG = MeasureConfig(
    target_window_s=0.2,
    text_window_s=0.1,
    rounds=3,
    vae_rounds=2,
    vae_rounds_long=2,
    long_decode_s=1.0,
    max_steps_per_window=8,
    max_text_reps=20,
    e2e_rounds=2,
)
