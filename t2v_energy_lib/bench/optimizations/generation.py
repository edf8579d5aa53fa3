"""One seeded complete generation of a pipeline, with its final latents kept and its counters installed.

Every generation of the suite uses the same prompt, seed (a CPU generator, so the initial noise is the same
on any device) and settings, so a variant's output can be compared with the default's. The step callback
counts denoising steps and keeps the final latents (one small device-to-host copy at the last step).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from t2v_energy_lib.bench.optimizations.engagement import DispatchCounter, HookActivity, VaeDecodeCounter


@dataclass
class Output:
    """What one generation produced: decoded frames (float32 in [0, 1]) and final latents (float32)."""

    frames: np.ndarray | None
    latents: np.ndarray | None
    steps_run: int


class Generator:
    """Seeded complete generations of ``pipe`` at fixed settings.

    Args:
        pipe: A Diffusers text-to-video pipeline.
        settings: ``GenerationSettings`` (height, width, frames, guidance; steps are per call).
        prompt: The prompt.
        seed: Seed of the initial noise.
    """

    def __init__(self, pipe: Any, settings: Any, prompt: str, seed: int) -> None:
        self.pipe = pipe
        self.settings = settings
        self.prompt = prompt
        self.seed = seed
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)

    def __call__(self, steps: int, output_type: str = "np", keep: bool = True) -> Output:
        """One generation of ``steps`` steps; ``keep`` returns frames and final latents (else only counts)."""
        import torch

        seen = {"steps": 0, "latents": None}

        def on_step_end(pipe: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            seen["steps"] += 1
            if keep and i == steps - 1:
                seen["latents"] = kwargs["latents"].detach().float().cpu().numpy()
            return kwargs

        s = self.settings
        out = self.pipe(
            prompt=self.prompt,
            height=s.height,
            width=s.width,
            num_frames=s.num_frames,
            num_inference_steps=steps,
            guidance_scale=s.guidance_scale,
            output_type=output_type,
            generator=torch.Generator("cpu").manual_seed(self.seed),
            callback_on_step_end=on_step_end,
            callback_on_step_end_tensor_inputs=["latents"],
        )
        frames = None
        if keep and output_type == "np":
            frames = np.asarray(out.frames[0], dtype=np.float32)
        return Output(frames, seen["latents"], int(seen["steps"]))


class Counters:
    """The engagement counters of one variant, installed for the variant's whole life (apply to last round).

    Entered before the levers are applied; :meth:`watch_hooks` after them and before the warm-up, so that a
    compiled region is traced with every counter in place (removing one later would force a recompilation
    inside a measured round).
    """

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.hooks = HookActivity(pipe.transformer)
        self.dispatch = DispatchCounter()
        self.vae = VaeDecodeCounter(pipe.vae)
        self._inside = contextlib.ExitStack()  # counters that would sit inside compiled regions
        self._outside = contextlib.ExitStack()

    def __enter__(self) -> Counters:
        self._inside.enter_context(self.dispatch)
        self._outside.enter_context(self.vae)
        return self

    def watch_hooks(self) -> None:
        """Wrap the denoiser's hooks (call after the levers are applied: cache hooks exist only then)."""
        self._inside.enter_context(self.hooks)

    def unwatch_inside(self) -> None:
        """Remove the hook and dispatcher counters (before compiling the blocks they would sit in)."""
        self._inside.close()

    def __exit__(self, *exc: object) -> None:
        self._inside.close()
        self._outside.close()

    def reset(self) -> None:
        """Zero every count (after the warm-up, before the probe)."""
        for table in (self.hooks.calls, self.hooks.computed, self.dispatch.counts, self.vae.counts):
            for key in table:
                table[key] = 0


@contextlib.contextmanager
def released(device: str) -> Iterator[None]:
    """Free device memory after the block (between variants)."""
    try:
        yield
    finally:
        from t2v_energy_lib.bench.instrument import free_memory

        free_memory(device)
