"""The optimisation report's noise floor holds on the stored H200 runs: no default, repeated in one run,
spread by more than :data:`MIN_EFFECT_FRACTION` of its GPU energy per video. A stored run that spreads
more fails here, and the floor must be raised before its small differences can be called savings. Reads
the stored runs; measures nothing."""

from __future__ import annotations

from device_scripts import H200, stored_records, stored_run_files

from t2v_energy_lib.analysis.optimizations import MIN_EFFECT_FRACTION


def default_spreads() -> dict[str, float]:
    """``"<run folder>:<model>"`` -> (max - min) / min of the default's GPU energy rounds, for every stored
    H200 optimisation run whose default has two rounds or more."""
    spreads = {}
    for path in stored_run_files():
        for record in stored_records(path):
            rounds = record["rounds"].get("gpu_energy_j") or []
            if record["extra"]["variant"]["name"] == "default" and len(rounds) >= 2:
                key = f"{path.parent.relative_to(H200)}:{record['model']}"
                spreads[key] = (max(rounds) - min(rounds)) / min(rounds)
    return spreads


def test_the_noise_floor_covers_every_stored_default_repeat() -> None:
    spreads = default_spreads()
    assert len(spreads) >= 10, f"too few stored defaults with repeated rounds to judge the floor: {spreads}"
    widest = max(spreads, key=spreads.__getitem__)
    assert spreads[widest] < MIN_EFFECT_FRACTION, (
        f"{widest}: the default's rounds spread {spreads[widest]:.2%}, more than the "
        f"{MIN_EFFECT_FRACTION:.0%} the report takes as noise"
    )
