"""Diffusers changes that can explain a step, with where each was found. Only what was checked is here.

Each entry names the first release found to contain the change and the last one found without it (either
may be a release outside the version matrix, checked only by its wheel), how that was established (a diff
of the released wheels' source files), and the upstream pull request when one was found. An entry is a
candidate cause: a measured step between ``absent_in`` and ``present_in`` whose operator profile moved the
way the entry predicts (``kernel_class``) is consistent with it, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from t2v_energy_lib.versions.matrix import VersionSpec


@dataclass(frozen=True)
class Cause:
    """A change in Diffusers' source between two releases.

    Attributes:
        model_prefix: Model ids it concerns (``"wan"`` matches ``wan2.1-t2v-1.3b``).
        absent_in: Last release checked without the change.
        present_in: First release checked with it.
        file: The source file changed (in the released wheel).
        change: What changed, as read in the diff.
        expect: Which part and kernel classes it should move.
        source: Upstream reference (pull request or issue), or how it was found.
        kernel_class: The operator-profile category (:data:`t2v_energy_lib.bench.profile_ops.CATEGORIES`)
            the change should move in one denoiser step, or None when it predicts no denoiser-step kernel
            change (a change outside the denoiser loop).
    """

    model_prefix: str
    absent_in: str
    present_in: str
    file: str
    change: str
    expect: str
    source: str
    kernel_class: str | None = None


CAUSES: tuple[Cause, ...] = (
    Cause(
        "wan",
        "0.34.0",
        "0.35.0",
        "diffusers/models/transformers/transformer_wan.py",
        "the rotary embedding is applied with real cos/sin buffers (x1 * cos - x2 * sin written into the "
        "even/odd channels) instead of torch.view_as_complex on a float64 copy of query and key times "
        "complex float64 frequencies; 0.33.1 and 0.34.0 have the complex form, 0.35.0 and 0.35.2 the real "
        "one",
        "denoiser_step: norm/elementwise kernels (the complex<double> multiply and the explicit float64 "
        "copies of query and key leave the profile); attention and matmul unchanged",
        "diff of the released wheels 0.33.1, 0.34.0, 0.35.0, 0.35.2; the same change as "
        "huggingface/diffusers#11649 ('Use real-valued instead of complex tensors in Wan2.1 RoPE', merged)",
        "norm_elementwise",
    ),
    Cause(
        "wan",
        "0.34.0",
        "0.35.0",
        "diffusers/models/transformers/transformer_wan.py",
        "the Wan attention goes through the attention dispatcher (dispatch_attention_fn) on (batch, "
        "sequence, heads, dim) tensors; the file grows from 485 (0.34.0) to 698 lines (0.35.0)",
        "denoiser_step: attention kernels (which SDPA backend runs and on which layout)",
        "diff of the released wheels 0.34.0 and 0.35.0 (no pull request looked up for the Wan part)",
        "attention",
    ),
    Cause(
        "wan",
        "0.37.1",
        "0.39.0",
        "diffusers/pipelines/wan/pipeline_wan.py",
        "self.scheduler.set_begin_index(0) before the denoising loop, 'to remove DtoH sync' (0.38.0 not "
        "checked)",
        "end_to_end only (the rest of the pipeline, once per video); not the denoiser step",
        "pattern of huggingface/diffusers#11696 ('Avoid DtoH sync from access of nonzero() item in "
        "scheduler'); huggingface/diffusers#14573 lists Wan among the pipelines that received it",
        None,
    ),
    Cause(
        "wan",
        "0.39.0",
        "0.40.0",
        "diffusers/models/transformers/transformer_wan.py",
        "hidden_states = hidden_states.contiguous() after the patch embedding, before the block loop "
        "('flatten+transpose produces a non-contiguous tensor')",
        "denoiser_step: norm/elementwise kernels (strided adds and copies become vectorized); attention and "
        "matmul unchanged",
        "huggingface/diffusers#14236 ('Make WanTransformer3DModel hidden states contiguous before the block "
        "loop', merged 2026-07-19; its own benchmark: +3.0% on an RTX 5090 for Wan2.2-TI2V-5B)",
        "norm_elementwise",
    ),
)


def _key(version: str) -> tuple[int, int, int]:
    return VersionSpec(version).key


def causes_between(model: str, before: str, after: str) -> tuple[Cause, ...]:
    """Causes on file for ``model`` whose change lies in ``(before, after]`` (either direction of a step)."""
    lo, hi = sorted((_key(before), _key(after)))
    return tuple(
        c
        for c in CAUSES
        if model.startswith(c.model_prefix) and lo <= _key(c.absent_in) and _key(c.present_in) <= hi
    )
