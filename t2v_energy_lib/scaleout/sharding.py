"""One GPU per pytest-xdist worker: the sharding plan and the pinning of a worker process.

pytest-xdist schedules the tests; this module only decides which GPU each worker process may see, and makes
that choice before torch initialises CUDA (``CUDA_VISIBLE_DEVICES`` is read once, at CUDA initialisation).

Rules kept here:

- one GPU per worker, never two workers on one GPU: more workers than visible GPUs is refused;
- worker ``gwN`` of ``N < count`` workers gets the N-th visible GPU;
- a worker that xdist started to replace a crashed one gets a new id (``gw4`` in a 4-worker run); it takes the
  first GPU no live worker holds. Holding is an exclusive ``flock`` on a per-run file, which the operating
  system releases when the holder dies, so a crashed worker's GPU becomes free at once.

NVML numbers GPUs in PCI bus order and ignores ``CUDA_VISIBLE_DEVICES``; CUDA numbers them fastest-first
unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``. When the plan is built from an NVML count, pinning therefore also
sets ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (if unset) so an index means the same GPU to both.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import sys
import tempfile
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import IO

from t2v_energy_lib.errors import GpuUnavailableError, ScaleOutError

WORKER_ENV = "PYTEST_XDIST_WORKER"
WORKER_COUNT_ENV = "PYTEST_XDIST_WORKER_COUNT"
RUN_UID_ENV = "PYTEST_XDIST_TESTRUNUID"
VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"
ORDER_ENV = "CUDA_DEVICE_ORDER"
PINNED_ENV = "T2V_ENERGY_WORKER_GPU"

_WORKER_ID = re.compile(r"^gw(\d+)$")
_HELD_CLAIMS: dict[str, IO[str]] = {}  # GPU id -> open lock file, kept open until exit (release_claims)


def parse_worker_id(worker_id: str) -> int:
    """The index of an xdist worker id (``"gw3"`` -> 3).

    Raises:
        ScaleOutError: the id is not of xdist's ``gw<N>`` form (e.g. ``"master"``).
    """
    match = _WORKER_ID.match(worker_id.strip())
    if match is None:
        raise ScaleOutError(
            f"xdist worker id {worker_id!r} is not of the form 'gw<N>'; pin only inside an xdist worker "
            f"(where {WORKER_ENV} is set by pytest-xdist)."
        )
    return int(match.group(1))


def parse_visible_devices(value: str) -> tuple[str, ...]:
    """The GPUs a ``CUDA_VISIBLE_DEVICES`` value names, in order (indices, ``GPU-<uuid>``, ``MIG-<uuid>``).

    Empty or ``-1`` means no GPU; like CUDA, the list ends at a negative entry. An empty entry is refused.
    """
    if value.strip() in ("", "-1"):
        return ()
    gpus: list[str] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            raise ScaleOutError(f"{VISIBLE_ENV}={value!r} has an empty entry; remove the stray comma.")
        if entry.startswith("-"):
            break
        if entry in gpus:
            raise ScaleOutError(f"{VISIBLE_ENV}={value!r} names GPU {entry!r} twice; name each GPU once.")
        gpus.append(entry)
    return tuple(gpus)


def nvml_gpu_count() -> int:
    """The number of NVIDIA GPUs NVML sees (all of them: NVML ignores ``CUDA_VISIBLE_DEVICES``).

    Raises:
        GpuUnavailableError: NVML cannot be loaded or initialised.
    """
    from t2v_energy_lib.energy.inventory import gpu_count

    try:
        return gpu_count()
    except GpuUnavailableError as exc:
        raise GpuUnavailableError(
            f"cannot count GPUs through NVML ({exc}); set {VISIBLE_ENV} or pass the count."
        ) from exc


def visible_gpus(env: Mapping[str, str] | None = None, nvml_count: int | None = None) -> tuple[str, ...]:
    """The GPUs this process may hand out: ``CUDA_VISIBLE_DEVICES`` if set, else indices ``0..nvml_count-1``.

    Args:
        env: environment to read (defaults to ``os.environ``).
        nvml_count: number of GPUs on the host; queried from NVML when None and the variable is unset.
    """
    env = os.environ if env is None else env
    if VISIBLE_ENV in env:
        return parse_visible_devices(env[VISIBLE_ENV])
    count = nvml_gpu_count() if nvml_count is None else nvml_count
    if count < 0:
        raise ValueError(f"nvml_count must be >= 0, got {count}")
    return tuple(str(i) for i in range(count))


def check_worker_count(worker_count: int, visible: Sequence[str]) -> None:
    """Refuse a plan with more workers than GPUs (two tests would share a GPU and each other's energy).

    Raises:
        ScaleOutError: ``worker_count`` exceeds the number of visible GPUs.
    """
    if worker_count < 1:
        raise ScaleOutError(f"{WORKER_COUNT_ENV} must be >= 1, got {worker_count}.")
    if worker_count > len(visible):
        raise ScaleOutError(
            f"{worker_count} xdist workers but {len(visible)} visible GPU(s) {list(visible)}: a test must "
            f"never share a GPU. Run with `-n {len(visible)}` (or fewer), or make more GPUs visible."
        )


def worker_gpu(worker_id: str, visible: Sequence[str] | int, worker_count: int | None = None) -> str:
    """The GPU of xdist worker ``worker_id``: worker ``gwN`` gets the N-th visible GPU.

    Args:
        worker_id: xdist worker id, e.g. ``"gw3"``.
        visible: the visible GPUs (``CUDA_VISIBLE_DEVICES`` entries) or a GPU count (indices ``0..n-1``).
        worker_count: ``PYTEST_XDIST_WORKER_COUNT``; checked against the GPUs when given.

    Raises:
        ScaleOutError: bad worker id, more workers than GPUs, or a worker index past the last GPU.
    """
    gpus = tuple(str(i) for i in range(visible)) if isinstance(visible, int) else tuple(visible)
    index = parse_worker_id(worker_id)
    if worker_count is not None:
        check_worker_count(worker_count, gpus)
    if index >= len(gpus):
        raise ScaleOutError(
            f"worker {worker_id} has no GPU of its own: only {len(gpus)} visible GPU(s) {list(gpus)}. "
            f"Run with `-n {len(gpus)}` or fewer workers."
        )
    return gpus[index]


def cuda_initialised() -> bool:
    """True if torch is imported in this process and has initialised CUDA (never imports torch itself)."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    return bool(cuda is not None and cuda.is_initialized())


def default_claim_dir(env: Mapping[str, str] | None = None) -> Path:
    """Folder of this test run's GPU claim files: ``<tmp>/t2v-energy-gpu-claims/<xdist test-run uid>``."""
    env = os.environ if env is None else env
    run_uid = re.sub(r"[^A-Za-z0-9_.-]", "_", env.get(RUN_UID_ENV, "no-run-uid"))
    return Path(tempfile.gettempdir()) / "t2v-energy-gpu-claims" / run_uid


def _claim_file(gpu: str, claim_dir: Path) -> Path:
    return claim_dir / (re.sub(r"[^A-Za-z0-9_.-]", "_", gpu) + ".lock")


def try_claim_gpu(gpu: str, claim_dir: Path) -> bool:
    """Take an exclusive, process-lifetime claim on ``gpu``; False if a live process holds it.

    The claim is an ``flock`` on ``claim_dir/<gpu>.lock``; the file names the holder's pid. The lock file
    stays open, so the claim held, until :func:`release_claims` runs at interpreter exit (registered with
    :mod:`atexit` on the first claim; it closes the files cleanly, with no ``ResourceWarning``). The operating
    system drops the lock when the process exits or crashes.
    """
    import fcntl  # POSIX only, like the GPU hosts this runs on

    if gpu in _HELD_CLAIMS:
        return True
    _release_claims_at_exit()
    claim_dir.mkdir(parents=True, exist_ok=True)
    handle = _claim_file(gpu, claim_dir).open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _HELD_CLAIMS[gpu] = handle
    return True


def claim_holder(gpu: str, claim_dir: Path) -> str:
    """The pid written by the last holder of ``gpu``'s claim (for messages), or ``"unknown"``."""
    path = _claim_file(gpu, claim_dir)
    return (path.read_text().strip() or "unknown") if path.exists() else "unknown"


def release_claims() -> None:
    """Drop every GPU claim this process holds by closing its lock files (tests, and at exit via atexit).

    Only closes: a forked child that inherited the files closes its copies without unlocking the parent's.
    """
    while _HELD_CLAIMS:
        _, handle = _HELD_CLAIMS.popitem()
        handle.close()


@functools.cache
def _release_claims_at_exit() -> None:
    """Register :func:`release_claims` with :mod:`atexit` once, so exit closes the held lock files cleanly."""
    atexit.register(release_claims)


def choose_worker_gpu(
    worker_id: str, worker_count: int, visible: Sequence[str], claim_dir: Path | None = None
) -> str:
    """Pick and claim this worker's GPU: its own (``gwN`` -> N-th) or, for a replacement worker, a free one.

    Raises:
        ScaleOutError: more workers than GPUs, the worker's own GPU held by a live process, or no free GPU.
    """
    claim_dir = default_claim_dir() if claim_dir is None else claim_dir
    check_worker_count(worker_count, visible)
    index = parse_worker_id(worker_id)
    if index < worker_count:
        gpu = worker_gpu(worker_id, visible, worker_count)
        if not try_claim_gpu(gpu, claim_dir):
            raise ScaleOutError(
                f"worker {worker_id}: GPU {gpu} is already held by pid {claim_holder(gpu, claim_dir)} "
                f"(claims in {claim_dir}); a test must never share a GPU. Stop the other run or use "
                "a fresh test run."
            )
        return gpu
    for gpu in visible:  # xdist replaced a crashed worker with a new id: take the GPU its death freed
        if try_claim_gpu(gpu, claim_dir):
            return gpu
    raise ScaleOutError(
        f"replacement worker {worker_id}: all {len(visible)} GPU(s) {list(visible)} are held by live "
        f"workers; a test must never share a GPU (claims in {claim_dir})."
    )


def pin_current_worker(
    nvml_count: int | None = None,
    env: MutableMapping[str, str] | None = None,
    claim_dir: Path | None = None,
    *,
    gpus_required: bool = True,
) -> str | None:
    """Make this xdist worker process see exactly one GPU: set ``CUDA_VISIBLE_DEVICES`` before CUDA starts.

    Call it from ``pytest_configure`` of a worker, before any test imports torch and touches CUDA.

    Args:
        nvml_count: GPUs on the host, used when ``CUDA_VISIBLE_DEVICES`` is unset (queried from NVML if None).
        env: environment to read and change (defaults to ``os.environ``).
        claim_dir: folder of the per-run claim files (default :func:`default_claim_dir`).
        gpus_required: False lets a host without GPUs (NVML absent or no GPU, variable unset) run xdist
            workers unpinned: the function returns None there instead of raising.

    Returns:
        The GPU pinned (a ``CUDA_VISIBLE_DEVICES`` entry, e.g. ``"3"`` or ``"GPU-..."``), or None outside an
        xdist worker, or on a host without GPUs when ``gpus_required`` is False (nothing is changed then).

    Raises:
        ScaleOutError: CUDA already initialised in this process, more workers than GPUs, or no free GPU.
        GpuUnavailableError: the GPUs had to be counted through NVML and NVML is not available.
    """
    env = os.environ if env is None else env
    worker_id = env.get(WORKER_ENV)
    if not worker_id:
        return None
    if env.get(PINNED_ENV) and env.get(VISIBLE_ENV) == env[PINNED_ENV]:
        return env[PINNED_ENV]  # pinned already (a second call): keep it
    if cuda_initialised():
        raise ScaleOutError(
            f"worker {worker_id}: CUDA is already initialised in this process, so {VISIBLE_ENV} can no "
            "longer take effect; call pin_current_worker() from pytest_configure, before anything "
            "touches CUDA."
        )
    from_nvml = VISIBLE_ENV not in env
    try:
        visible = visible_gpus(env, nvml_count)
    except GpuUnavailableError:
        if gpus_required:
            raise
        return None
    if not visible and from_nvml and not gpus_required:
        return None
    worker_count = int(env.get(WORKER_COUNT_ENV, "1"))
    gpu = choose_worker_gpu(worker_id, worker_count, visible, claim_dir)
    if from_nvml and ORDER_ENV not in env:
        env[ORDER_ENV] = "PCI_BUS_ID"  # NVML indices are PCI bus order; make CUDA's agree
    env[VISIBLE_ENV] = gpu
    env[PINNED_ENV] = gpu
    return gpu
