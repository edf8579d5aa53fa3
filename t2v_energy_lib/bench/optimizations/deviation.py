"""Deviation of a variant's output from the default pipeline's output (same seed, prompt and settings).

Decoded frames (values in [0, 1]) are compared by PSNR (peak 1) and relative L2; the final latents by
relative L2 and max abs difference. Bit-identical outputs are flagged: a lever whose output is bit-identical
to the default's did not change the computation and is recorded as not engaged.

With random weights this is numerical deviation, not perceived quality: it says how far the computation
moved, not whether a viewer would notice. Activation-dependent caches (FirstBlock, Mag, Sea) also decide
what to skip from the activations, so with trained weights they skip differently (more or less) than here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from t2v_energy_lib.errors import OptimizationError


def relative_l2(value: np.ndarray, reference: np.ndarray) -> float:
    """``||value - reference|| / ||reference||`` (0 when both are zero). Dimensionless."""
    a, b = _pair(value, reference)
    ref = float(np.linalg.norm(b))
    diff = float(np.linalg.norm(a - b))
    if ref == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / ref


def psnr_db(value: np.ndarray, reference: np.ndarray, peak: float = 1.0) -> float | None:
    """Peak signal-to-noise ratio in dB; None when the arrays are identical (infinite PSNR). Units: dB."""
    a, b = _pair(value, reference)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return None
    return 10.0 * math.log10(peak * peak / mse)


def _pair(value: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(value, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape:
        raise OptimizationError(
            f"output shape {a.shape} differs from the default's {b.shape}; a deviation needs the same "
            "settings (height, width, frames) as the default run"
        )
    return a, b


def deviation(
    frames: np.ndarray | None,
    latents: np.ndarray | None,
    ref_frames: np.ndarray | None,
    ref_latents: np.ndarray | None,
) -> dict[str, Any]:
    """Deviation figures of one output against the default's (JSON-ready; None where not computable).

    Raises:
        OptimizationError: neither frames nor latents can be compared (nothing to judge).
    """
    out: dict[str, Any] = {}
    if frames is not None and ref_frames is not None:
        out["frames_psnr_db"] = psnr_db(frames, ref_frames)
        out["frames_rel_l2"] = relative_l2(frames, ref_frames)
        out["frames_bit_identical"] = bool(np.array_equal(frames, ref_frames))
    if latents is not None and ref_latents is not None:
        out["latents_rel_l2"] = relative_l2(latents, ref_latents)
        out["latents_max_abs"] = float(
            np.max(np.abs(np.asarray(latents, np.float64) - np.asarray(ref_latents, np.float64)))
        )
        out["latents_bit_identical"] = bool(np.array_equal(latents, ref_latents))
    if not out:
        raise OptimizationError("no output to compare: the probe kept neither frames nor latents")
    out = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
    out["bit_identical"] = all(v for k, v in out.items() if k.endswith("_bit_identical"))
    out["weights_note"] = (
        "numerical deviation from the default output; with random weights not a perceived-quality measure"
    )
    return out
