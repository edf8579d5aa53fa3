"""The sharding plan: one GPU per xdist worker, refused oversubscription, pinning through the environment."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from t2v_energy_lib.errors import GpuUnavailableError, ScaleOutError
from t2v_energy_lib.scaleout import sharding
from t2v_energy_lib.scaleout.sharding import (
    choose_worker_gpu,
    parse_visible_devices,
    parse_worker_id,
    pin_current_worker,
    visible_gpus,
    worker_gpu,
)

UUIDS = ("GPU-aaaa-synthetic", "GPU-bbbb-synthetic", "GPU-cccc-synthetic", "GPU-dddd-synthetic")


@pytest.fixture(autouse=True)
def _release_claims():
    yield
    sharding.release_claims()


def worker_env(worker: str, count: int, visible: str | None = None, run: str = "run-a") -> dict[str, str]:
    env = {
        "PYTEST_XDIST_WORKER": worker,
        "PYTEST_XDIST_WORKER_COUNT": str(count),
        "PYTEST_XDIST_TESTRUNUID": run,
    }
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    return env


def test_worker_ids_parse_and_bad_ids_are_refused():
    assert parse_worker_id("gw0") == 0
    assert parse_worker_id("gw13") == 13
    for bad in ("master", "gw", "gwx", "3"):
        with pytest.raises(ScaleOutError, match="gw<N>"):
            parse_worker_id(bad)


def test_visible_devices_parse_indices_and_uuids():
    assert parse_visible_devices("0,1, 3") == ("0", "1", "3")
    assert parse_visible_devices(",".join(UUIDS)) == UUIDS
    assert parse_visible_devices("") == ()
    assert parse_visible_devices("-1") == ()
    assert parse_visible_devices("2,-1,3") == ("2",)  # CUDA stops at a negative entry
    with pytest.raises(ScaleOutError, match="twice"):
        parse_visible_devices("1,1")
    with pytest.raises(ScaleOutError, match="empty entry"):
        parse_visible_devices("0,,1")


def test_visible_gpus_prefers_the_environment_over_the_count():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "4,5"}, nvml_count=8) == ("4", "5")
    assert visible_gpus({}, nvml_count=3) == ("0", "1", "2")


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_every_worker_gets_its_own_gpu(n):
    visible = UUIDS[:n] if n <= len(UUIDS) else tuple(str(i) for i in range(n))
    gpus = [worker_gpu(f"gw{i}", visible, worker_count=n) for i in range(n)]
    assert gpus == list(visible)
    assert len(set(gpus)) == n


def test_worker_gpu_respects_a_restricted_visible_set():
    assert worker_gpu("gw1", ("2", "3"), worker_count=2) == "3"
    assert worker_gpu("gw2", 4) == "2"


def test_more_workers_than_gpus_is_refused_with_the_fix():
    with pytest.raises(ScaleOutError, match=r"3 xdist workers but 2 visible GPU.*-n 2"):
        worker_gpu("gw0", ("0", "1"), worker_count=3)
    with pytest.raises(ScaleOutError, match="no GPU of its own"):
        worker_gpu("gw2", ("0", "1"))
    with pytest.raises(ScaleOutError, match="never share"):
        worker_gpu("gw0", (), worker_count=1)


def test_pin_sets_cuda_visible_devices_for_each_worker(tmp_path):
    pinned = []
    for i in range(4):
        env = worker_env(f"gw{i}", 4, visible=",".join(UUIDS))
        pinned.append(pin_current_worker(env=env, claim_dir=tmp_path))
        assert env["CUDA_VISIBLE_DEVICES"] == UUIDS[i]
        assert env["T2V_ENERGY_WORKER_GPU"] == UUIDS[i]
        assert "CUDA_DEVICE_ORDER" not in env  # the user's own list keeps its meaning
    assert pinned == list(UUIDS)


def test_pin_from_an_nvml_count_fixes_the_device_order(tmp_path):
    env = worker_env("gw1", 2)
    assert pin_current_worker(nvml_count=2, env=env, claim_dir=tmp_path) == "1"
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"


def test_pin_outside_xdist_changes_nothing(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert pin_current_worker(env=env, claim_dir=tmp_path) is None
    assert env == {"CUDA_VISIBLE_DEVICES": "0,1"}


def test_pin_refuses_more_workers_than_gpus(tmp_path):
    with pytest.raises(ScaleOutError, match="never share"):
        pin_current_worker(env=worker_env("gw0", 3, visible="0,1"), claim_dir=tmp_path)


def test_pin_twice_keeps_the_first_pin(tmp_path):
    env = worker_env("gw1", 2, visible="0,1")
    assert pin_current_worker(env=env, claim_dir=tmp_path) == "1"
    assert pin_current_worker(env=env, claim_dir=tmp_path) == "1"
    assert env["CUDA_VISIBLE_DEVICES"] == "1"


def test_pin_raises_when_cuda_is_already_initialised(tmp_path, monkeypatch):
    monkeypatch.setattr(sharding, "cuda_initialised", lambda: True)
    env = worker_env("gw0", 1, visible="0")
    with pytest.raises(ScaleOutError, match="already initialised"):
        pin_current_worker(env=env, claim_dir=tmp_path)
    assert env["CUDA_VISIBLE_DEVICES"] == "0"


def _hold_claim_in_subprocess(gpu: str, claim_dir: Path) -> subprocess.Popen:
    """Another process holding ``gpu``'s claim until its stdin closes (a live worker)."""
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from t2v_energy_lib.scaleout.sharding import try_claim_gpu
        assert try_claim_gpu({gpu!r}, Path({str(claim_dir)!r}))
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()


def test_a_gpu_held_by_a_live_worker_is_never_shared(tmp_path):
    holder = _hold_claim_in_subprocess("0", tmp_path)
    try:
        with pytest.raises(ScaleOutError, match=rf"already held by pid {holder.pid}"):
            choose_worker_gpu("gw0", 2, ("0", "1"), tmp_path)
        # a replacement worker (new id past the count) skips the held GPU
        assert choose_worker_gpu("gw2", 2, ("0", "1"), tmp_path) == "1"
    finally:
        _stop(holder)


def test_a_crashed_workers_gpu_goes_to_its_replacement(tmp_path):
    live = _hold_claim_in_subprocess("0", tmp_path)
    crashed = _hold_claim_in_subprocess("1", tmp_path)
    try:
        crashed.kill()  # the OS drops its claim
        _stop(crashed)
        assert choose_worker_gpu("gw2", 2, ("0", "1"), tmp_path) == "1"
        sharding.release_claims()
        other = _hold_claim_in_subprocess("1", tmp_path)
        try:
            with pytest.raises(ScaleOutError, match="all 2 GPU"):
                choose_worker_gpu("gw3", 2, ("0", "1"), tmp_path)
        finally:
            _stop(other)
    finally:
        _stop(live)


def test_pinning_happens_before_torch_reads_the_variable(tmp_path):
    """In a fresh worker-like process, the pin is what torch would read (torch imported only after)."""
    code = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from t2v_energy_lib.scaleout.sharding import pin_current_worker
        assert "torch" not in sys.modules
        gpu = pin_current_worker(claim_dir=Path({str(tmp_path)!r}))
        print(gpu, os.environ["CUDA_VISIBLE_DEVICES"])
        """
    )
    env = {**worker_env("gw1", 2, visible="GPU-x-synthetic,GPU-y-synthetic"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["GPU-y-synthetic", "GPU-y-synthetic"]


def test_a_host_without_gpus_runs_workers_unpinned_only_when_allowed(tmp_path, monkeypatch):
    env = worker_env("gw0", 2)
    assert pin_current_worker(nvml_count=0, env=env, claim_dir=tmp_path, gpus_required=False) is None
    assert "CUDA_VISIBLE_DEVICES" not in env
    with pytest.raises(ScaleOutError, match="never share"):
        pin_current_worker(nvml_count=0, env=env, claim_dir=tmp_path)

    def no_nvml() -> int:
        raise GpuUnavailableError("synthetic: no NVML")

    monkeypatch.setattr(sharding, "nvml_gpu_count", no_nvml)
    assert pin_current_worker(env=env, claim_dir=tmp_path, gpus_required=False) is None
    with pytest.raises(GpuUnavailableError):
        pin_current_worker(env=env, claim_dir=tmp_path)


CONFTEST = """
import pytest
from t2v_energy_lib.scaleout import pin_current_worker

@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if hasattr(config, "workerinput"):
        pin_current_worker(gpus_required=False)
"""

TESTS = """
import os
import pytest

@pytest.mark.parametrize("i", range(6))
def test_record_my_gpu(i):
    with open(os.environ["SEEN_FILE"], "a") as f:
        f.write(f"{os.environ['PYTEST_XDIST_WORKER']} {os.environ['CUDA_VISIBLE_DEVICES']}\\n")
"""


def _run_xdist(tmp_path: Path, workers: int, visible: str) -> subprocess.CompletedProcess:
    pytest.importorskip("xdist", reason="pytest-xdist (dev extra) is not installed")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_inner.py").write_text(TESTS)
    env = {
        "PATH": "/usr/bin:/bin",
        "CUDA_VISIBLE_DEVICES": visible,
        "SEEN_FILE": str(tmp_path / "seen.txt"),
        "TMPDIR": str(tmp_path),
    }
    args = ["-p", "xdist", "-p", "no:cacheprovider", "-p", "no:t2v_energy", "-p", "no:randomly"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-n", str(workers), *args, "-q", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_xdist_workers_each_see_one_gpu(tmp_path):
    out = _run_xdist(tmp_path, 2, "GPU-a-synthetic,GPU-b-synthetic")
    assert out.returncode == 0, out.stdout + out.stderr
    seen = [line.split() for line in (tmp_path / "seen.txt").read_text().splitlines()]
    assert len(seen) == 6
    assert {worker: gpu for worker, gpu in seen} == {"gw0": "GPU-a-synthetic", "gw1": "GPU-b-synthetic"}
    assert len({(w, g) for w, g in seen}) == 2  # each worker kept one GPU for all its tests


def test_xdist_with_more_workers_than_gpus_fails_loudly(tmp_path):
    out = _run_xdist(tmp_path, 3, "GPU-a-synthetic,GPU-b-synthetic")
    assert out.returncode != 0
    assert "never share a GPU" in out.stdout + out.stderr
    assert not (tmp_path / "seen.txt").exists()


def test_held_claims_are_closed_at_exit_without_a_resource_warning(tmp_path):
    """A pinned worker keeps its lock until exit, then closes it cleanly (no "unclosed file" warning)."""
    code = textwrap.dedent(
        f"""
        import atexit, fcntl
        from pathlib import Path
        from t2v_energy_lib.scaleout.sharding import pin_current_worker

        claim_dir = Path({str(tmp_path)!r})
        assert pin_current_worker(claim_dir=claim_dir) == "1"

        def lock_is_held():  # registered after the claim, so it runs before the claim's own exit handler
            with (claim_dir / "1.lock").open("a+") as other:
                try:
                    fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    print("held at exit", flush=True)

        atexit.register(lock_is_held)
        """
    )
    env = {**worker_env("gw1", 2, visible="0,1"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "held at exit"
    assert "ResourceWarning" not in out.stderr and "Exception ignored" not in out.stderr, out.stderr
    assert sharding.try_claim_gpu("1", tmp_path), "the exited worker's claim is free again"
