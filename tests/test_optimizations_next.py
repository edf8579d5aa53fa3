"""The optimisation suite's device scripts, on the CPU: every variant they name exists for its model,
regional compilation applies to CogVideoX (which declares no ``_repeated_blocks`` in Diffusers 0.42.1) by
compiling its repeated blocks the same way, the completing call's lists fit a fresh machine's budget, and
each call that ran left a record of every lever it named. Code paths and stored runs, not measurements."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from device_scripts import SCRIPTS, script_lists, stored_variants  # noqa: E402  (tests/ is on sys.path)

from t2v_energy_lib.bench.optimizations import catalogue  # noqa: E402
from t2v_energy_lib.bench.optimizations.budget import estimate_variant_s  # noqa: E402
from t2v_energy_lib.bench.optimizations.engagement import compiled_regions  # noqa: E402
from t2v_energy_lib.bench.optimizations.levers import APPLIERS, ApplyContext  # noqa: E402
from t2v_energy_lib.bench.optimizations.variants import variants_from_names  # noqa: E402
from t2v_energy_lib.results import load_results  # noqa: E402

H200 = SCRIPTS.parent / "nvidia-h200"


@pytest.mark.parametrize(
    ("script", "model"),
    [
        ("h200_optimizations_next.sh", {"COG": "cogvideox-2b", "WAN": "wan2.1-t2v-1.3b"}),
        ("h200_optimizations_engage.sh", {"COG": "cogvideox-2b", "WAN": "wan2.1-t2v-1.3b"}),
        ("h200_optimizations_14b.sh", {"": "wan2.1-t2v-14b"}),
    ],
)
def test_every_variant_a_script_names_exists_for_its_model(script: str, model: dict[str, str]) -> None:
    for key, names in script_lists(script).items():
        model_id = next(m for prefix, m in model.items() if key.startswith(prefix))
        variants = variants_from_names(names, catalogue(model_id + "-tiny"), include_default=False)
        assert [v.name for v in variants] == names, key  # unknown names raise OptimizationError


def test_compile_applies_to_cogvideox_blocks_without_repeated_blocks() -> None:
    from t2v_energy_lib.models import build_pipeline, get_spec

    torch.set_num_threads(1)
    pipe = build_pipeline(get_spec("cogvideox-2b").tiny(), "cpu", "bfloat16", seed=0)
    transformer = pipe.transformer
    assert not getattr(transformer, "_repeated_blocks", None)  # what made it "not available" before
    lever = next(lv for lv in catalogue("cogvideox-2b-tiny") if lv.name == "compile")
    ctx = ApplyContext(pipe, "cogvideox", "cpu", 2, 2, 6.0)
    APPLIERS["compile"].apply(lever, ctx)
    blocks = len(transformer.transformer_blocks)
    assert compiled_regions(transformer) == blocks >= 1
    assert f"{blocks} CogVideoXBlock blocks compiled" in ctx.notes["compile_regions"]


@pytest.mark.parametrize(
    ("script", "key", "folder", "model"),
    [
        ("h200_optimizations_14b.sh", "VARIANTS_14", "optimizations-14b-5", "wan2.1-t2v-14b"),
        ("h200_optimizations_14b.sh", "VARIANTS_15", "optimizations-14b-6", "wan2.1-t2v-14b"),
        ("h200_optimizations_14b.sh", "VARIANTS_16", "optimizations-14b-6", "wan2.1-t2v-14b"),
        ("h200_optimizations_complete.sh", "WAN_VARIANTS", "optimizations-11", "wan2.1-t2v-1.3b"),
    ],
)
def test_each_call_that_ran_left_a_record_of_every_lever_it_named(
    script: str, key: str, folder: str, model: str
) -> None:
    """The last device calls of the optimisation suite ran (the ninth and tenth GPU sessions): every lever
    their lists name has a record in the file they stored, measured or recorded with its reason, and none
    was stopped by the budget (``not_reached``)."""
    names = script_lists(script, (key,))[key]
    path = H200 / folder / "0.42.1" / "optimizations.json"
    statuses = {
        r.extra["variant"]["name"]: r.extra["status"]
        for r in load_results(path).records
        if r.model == model and r.id.endswith(("/end_to_end", "/not_measured"))
    }
    missing = [n for n in names if n not in statuses]
    assert not missing, f"{folder}: {key} named {missing} and the stored file has no record of them"
    stopped = [n for n in names if statuses[n] == "not_reached"]
    assert not stopped, f"{folder}: the budget stopped {stopped} of {key}"


def _fresh_call_budget_s(folder: str, model: str, limit_s: int = 560) -> tuple[object, float]:
    """(the stored default record of ``model``, the seconds a fresh call at ``limit_s`` leaves its levers):
    the limit less the script's 45 s, the seconds before the model's run started (the console's ``== ...
    at N s``) and what the stored run spent outside its levers (build, idle power, default, report)."""
    path = H200 / folder / "0.42.1"
    records = [
        r
        for r in load_results(path / "optimizations.json").records
        if r.model == model and r.id.endswith("/end_to_end")
    ]
    log = (path / "logs" / "console.log").read_text()
    start = re.search(rf"^== \S*{re.escape(model.split('-')[0][:3])}\S* at (\d+) s", log, re.M | re.I)
    finished = re.search(r"results in \S+ \((\d+) s\)", log)
    assert start and finished, f"{folder}: the console does not say when {model}'s run started and ended"
    levers_s = sum(r.extra["variant_wall_s"] for r in records[1:])
    outside_s = float(finished.group(1)) - levers_s
    return records[0], (limit_s - 45) - float(start.group(1)) - outside_s


@pytest.mark.parametrize(
    ("key", "folder", "model", "rounds"),
    [
        ("WAN_VARIANTS", "optimizations-8", "wan2.1-t2v-1.3b", 1),
        ("COG_VARIANTS", "optimizations-4", "cogvideox-2b", 2),
    ],
)
def test_each_part_of_the_completing_call_fits_a_fresh_machine(
    key: str, folder: str, model: str, rounds: int
) -> None:
    """``h200_optimizations_complete.sh`` (``PART=wan ROUNDS=1``, ``PART=cog``, ``LIMIT=560``): every lever
    it measures, priced by the runner's own estimate from a stored run of the model on a fresh machine (with
    two default videos: the stricter case), ends inside what that run had left for its levers (the backends
    not installed cost nothing)."""
    lists = script_lists("h200_optimizations_complete.sh", ("FREE", key))
    default, budget_s = _fresh_call_budget_s(folder, model)
    names = [n for n in lists[key] if n not in lists["FREE"]]
    spent_s = 0.0
    for variant in variants_from_names(names, catalogue(model + "-tiny"), include_default=False):
        spent_s += estimate_variant_s(variant, default, [default], rounds=rounds)
        assert spent_s <= budget_s, f"{key}: {variant.name} ends at {spent_s:.0f} s of {budget_s:.0f} s"


@pytest.mark.parametrize("key", ["WAN_VARIANTS", "COG_VARIANTS"])
def test_the_completing_call_names_every_backend_of_the_dispatcher(key: str) -> None:
    """Every attention backend of the installed Diffusers' dispatcher is in each list, or stored from an
    H200 run of the model: measured where it comes with torch, recorded not_available with its reason
    otherwise (``native``, the default, excepted)."""
    from t2v_energy_lib.bench.optimizations.variants import all_attention_backends

    model = {"WAN_VARIANTS": "wan2.1-t2v-1.3b", "COG_VARIANTS": "cogvideox-2b"}[key]
    names = [*script_lists("h200_optimizations_complete.sh", (key,))[key], *stored_variants(model)]
    levers = [lever for name in names for lever in name.split("+")]
    backends = {lever.split(":", 1)[1] for lever in levers if lever.startswith("attention:")}
    missing = set(all_attention_backends()) - backends - {"native"}
    assert not missing, f"backends the completing call does not name: {sorted(missing)}"


def test_the_math_reference_cannot_fit_the_14b_on_an_h200() -> None:
    """Why the math reference costs the 14B's calls nothing: the availability check records it not_available
    when one self-attention call's scores (heads x tokens^2, 2 bytes each at least) exceed the GPU's memory,
    as they do at 720x1280x81 on an H200 (141 GB); at the 1.3B's 480p they fit, and it is measured there."""
    from types import SimpleNamespace

    from t2v_energy_lib.bench.optimizations import levers as lever_module
    from t2v_energy_lib.models import get_spec

    h200_bytes = int(139.80 * 2**30)  # "a total capacity of 139.80 GiB", the H200's out-of-memory message
    cases = {"wan2.1-t2v-14b": (720, 1280, 81), "wan2.1-t2v-1.3b": (480, 832, 81)}
    props = SimpleNamespace(total_memory=h200_bytes)
    reasons = {}
    for model, size in cases.items():
        spec = get_spec(model)
        heads = spec.component_configs[spec.denoiser]["num_attention_heads"]
        pipe = SimpleNamespace(transformer=SimpleNamespace(config=SimpleNamespace(num_attention_heads=heads)))
        ctx = ApplyContext(pipe, "wan", "cuda", 4, 4, 5.0, attention_tokens=spec.token_length(*size))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(torch.cuda, "get_device_properties", lambda device: props)
            reasons[model] = lever_module.scores_exceed_memory(ctx)
    assert reasons["wan2.1-t2v-1.3b"] is None
    assert "457 GB (40 heads x 75,600 tokens^2 x 2 bytes)" in reasons["wan2.1-t2v-14b"]
    assert "predicted from the shape, not run" in reasons["wan2.1-t2v-14b"]
