"""Model families declared once: every registered model finds its family module, and the family is all the
library needs (no ``spec.family ==`` branch elsewhere). Configs only; nothing is measured."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from t2v_energy_lib.analysis.points import latent_frames
from t2v_energy_lib.errors import FitError, UnknownModelError
from t2v_energy_lib.models import denoiser_config, get_spec, list_specs
from t2v_energy_lib.models.families import FAMILIES, get_family
from t2v_energy_lib.theory.generation import FLOP_MODELS, denoiser_flops

LIBRARY = Path(__file__).resolve().parents[1] / "t2v_energy_lib"


@pytest.mark.parametrize("spec", list_specs(), ids=lambda s: s.id)
def test_every_registered_model_has_a_family_with_a_flop_model(spec) -> None:
    family = spec.model_family
    assert family is FAMILIES[spec.family]
    assert family.flop_model in FLOP_MODELS
    assert set(family.flop_components) <= set(spec.component_names)
    assert denoiser_config(spec).kind == ("unet" if family.image_vae else "dit")


def test_an_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(UnknownModelError, match="known families: wan"):
        get_family("sora")


def test_a_model_of_a_known_family_is_one_registry_line() -> None:
    """A new Wan model: only its spec (configs reused here); summary and FLOPs follow from the family."""
    base = get_spec("wan2.1-t2v-1.3b")
    new = dataclasses.replace(base, id="wan-new-model", description="a Wan model added by one line")
    assert denoiser_config(new) == denoiser_config(base)
    assert denoiser_flops(new, new.defaults).total_flops == denoiser_flops(base, base.defaults).total_flops


@pytest.mark.parametrize(
    ("model", "frames", "latent"),
    [("wan2.1-t2v-1.3b", 81, 21), ("ltx-video", 161, 21), ("mochi-1-preview", 19, 4), ("animatediff", 16, 16),
     ("cogvideox-2b-tiny", 9, 3), ("hunyuanvideo", 129, 33)],
)  # fmt: skip
def test_latent_frames_follow_the_family_shape_rules(model: str, frames: int, latent: int) -> None:
    assert latent_frames(model, {"num_frames": frames}) == latent


def test_latent_frames_of_an_unregistered_model_fail() -> None:
    with pytest.raises(FitError, match="no VAE temporal compression known"):
        latent_frames("some-other-model", {"num_frames": 9})


def test_no_family_branches_outside_the_family_modules() -> None:
    branch = re.compile(r"\.family\s*(==|!=)|family\.lower\(\)")
    offenders = [
        f"{path.relative_to(LIBRARY)}:{n}"
        for path in LIBRARY.rglob("*.py")
        if "families" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if branch.search(line)
    ]
    assert offenders == [], "branch on the family in its module (models/families/) instead"
