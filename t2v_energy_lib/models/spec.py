"""Model specs: what a text-to-video pipeline is made of and which request shapes it accepts.

A :class:`ModelSpec` is a frozen description. Component classes and configs are JSON data shipped in
``t2v_energy_lib/models/configs/<id>.json`` (tiny variants in ``configs/tiny/<id>.json``), read lazily the
first time ``component_configs`` is asked for. Nothing here imports torch or diffusers.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from t2v_energy_lib.errors import InvalidSettingsError
from t2v_energy_lib.models.settings import GenerationSettings

CFG_MODES = ("two_pass", "batch2", "none")


@cache
def _load_config_file(config_file: str) -> dict[str, Any]:
    text = resources.files("t2v_energy_lib.models").joinpath("configs", *config_file.split("/")).read_text()
    return json.loads(text)


@dataclass(frozen=True)
class ShapeRules:
    """Shape rules of one family, as its VAE, patchifier and pipeline impose them.

    Attributes:
        label: Human name used in error messages, e.g. ``"Wan 2.1"``.
        vae_temporal: Temporal compression of the VAE (latent frames = (F - 1) // vae_temporal + 1).
        vae_spatial: Spatial compression of the VAE. Units: px per latent pixel.
        patch_t: Temporal patch size of the denoiser.
        patch_hw: Spatial patch size of the denoiser.
        spatial_multiple: Height and width must be multiples of this. Units: px.
        frame_stride: ``num_frames`` must be ``frame_stride * k + 1``; 1 means any count.
        max_frames: Largest accepted ``num_frames`` (AnimateDiff: the motion module's positions), or None.
        joint_text: True where text tokens join the video tokens in one self-attention sequence.
        per_frame: True for UNet models whose spatial attention runs per frame (AnimateDiff).
    """

    label: str
    vae_temporal: int
    vae_spatial: int
    patch_t: int
    patch_hw: int
    spatial_multiple: int
    frame_stride: int
    max_frames: int | None = None
    joint_text: bool = False
    per_frame: bool = False


@dataclass(frozen=True)
class DenoiserShape:
    """A summary of the denoiser's architecture, for the analytic FLOP model.

    Attributes:
        kind: ``"dit"`` (transformer over video tokens) or ``"unet"`` (AnimateDiff's UNetMotionModel).
        d_model: Hidden width of the video stream.
        num_heads: Attention heads.
        head_dim: Width of one head.
        num_layers: Transformer blocks in total (HunyuanVideo: dual-stream + single-stream).
        ffn_dim: Inner width of the feed-forward (the value of one up-projection; SwiGLU/GEGLU have two).
        patch_size: ``(t, h, w)`` patch of the patch embedding.
        in_channels: Latent channels entering the denoiser.
        text_dim: Width of the text embeddings fed to the denoiser.
        extra: Family-specific extras (e.g. ``num_single_layers``, ``cross_attention_dim``).
    """

    kind: str
    d_model: int
    num_heads: int
    head_dim: int
    num_layers: int
    ffn_dim: int
    patch_size: tuple[int, int, int]
    in_channels: int
    text_dim: int
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)


def _nearest(value: int, step: int, offset: int) -> list[int]:
    """Valid values ``step * k + offset`` just below and above ``value`` (positive ones only)."""
    below = (value - offset) // step * step + offset
    return [v for v in (below, below + step) if v >= max(offset, 1)]


@dataclass(frozen=True)
class ModelSpec:
    """One text-to-video model: its components, defaults, CFG execution and shape rules.

    Attributes:
        id: Registry id, e.g. ``"wan2.1-t2v-1.3b"`` (tiny variants end in ``-tiny``).
        family: ``wan``, ``cogvideox``, ``ltx``, ``mochi``, ``animatediff`` or ``hunyuanvideo``.
        pipeline_class: Diffusers pipeline class name.
        config_file: JSON file under ``models/configs`` holding component classes and configs.
        defaults: The generation settings the model is normally run at.
        cfg_mode: ``"two_pass"`` (two batch-1 denoiser calls per step), ``"batch2"`` (one batch-2 call) or
            ``"none"`` (guidance-distilled: one batch-1 call).
        text_tokens: Text tokens the denoiser sees after the tokenizer pads (Mochi: the maximum; it keeps only
            the valid ones).
        encoder_tokens: Tokens the main text encoder runs over (HunyuanVideo: 256 + 95 template tokens).
        rules: Shape rules (see :class:`ShapeRules`).
        dtype_overrides: ``(component, dtype name)`` pairs that ignore the requested dtype (Wan VAE: float32).
        pipeline_kwargs: Extra ``(name, value)`` pairs for the pipeline constructor.
        denoiser: Component name of the denoiser (``transformer`` or ``unet``).
        min_diffusers: First diffusers version with this pipeline.
        description: One line for listings.
        is_tiny: True for the CPU test variants.
    """

    id: str
    family: str
    pipeline_class: str
    config_file: str
    defaults: GenerationSettings
    cfg_mode: str
    text_tokens: int
    rules: ShapeRules
    encoder_tokens: int | None = None
    dtype_overrides: tuple[tuple[str, str], ...] = ()
    pipeline_kwargs: tuple[tuple[str, Any], ...] = ()
    denoiser: str = "transformer"
    min_diffusers: str = "0.33"
    description: str = ""
    is_tiny: bool = False
    tiny_defaults: GenerationSettings | None = None

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def model_family(self) -> Any:
        """The :class:`~t2v_energy_lib.models.families.ModelFamily` of this spec (its module's declaration).

        Raises:
            UnknownModelError: ``family`` names no family module.
        """
        from t2v_energy_lib.models.families import get_family

        return get_family(self.family)

    # ----------------------------------------------------------------- component data (lazy JSON)
    @property
    def components(self) -> dict[str, dict[str, Any]]:
        """Component entries ``name -> {"library", "class", "config", ...}`` (a fresh deep copy)."""
        return copy.deepcopy(_load_config_file(self.config_file)["components"])

    @property
    def component_names(self) -> tuple[str, ...]:
        """Pipeline component names in constructor order."""
        return tuple(_load_config_file(self.config_file)["components"])

    @property
    def component_classes(self) -> dict[str, str]:
        """``name -> class name`` for every component (models, tokenizers, scheduler)."""
        return {name: entry["class"] for name, entry in self.components.items()}

    @property
    def component_configs(self) -> dict[str, dict[str, Any]]:
        """``name -> config dict`` (diffusers ``from_config`` kwargs or transformers config kwargs)."""
        return {name: entry["config"] for name, entry in self.components.items()}

    @property
    def scheduler_class(self) -> str:
        """Scheduler class name."""
        return self.component_classes["scheduler"]

    @property
    def scheduler_config(self) -> dict[str, Any]:
        """Scheduler config (only keys that differ from the class defaults)."""
        return self.component_configs["scheduler"]

    @property
    def dtype_policy(self) -> dict[str, str]:
        """Components pinned to a dtype whatever the requested one (e.g. ``{"vae": "float32"}`` for Wan)."""
        return dict(self.dtype_overrides)

    # ----------------------------------------------------------------- variants
    def tiny(self) -> ModelSpec:
        """The tiny CPU variant: same family, rules and pipeline, a couple of layers and small widths."""
        if self.is_tiny:
            return self
        return dataclasses.replace(
            self,
            id=f"{self.id}-tiny",
            config_file=f"tiny/{self.id}.json",
            defaults=self.tiny_defaults or self.defaults,
            is_tiny=True,
            description=f"tiny CPU variant of {self.id}",
        )

    # ----------------------------------------------------------------- shapes
    def validate(self, settings: GenerationSettings) -> None:
        """Check settings against the model's shape rules.

        Raises:
            InvalidSettingsError: naming the broken rule and the nearest valid values.
        """
        r = self.rules
        for name in ("height", "width", "num_frames", "num_inference_steps"):
            value = getattr(settings, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidSettingsError(f"{name}={value!r} must be a positive integer for {self.id}.")
        for name in ("height", "width"):
            value = getattr(settings, name)
            if value % r.spatial_multiple:
                near = " or ".join(map(str, _nearest(value, r.spatial_multiple, r.spatial_multiple)))
                raise InvalidSettingsError(
                    f"{name}={value} breaks {r.label}'s rule {name} % {r.spatial_multiple} == 0 "
                    f"(VAE {r.vae_spatial}x x patch {r.patch_hw}); nearest valid: {near}."
                )
        f = settings.num_frames
        if r.frame_stride > 1 and (f - 1) % r.frame_stride:
            near = " or ".join(map(str, _nearest(f, r.frame_stride, 1)))
            raise InvalidSettingsError(
                f"num_frames={f} breaks {r.label}'s rule num_frames = {r.frame_stride}k+1 "
                f"(the VAE compresses time {r.vae_temporal}x, keeps frame 0); nearest valid: {near}."
            )
        if r.max_frames is not None and f > r.max_frames:
            raise InvalidSettingsError(
                f"num_frames={f} breaks {r.label}'s rule num_frames <= {r.max_frames} "
                f"(positions of the motion module); nearest valid: {r.max_frames}."
            )
        if not settings.guidance_scale >= 0:
            raise InvalidSettingsError(f"guidance_scale={settings.guidance_scale!r} must be >= 0.")

    def latent_frames(self, num_frames: int) -> int:
        """Latent frames the VAE produces for ``num_frames`` output frames."""
        return (num_frames - 1) // self.rules.vae_temporal + 1

    def latent_shape(self, height: int, width: int, num_frames: int, batch: int = 1) -> tuple[int, ...]:
        """Shape ``(batch, channels, frames, height, width)`` of the initial latents.

        CogVideoX keeps them as ``(B, F, C, H, W)`` and LTX packs them into tokens inside the pipeline; the
        canonical layout here is the VAE's. Units: latent elements.
        """
        channels = int(self.component_configs[self.denoiser]["in_channels"])
        s = self.rules.vae_spatial
        return (batch, channels, self.latent_frames(num_frames), height // s, width // s)

    def video_tokens(self, height: int, width: int, num_frames: int) -> int:
        """Video tokens the denoiser patchifies the latents into (AnimateDiff: per frame)."""
        r = self.rules
        grid = (height // (r.vae_spatial * r.patch_hw)) * (width // (r.vae_spatial * r.patch_hw))
        if r.per_frame:
            return grid
        return self.latent_frames(num_frames) // r.patch_t * grid

    def token_length(
        self, height: int, width: int, num_frames: int, valid_text_tokens: int | None = None
    ) -> int:
        """Sequence length ``l`` of the denoiser's self-attention.

        Video tokens, plus the text tokens for joint-attention families (CogVideoX: 226, HunyuanVideo: 256,
        Mochi: the valid prompt tokens, ``valid_text_tokens`` or at most 256). Cross-attention families (Wan,
        LTX) return the video tokens only; AnimateDiff returns the per-frame spatial tokens at the first
        attention level (H/8 * W/8).
        """
        tokens = self.video_tokens(height, width, num_frames)
        if self.rules.joint_text:
            text = self.text_tokens if valid_text_tokens is None else min(valid_text_tokens, self.text_tokens)
            tokens += text
        return tokens
