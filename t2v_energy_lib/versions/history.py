"""Run a benchmark selection under each Diffusers version: one subprocess per version, model and round.

Order (against drift): round 0 goes through the versions oldest to newest, round 1 newest to oldest, and so
on (A B C, C B A, ...), each model's jobs together within a round, so a slow drift of the GPU or host adds to
every version alike instead of looking like a step. Each job runs :mod:`.worker` with the version's own
folder first on ``PYTHONPATH`` (:mod:`.env`) and writes ``<out>/<version>/runs/r<round>-<model>/history.json``
and its console log to ``<out>/<version>/logs/``. A job that cannot start (a wheel missing) or dies without
a record of its own gets an error record written here, naming why. ``time_budget_s`` stops before a job whose
predicted length (the longest earlier job of that model) would not fit; each job is also given at most the
time left, and is interrupted (SIGINT, which keeps its finished records) when it runs over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import T2VEnergyError
from t2v_energy_lib.versions.matrix import VersionSpec
from t2v_energy_lib.versions.records import RESULT_NAME, job_errors, write_job_error


@dataclass(frozen=True)
class Job:
    """One subprocess: a version, one model, one round."""

    version: VersionSpec
    model: str
    round: int

    @property
    def name(self) -> str:
        """``r0-wan2.1-t2v-1.3b``: the run folder and log name within the version's folder."""
        return f"r{self.round}-{self.model}"

    def folder(self, out: Path) -> Path:
        """Where this job's result file goes."""
        return out / self.version.diffusers / "runs" / self.name

    def log(self, out: Path) -> Path:
        """This job's console log."""
        return out / self.version.diffusers / "logs" / f"{self.name}.log"


def spread(items: Sequence[VersionSpec]) -> list[VersionSpec]:
    """Both ends first, then midpoints (0.33, 0.42, 0.37, 0.35...): a run cut short still spans the range."""
    if len(items) <= 2:
        return list(items)
    out = [items[0], items[-1]]
    ranges = [(0, len(items) - 1)]
    while ranges:
        nxt = []
        for lo, hi in ranges:
            if hi - lo > 1:
                mid = (lo + hi) // 2
                out.append(items[mid])
                nxt += [(lo, mid), (mid, hi)]
        ranges = nxt
    return out


def plan(
    versions: Sequence[VersionSpec], models: Sequence[str], rounds: int, order: str = "release"
) -> tuple[Job, ...]:
    """Jobs in run order: per round and model, versions forward in even rounds and backward in odd ones.

    ``order="spread"`` takes the versions in :func:`spread` order instead of release order, ``"listed"`` in
    the order given (both for runs that a time budget may cut short: what matters most first).
    """
    ordered = sorted(versions, key=lambda v: v.key)
    if order == "spread":
        ordered = spread(ordered)
    elif order == "listed":
        ordered = list(versions)
    elif order != "release":
        raise ValueError(f"order must be 'release', 'spread' or 'listed', got {order!r}")
    jobs = []
    for r in range(rounds):
        for model in models:
            seq = ordered if r % 2 == 0 else list(reversed(ordered))
            jobs.extend(Job(v, model, r) for v in seq)
    return tuple(jobs)


@dataclass(frozen=True)
class JobSettings:
    """How jobs run: device, what the worker measures, and the per-job limits.

    Attributes:
        device: ``cuda`` or ``cpu`` (tiny variants).
        e2e_steps: Denoising steps of the complete generations.
        window_s: Denoiser window (None: the worker's default, 2 s on a GPU). Units: s.
        profile: Profile one denoiser step per model (explains steps).
        job_timeout_s: Hard limit of one job. Units: s.
        extra_args: More worker arguments (``--idle-s 1``).
        pytest_mark: Run ``pytest -m <mark>`` (e.g. the gate suite) with the plugin's ``--energy-results``
            into the job folder instead of the built-in selection; ``extra_args`` then go to pytest.
    """

    device: str = "cuda"
    e2e_steps: int = 4
    window_s: float | None = None
    profile: bool = True
    job_timeout_s: float = 300.0
    extra_args: tuple[str, ...] = ()
    pytest_mark: str | None = None

    def worker_argv(self, job: Job, out_dir: Path) -> list[str]:
        """The worker command line of ``job`` (or its pytest command line, see ``pytest_mark``)."""
        if self.pytest_mark:
            argv = [sys.executable, "-m", "pytest", "-m", self.pytest_mark, "-p", "no:randomly", "-q"]
            if not _plugin_installed():  # the GPU runner does not pip-install the project
                argv += ["-p", "pytest_t2v_energy.plugin"]
            return [*argv, "--energy-results", str(out_dir / RESULT_NAME), *self.extra_args]
        argv = [sys.executable, "-m", "t2v_energy_lib.versions.worker", "--out", str(out_dir)]
        argv += ["--models", job.model, "--device", self.device, "--e2e-steps", str(self.e2e_steps)]
        argv += ["--round", str(job.round), "--expect-diffusers", job.version.diffusers]
        if self.window_s is not None:
            argv += ["--window-s", str(self.window_s)]
        if not self.profile:
            argv.append("--no-profile")
        return argv + list(self.extra_args)


def _plugin_installed() -> bool:
    """True when pytest loads this project's plugin by itself (an installed ``pytest11`` entry point)."""
    from importlib.metadata import entry_points

    return any(ep.value.startswith("pytest_t2v_energy") for ep in entry_points(group="pytest11"))


@dataclass
class JobOutcome:
    """What one job did: exit code (None: not started), seconds, and why it failed if it did."""

    job: Job
    returncode: int | None
    duration_s: float
    error: str | None = None


@dataclass
class HistoryRun:
    """Everything a history run did, in order; ``skipped`` jobs did not fit the time budget."""

    outcomes: list[JobOutcome] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)


Launcher = Callable[[list[str], dict[str, str], Path, float], int]


def launch_subprocess(argv: list[str], env: dict[str, str], log: Path, timeout_s: float) -> int:
    """Run ``argv``, output to ``log``; SIGINT at ``timeout_s`` (finished records stay), kill 20 s later."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(argv)}\n")
        fh.flush()
        proc = subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            fh.write(f"\n[history] job stopped after its limit of {timeout_s:.0f} s\n")
            return 124


def run_history(
    jobs: Sequence[Job],
    out: Path,
    settings: JobSettings,
    prepare: Callable[[VersionSpec], Path | None],
    *,
    repo: Path,
    launcher: Launcher = launch_subprocess,
    time_budget_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    log: Callable[[str], None] = print,
) -> HistoryRun:
    """Run ``jobs`` in order (see the module docstring).

    Args:
        jobs: From :func:`plan`.
        out: Root of the version folders.
        settings: Device, worker settings and per-job limit.
        prepare: ``prepare(version) -> folder`` builds the version's environment (None: the current one);
            raises :class:`~t2v_energy_lib.errors.T2VEnergyError` when it cannot.
        repo: The repository (second on PYTHONPATH).
        launcher: Runs one job's command (a fake in tests).
        time_budget_s: Stop before a job that would end after this many seconds. Units: s.
        clock: Monotonic clock. Units: s.
        log: Progress lines.
    """
    from t2v_energy_lib.versions.env import env_vars

    start = clock()
    run = HistoryRun()
    longest: dict[str, float] = {}
    targets: dict[str, Path | None] = {}
    for n, job in enumerate(jobs):
        elapsed = clock() - start
        predicted = longest.get(job.model, 0.0)
        if time_budget_s is not None and elapsed + predicted > time_budget_s:
            run.skipped.extend(jobs[n:])
            log(
                f"time budget: {len(jobs) - n} job(s) left out "
                f"(elapsed {elapsed:.0f} s, next ~{predicted:.0f} s)"
            )
            break
        t0 = clock()
        try:
            if job.version.diffusers not in targets:
                targets[job.version.diffusers] = prepare(job.version)
            target = targets[job.version.diffusers]
        except T2VEnergyError as exc:
            write_job_error(job, out, f"environment: {exc}", 0.0, settings.device)
            run.outcomes.append(JobOutcome(job, None, 0.0, str(exc)))
            log(f"[{n + 1}/{len(jobs)}] {job.version.diffusers} {job.name}: NOT RUN ({exc})")
            continue
        limit = settings.job_timeout_s
        if time_budget_s is not None:
            limit = max(1.0, min(limit, time_budget_s - elapsed))
        env = env_vars(target, repo)
        job.folder(out).mkdir(parents=True, exist_ok=True)
        rc = launcher(settings.worker_argv(job, job.folder(out)), env, job.log(out), limit)
        took = clock() - t0
        longest[job.model] = max(longest.get(job.model, 0.0), took)
        error = None if rc == 0 else _failure(job, out, rc, took, settings.device)
        run.outcomes.append(JobOutcome(job, rc, took, error))
        state = "ok" if rc == 0 else f"exit {rc}: {error}"
        log(f"[{n + 1}/{len(jobs)}] {job.version.diffusers} {job.name}: {state} ({took:.0f} s)")
    return run


def _failure(job: Job, out: Path, rc: int, took: float, device: str) -> str:
    """Why a job failed: its own error record if it wrote one, else a host-side record with the log tail."""
    own = job_errors(job.folder(out) / RESULT_NAME)
    if own:
        return "; ".join(own)
    tail = _tail(job.log(out))
    reason = "stopped at its time limit" if rc == 124 else f"exited {rc} without an error record"
    write_job_error(job, out, f"{reason}; log tail: {tail}", took, device)
    return reason


def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:])[-1500:]


def default_env_root() -> Path:
    """Where version environments are unpacked by default: ``$T2V_ENV_ROOT`` or ``/tmp/t2v-energy-envs``."""
    return Path(os.environ.get("T2V_ENV_ROOT", "/tmp/t2v-energy-envs"))


def summary(run: HistoryRun) -> dict[str, Any]:
    """Counts for the end of a run: jobs ok, failed, not run, left out by the budget."""
    ok = sum(1 for o in run.outcomes if o.returncode == 0)
    not_run = sum(1 for o in run.outcomes if o.returncode is None)
    return {
        "ok": ok,
        "failed": len(run.outcomes) - ok - not_run,
        "not_run": not_run,
        "skipped": len(run.skipped),
    }
