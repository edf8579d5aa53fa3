"""Generation settings: the request shape a text-to-video pipeline is called with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationSettings:
    """One generation request, as passed to a Diffusers text-to-video pipeline.

    Attributes:
        height: Frame height. Units: px.
        width: Frame width. Units: px.
        num_frames: Number of output frames (for Wan, CogVideoX, LTX, Mochi and HunyuanVideo the count the
            VAE decodes, e.g. 81 = 4 * 20 + 1).
        num_inference_steps: Denoising steps.
        guidance_scale: Classifier-free guidance scale (HunyuanVideo: the embedded, distilled guidance).
    """

    height: int
    width: int
    num_frames: int
    num_inference_steps: int = 50
    guidance_scale: float = 5.0

    @property
    def id(self) -> str:
        """A stable, readable id such as ``480x832x81-s50`` (guidance is not part of the id)."""
        return f"{self.height}x{self.width}x{self.num_frames}-s{self.num_inference_steps}"

    def call_kwargs(self) -> dict[str, float | int]:
        """The keyword arguments of a pipeline ``__call__`` these settings stand for."""
        return {
            "height": self.height,
            "width": self.width,
            "num_frames": self.num_frames,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
        }
