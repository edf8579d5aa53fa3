"""Cross-model table: ratios ours/theirs only where the settings are the study's (SYNTHETIC figures)."""

from __future__ import annotations

from t2v_energy_lib.report.published import published_for
from t2v_energy_lib.report.tables import NO_RATIO, cross_model_table


def _shares(height: int, width: int) -> dict[str, dict[str, object]]:
    settings = {"height": height, "width": width, "num_frames": 81, "num_inference_steps": 50}
    # synthetic totals, chosen so that a ratio would read 0.5 exactly
    pub = published_for("wan2.1-t2v-1.3b")
    assert pub is not None
    return {
        "wan2.1-t2v-1.3b": {
            "total_s": pub.latency_s / 2,
            "total_j": pub.gpu_wh * 3600 / 2,
            "share": 0.9,
            "settings": settings,
        }
    }


def _row(table: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith("| wan2.1-t2v-1.3b"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_same_settings_print_ratios() -> None:
    row = _row(cross_model_table(_shares(720, 1280)))
    assert row[-2:] == ["0.5", "0.5"]


def test_different_settings_print_no_ratio() -> None:
    """The H200 report divided a 480x832 point by the study's 720x1280 row ("0.16x"): never again."""
    table = cross_model_table(_shares(480, 832))
    row = _row(table)
    assert row[-2:] == [NO_RATIO, NO_RATIO]
    assert "0.5" not in row[-2:]
    assert row[5].startswith("720x1280")  # the published settings are still shown beside ours
