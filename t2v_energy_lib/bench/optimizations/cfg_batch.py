"""CFG as one batch: the conditional and unconditional denoiser passes of a step run as one batch-2 forward.

Two-pass pipelines (Wan) call the transformer twice per step with the same latents and timestep: first with
the prompt embeddings, then with the negative ones. :class:`CfgBatcher` replaces the transformer's forward
(an instance attribute, removed on exit): the first call of a step runs both halves in one batch, returns
the conditional half and keeps the unconditional one; the second call, with the same latents object,
returns the kept half without computing. The negative embeddings come from the pipeline's own
``encode_prompt`` call of the generation. Anything else (no negative prompt, different shapes,
``return_dict=True``) falls back to the ordinary forward and is counted as a fallback.
"""

from __future__ import annotations

from typing import Any


class CfgBatcher:
    """Batches the two CFG passes of a two-pass pipeline. Counts ``batched``, ``served`` and ``fallback``."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.batched = 0
        self.served = 0
        self.fallback = 0
        self._negative: Any = None
        self._pending: tuple[Any, Any] | None = None
        self._inner_forward: Any = None
        self._inner_encode: Any = None

    def __enter__(self) -> CfgBatcher:
        transformer = self.pipe.transformer
        self._inner_forward = transformer.forward
        self._inner_encode = self.pipe.encode_prompt
        transformer.forward = self._forward
        self.pipe.encode_prompt = self._encode_prompt
        return self

    def __exit__(self, *exc: object) -> None:
        self.pipe.transformer.__dict__.pop("forward", None)
        self.pipe.__dict__.pop("encode_prompt", None)
        self._pending = self._negative = None

    def _encode_prompt(self, *args: Any, **kwargs: Any) -> Any:
        out = self._inner_encode(*args, **kwargs)
        self._negative = out[1] if isinstance(out, tuple) and len(out) > 1 else None
        self._pending = None
        return out

    def _forward(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        hidden = kwargs.get("hidden_states")
        if self._pending is not None and hidden is self._pending[0]:
            kept = self._pending[1]
            self._pending = None
            self.served += 1
            return (kept,)
        context = kwargs.get("encoder_hidden_states")
        negative = self._negative
        usable = (
            not args
            and kwargs.get("return_dict", True) is False
            and hidden is not None
            and context is not None
            and negative is not None
            and tuple(negative.shape) == tuple(context.shape)
        )
        if not usable:
            self.fallback += 1
            return self._inner_forward(*args, **kwargs)
        batched = dict(kwargs)
        batched["hidden_states"] = torch.cat([hidden, hidden])
        batched["encoder_hidden_states"] = torch.cat(
            [context, negative.to(device=context.device, dtype=context.dtype)]
        )
        timestep = kwargs.get("timestep")
        if timestep is not None and timestep.ndim >= 1:
            batched["timestep"] = torch.cat([timestep, timestep])
        sample = self._inner_forward(**batched)[0]
        cond, uncond = sample.chunk(2)
        self._pending = (hidden, uncond)
        self.batched += 1
        return (cond,)

    def activity(self) -> dict[str, int]:
        """Batched forwards, unconditional passes served from a batch, calls that fell back."""
        return {"batched_forwards": self.batched, "uncond_served": self.served, "fallback": self.fallback}

    def reset_counts(self) -> None:
        """Zero the counters (per generation)."""
        self.batched = self.served = self.fallback = 0
