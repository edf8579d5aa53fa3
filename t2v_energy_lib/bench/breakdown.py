"""The component breakdown of one video: text encoder, denoiser (all steps), VAE decode and the rest.

The rest (scheduler, host work, conversion of the frames) is a complete generation minus the composed parts,
so it exists only where a complete generation was measured, and only on the GPU that measured the parts: a
difference of two GPUs' figures is the chips' spread (a few percent), not pipeline work.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from t2v_energy_lib.bench.compose import Quantities, means, shares, subtract
from t2v_energy_lib.results.machine import gpu_uuids, on_other_gpus
from t2v_energy_lib.results.quantities import GPU_ENERGY, LATENCY
from t2v_energy_lib.results.schema import ResultRecord


def video_breakdown(
    text: ResultRecord,
    step: ResultRecord,
    vae: ResultRecord,
    steps: int,
    video: ResultRecord,
    end_to_end: ResultRecord | None,
) -> tuple[dict[str, Quantities], dict[str, Any]]:
    """Per-video pieces (quantity means) and the breakdown stored in a ``breakdown`` record's extra.

    Args:
        text, step, vae: The measured parts (per prompt, per step, per decode).
        steps: Denoising steps of the video.
        video: The ``composed`` record of the video (text + steps x step + vae).
        end_to_end: Complete generations of the same settings, or None.

    Returns:
        ``(pieces, breakdown)``: pieces ``text_encoder``, ``denoiser``, ``vae_decode`` and, where measured,
        ``rest``; the breakdown holds them with shares of latency and GPU energy, whether host energy is an
        estimate, whether the rest was measured, and why not where a complete generation was set aside.
    """
    pieces: dict[str, Quantities] = {
        "text_encoder": means(text.rounds),
        "denoiser": {q: steps * v for q, v in means(step.rounds).items()},
        "vae_decode": means(vae.rounds),
    }
    set_aside = None
    if end_to_end is not None:
        if on_other_gpus(end_to_end, step):
            set_aside = (
                f"the complete generation ran on {', '.join(sorted(gpu_uuids(end_to_end)))}, the parts on "
                f"{', '.join(sorted(gpu_uuids(step)))}: a rest taken across two GPUs would be their spread"
            )
        else:
            rest = subtract(means(end_to_end.rounds), means(video.rounds))
            pieces["rest"] = {q: max(0.0, v) for q, v in rest.items()}
    breakdown: dict[str, Any] = {
        "parts": pieces,
        "share_of_latency": shares(pieces, LATENCY.key),
        "share_of_gpu_energy": shares(pieces, GPU_ENERGY.key),
        "host_energy_estimated": bool(text.extra.get("host_energy_estimated", False)),
        "rest_measured": "rest" in pieces,
    }
    if set_aside is not None:
        breakdown["rest_set_aside"] = set_aside
    return pieces, breakdown


def totals(pieces: dict[str, Quantities]) -> Quantities:
    """The per-video totals of the pieces, per quantity."""
    out: dict[str, float] = {}
    for values in pieces.values():
        for q, v in values.items():
            out[q] = out.get(q, 0.0) + v
    return out


def rebuilt_breakdown(record: ResultRecord, by_id: dict[str, ResultRecord]) -> ResultRecord:
    """A stored ``breakdown`` record computed again from the stored records it was built from.

    For breakdowns written before a rule changed: the measured parts, the composed video and any complete
    generation of the same point are read from ``by_id``; nothing is measured. ``extra["rebuilt"]`` says so.

    Raises:
        KeyError: A part, the composed record or the breakdown's own id is missing from ``by_id``.
    """
    point = record.id.rsplit("/", 1)[0]
    part_ids = record.extra["parts"]
    pieces, breakdown = video_breakdown(
        by_id[part_ids["text_encoder"]],
        by_id[part_ids["denoiser_step"]],
        by_id[part_ids["vae_decode"]],
        int(record.settings["num_inference_steps"]),
        by_id[f"{point}/composed"],
        by_id.get(f"{point}/end_to_end"),
    )
    rounds = {q: (v,) for q, v in totals(pieces).items() if math.isfinite(v)}
    extra = {**record.extra, "breakdown": breakdown, "rebuilt": "from the stored records of the point"}
    return replace(record, rounds=rounds, extra=extra)
