"""The next H200 device calls (baselines/scripts/h200_cross_model_next.sh) against the registry and the data.

Static checks, no GPU: the script's jobs must cover every cross-model point the H200 folder still lacks, name
points that exist, keep every job resumable and time-bounded, and score the prediction committed for them.
(The script's flow was tried on the CPU with ``FLOW=cpu``: about a minute, too long for this suite.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from t2v_energy_lib.bench.scenarios import cross_model_points

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "baselines" / "scripts" / "h200_cross_model_next.sh"
H200_CROSS_MODEL = ROOT / "baselines" / "nvidia-h200" / "0.42.1" / "cross_model.json"
H100_CROSS_MODEL = ROOT / "baselines" / "nvidia-h100-80gb-hbm3" / "0.42.1" / "cross_model.json"


def script_points() -> list[tuple[str, str, str, int]]:
    """(job name, estimate, model id, point index) of every ``point`` line of the script."""
    rows = re.findall(
        r"^point\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)(?:\s+--\S+)*\s*$", SCRIPT.read_text(), flags=re.MULTILINE
    )
    return [(name, est, model, int(index)) for name, est, model, index in rows]


def record_ids(path: Path) -> set[str]:
    return {r["id"] for r in json.loads(path.read_text())["records"]}


def test_the_jobs_cover_every_cross_model_point_missing_on_the_h200() -> None:
    """Every job names a registered point (an index past the model's points raises), and every point without a
    breakdown in the stored H200 folder has a job (points merged later stay listed: resume skips them)."""
    stored = record_ids(H200_CROSS_MODEL)
    missing = {sc.id for sc in cross_model_points() if sc.record_id("breakdown") not in stored}
    chosen = {cross_model_points([model])[index].id for _, _, model, index in script_points()}
    assert len({name for name, *_ in script_points()}) == len(script_points()) and len(chosen) >= 6
    assert missing <= chosen, sorted(missing - chosen)


def test_every_job_is_resumable_bounded_and_scored() -> None:
    text = SCRIPT.read_text()
    assert "characterize --device" in text and "--resume" in text and 'timeout -s INT -k 15 "$(left)"' in text
    assert "-m gpu" in text and "{gpu}/pytest-{diffusers}/results.json" in text
    assert "gpus score" in text and "--min-points 1" in text
    hunyuan = next(sc for sc in cross_model_points(["hunyuanvideo"]))
    assert f"have {hunyuan.record_id('breakdown')} ||\npoint  hunyuan-parts" in text  # parts first, once
    assert "hunyuanvideo     0 --no-profile" in text and "point  hunyuan-profile" in text


def test_the_committed_prediction_holds_the_missing_points_the_h100_measured() -> None:
    pred_path = ROOT / re.search(r"PRED=\$\{PRED:-(\S+)\}", SCRIPT.read_text()).group(1)
    prediction = json.loads(pred_path.read_text())
    stored, h100 = record_ids(H200_CROSS_MODEL), record_ids(H100_CROSS_MODEL)
    for sc in cross_model_points():
        composed = sc.record_id("composed")
        if composed in stored:
            continue
        assert (composed in prediction["points"]) == (composed in h100), composed
