"""PUBLISHED figures from the study (arXiv 2509.19222, "Video Killed the Energy Budget"), as printed.

These numbers are the paper's, taken from its released table and notebook (arXiv 2509.19222); they
were NOT measured by this project. They are kept here only to set our measurements beside them, with
ratio columns ours/theirs. Units are the paper's: latency in s per video, energy in Wh per video, on one
H100 SXM, mean over ~49 prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "Published figures from arXiv 2509.19222 (H100 SXM, per video, mean over ~49 prompts)"


@dataclass(frozen=True)
class PublishedModelFigures:
    """One row of the study's cross-model table (published, not measured here).

    Attributes:
        label: The model as the paper names it.
        model_id: Our model-spec id for the closest checkpoint, or None where we have no matching spec.
        height: Frame height. Units: px.
        width: Frame width. Units: px.
        num_frames: Frames per video.
        num_inference_steps: Denoising steps.
        latency_s: Published latency per video. Units: s.
        gpu_wh: Published GPU energy per video. Units: Wh.
        cpu_wh: Published CPU energy per video (estimated from TDP x load by the study). Units: Wh.
        ram_wh: Published RAM energy per video (estimated at a fixed W per DIMM by the study). Units: Wh.
        note: Caveats the paper's table carries for this row.
    """

    label: str
    model_id: str | None
    height: int
    width: int
    num_frames: int
    num_inference_steps: int
    latency_s: float
    gpu_wh: float
    cpu_wh: float
    ram_wh: float
    note: str = ""


PUBLISHED_CROSS_MODEL: tuple[PublishedModelFigures, ...] = (
    PublishedModelFigures(
        "AnimateDiff-Lightning (SD1.5 base)",
        "animatediff",
        512,
        512,
        16,
        4,
        0.68,
        0.115,
        0.016,
        0.008,
        "distilled weights of the same UNet + motion adapter; cfg 1",
    ),
    PublishedModelFigures("CogVideoX-2b", "cogvideox-2b", 480, 720, 49, 50, 50.6, 8.30, 0.84, 0.53),
    PublishedModelFigures("CogVideoX-5b", "cogvideox-5b", 480, 720, 49, 50, 124.3, 21.6, 2.35, 1.31),
    PublishedModelFigures(
        "LTX-Video-0.9.7-dev",
        None,
        512,
        704,
        121,
        30,
        9.66,
        3.16,
        0.32,
        0.19,
        "13B 0.9.7 model, not our ltx-video spec (0.9.0-0.9.6); GPU Wh covers all stages",
    ),
    PublishedModelFigures("Mochi-1-preview", "mochi-1-preview", 480, 848, 84, 64, 263.2, 44.7, 4.58, 2.78),
    PublishedModelFigures(
        "Wan2.1-T2V-1.3B",
        "wan2.1-t2v-1.3b",
        720,
        1280,
        81,
        50,
        410.0,
        78.8,
        7.37,
        4.33,
        "table labels 480x832 / 60 steps; the scripts ran 720x1280 / 50 steps",
    ),
    PublishedModelFigures(
        "Wan2.1-T2V-14B",
        "wan2.1-t2v-14b",
        720,
        1280,
        81,
        50,
        1874.8,
        359.7,
        35.7,
        19.8,
        "table labels 480x832 / 60 steps; the scripts ran 720x1280 / 50 steps",
    ),
)


@dataclass(frozen=True)
class PublishedMape:
    """The study's published mean absolute percentage error of its single-mu model (Wan2.1-1.3B sweeps).

    Attributes:
        sweep: ``"frames"``, ``"resolution"`` or ``"steps"`` (our suite names).
        energy_mape: Published energy MAPE as a fraction (0.066 = 6.60%).
        latency_mape: Published latency MAPE as a fraction.
    """

    sweep: str
    energy_mape: float
    latency_mape: float


PUBLISHED_MAPE: tuple[PublishedMape, ...] = (
    PublishedMape("frames", 0.0660, 0.1045),
    PublishedMape("resolution", 0.1160, 0.1401),
    PublishedMape("steps", 0.0190, 0.0190),
)

#: The study's fitted single efficiency and peak (published): latency = FLOPs / (mu * peak).
PUBLISHED_MU = 0.456
PUBLISHED_MU_R2 = 0.9984
PUBLISHED_PEAK_FLOPS = 989e12

#: Why our figures may differ from the published ones; the report prints these beside the ratio table.
DIFFERENCE_NOTES: tuple[tuple[str, str], ...] = (
    (
        "random weights",
        "We run randomly initialised weights built from each config (no checkpoint download). Compute per "
        "step does not depend on weight values for fixed shapes, so latency and GPU energy carry over; "
        "anything that reacts to activations (early exits, dynamic caches, Mochi's valid tokens) may not.",
    ),
    (
        "settings",
        "The published Wan rows ran 720x1280, 81 frames, 50 steps although the table labels them "
        "480x832 / 60 steps; LTX-0.9.7's published figure includes upscale/refine stages. Compare only "
        "rows whose settings match ours (the table prints both).",
    ),
    (
        "software versions",
        "The study used its own Diffusers/PyTorch versions and CodeCarbon; we use the versions in this "
        "result's provenance and the NVML energy counter. Attention backend and kernel choices change with "
        "torch and diffusers versions.",
    ),
    (
        "energy scope",
        "Published GPU Wh come from CodeCarbon's NVML readings; CPU and RAM Wh were estimated "
        "(no RAPL). Our GPU figures are the NVML counter over the same work; CPU/RAM are not compared.",
    ),
)


def published_for(model_id: str) -> PublishedModelFigures | None:
    """The published row for one of our model ids, or None."""
    return next((row for row in PUBLISHED_CROSS_MODEL if row.model_id == model_id), None)
