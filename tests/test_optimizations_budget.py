"""The time budget prices the next variant from the default's own videos, on the H200's stored runs.

Each stored optimisation run is replayed in its order: before each variant the runner's estimate is formed
from what the run had measured so far, and compared with the variant's measured wall time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from t2v_energy_lib.bench.optimizations.budget import FIRST_COMPILE_S, estimate_variant_s, step_fraction
from t2v_energy_lib.bench.optimizations.variants import Variant, single_levers, variants_from_names
from t2v_energy_lib.results import load_results
from t2v_energy_lib.results.schema import ResultRecord

H200 = Path(__file__).resolve().parents[1] / "baselines" / "nvidia-h200"
#: (folder, model, family, CFG mode, rounds per variant) of the stored optimisation runs.
RUNS = (
    ("optimizations-2", "cogvideox-2b", "cogvideox", "batched", 2),
    ("optimizations-2", "wan2.1-t2v-1.3b", "wan", "two_pass", 2),
    ("optimizations-3", "cogvideox-2b", "cogvideox", "batched", 2),
    ("optimizations-3", "wan2.1-t2v-1.3b", "wan", "two_pass", 2),
    ("optimizations-4", "cogvideox-2b", "cogvideox", "batched", 2),
    ("optimizations-4", "wan2.1-t2v-1.3b", "wan", "two_pass", 2),
    ("optimizations-5", "wan2.1-t2v-1.3b", "wan", "two_pass", 2),
    ("optimizations-14b", "wan2.1-t2v-14b", "wan", "two_pass", 1),
    ("optimizations-14b-2", "wan2.1-t2v-14b", "wan", "two_pass", 1),
    ("optimizations-6", "wan2.1-t2v-1.3b", "wan", "two_pass", 2),
    ("optimizations-14b-3", "wan2.1-t2v-14b", "wan", "two_pass", 1),
    ("optimizations-7", "wan2.1-t2v-1.3b", "wan", "two_pass", 2),
    ("optimizations-14b-4", "wan2.1-t2v-14b", "wan", "two_pass", 1),
    ("optimizations-8", "wan2.1-t2v-1.3b", "wan", "two_pass", 2),
    ("optimizations-9", "wan2.1-t2v-1.3b", "wan", "two_pass", 2),
    ("optimizations-10", "cogvideox-2b", "cogvideox", "batched", 2),
    ("optimizations-14b-5", "wan2.1-t2v-14b", "wan", "two_pass", 1),
    ("optimizations-11", "wan2.1-t2v-1.3b", "wan", "two_pass", 1),
    ("optimizations-14b-6", "wan2.1-t2v-14b", "wan", "two_pass", 1),
)


def variant(name: str, family: str = "wan", cfg_mode: str = "two_pass") -> Variant:
    backends = [lever.split(":", 1)[1] for lever in name.split("+") if lever.startswith("attention:")]
    catalogue = single_levers(family, cfg_mode, attention_backends=backends)
    return variants_from_names([name], catalogue, include_default=False)[0]


def measured(path: Path, model: str) -> list[ResultRecord]:
    """The run's complete-video records in the order they were measured (the default first)."""
    return [
        r for r in load_results(path).records if f"/{model}/" in f"/{r.id}" and r.id.endswith("/end_to_end")
    ]


def skipped_s(record: ResultRecord, default: ResultRecord, steps: float, rounds: int) -> float:
    """Seconds of video the variant's caches skipped: the estimate prices caches as skipping nothing.

    The share of hooked block calls a cache skipped, times the default's mean video at the variant's share of
    its steps, per round (an upper bound: the skipped blocks are most, not all, of a video).
    """
    skipped = hooked = 0
    for lever in record.extra.get("engagement", {}).values():
        activity = lever.get("activity", {})
        skipped += int(activity.get("skipped_calls", 0))
        hooked += int(activity.get("hooked_calls", 0))
    videos = default.rounds["latency_s"]
    return (skipped / hooked if hooked else 0.0) * sum(videos) / len(videos) * steps * rounds


def replay(
    folder: str, model: str, family: str, cfg_mode: str, rounds: int
) -> list[tuple[str, float, float, float]]:
    """(variant, estimate s, wall s, wall s had its caches skipped nothing) for every variant after the
    default."""
    records = measured(H200 / folder / "0.42.1" / "optimizations.json", model)
    default = records[0]
    assert default.extra["status"] == "reference"
    rows = []
    for i, record in enumerate(records[1:], start=1):
        name = record.extra["variant"]["name"]
        nxt = variant(name, family, cfg_mode)
        estimate = estimate_variant_s(nxt, default, records[:i], rounds)
        skipped = skipped_s(record, default, step_fraction(nxt), rounds)
        wall_s = float(record.extra["variant_wall_s"])
        rows.append((name, estimate, wall_s, wall_s + skipped))
    return rows


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"{r[0]}:{r[1]}")
def test_every_stored_variant_is_priced_close_to_what_it_took(run: tuple) -> None:
    """Uncompiled variants priced at least 0.9x of their wall time and at most 1.6x of it with a cache's
    skipped blocks added back (caches are priced as skipping nothing: on Wan2.1-14B MagCache skipped 75% of
    them, 166 s for a 271 s price); compiled ones never below their wall time."""
    for name, estimate_s, wall_s, wall_unskipped_s in replay(*run):
        took = f"{name}: priced {estimate_s:.0f} s, took {wall_s:.0f} s ({wall_unskipped_s:.0f} s unskipped)"
        if "compile" in name.split("+"):
            assert estimate_s >= wall_s, took
        else:
            assert 0.9 * wall_s <= estimate_s <= 1.6 * wall_unskipped_s, took


def test_half_steps_after_a_composed_default_is_priced_from_its_videos() -> None:
    """The 14B's first call priced half steps at the default's 298 s wall (warm-up, 2 videos, the composed
    generation) and stopped before it; priced from its videos it costs under 70% of that (it took 87 s for one
    video in the next call)."""
    raw = H200 / "optimizations-14b" / "0.42.1" / "runs" / "optimizations-call1-GPU-8ec68ad8.json"
    default = measured(raw, "wan2.1-t2v-14b")[0]
    assert default.extra["variant_wall_s"] > 290
    estimate_s = estimate_variant_s(variant("steps:half"), default, [default], rounds=2)
    assert estimate_s < 0.7 * default.extra["variant_wall_s"]


def test_a_first_compilation_does_not_price_the_next_uncompiled_variant() -> None:
    """The fourth set stopped before half steps + MagCache (priced at 136 s, the wall time of the compiled
    variant before it); the fifth measured it in 25 s."""
    records = measured(H200 / "optimizations-4" / "0.42.1" / "optimizations.json", "wan2.1-t2v-1.3b")
    assert records[-1].extra["variant"]["name"] == "steps:half+cache:mag+compile"
    estimate_s = estimate_variant_s(variant("steps:half+cache:mag"), records[0], records, rounds=2)
    later = measured(H200 / "optimizations-5" / "0.42.1" / "optimizations.json", "wan2.1-t2v-1.3b")
    took_s = next(r for r in later if r.extra["variant"]["name"] == "steps:half+cache:mag").extra[
        "variant_wall_s"
    ]
    assert took_s <= estimate_s < 2 * took_s


def test_compilation_is_priced_by_the_longest_compile_seen_or_a_first_compile() -> None:
    records = measured(H200 / "optimizations-4" / "0.42.1" / "optimizations.json", "cogvideox-2b")
    default, compiled = records[0], next(r for r in records if r.extra["variant"]["name"] == "compile")
    half_compile = variant("steps:half+compile", "cogvideox", "batched")
    first = estimate_variant_s(half_compile, default, [default], rounds=2)
    after = estimate_variant_s(half_compile, default, [default, compiled], rounds=2)
    assert first - after == pytest.approx((FIRST_COMPILE_S - compiled.extra["setup_s"]) * 1.15)


def test_without_default_videos_the_last_wall_time_prices_the_next() -> None:
    records = measured(H200 / "optimizations-5" / "0.42.1" / "optimizations.json", "wan2.1-t2v-1.3b")
    wall_s = records[-1].extra["variant_wall_s"]
    assert estimate_variant_s(variant("cache:pab"), None, records, rounds=2) == wall_s
    assert estimate_variant_s(variant("compile"), None, records, rounds=2) == 2 * wall_s


def test_step_fraction_reads_the_steps_lever() -> None:
    assert step_fraction(variant("steps:half+cache:mag")) == 0.5
    assert step_fraction(variant("cache:mag")) == 1.0
