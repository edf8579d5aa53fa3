"""``t2v-energy history``: a benchmark selection under each Diffusers version, its steps and their causes.

Examples::

    t2v-energy history --versions 0.33.1..0.42.1 --rounds 2 --time-budget-s 520       # on a GPU
    t2v-energy history --report-only --out baselines/nvidia-h200 --markdown DIFFUSERS-VERSIONS.md
    t2v-energy history --find 0.37.1 0.42.1 --metric denoiser_step:gpu_energy_j
    t2v-energy history --device cpu --versions 0.35.2,0.42.1 --wheelhouse /path/.whl   # CPU flow test

Each version runs in its own subprocess with its own folder first on PYTHONPATH (built from
``.whl-versions/<version>/`` and the ``--wheelhouse`` folders; see t2v_energy_lib/versions/env.py), rounds
interleaved (A B C, C B A) against drift. Results: ``<out>/<version>/history.json`` (raw rounds of every run).
Exit codes: 0 every job ran and at least two versions have figures; 1 otherwise; 2 errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import InvalidSettingsError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``history`` subcommand."""
    p = subparsers.add_parser(
        "history",
        help="measure a selection under each Diffusers version, detect steps, bisect, explain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--versions", default="all", help="'all', a list '0.33.1,0.42.1' or a range '0.35.2..0.42.1'"
    )
    p.add_argument("--models", default="wan2.1-t2v-1.3b", help="comma-separated model ids")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds per version (default 2)")
    p.add_argument(
        "--order",
        choices=("release", "spread", "listed"),
        default="release",
        help="version order within a round: release order; both ends first then midpoints; or as listed "
        "in --versions (what matters most first, for a run a budget may cut short)",
    )
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    p.add_argument("--out", type=Path, default=None, help="root of the version folders (default below)")
    p.add_argument("--env-root", type=Path, default=None, help="where version environments are unpacked")
    p.add_argument("--wheelhouse", type=Path, action="append", default=[], help="more wheel folders")
    p.add_argument("--time-budget-s", type=float, default=None, help="stop before a job that would not fit")
    p.add_argument("--job-timeout-s", type=float, default=300.0, help="hard limit of one job (default 300)")
    p.add_argument("--e2e-steps", type=int, default=4, help="steps of the complete generations (default 4)")
    p.add_argument("--window-s", type=float, default=None, help="denoiser window (default 2 s on a GPU)")
    p.add_argument("--idle-s", type=float, default=2.0, help="idle power before each GPU job (default 2 s)")
    p.add_argument("--no-profile", action="store_true", help="skip the profiled step (no explanations)")
    p.add_argument(
        "--pytest-mark",
        default=None,
        metavar="MARK",
        help="measure `pytest -m MARK` (e.g. gate) under each version instead of the built-in selection",
    )
    p.add_argument("--report-only", action="store_true", help="only merge, analyse and report stored runs")
    p.add_argument("--probe", action="store_true", help="only build each environment and try its imports")
    p.add_argument("--find", nargs=2, metavar=("A", "B"), help="bisect the release that changed --metric")
    p.add_argument("--metric", default="denoiser_step:gpu_energy_j", help="--find: COMPONENT:ROUNDS_KEY")
    p.add_argument("--min-change", type=float, default=0.02, help="smallest step (default 0.02 = 2%%)")
    p.add_argument("--confidence", type=float, default=0.99, help="confidence of intervals (default 0.99)")
    p.add_argument("--plot", type=Path, default=None, help="history chart (default <out>/history.png)")
    p.add_argument("--markdown", type=Path, default=None, help="write DIFFUSERS-VERSIONS-style Markdown here")
    p.set_defaults(func=run)
    return p


def _device(requested: str) -> str:
    from t2v_energy_lib.commands.characterize import _device as pick

    return pick(requested)


def _default_out(device: str) -> Path:
    if device == "cpu":
        return Path("out") / "history-cpu"
    from t2v_energy_lib.results.provenance import collect_provenance, gpu_slug

    return Path("baselines") / gpu_slug(collect_provenance(cuda_index=0))


def _repo() -> Path:
    return Path(__file__).resolve().parents[2]


def _prepare(args: argparse.Namespace) -> Any:
    from t2v_energy_lib.versions.env import install, wheelhouses
    from t2v_energy_lib.versions.history import default_env_root

    root = args.env_root or default_env_root()

    def prepare(spec: Any) -> Path:
        folders = (*wheelhouses(Path.cwd(), spec.diffusers), *args.wheelhouse)
        return install(spec, root / spec.diffusers, folders)

    return prepare


def run(args: argparse.Namespace) -> int:
    """Run, merge, analyse, report; see the module docstring for exit codes."""
    from t2v_energy_lib.versions.history import JobSettings, plan, run_history, summary
    from t2v_energy_lib.versions.matrix import resolve

    if args.rounds < 1:
        raise InvalidSettingsError(f"--rounds must be >= 1, got {args.rounds}")
    device = "cpu" if args.report_only and args.device == "auto" else _device(args.device)
    out = args.out or _default_out(device)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    settings = JobSettings(
        device=device,
        e2e_steps=args.e2e_steps,
        window_s=args.window_s,
        profile=not args.no_profile,
        job_timeout_s=args.job_timeout_s,
        extra_args=() if args.pytest_mark else ("--idle-s", str(args.idle_s)),
        pytest_mark=args.pytest_mark,
    )
    if args.find:
        return _find(args, settings, out, models[0])
    versions = resolve(args.versions, keep_order=args.order == "listed")
    if args.probe:
        return _probe(args, versions)
    ok = True
    if not args.report_only:
        jobs = plan(versions, models, args.rounds, args.order)
        shape = f"{len(versions)} versions x {len(models)} models x {args.rounds} rounds"
        print(f"history: {len(jobs)} jobs ({shape}) -> {out}")
        result = run_history(
            jobs, out, settings, _prepare(args), repo=_repo(), time_budget_s=args.time_budget_s
        )
        counts = summary(result)
        print(f"history: {counts}")
        ok = counts["ok"] == len(jobs)
    reported = _report(args, out, [v.diffusers for v in sorted(versions, key=lambda v: v.key)])
    return 0 if reported and ok else 1


def _report(args: argparse.Namespace, out: Path, versions: list[str]) -> bool:
    """Merge each version's runs, print the history, plot, explain steps; False if < 2 versions have data."""
    from t2v_energy_lib.errors import BaselineFormatError
    from t2v_energy_lib.versions.explain import explain_step
    from t2v_energy_lib.versions.records import merge_version
    from t2v_energy_lib.versions.view import analyse, format_history, plot_history

    files = {}
    for v in versions:
        try:
            files[v] = merge_version(out / v)
        except BaselineFormatError as exc:
            print(f"history: {v}: {exc}")
    histories = analyse(files, min_change=args.min_change, confidence=args.confidence)
    if not histories:
        print(f"history: FAILED: no version in {out} has a measured record; nothing to compare")
        return False
    print(format_history(histories, files))
    measured = {s.version for h in histories for s in h.series}
    explanations, seen = [], set()
    for h in histories:
        for st in h.report.steps if h.report else ():
            model = h.key.split("/", 1)[0]
            if (model, st.before, st.after) not in seen:
                seen.add((model, st.before, st.after))
                explanations.append(
                    explain_step(model, (st.before, files[st.before]), (st.after, files[st.after]))
                )
    for e in explanations:
        print("\n".join(e.lines()))
    if len(measured) >= 2:
        print(f"chart: {plot_history(histories, args.plot or out / 'history.png')}")
    if args.markdown:
        from t2v_energy_lib.versions.markdown import render

        command = "t2v-energy history --report-only --out " + str(out)
        args.markdown.write_text(render(files, histories, explanations, command))
        print(f"markdown: {args.markdown}")
    if len(measured) < 2:
        print(f"history: FAILED: {len(measured)} version(s) with figures; a history needs two or more")
    return len(measured) >= 2


def _probe(args: argparse.Namespace, versions: Any) -> int:
    from t2v_energy_lib.errors import VersionEnvError
    from t2v_energy_lib.versions.env import probe

    prepare, failed = _prepare(args), 0
    for spec in versions:
        try:
            result = probe(prepare(spec), _repo(), ["WanPipeline", "CogVideoXPipeline", "LTXPipeline"])
        except VersionEnvError as exc:
            failed += 1
            print(f"{spec.diffusers}: NO ENVIRONMENT: {exc}")
            continue
        failed += bool(result.failed())
        print(f"{spec.diffusers}: {result.versions} {result.pipelines}")
    return 1 if failed else 0


def _find(args: argparse.Namespace, settings: Any, out: Path, model: str) -> int:
    """Bisect between the two versions of ``--find`` on ``--metric`` of ``model``."""
    from t2v_energy_lib.results.storage import load_results
    from t2v_energy_lib.versions.bisect import bisect_versions
    from t2v_energy_lib.versions.history import Job, run_history
    from t2v_energy_lib.versions.matrix import resolve
    from t2v_energy_lib.versions.records import RESULT_NAME

    component, _, key = args.metric.partition(":")
    if not key:
        raise InvalidSettingsError(f"--metric {args.metric!r} is not COMPONENT:ROUNDS_KEY")
    versions = resolve(f"{args.find[0]}..{args.find[1]}")
    prepare = _prepare(args)

    def measure(spec: Any) -> tuple[float, ...]:
        done = [p.name for p in (out / spec.diffusers / "runs").glob("r*-*")]
        rnd = 1 + max(
            (int(n[1:].split("-", 1)[0]) for n in done if n[1:].split("-", 1)[0].isdigit()), default=-1
        )
        job = Job(spec, model, rnd)
        run_history([job], out, settings, prepare, repo=_repo(), time_budget_s=args.time_budget_s)
        records = load_results(job.folder(out) / RESULT_NAME).records
        for r in records:
            if r.component == component and key in r.rounds:
                return tuple(r.rounds[key])
        return ()

    result = bisect_versions(versions, measure, confidence=args.confidence)
    print(
        f"find: {args.metric} of {model}: {result.before} -> {result.after} x{result.ratio:.3f} "
        f"[{result.ci_low:.3f}, {result.ci_high:.3f}] after {result.runs} runs; "
        f"{versions[0].diffusers} -> {versions[-1].diffusers} x{result.total[0]:.3f} "
        f"[{result.total[1]:.3f}, {result.total[2]:.3f}]"
        + ("" if result.found else " (the ends do not differ beyond their noise: nothing to find)")
    )
    return 0 if result.found else 1
