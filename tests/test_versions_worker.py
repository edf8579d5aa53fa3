"""The history worker in this environment on the CPU (tiny Wan variant): a flow test, not a measurement."""

from __future__ import annotations

from pathlib import Path

import diffusers

from t2v_energy_lib.results.storage import load_results
from t2v_energy_lib.versions import worker


def test_worker_refuses_another_diffusers_than_expected(tmp_path: Path) -> None:
    argv = [
        "--out",
        str(tmp_path),
        "--models",
        "wan2.1-t2v-1.3b",
        "--device",
        "cpu",
        "--expect-diffusers",
        "0.0.1",
    ]
    assert worker.main(argv) == 3 and not (tmp_path / "history.json").exists()


def test_worker_measures_the_selection_of_a_tiny_model(tmp_path: Path) -> None:
    argv = ["--out", str(tmp_path), "--models", "wan2.1-t2v-1.3b", "--device", "cpu", "--e2e-steps", "2"]
    assert worker.main([*argv, "--expect-diffusers", diffusers.__version__, "--round", "1"]) == 0
    rf = load_results(tmp_path / "history.json")
    components = {r.component for r in rf.records}
    assert {"text_encoder", "denoiser_step", "vae_decode", "end_to_end", "operator_profile"} <= components
    assert rf.provenance["settings"]["command"] == "history" and rf.provenance["settings"]["round"] == 1
    assert rf.provenance["versions"]["diffusers"] == diffusers.__version__
    assert all(r.id.startswith("history/wan2.1-t2v-1.3b-tiny/") for r in rf.records)
