"""The required-data manifest (``required.toml``) of a baseline folder: parsing, refusals, missing lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from t2v_energy_lib.analysis.required import baseline_folders, load_required, missing_data
from t2v_energy_lib.analysis.synthetic import SyntheticKnobs, write_synthetic_results
from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.results import load_results

MANIFEST = """
claims = ["quadratic_in_pixels"]

[suites.resolution]
component = "denoiser_step"
min_points = 7
models = ["wan2.1-t2v-1.3b"]

[expected_failures]
linear_in_steps = "a reason"

[model_exceptions]
matmul_attention_dominate = ["animatediff"]
"""


def test_manifest_is_read_and_a_synthetic_folder_meets_it(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path / "gpu" / "v", SyntheticKnobs(suites=("resolution",)))
    (folder / "required.toml").write_text(MANIFEST)
    required = load_required(folder)
    assert required is not None and required.claims == ("quadratic_in_pixels",)
    assert required.suites["resolution"].min_points == 7
    assert required.expected_failures == {"linear_in_steps": "a reason"}
    assert required.model_exceptions == {"matmul_attention_dominate": ("animatediff",)}
    assert missing_data(load_results(folder), required) == []  # SYNTHETIC: 7 sizes


def test_a_model_or_points_short_of_the_manifest_are_listed(tmp_path: Path) -> None:
    folder = write_synthetic_results(tmp_path / "gpu" / "v", SyntheticKnobs(suites=("resolution",)))
    (folder / "required.toml").write_text(
        MANIFEST.replace("min_points = 7", "min_points = 9").replace(
            '["wan2.1-t2v-1.3b"]', '["wan2.1-t2v-1.3b", "m"]'
        )
    )
    missing = missing_data(load_results(folder), load_required(folder))  # type: ignore[arg-type]
    assert any(
        "wan2.1-t2v-1.3b: 7 measured 'denoiser_step' records, the manifest requires 9" in m for m in missing
    )
    assert any("resolution', m: 0 measured" in m for m in missing)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('claims = ["no_such_claim"]', "unknown claim"),
        ("claims = [", "not valid TOML"),
        ("[suites.resolution]\nmin_points = 3", "needs 'component'"),
    ],
)
def test_a_bad_manifest_is_refused_with_the_fix(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "required.toml").write_text(text)
    with pytest.raises(BaselineFormatError, match=error):
        load_required(tmp_path)


def test_a_folder_with_only_a_manifest_is_still_a_baseline_folder(tmp_path: Path) -> None:
    (tmp_path / "gpu" / "v").mkdir(parents=True)
    (tmp_path / "gpu" / "v" / "required.toml").write_text(MANIFEST)
    assert baseline_folders(tmp_path) == [tmp_path / "gpu" / "v"]
    assert load_required(tmp_path) is None  # no manifest at the root itself
