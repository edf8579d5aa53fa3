"""Provenance of a run (hardware, software versions, checkout, date) and the baseline folder it belongs in.

:func:`collect_provenance` never fails because one field is unavailable: the field is ``None`` and
``provenance["unavailable"][field]`` says why. The GPU is described by the energy layer
(:func:`t2v_energy_lib.energy.inventory.describe_gpu`, the only place that talks to NVML), only inside the
call, never at import.

Layout::

    {"gpu": {"index", "name", "uuid", "driver_version", "cuda_driver_version", "power_limit_w",
             "max_sm_clock_mhz", "sm_clock_mhz", "memory_clock_mhz", "temperature_c",
             "throttle_reasons", "persistence_mode"} | None,
     "host": {"cpu_model", "hostname", "os", "python"},
     "versions": {"torch", "torch_cuda", "cudnn", "diffusers", "transformers", "nvidia-ml-py", "t2v-energy",
                  + each of OPTIONAL_PACKAGES that is installed (torchao, flash-attn, ...)},
     "git": {"commit", "dirty"}, "date_utc": "2025-...Z", "settings": {...}, "unavailable": {field: why}}
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import os
import platform
import re
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from t2v_energy_lib.energy.inventory import read_field as _field
from t2v_energy_lib.errors import BaselineFormatError, HardwareMismatchError

# Provenance fields that must agree for two results to be comparable: (section, key, label).
HARDWARE_FIELDS = (
    ("gpu", "name", "GPU model"),
    ("gpu", "driver_version", "driver"),
    ("gpu", "power_limit_w", "power limit W"),
)
_VERSION_PACKAGES = ("torch", "diffusers", "transformers", "nvidia-ml-py", "t2v-energy")
#: Packages some levers need (fp8 quantization, attention backends): recorded only where installed.
OPTIONAL_PACKAGES = ("torchao", "flash-attn", "flash_attn_3", "sageattention", "xformers", "kernels")
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _collect_gpu(
    device_index: int | None,
    unavailable: dict[str, str],
    cuda_index: int | None = None,
    backend: Any = None,
) -> dict[str, Any] | None:
    """GPU fields through the energy layer's device backend, or None (with the reason in ``unavailable``)."""
    from t2v_energy_lib.energy.inventory import describe_gpu

    gpu, why = describe_gpu(device_index, cuda_index=cuda_index, backend=backend)
    unavailable.update(why)
    return gpu


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    name = platform.processor()
    if not name:
        raise RuntimeError("no 'model name' in /proc/cpuinfo and platform.processor() is empty")
    return name


def _collect_versions(unavailable: dict[str, str]) -> dict[str, Any]:
    versions = {
        pkg: _field(unavailable, f"versions.{pkg}", lambda pkg=pkg: importlib.metadata.version(pkg))
        for pkg in _VERSION_PACKAGES
    }
    if versions["t2v-energy"] is None:  # run from a source tree that is not pip-installed
        from t2v_energy_lib import __version__

        versions["t2v-energy"] = __version__
        unavailable.pop("versions.t2v-energy", None)

    def torch_attr(name: str) -> Any:
        import torch  # lazy: heavy, and only the version attributes are read (no CUDA init)

        if name == "cudnn":
            return torch.backends.cudnn.version()
        return torch.version.cuda

    for pkg in OPTIONAL_PACKAGES:  # absent is normal (the lever is then recorded not_available, with why)
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[pkg] = importlib.metadata.version(pkg)
    versions["torch_cuda"] = _field(unavailable, "versions.torch_cuda", lambda: torch_attr("cuda"))
    versions["cudnn"] = _field(unavailable, "versions.cudnn", lambda: torch_attr("cudnn"))
    for key in ("torch_cuda", "cudnn"):
        if versions[key] is None and f"versions.{key}" not in unavailable:
            unavailable[f"versions.{key}"] = "torch is a build without CUDA/cuDNN"
    return versions


def _git(args: list[str]) -> str:
    out = subprocess.run(
        ["git", *args], cwd=_PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True
    )
    return out.stdout.strip()


GIT_COMMIT_ENV = "T2V_ENERGY_GIT_COMMIT"
"""Environment variable naming the project commit when the run happens on a copy without git history
(e.g. a GPU runner that receives a plain copy of the tree). Set with ``T2V_ENERGY_GIT_DIRTY=0|1``."""


def _collect_git(unavailable: dict[str, str]) -> dict[str, Any]:
    commit = os.environ.get(GIT_COMMIT_ENV)
    if commit:
        dirty_env = os.environ.get("T2V_ENERGY_GIT_DIRTY")
        dirty = None if dirty_env is None else dirty_env not in ("0", "false", "False", "")
        return {"commit": commit, "dirty": dirty, "source": f"${GIT_COMMIT_ENV}"}
    return {
        "commit": _field(unavailable, "git.commit", lambda: _git(["rev-parse", "HEAD"])),
        "dirty": _field(unavailable, "git.dirty", lambda: bool(_git(["status", "--porcelain"]))),
        "source": "git",
    }


def collect_provenance(
    device_index: int | None = 0,
    settings: Mapping[str, Any] | None = None,
    *,
    cuda_index: int | None = None,
    gpu_backend: Any = None,
) -> dict[str, Any]:
    """Record where and with what a run happened.

    Args:
        device_index: NVML index of the GPU to describe; ``None`` records no GPU.
        settings: The run's settings, stored verbatim under ``"settings"``.
        cuda_index: Describe CUDA device ``cuda_index`` instead (mapped to its NVML index through
            ``CUDA_VISIBLE_DEVICES``, which NVML ignores): what a process pinned to one GPU of a host passes.
        gpu_backend: The energy layer's device backend to ask (default: NVML for the call; tests pass a
            ``FakeBackend``).

    Returns:
        The provenance dict (layout in the module docstring). Fields that could not be read are ``None`` and
        ``"unavailable"`` maps their dotted name to the reason. Power limit in W, clocks in MHz,
        temperature in °C.
    """
    unavailable: dict[str, str] = {}
    gpu = _collect_gpu(device_index, unavailable, cuda_index, gpu_backend)
    host = {
        "cpu_model": _field(unavailable, "host.cpu_model", _cpu_model),
        "hostname": _field(unavailable, "host.hostname", socket.gethostname),
        "os": _field(unavailable, "host.os", platform.platform),
        "python": platform.python_version(),
    }
    git = _collect_git(unavailable)
    return {
        "gpu": gpu,
        "host": host,
        "versions": _collect_versions(unavailable),
        "git": git,
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "settings": dict(settings or {}),
        "unavailable": unavailable,
    }


def migrate_provenance(provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Provenance in the current form: merged files written before it kept each worker part's absolute path
    (``workers[].file``, a path on the machine that merged them); it becomes ``source``, the file's name.

    Nothing else changes; a provenance without ``workers`` is returned as a plain copy.
    """
    out = dict(provenance)
    workers = out.get("workers")
    if isinstance(workers, list):
        out["workers"] = [_migrate_worker(w) for w in workers]
    return out


def _migrate_worker(worker: Any) -> Any:
    if not isinstance(worker, Mapping) or "file" not in worker:
        return worker
    entry = {k: v for k, v in worker.items() if k != "file"}
    entry.setdefault("source", Path(str(worker["file"])).name)
    return entry


def gpu_slug(provenance: Mapping[str, Any]) -> str:
    """Folder-safe GPU name: ``"NVIDIA H100 80GB HBM3"`` -> ``"nvidia-h100-80gb-hbm3"``, ``"cpu"`` if none."""
    gpu = provenance.get("gpu")
    name = gpu.get("name") if isinstance(gpu, Mapping) else None
    if not name:
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")


def baseline_dir(root: str | Path, provenance: Mapping[str, Any]) -> Path:
    """Where baselines of this hardware and diffusers version live: ``root/<gpu-slug>/<diffusers-version>``.

    Raises:
        BaselineFormatError: The provenance records no diffusers version (the folder would be ambiguous).
    """
    versions = provenance.get("versions")
    version = versions.get("diffusers") if isinstance(versions, Mapping) else None
    if not version:
        raise BaselineFormatError(
            "provenance has no versions.diffusers, so the baseline folder is ambiguous; "
            "record provenance with collect_provenance() in an environment where diffusers is installed"
        )
    return Path(root) / gpu_slug(provenance) / str(version)


#: Placeholders :func:`expand_results_path` fills: the GPU slug and the Diffusers version of the provenance.
RESULTS_PATH_PLACEHOLDERS = ("{gpu}", "{diffusers}")


def expand_results_path(template: str | Path, provenance: Mapping[str, Any]) -> Path:
    """``template`` with ``{gpu}`` -> :func:`gpu_slug` and ``{diffusers}`` -> the Diffusers version.

    E.g. ``baselines/{gpu}/pytest-{diffusers}/results.json`` -> ``baselines/nvidia-h200/pytest-0.42.1/...``:
    results of each GPU model and Diffusers version land in their own folder. A path without placeholders is
    returned as it is.

    Raises:
        BaselineFormatError: ``{diffusers}`` is asked for but the provenance records no Diffusers version.
    """
    text = str(template)
    if "{gpu}" in text:
        text = text.replace("{gpu}", gpu_slug(provenance))
    if "{diffusers}" in text:
        text = text.replace("{diffusers}", baseline_dir("", provenance).name)
    return Path(text)


def _get(provenance: Mapping[str, Any], section: str, key: str) -> Any:
    part = provenance.get(section)
    return part.get(key) if isinstance(part, Mapping) else None


def hardware_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Human-readable differences in GPU model, driver and power limit between two provenances."""
    diffs = []
    if (a.get("gpu") is None) != (b.get("gpu") is None):
        return [f"GPU: {_get(a, 'gpu', 'name')!r} vs {_get(b, 'gpu', 'name')!r} (one run had no GPU)"]
    for section, key, label in HARDWARE_FIELDS:
        va, vb = _get(a, section, key), _get(b, section, key)
        if va != vb:
            diffs.append(f"{label}: {va!r} vs {vb!r}")
    return diffs


def check_same_hardware(
    a: Mapping[str, Any], b: Mapping[str, Any], *, what: str, override: str = "allow_hardware_mismatch=True"
) -> None:
    """Raise :class:`HardwareMismatchError` if ``a`` and ``b`` differ in GPU model, driver or power limit.

    Args:
        a: First provenance.
        b: Second provenance.
        what: Names the two sides in the message, e.g. ``"baseline 'x.json' and current 'y.json'"``.
        override: How the caller can allow the mismatch, quoted in the message.
    """
    diffs = hardware_differences(a, b)
    if diffs:
        raise HardwareMismatchError(
            f"{what} come from different hardware ({'; '.join(diffs)}); energy and latency are not "
            f"comparable across GPUs, drivers or power limits. Compare against a baseline from the same "
            f"machine, or pass {override} to compare anyway."
        )


def version_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[tuple[str, Any, Any], ...]:
    """Software versions that differ between two provenances: (name, a's value, b's value)."""
    changes = []
    va, vb = a.get("versions") or {}, b.get("versions") or {}
    for name in sorted(set(va) | set(vb)):
        if va.get(name) != vb.get(name):
            changes.append((name, va.get(name), vb.get(name)))
    for key, label in (("driver_version", "driver"), ("cuda_driver_version", "cuda_driver")):
        if _get(a, "gpu", key) != _get(b, "gpu", key):
            changes.append((label, _get(a, "gpu", key), _get(b, "gpu", key)))
    return tuple(changes)
