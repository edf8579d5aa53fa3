"""Every single lever of the catalogue, on each model of the issue, has a stored H200 record that says what
happened when it ran: measured (engaged or not engaged), or recorded with the reason it could not be (not
available, failed); a record the budget stopped (``not_reached``) does not count. A lever without one fails
here, unless a stated reason says why measuring it on that model would tell nothing new. Reads the stored
runs; measures nothing."""

from __future__ import annotations

from collections import defaultdict

import pytest

pytest.importorskip("diffusers")

from device_scripts import H200, stored_records, stored_run_files, stored_variants

from t2v_energy_lib.bench.optimizations import catalogue

MODELS = ("wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "cogvideox-2b")
#: Levers not measured on a model, and why a measurement there would add nothing.
NOT_PLANNED = {
    "wan2.1-t2v-14b": {
        "vae:slicing": "the 14B decodes with the same AutoencoderKLWan (same config) as the 1.3B, one "
        "video a call; slicing splits only batches larger than 1, and on the 1.3B it was recorded "
        "not_engaged (optimizations-6)",
    },
}


def stored_statuses(model: str) -> dict[str, set[str]]:
    """Variant name -> every status its records of ``model`` carry in the stored H200 runs."""
    statuses: dict[str, set[str]] = defaultdict(set)
    for path in stored_run_files():
        for record in stored_records(path):
            if record["model"] == model:
                statuses[record["extra"]["variant"]["name"]].add(record["extra"]["status"])
    return statuses


@pytest.mark.parametrize("model", MODELS)
def test_every_lever_ran_or_has_its_reason_on_each_model(model: str) -> None:
    levers = {lever.name for lever in catalogue(model + "-tiny")}
    statuses = stored_statuses(model)
    unrecorded = {name for name in levers if not statuses.get(name, set()) - {"not_reached"}}
    uncovered = unrecorded - set(NOT_PLANNED.get(model, {}))
    assert not uncovered, f"{model}: no stored record of what happened when these ran: {sorted(uncovered)}"


@pytest.mark.parametrize("model", MODELS)
def test_every_stored_failure_says_why(model: str) -> None:
    """A failed or unavailable lever counts above only with its reason recorded."""
    for path in stored_run_files():
        for record in stored_records(path):
            extra = record["extra"]
            if record["model"] == model and extra["status"] in {"failed", "not_available"}:
                assert str(extra.get("reason") or "").strip(), f"{path.parent}: {record['id']}"


@pytest.mark.parametrize("model", sorted(NOT_PLANNED))
def test_a_lever_left_unplanned_is_one_the_catalogue_has(model: str) -> None:
    levers = {lever.name for lever in catalogue(model + "-tiny")}
    assert set(NOT_PLANNED[model]) <= levers


def test_vae_slicing_on_the_14b_would_repeat_the_1_3b() -> None:
    """The reason VAE slicing is not planned on the 14B holds: the same VAE class and config as the 1.3B, and
    on the 1.3B slicing was recorded not engaged."""
    from t2v_energy_lib.models import get_spec

    small, large = get_spec("wan2.1-t2v-1.3b"), get_spec("wan2.1-t2v-14b")
    assert small.component_classes["vae"] == large.component_classes["vae"]
    assert small.component_configs["vae"] == large.component_configs["vae"]
    path = H200 / "optimizations-6" / "0.42.1" / "optimizations.json"
    records = stored_records(path)
    (slicing,) = [r for r in records if r["id"].endswith("/vae:slicing/end_to_end")]
    assert slicing["extra"]["status"] == "not_engaged"


def test_no_attention_backend_reaches_cogvideox() -> None:
    """Why no compiled attention backend (flex) is planned on CogVideoX: its attention never calls the
    Diffusers dispatcher (its processor calls torch's SDPA itself). In the run that set torch's SDPA
    backends on it, the default counted no dispatcher call and every backend variant was not engaged,
    bit-identical to the default; compilation alone was measured there before."""
    path = H200 / "optimizations-10" / "0.42.1" / "optimizations.json"
    records = stored_records(path)
    measured = {
        r["extra"]["variant"]["name"]: r["extra"]
        for r in records
        if r["model"] == "cogvideox-2b" and r["id"].endswith("/end_to_end")
    }
    assert measured["default"]["probe"]["dispatch"] == {}
    backends = [name for name in measured if name.startswith("attention:")]
    assert len(backends) >= 4, backends
    for name in backends:
        assert measured[name]["status"] == "not_engaged", name
        assert measured[name]["probe"]["dispatch"] == {}, name
        assert measured[name]["deviation"]["bit_identical"], name
    assert "compile" in stored_variants("cogvideox-2b")
