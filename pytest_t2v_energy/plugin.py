"""pytest plugin of t2v-energy (entry point ``pytest11``: ``t2v_energy``). Thin glue over ``t2v_energy_lib``.

Markers:
    ``gpu``   needs an NVIDIA GPU usable through NVML and ``torch.cuda``; skipped elsewhere with the reason.
    ``h100``  needs NVIDIA H100 GPUs (every CUDA-visible GPU); skipped elsewhere naming the GPU found. A test
              marked ``gpu`` too (the any-GPU suite) needs an H100 only under ``-m h100``.
    ``slow``  takes more than a few seconds (deselect with ``-m "not slow"``).

GPU detection is lazy: the first time a ``gpu``/``h100`` test is collected (after ``-m``/``-k``
deselection), then cached for the session.
``--require-gpu`` turns those skips into failures, and fails a session in which no test ran (exit code 5).

Options (group ``t2v-energy``): ``--energy-results PATH``, ``--energy-baseline PATH``,
``--energy-compare-fail SPEC``, ``--energy-allow-hardware-mismatch``, ``--energy-idle-seconds N``,
``--require-gpu``, ``--baseline-dir PATH``.

Fixtures:
    ``energy``        (function) wraps pytest-benchmark's ``benchmark``; see :mod:`pytest_t2v_energy.fixture`.
    ``energy_meter``  (session) the meter ``energy`` uses: ``EnergyMeter.auto()``; override it in a
                      conftest to inject a fake (anything with ``begin_window``/``end_window``).
    ``baseline_root`` (session) ``Path`` of ``--baseline-dir`` (default ``<rootdir>/baselines``).

pytest-xdist (``-n N``, one worker per GPU): each worker is pinned to its own GPU at configure time and, when
pinned, gets pytest-benchmark back (xdist switches it off); each worker writes ``PATH.gw<N>.json`` and the
controller merges this run's worker files into ``--energy-results PATH`` and gates once, on the merged file.
``--benchmark-json/-autosave/-save/-compare-fail/-only`` are refused under xdist. See
:mod:`pytest_t2v_energy.xdist`.

State lives in a :class:`~pytest_t2v_energy.session.EnergySession` in ``config.stash[SESSION_KEY]``,
registered as plugin ``t2v-energy-session``. Nothing here touches hardware at import or configure time
(except NVML's GPU count on an xdist worker, to pick its GPU).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_t2v_energy.fixture import EnergyFixture
from pytest_t2v_energy.machine_info import machine_info_fields
from pytest_t2v_energy.paths import check_energy_paths
from pytest_t2v_energy.session import DEFAULT_COMPARE_FAIL, EnergySession

SESSION_KEY = pytest.StashKey[EnergySession]()
SESSION_PLUGIN_NAME = "t2v-energy-session"

MARKERS = (
    "gpu: needs an NVIDIA GPU usable through NVML and torch.cuda (skipped elsewhere with the reason; "
    "--require-gpu makes that a failure)",
    "h100: needs NVIDIA H100 GPUs (skipped elsewhere naming the GPU found; "
    "--require-gpu makes that a failure); with gpu too, only under -m h100",
    "slow: takes more than a few seconds; deselect with -m 'not slow'",
    "gate: the small CI gate suite (text encoder, denoiser step, VAE decode, one short generation); "
    "select with -m gate",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``t2v-energy`` option group."""
    group = parser.getgroup("t2v-energy", "t2v-energy: GPU markers, energy results and energy gating")
    group.addoption(
        "--energy-results",
        metavar="PATH",
        default=None,
        help="Write every `energy` benchmark as a t2v-energy result record to PATH (atomically, after each "
        "test; an existing file of the same hardware is resumed).",
    )
    group.addoption(
        "--energy-baseline",
        metavar="PATH",
        default=None,
        help="Compare this session's energy results with the baseline at PATH (result file, folder or "
        "pytest-benchmark JSON); a regression fails the session and prints the table.",
    )
    group.addoption(
        "--energy-compare-fail",
        metavar="SPEC",
        default=None,
        help="Thresholds of the energy gate, e.g. 'energy:5%%,latency:5%%' (default "
        f"{DEFAULT_COMPARE_FAIL.replace('%', '%%')}; "
        "metrics: energy, latency, energy_above_idle). Needs --energy-baseline.",
    )
    group.addoption(
        "--energy-allow-hardware-mismatch",
        action="store_true",
        default=False,
        help="Gate even when the baseline comes from another GPU model, driver or power limit.",
    )
    group.addoption(
        "--energy-idle-seconds",
        metavar="N",
        type=float,
        default=0.0,
        help="Measure idle GPU power for N seconds once, before the first energy benchmark, so results carry "
        "energy above idle (default 0: off).",
    )
    group.addoption(
        "--energy-allow-missing",
        action="store_true",
        default=False,
        help="Baseline benchmarks selected in this session but not produced do not fail the gate (they are "
        "listed); without it they fail.",
    )
    group.addoption(
        "--energy-strict",
        action="store_true",
        default=False,
        help="An 'undecided' comparison (rounds too few or too noisy to decide at the threshold) fails.",
    )
    group.addoption(
        "--energy-summary",
        metavar="PATH",
        default=None,
        help="Write the gate's markdown summary to PATH (also appended to $GITHUB_STEP_SUMMARY when set).",
    )
    group.addoption(
        "--energy-adaptive",
        action="store_true",
        default=False,
        help="Add rounds to each energy benchmark until the gate can decide at its threshold against the "
        "baseline (or, without a baseline record, until the mean is precise), up to the caps below.",
    )
    group.addoption(
        "--energy-max-rounds",
        metavar="N",
        type=int,
        default=30,
        help="Adaptive mode: at most N rounds per benchmark (default 30).",
    )
    group.addoption(
        "--energy-max-seconds",
        metavar="S",
        type=float,
        default=60.0,
        help="Adaptive mode: stop adding rounds once a benchmark's measured rounds sum to S seconds "
        "(default 60); still undecided then = 'undecided' (fails with --energy-strict).",
    )
    group.addoption(
        "--require-gpu",
        action="store_true",
        default=False,
        help="GPU runner mode: gpu/h100 tests that cannot run FAIL instead of skipping, and a session in "
        "which no test ran fails.",
    )
    group.addoption(
        "--baseline-dir",
        metavar="PATH",
        default=None,
        help="Folder of stored baselines (fixture `baseline_root`; default <rootdir>/baselines).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers and the session object (reads options; touches no hardware).

    On a pytest-xdist worker, first pin the worker to its own GPU (one GPU per worker, never shared) by
    setting ``CUDA_VISIBLE_DEVICES`` before anything initialises CUDA.
    """
    pinned_gpu = None
    if hasattr(config, "workerinput"):
        from t2v_energy_lib.errors import ScaleOutError
        from t2v_energy_lib.scaleout import pin_current_worker

        try:
            pinned_gpu = pin_current_worker(gpus_required=False)  # None on a host without GPUs (CPU CI)
        except ScaleOutError as exc:
            raise pytest.UsageError(str(exc)) from exc
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    session = EnergySession(config, pinned_gpu=pinned_gpu)
    check_energy_paths(session.options)  # before any benchmark measures: bad paths fail in one line
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, SESSION_PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Unregister the session object."""
    session = config.stash.get(SESSION_KEY, None)
    if session is not None and config.pluginmanager.is_registered(session):
        config.pluginmanager.unregister(session)


def energy_session(config: pytest.Config) -> EnergySession:
    """The plugin's session object of ``config``."""
    return config.stash[SESSION_KEY]


def pytest_sessionstart(session: pytest.Session) -> None:
    """On an xdist worker pinned to its own GPU, switch pytest-benchmark back on (xdist turned it off).

    Done at session start rather than in a ``trylast`` ``pytest_configure`` so that it cannot run before
    pytest-benchmark's own (also ``trylast``) configure; see
    :func:`~pytest_t2v_energy.xdist.enable_worker_benchmarks` for why it is sound.
    """
    energy_session(session.config).enable_benchmarks()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller, before a worker starts: tell it where to write its result file."""
    energy_session(node.config).xdist_controller().configure_node(node.workerinput)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: a worker went down (finished or crashed); keep its report."""
    report = getattr(node, "workeroutput", None)
    energy_session(node.config).xdist_controller().node_down(node.workerinput["workerid"], report, error)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip selected ``gpu``/``h100`` tests this machine cannot run (probing only if there are any)."""
    energy_session(config).mark_items(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """With ``--require-gpu``, fail the ``gpu``/``h100`` tests this machine cannot run."""
    energy_session(item.config).fail_if_required(item)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """``--require-gpu`` on an empty session, and the energy gate (sets ``session.exitstatus``)."""
    energy_session(session.config).finish(session, exitstatus)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print GPU skips, written results, the comparison table and improvements."""
    lines = energy_session(config).summary_lines()
    if lines:
        terminalreporter.write_sep("=", "t2v-energy")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Add GPU (name, driver, power limit, clocks), CUDA, torch, diffusers, transformers and provenance."""
    machine_info.update(machine_info_fields(energy_session(config).provenance()))


@pytest.fixture(scope="session")
def baseline_root(pytestconfig: pytest.Config) -> Path:
    """The stored-baseline folder (``--baseline-dir``, default ``<rootdir>/baselines``)."""
    return energy_session(pytestconfig).options.baseline_dir


@pytest.fixture(scope="session")
def energy_meter(pytestconfig: pytest.Config) -> Iterator[Any]:
    """The meter of the ``energy`` fixture: ``EnergyMeter.auto()``, calibrated once per session.

    GPU energy when NVML and a GPU are there, else CPU-only (host energy, maybe estimated). Override this
    fixture (in a conftest) to inject a fake meter with ``begin_window(key)``/``end_window(key)``.
    """
    meter = energy_session(pytestconfig).make_meter()
    yield meter
    meter.close()


@pytest.fixture
def energy(benchmark: Any, energy_meter: Any, request: pytest.FixtureRequest) -> EnergyFixture:
    """pytest-benchmark's ``benchmark`` with one energy window per measured round.

    Usage: ``result = energy(fn, *args, rounds=3, warmup_rounds=1, units_per_round=1, suite=..., model=...,
    component=..., settings=..., **kwargs)``. Per-round energies land in ``benchmark.extra_info``; with
    ``--energy-results`` the benchmark is also written as a result record. See
    :class:`pytest_t2v_energy.fixture.EnergyFixture`.
    """
    node = request.node
    session = energy_session(request.config)
    if benchmark.disabled:
        session.unmeasured += 1
    record = functools.partial(session.add_benchmark, node.nodeid, node.name)
    adaptive = functools.partial(session.adaptive_plan, node.nodeid)
    return EnergyFixture(
        benchmark, energy_meter, record, test_id=node.nodeid, test_name=node.name, adaptive=adaptive
    )
