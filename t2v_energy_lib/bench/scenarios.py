"""Scenarios (frozen dataclasses with readable ids) and the sweep definitions of the study.

A :class:`Scenario` is one point of one suite: a model at exact generation settings. Its id reads like
``"resolution/wan2.1-t2v-1.3b/480x832x81-s50"``; record ids append the component
(``".../denoiser_step"``). The sweeps follow the study (arXiv 2509.19222, "Video Killed the Energy Budget")
on Wan2.1-T2V-1.3B (bf16, CFG as the pipeline runs it: guidance 5.0, two passes per step). ``tiny=True``
gives the same sweeps scaled down for the tiny variant on a CPU (a smoke run of the code paths, not a
measurement of the study's shapes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from t2v_energy_lib.errors import InvalidSettingsError

if TYPE_CHECKING:
    from t2v_energy_lib.models import GenerationSettings

WAN_13B = "wan2.1-t2v-1.3b"
SUITES = ("resolution", "frames", "steps", "validation", "cross_model", "holdout")
WAN_GUIDANCE = 5.0

# (height, width) at 81 frames, from 256x256 to the study's 1792x1008 (stored as H x W = 1008 x 1792).
RESOLUTION_SIZES: tuple[tuple[int, int], ...] = (
    (256, 256), (320, 320), (384, 384), (480, 480), (512, 512), (480, 832), (640, 640),
    (720, 720), (768, 768), (640, 1120), (720, 1280), (864, 1536), (1008, 1792),
)  # fmt: skip
FRAME_COUNTS_720P: tuple[int, ...] = (5, 9, 13, 17, 25, 33, 41, 49, 57, 65, 81, 97, 121)
FRAME_COUNTS_480P: tuple[int, ...] = (17, 33, 49, 81)
STEP_COUNTS: tuple[int, ...] = (1, 2, 5, 10, 20, 25, 40, 50, 75, 100, 150, 200)
STEPS_MEASURED_DEFAULT = 24  # steps of the one measured long run at 720x1280x81 (~5 s each on an H100)
# (height, width, frames, steps): complete generations, each a few seconds on an H100.
VALIDATION_POINTS: tuple[tuple[int, int, int, int], ...] = (
    (480, 832, 33, 20), (256, 256, 81, 30), (720, 1280, 17, 10),
)  # fmt: skip

# Tiny CPU variants: same structure, shapes a CPU handles in seconds with the tiny model.
TINY_RESOLUTION_SIZES: tuple[tuple[int, int], ...] = (
    (16, 16), (16, 32), (32, 32), (32, 48), (48, 48), (32, 64), (48, 64), (64, 64),
    (48, 96), (64, 96), (80, 96), (64, 128),
)  # fmt: skip
TINY_FRAME_COUNTS: tuple[int, ...] = (1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 49)
TINY_STEP_COUNTS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 40)
TINY_VALIDATION_POINTS: tuple[tuple[int, int, int, int], ...] = (
    (32, 32, 9, 3),
    (16, 48, 5, 4),
    (48, 32, 13, 2),
)
TINY_BASE = (32, 48, 9)  # H, W, F of the tiny frames/steps sweeps' fixed axes
TINY_STEPS_MEASURED = 6


@dataclass(frozen=True)
class Scenario:
    """One sweep point: a model at exact settings in a suite.

    Attributes:
        suite: Suite name (one of :data:`SUITES`).
        model_id: Model spec id (``"wan2.1-t2v-1.3b"``).
        settings: The generation settings (height, width, frames, steps, guidance).
        label: Short note shown in progress lines (``"study settings"``).
        measured_steps: Steps suite only: length of the one measured long run (per-step windows).
    """

    suite: str
    model_id: str
    settings: GenerationSettings
    label: str = ""
    measured_steps: int | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        """Readable, stable id: ``"<suite>/<model>/<HxWxF-sS>"``."""
        return f"{self.suite}/{self.model_id}/{self.settings.id}"

    @property
    def shape_key(self) -> tuple[str, int, int, int, float]:
        """What a per-step measurement depends on (model, H, W, F, guidance): not the step count."""
        s = self.settings
        return (self.model_id, s.height, s.width, s.num_frames, float(s.guidance_scale))

    def record_id(self, component: str) -> str:
        """Id of this scenario's record of ``component`` (``".../denoiser_step"``)."""
        return f"{self.id}/{component}"

    def with_steps(self, steps: int) -> Scenario:
        """The same point at another step count."""
        return replace(self, settings=replace(self.settings, num_inference_steps=steps))

    def settings_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for result records)."""
        s = self.settings
        return {
            "height": s.height,
            "width": s.width,
            "num_frames": s.num_frames,
            "num_inference_steps": s.num_inference_steps,
            "guidance_scale": s.guidance_scale,
        }


def _settings(height: int, width: int, frames: int, steps: int, guidance: float) -> GenerationSettings:
    from t2v_energy_lib.models import GenerationSettings

    return GenerationSettings(
        height=height, width=width, num_frames=frames, num_inference_steps=steps, guidance_scale=guidance
    )


def _model(tiny: bool) -> str:
    if not tiny:
        return WAN_13B
    from t2v_energy_lib.models import get_spec

    return get_spec(WAN_13B).tiny().id


def resolution_sweep(tiny: bool = False) -> tuple[Scenario, ...]:
    """Resolution suite: 13 sizes from 256x256 to 1008x1792 at 81 frames, 50 steps (tiny: 12 sizes, 9 f)."""
    model = _model(tiny)
    sizes, frames = (TINY_RESOLUTION_SIZES, 9) if tiny else (RESOLUTION_SIZES, 81)
    return tuple(Scenario("resolution", model, _settings(h, w, frames, 50, WAN_GUIDANCE)) for h, w in sizes)


def frames_sweep(tiny: bool = False) -> tuple[Scenario, ...]:
    """Frames suite: 13 counts 5..121 at 720x1280 and 4 at 480x832, 50 steps (tiny: 12 counts)."""
    model = _model(tiny)
    if tiny:
        h, w, _ = TINY_BASE
        return tuple(
            Scenario("frames", model, _settings(h, w, f, 50, WAN_GUIDANCE)) for f in TINY_FRAME_COUNTS
        )
    out = [Scenario("frames", model, _settings(720, 1280, f, 50, WAN_GUIDANCE)) for f in FRAME_COUNTS_720P]
    out += [Scenario("frames", model, _settings(480, 832, f, 50, WAN_GUIDANCE)) for f in FRAME_COUNTS_480P]
    return tuple(out)


def steps_sweep(tiny: bool = False, measured_steps: int | None = None) -> tuple[Scenario, ...]:
    """Steps suite: step counts 1..200 at 720x1280x81 (tiny: 1..40 at 32x48x9).

    Points with ``steps <= measured_steps`` come from the one measured long run (measured prefixes); the
    others are composed from its per-step values (flagged in their records).
    """
    model = _model(tiny)
    if tiny:
        (h, w, f), counts = TINY_BASE, TINY_STEP_COUNTS
        n = TINY_STEPS_MEASURED if measured_steps is None else measured_steps
    else:
        (h, w, f), counts = (720, 1280, 81), STEP_COUNTS
        n = STEPS_MEASURED_DEFAULT if measured_steps is None else measured_steps
    if n < 1:
        raise InvalidSettingsError(f"measured_steps must be >= 1, got {n}; pass a positive step count")
    return tuple(
        Scenario("steps", model, _settings(h, w, f, s, WAN_GUIDANCE), measured_steps=n) for s in counts
    )


def validation_points(tiny: bool = False) -> tuple[Scenario, ...]:
    """Validation suite: complete generations at cheap settings, compared with their composed figures."""
    model = _model(tiny)
    points = TINY_VALIDATION_POINTS if tiny else VALIDATION_POINTS
    return tuple(
        Scenario("validation", model, _settings(h, w, f, s, WAN_GUIDANCE), label="end-to-end")
        for h, w, f, s in points
    )


# The study's settings where they differ from the diffusers defaults (paper.md, cross-model table).
STUDY_SETTINGS: dict[str, tuple[int, int, int, int, float]] = {
    "wan2.1-t2v-1.3b": (720, 1280, 81, 50, 5.0),
    "wan2.1-t2v-14b": (720, 1280, 81, 50, 5.0),
    "mochi-1-preview": (480, 848, 85, 64, 4.5),
    "ltx-video": (512, 704, 121, 30, 3.0),
}


def cross_model_points(
    model_ids: Sequence[str] | None = None, tiny: bool = False, study: bool = True
) -> tuple[Scenario, ...]:
    """Cross-model suite: every registered model at its defaults, then the study's settings where different.

    Args:
        model_ids: Models to include (default: every registered spec).
        tiny: Use each model's tiny variant at its tiny defaults (CPU smoke runs); no study settings.
        study: Add the study's settings (:data:`STUDY_SETTINGS`) where they differ from the defaults and
            pass the spec's validation.
    """
    from t2v_energy_lib.models import get_spec, list_specs

    ids = list(model_ids) if model_ids else [s.id for s in list_specs()]
    out: list[Scenario] = []
    for mid in ids:
        spec = get_spec(mid)
        if tiny:
            spec = spec.tiny()
        out.append(Scenario("cross_model", spec.id, spec.defaults, label="defaults"))
        if tiny or not study or mid not in STUDY_SETTINGS:
            continue
        study_settings = _settings(*STUDY_SETTINGS[mid])
        if study_settings != spec.defaults:
            spec.validate(study_settings)
            out.append(Scenario("cross_model", spec.id, study_settings, label="study settings"))
    return tuple(out)


# The blind holdout (issue 14): (model, height, width, frames) at 50 steps and the model's default
# guidance, shapes stored in NO measured folder of any GPU (tests/test_holdout.py checks every baseline
# file), inside the range the H100 measured (Wan2.1-1.3B: 7.2k..148k tokens, decodes untiled; CogVideoX-2b:
# near its one measured shape, 480x720x49), each a few tens of seconds on an H200 (parts only, no complete
# generation). Their H200 figures are predicted from the H100 folder before they are measured
# (docs/predictions/h200-holdout-*.json).
HOLDOUT_POINTS: tuple[tuple[str, int, int, int], ...] = (
    (WAN_13B, 288, 512, 61), (WAN_13B, 320, 576, 81), (WAN_13B, 352, 352, 121), (WAN_13B, 416, 736, 49),
    (WAN_13B, 448, 448, 113), (WAN_13B, 480, 640, 65), (WAN_13B, 480, 848, 25), (WAN_13B, 400, 704, 97),
    (WAN_13B, 544, 960, 33), (WAN_13B, 576, 1024, 41), (WAN_13B, 624, 832, 57), (WAN_13B, 704, 704, 45),
    ("cogvideox-2b", 480, 720, 33), ("cogvideox-2b", 384, 672, 49), ("cogvideox-2b", 544, 800, 41),
)  # fmt: skip
HOLDOUT_STEPS = 50
# Tiny CPU variants (code paths only): the same models' tiny variants at shapes a CPU runs in seconds.
TINY_HOLDOUT_POINTS: tuple[tuple[str, int, int, int], ...] = (
    (WAN_13B, 16, 48, 5),
    (WAN_13B, 48, 32, 13),
    ("cogvideox-2b", 32, 48, 5),
)


def holdout_points(tiny: bool = False) -> tuple[Scenario, ...]:
    """Holdout suite: :data:`HOLDOUT_POINTS` (tiny: :data:`TINY_HOLDOUT_POINTS` on the tiny variants).

    Raises:
        InvalidSettingsError: A listed shape breaks its model's shape rules (a bug in the list).
    """
    from t2v_energy_lib.models import get_spec

    out = []
    for model_id, height, width, frames in TINY_HOLDOUT_POINTS if tiny else HOLDOUT_POINTS:
        spec = get_spec(model_id)
        spec = spec.tiny() if tiny else spec
        settings = _settings(height, width, frames, HOLDOUT_STEPS, spec.defaults.guidance_scale)
        spec.validate(settings)
        out.append(Scenario("holdout", spec.id, settings, label="holdout"))
    return tuple(out)


def suite_scenarios(
    suite: str, tiny: bool = False, model_ids: Sequence[str] | None = None, measured_steps: int | None = None
) -> tuple[Scenario, ...]:
    """The scenarios of ``suite`` (see :data:`SUITES`)."""
    if suite == "resolution":
        return resolution_sweep(tiny)
    if suite == "frames":
        return frames_sweep(tiny)
    if suite == "steps":
        return steps_sweep(tiny, measured_steps)
    if suite == "validation":
        return validation_points(tiny)
    if suite == "cross_model":
        return cross_model_points(model_ids, tiny=tiny)
    if suite == "holdout":
        return holdout_points(tiny)
    raise InvalidSettingsError(f"unknown suite {suite!r}; choose from {', '.join(SUITES)}")


def parse_points(text: str | None, count: int) -> tuple[int, ...]:
    """Parse a point selection like ``"0-5"``, ``"6-"``, ``"0,3,7-9"`` into sorted indices < ``count``.

    Raises:
        InvalidSettingsError: The text is malformed or names an index outside ``0..count-1``.
    """
    if text is None or text.strip() in ("", "all"):
        return tuple(range(count))
    picked: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            lo_s, dash, hi_s = part.partition("-")
            lo = int(lo_s) if lo_s or not dash else 0
            hi = (int(hi_s) if hi_s else count - 1) if dash else lo
        except ValueError as exc:
            raise InvalidSettingsError(
                f"cannot parse point selection {text!r}; use indices and ranges such as '0-5' or '0,3,7-'"
            ) from exc
        if lo > hi:  # "5-2", or "99-" on a shorter suite: an empty range would measure nothing
            raise InvalidSettingsError(
                f"point range {part!r} selects no point: this suite's points are 0..{count - 1}; "
                "give a range low-high within them, e.g. '0-5' or '3-'"
            )
        picked.update(range(lo, hi + 1))
    bad = sorted(i for i in picked if i < 0 or i >= count)
    if bad:
        raise InvalidSettingsError(f"point indices {bad} are outside 0..{count - 1} of this suite")
    return tuple(sorted(picked))
