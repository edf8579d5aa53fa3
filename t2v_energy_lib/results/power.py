"""The gate's power, by SIMULATION from stored per-round data: false-alarm rate and detection rate.

What is simulated (a computation over real stored rounds; no new measurement):

1. **Noise pools.** For each component of the gate suite (text encoder, denoiser step, VAE decode, complete
   generation) every stored record of that component with at least 2 rounds gives its rounds' relative
   residuals ``(v_i / mean - 1) * sqrt(n / (n - 1))`` (the factor undoes the shrinkage of residuals around
   their own sample mean), as ``(energy, latency)`` pairs of the same round. Pooled over records (settings,
   models, files), so a pool describes round-to-round noise of that kind of window on that GPU.
2. **Gate runs.** A baseline and a current run of each benchmark draw rounds from its pool (with replacement);
   the current run's values are multiplied by ``1 + change`` (energy and latency alike: a slower kernel is
   both). In adaptive mode each side adds rounds as the plugin does (:func:`~.adaptive.adaptive_state`: the
   baseline until precise, the current run until decided) up to the benchmark's cap; in fixed mode both sides
   have ``initial_rounds``. The verdict is the gate's (:func:`~.compare.row_verdict`, per metric).
3. **Rates.** Per benchmark and for the suite (a run fails when any benchmark does): with no change, the
   false-alarm rate (a regression verdict) and the strict failure rate (regression or undecided); at +3 % and
   +5 %, the detection rate (a regression verdict on the changed benchmark).

What it cannot tell: drifts between sessions (GPU temperature, clocks, another chip of the same model) are not
in within-record residuals; the pools come from the windows stored (their lengths and GPU), not from the gate
suite's own windows. ``baselines/scripts/h200_gate_proof.sh`` measures the gate whole on a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from t2v_energy_lib.results.adaptive import CONTINUE, adaptive_state, look_points, sequential_confidence
from t2v_energy_lib.results.compare import METRICS, Thresholds, row_verdict
from t2v_energy_lib.results.schema import ResultFile
from t2v_energy_lib.results.stats import ratio_test

GATE_SPEC = "energy:2%,latency:2%"
CHANGES = (0.0, 0.03, 0.05)


@dataclass(frozen=True)
class NoisePool:
    """Relative per-round residuals of one component.

    Attributes:
        component: Record component (``denoiser_step``...).
        residuals: ``(energy, latency)`` relative residuals, one pair per stored round. Unitless.
        n_records: Records pooled.
        sources: Result files the records came from.
    """

    component: str
    residuals: tuple[tuple[float, float], ...]
    n_records: int
    sources: tuple[str, ...]

    @property
    def rel_stddev(self) -> tuple[float, float]:
        """Standard deviation of the energy and latency residuals. Unitless."""
        return tuple(statistics.pstdev(r[i] for r in self.residuals) for i in (0, 1))  # type: ignore[return-value]


def _residuals(values: Sequence[float]) -> list[float]:
    mean, n = statistics.fmean(values), len(values)
    return [(v / mean - 1.0) * math.sqrt(n / (n - 1)) for v in values]


def noise_pools(files: Iterable[ResultFile], components: Iterable[str]) -> dict[str, NoisePool]:
    """Pool the stored rounds' residuals per component (records with >= 2 rounds of energy and latency).

    Raises:
        ValueError: A component has no record to pool (a simulation without data would be invented).
    """
    wanted = tuple(components)
    found: dict[str, list[tuple[float, float]]] = {c: [] for c in wanted}
    counts = dict.fromkeys(wanted, 0)
    sources: dict[str, set[str]] = {c: set() for c in wanted}
    seen: set[tuple[str, tuple[float, ...], tuple[float, ...]]] = set()
    for file in files:
        for record in file.records:
            energy, latency = record.rounds.get("gpu_energy_j", ()), record.rounds.get("latency_s", ())
            if record.component not in found or len(energy) < 2 or len(energy) != len(latency):
                continue
            if min(energy) <= 0 or min(latency) <= 0 or record.extra.get("composed"):
                continue
            if (record.component, tuple(energy), tuple(latency)) in seen:
                continue  # one record stored in several files (the same rounds) counts once
            seen.add((record.component, tuple(energy), tuple(latency)))
            found[record.component].extend(zip(_residuals(energy), _residuals(latency), strict=True))
            counts[record.component] += 1
            sources[record.component].add(str(file.path))
    empty = [c for c in wanted if not found[c]]
    if empty:
        raise ValueError(
            f"no stored record with >= 2 rounds for component(s) {empty}: nothing to simulate from"
        )
    return {c: NoisePool(c, tuple(found[c]), counts[c], tuple(sorted(sources[c]))) for c in wanted}


@dataclass(frozen=True)
class GateBenchmark:
    """One benchmark of the gate suite as the simulation runs it.

    Attributes:
        component: Its record component (selects the noise pool).
        initial_rounds: Rounds before the adaptive decision (and the fixed mode's rounds).
        max_rounds: ``--energy-max-rounds`` (sets the look points and their Bonferroni confidence).
        cap_rounds: Rounds at which the time cap (``--energy-max-seconds``) stops a side: the cap over the
            round's duration, rounded up (the plugin decides once more there).
    """

    component: str
    initial_rounds: int = 3
    max_rounds: int = 12
    cap_rounds: int = 12


# tests/gpu/test_gate_suite.py run as baselines/scripts/h200_gate_proof.sh runs it: ~3 s windows (a complete
# generation ~5 s), --energy-max-rounds 12, --energy-max-seconds 20.
DEFAULT_GATE_SUITE = (
    GateBenchmark("text_encoder", 3, 12, 7),
    GateBenchmark("denoiser_step", 3, 12, 7),
    GateBenchmark("vae_decode", 3, 12, 7),
    GateBenchmark("end_to_end", 3, 12, 4),
)


def _draw(pool: NoisePool, n: int, factor: float, rng: random.Random) -> list[tuple[float, float]]:
    return [(factor * (1 + e), factor * (1 + lat)) for e, lat in rng.choices(pool.residuals, k=n)]


def _rounds(pairs: list[tuple[float, float]]) -> dict[str, list[float]]:
    return {"gpu_energy_j": [p[0] for p in pairs], "latency_s": [p[1] for p in pairs]}


def simulate_benchmark(
    pool: NoisePool,
    bench: GateBenchmark,
    change: float,
    thresholds: Thresholds,
    rng: random.Random,
    *,
    adaptive: bool = True,
    confidence: float = 0.99,
) -> tuple[str, int, int]:
    """One simulated gate of one benchmark.

    Returns:
        ``(verdict, baseline rounds, current rounds)``; verdict ``regression``, ``undecided`` or ``pass``.
    """
    base = _draw(pool, bench.initial_rounds, 1.0, rng)
    cur = _draw(pool, bench.initial_rounds, 1.0 + change, rng)
    if adaptive:
        confidence = sequential_confidence(confidence, bench.max_rounds, bench.initial_rounds)
        cap = min(bench.cap_rounds, bench.max_rounds)
        looks = (*(n for n in look_points(bench.max_rounds, bench.initial_rounds) if n < cap), cap)
        for n in looks:  # the plugin decides at these round counts only
            base += _draw(pool, n - len(base), 1.0, rng)
            if adaptive_state(None, _rounds(base), thresholds, confidence=confidence) != CONTINUE:
                break
        for n in looks:
            cur += _draw(pool, n - len(cur), 1.0 + change, rng)
            if adaptive_state(_rounds(base), _rounds(cur), thresholds, confidence=confidence) != CONTINUE:
                break
    verdicts = []
    for metric, limit in thresholds.limits.items():
        key = METRICS[metric]
        test = ratio_test(_rounds(base)[key], _rounds(cur)[key], confidence=confidence)
        verdicts.append(row_verdict(test.ratio - 1.0, limit, test))
    verdict = "regression" if "regression" in verdicts else "undecided" if "undecided" in verdicts else "pass"
    return verdict, len(base), len(cur)


def simulate_gate(
    pools: Mapping[str, NoisePool],
    suite: Sequence[GateBenchmark] = DEFAULT_GATE_SUITE,
    *,
    changes: Sequence[float] = CHANGES,
    trials: int = 1000,
    spec: str = GATE_SPEC,
    adaptive: bool = True,
    seed: int = 0,
) -> dict[str, object]:
    """False-alarm and detection rates of the gate suite (see the module docstring).

    Returns:
        Plain data: settings, and per change the per-benchmark and suite rates and mean rounds.
    """
    thresholds = Thresholds.parse(spec)
    rng = random.Random(seed)
    with warnings.catch_warnings():
        # Resampled rounds can coincide; scipy then warns of precision loss in a t statistic it computes.
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        results = [_rates(pools, suite, change, thresholds, trials, rng, adaptive) for change in changes]
    return {
        "kind": "SIMULATION from stored per-round residuals (not a measurement)",
        "spec": spec,
        "confidence": "0.99 (fixed); adaptive: per look 1 - 0.01 / looks (Bonferroni)",
        "adaptive": adaptive,
        "trials": trials,
        "seed": seed,
        "suite": [asdict(b) for b in suite],
        "pools": {
            c: {
                "n_records": p.n_records,
                "n_rounds": len(p.residuals),
                "rel_stddev_energy": p.rel_stddev[0],
                "rel_stddev_latency": p.rel_stddev[1],
                "sources": list(p.sources),
            }
            for c, p in pools.items()
        },
        "results": results,
    }


def _rates(
    pools: Mapping[str, NoisePool],
    suite: Sequence[GateBenchmark],
    change: float,
    thresholds: Thresholds,
    trials: int,
    rng: random.Random,
    adaptive: bool,
) -> dict[str, object]:
    per: dict[str, dict[str, float]] = {}
    suite_fail = suite_strict = 0
    tallies = {b.component: {"regression": 0, "undecided": 0, "base": 0, "cur": 0} for b in suite}
    for _ in range(trials):
        outcomes = []
        for bench in suite:
            verdict, nb, nc = simulate_benchmark(
                pools[bench.component], bench, change, thresholds, rng, adaptive=adaptive
            )
            tally = tallies[bench.component]
            tally["base"] += nb
            tally["cur"] += nc
            if verdict in ("regression", "undecided"):
                tally[verdict] += 1
            outcomes.append(verdict)
        suite_fail += "regression" in outcomes
        suite_strict += any(v != "pass" for v in outcomes)
    for component, tally in tallies.items():
        per[component] = {
            "regression_rate": tally["regression"] / trials,
            "undecided_rate": tally["undecided"] / trials,
            "strict_failure_rate": (tally["regression"] + tally["undecided"]) / trials,
            "mean_baseline_rounds": tally["base"] / trials,
            "mean_current_rounds": tally["cur"] / trials,
        }
    return {
        "change": change,
        "benchmarks": per,
        "suite_regression_rate": suite_fail / trials,
        "suite_strict_failure_rate": suite_strict / trials,
    }


def format_power(report: Mapping[str, object]) -> str:
    """A markdown table of :func:`simulate_gate`'s report."""
    mode = "adaptive" if report["adaptive"] else "fixed rounds"
    lines = [
        f"### Gate power, {mode} ({report['kind']})",
        "",
        f"Thresholds `{report['spec']}`, one-sided Welch bounds ({report['confidence']}), "
        f"{report['trials']} simulated gate runs per change (seed {report['seed']}). With no change a "
        "regression verdict is a false alarm; "
        "at +3%/+5% (energy and latency) it is a detection.",
        "",
        "| change | benchmark | regression verdicts | undecided | rounds (baseline / current) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in report["results"]:  # type: ignore[attr-defined]
        for component, rates in entry["benchmarks"].items():
            lines.append(
                f"| {entry['change']:+.0%} | {component} | {rates['regression_rate']:.1%} | "
                f"{rates['undecided_rate']:.1%} | {rates['mean_baseline_rounds']:.1f} / "
                f"{rates['mean_current_rounds']:.1f} |"
            )
        lines.append(
            f"| {entry['change']:+.0%} | **suite (any benchmark)** | {entry['suite_regression_rate']:.1%} | "
            f"strict failures {entry['suite_strict_failure_rate']:.1%} | |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m t2v_energy_lib.results.power PATH... --out DIR``: write POWER.md (and ``--json``)."""
    from t2v_energy_lib.results.storage import load_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="stored result files or folders to pool the noise from")
    parser.add_argument("--out", required=True, help="folder for POWER.md (a markdown report, no *.json)")
    parser.add_argument(
        "--json",
        help="also write the plain data here (keep it out of baselines/: *.json there "
        "are read as result files)",
    )
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spec", default=GATE_SPEC)
    args = parser.parse_args(argv)
    files = []
    for name in args.paths:
        path = Path(name)
        paths = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        files += [load_results(p) for p in paths if "report" not in p.parts]
    pools = noise_pools(files, [b.component for b in DEFAULT_GATE_SUITE])
    reports = [
        simulate_gate(pools, trials=args.trials, seed=args.seed, spec=args.spec, adaptive=mode)
        for mode in (True, False)
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m t2v_energy_lib.results.power " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join(
        [f"# Gate power: SIMULATION (`{command}`)", "", _pools_md(reports[0]), *map(format_power, reports)]
    )
    (out / "POWER.md").write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1) + "\n")
    print(text)
    return 0


def _pools_md(report: Mapping[str, object]) -> str:
    lines = [
        "Noise pools (relative per-round residuals of stored records, pooled per component):",
        "",
        "| component | records | rounds | energy rel. stddev | latency rel. stddev |",
        "| --- | --- | --- | --- | --- |",
    ]
    for component, pool in report["pools"].items():  # type: ignore[attr-defined]
        lines.append(
            f"| {component} | {pool['n_records']} | {pool['n_rounds']} | {pool['rel_stddev_energy']:.2%} | "
            f"{pool['rel_stddev_latency']:.2%} |"
        )
    sources = sorted({s for pool in report["pools"].values() for s in pool["sources"]})  # type: ignore[attr-defined]
    return "\n".join([*lines, "", "Sources: " + ", ".join(f"`{s}`" for s in sources), ""])


if __name__ == "__main__":
    raise SystemExit(main())
