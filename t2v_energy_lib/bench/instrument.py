"""Instrumenting a real diffusers pipeline without re-implementing it.

Every family of text-to-video pipeline calls ``self.encode_prompt(...)`` once and ``self.vae.decode(...)``
once (or in chunks) per generation. The runners wrap these two instance attributes:

* :class:`PromptCache` records the pipeline's own ``encode_prompt`` call and its result; while ``replay`` is
  on, later calls with the same arguments return the cached embeddings, so ``pipe(prompt=...)`` runs only
  the denoising loop (and the text encoder can be measured alone by re-running the recorded call).
* :class:`DecodeCapture` records the latents (already normalised, exactly as the pipeline passes them) and
  arguments of every ``vae.decode`` call, so the VAE decode can be measured alone by replaying them. It also
  owns the VAE's tiling decision: tiling is switched on before a decode that would not fit in memory, or
  after an out-of-memory error, and the choice is reported.

Nothing here touches CUDA at import; torch is imported inside functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# Peak memory of an untiled VAE decode per output pixel (H x W; decoders that run frame by frame do not
# grow with frames). Wan2.1 VAE fp32: 29.8 GB at 480x832 (h100.md). Others: unknown, rely on the OOM retry.
VAE_PEAK_BYTES_PER_PIXEL: dict[str, float] = {"AutoencoderKLWan": 29.8e9 / (480 * 832)}
# VAEs that decode one latent frame at a time with a causal cache: a 3-latent-frame decode runs every chunk
# shape of the full decode (first chunk, second with a 1-frame cache, later ones with a full cache).
FRAME_CAUSAL_VAES = frozenset({"AutoencoderKLWan"})


def is_oom(exc: BaseException) -> bool:
    """True for a device out-of-memory error (CUDA's, or a RuntimeError saying so)."""
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def synchronize(device: str) -> None:
    """Wait for queued device work (no-op on the CPU)."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize()


def free_memory(device: str) -> None:
    """Release cached device memory between shapes."""
    import gc

    import torch

    gc.collect()
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()


def reset_peak(device: str) -> None:
    """Reset the device's peak-memory counter (no-op on the CPU)."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_memory_bytes(device: str) -> int | None:
    """Peak allocated device memory since the last :func:`reset_peak`, None on the CPU. Units: bytes."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return None


def total_memory_bytes(device: str) -> int | None:
    """Total device memory, None on the CPU. Units: bytes."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)
    return None


def _key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    def describe(value: Any) -> str:
        shape = getattr(value, "shape", None)
        return f"tensor{tuple(shape)}" if shape is not None else repr(value)

    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in sorted(kwargs.items())]
    return ",".join(parts)


class PromptCache:
    """Wraps ``pipe.encode_prompt``: records calls, and replays cached results while ``replay`` is True."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.original = pipe.encode_prompt
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self._cache: dict[str, Any] = {}
        self.replay = True

    def __enter__(self) -> PromptCache:
        self.pipe.encode_prompt = self._wrapper
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pipe.__dict__.get("encode_prompt") is self._wrapper:
            del self.pipe.encode_prompt

    def _wrapper(self, *args: Any, **kwargs: Any) -> Any:
        key = _key(args, kwargs)
        if self.replay and key in self._cache:
            return self._cache[key]
        result = self.original(*args, **kwargs)
        self._cache[key] = result
        if not self.calls:
            self.calls.append((args, dict(kwargs)))
        return result

    def run_recorded(self) -> Any:
        """Run the recorded ``encode_prompt`` call again, for real (the text encoder's unit of work).

        Raises:
            RuntimeError: No call was recorded yet (run the pipeline once first).
        """
        if not self.calls:
            raise RuntimeError("PromptCache has no recorded encode_prompt call; run the pipeline once first")
        args, kwargs = self.calls[0]
        return self.original(*args, **kwargs)


@dataclass
class TilingState:
    """What the decode capture decided about VAE tiling for the current shape."""

    enabled: bool = False
    reason: str = "fits"
    estimate_bytes: float | None = None


@dataclass
class DecodeCapture:
    """Wraps ``pipe.vae.decode``: records calls, decodes with a tiling fallback, replays them on demand.

    Attributes:
        short_warmup: While True, a frame-causal VAE (Wan) decodes only the first 3 latent frames of a
            captured call (same kernels, a fraction of the time); the full decode runs in :meth:`replay`.
        warmup_fraction: Latent frames decoded in the warm-up / latent frames of the full decode.
        warmup_s: Duration of the warm-up decode(s). Units: s.
    """

    pipe: Any
    device: str
    short_warmup: bool = True
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    tiling: TilingState = field(default_factory=TilingState)
    capturing: bool = False
    warmup_fraction: float = 1.0
    warmup_s: float = 0.0

    def __post_init__(self) -> None:
        self.vae = self.pipe.vae
        self.original = self.vae.decode
        self.vae_class = type(self.vae).__name__

    def __enter__(self) -> DecodeCapture:
        self.vae.decode = self._wrapper
        return self

    def __exit__(self, *exc: object) -> None:
        if self.vae.__dict__.get("decode") is self._wrapper:
            del self.vae.decode
        self.set_tiling(False, "restored")

    def start_capture(self, height: int, width: int) -> None:
        """Forget earlier calls, decide tiling for a ``height`` x ``width`` output, record the next calls."""
        self.calls = []
        self.capturing = True
        self.warmup_fraction = 1.0
        self.warmup_s = 0.0
        self.plan_tiling(height, width)

    def plan_tiling(self, height: int, width: int) -> None:
        """Switch tiling on up front when the untiled decode's estimated peak exceeds the device memory."""
        per_pixel = VAE_PEAK_BYTES_PER_PIXEL.get(self.vae_class)
        total = total_memory_bytes(self.device)
        if per_pixel is None or total is None:
            self.set_tiling(False, "fits" if total is None else "no estimate; untiled unless out of memory")
            return
        estimate = per_pixel * height * width
        self.tiling.estimate_bytes = estimate
        if estimate > total:
            self.set_tiling(
                True, f"estimated untiled peak {estimate / 1e9:.1f} GB > device {total / 1e9:.1f} GB"
            )
        else:
            self.set_tiling(False, f"estimated untiled peak {estimate / 1e9:.1f} GB fits")

    def set_tiling(self, enabled: bool, reason: str) -> None:
        """Enable or disable the VAE's tiling and remember why."""
        if enabled and not hasattr(self.vae, "enable_tiling"):
            raise RuntimeError(f"{self.vae_class} has no enable_tiling(); cannot decode this size tiled")
        if enabled:
            self.vae.enable_tiling()
        elif hasattr(self.vae, "disable_tiling"):
            self.vae.disable_tiling()
        estimate = self.tiling.estimate_bytes
        self.tiling = TilingState(enabled=enabled, reason=reason, estimate_bytes=estimate)

    def _wrapper(self, *args: Any, **kwargs: Any) -> Any:
        if not self.capturing:
            return self.decode(args, kwargs)
        self.calls.append((args, dict(kwargs)))
        if self.short_warmup and self.vae_class in FRAME_CAUSAL_VAES and args and args[0].ndim == 5:
            frames = args[0].shape[2]
            self.warmup_fraction = min(3, frames) / frames
            args = (args[0][:, :, : min(3, frames)], *args[1:])
        import time

        synchronize(self.device)
        start = time.perf_counter()
        out = self.decode(args, kwargs)
        synchronize(self.device)
        self.warmup_s += time.perf_counter() - start
        return out

    def decode(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """One decode; on out-of-memory, switch tiling on and retry once."""
        try:
            return self.original(*args, **kwargs)
        except Exception as exc:
            if not is_oom(exc) or self.tiling.enabled:
                raise
        free_memory(self.device)
        self.set_tiling(True, "out of memory untiled; retried tiled")
        return self.original(*args, **kwargs)

    def replay(self, times: int = 1) -> None:
        """Run every recorded decode call ``times`` times (one video's decode per time)."""
        if not self.calls:
            raise RuntimeError(
                "DecodeCapture has no recorded vae.decode call; run the pipeline with decoding"
            )
        for _ in range(times):
            for args, kwargs in self.calls:
                out = self.decode(args, kwargs)
                del out


def calibrate_units(time_one_unit_s: float, target_s: float, max_units: int) -> int:
    """How many units of work fill a window of ``target_s``: ceil(target / t1), clamped to 1..max_units."""
    if time_one_unit_s <= 0:
        return max_units
    return max(1, min(max_units, math.ceil(target_s / time_one_unit_s)))
