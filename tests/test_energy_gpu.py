"""Real-GPU check of the energy meter: a short reference run (counter vs instant-power sampler).

Marked ``gpu``: the plugin skips it on machines without a GPU. Thresholds are sanity bounds, not baselines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.gpu


def test_reference_short_run(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is needed for the reference workload")
    if not torch.cuda.is_available():
        pytest.skip("torch.cuda is not available: the reference workload needs a CUDA GPU")
    from t2v_energy_lib.bench.reference import run_reference

    out = tmp_path / "reference.json"
    doc = run_reference(out, matmul_seconds=4.0, idle_seconds=2.0, device=0)
    assert json.loads(out.read_text()) == doc
    idle, mm = doc["records"]
    period = mm["extra"]["counter_update_period_s"]
    assert period is not None and 0.005 < period < 1.0
    assert mm["extra"]["source"] == "counter" and not mm["extra"]["counter_reset"]
    assert mm["rounds"]["latency_s"][0] >= 4.0
    assert mm["extra"]["mean_power_w"] > idle["extra"]["idle_power_w"] > 0.0
    assert mm["extra"]["mean_power_w"] <= 1.2 * mm["machine_state"]["power_limit_w"]
    assert mm["extra"]["sample_count"] > 50  # background sampler ran during the window
    assert mm["extra"]["achieved_tflops"] > 1.0
    # The foundation issue's acceptance bound: counter and integrated instantaneous power agree within 3%.
    assert mm["extra"]["agreement_pct"] < 3.0, mm["extra"]
    assert doc["provenance"]["gpu"]["name"] == mm["machine_state"]["name"]
