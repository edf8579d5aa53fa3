"""An isolated environment per Diffusers version: its wheels unpacked into one folder, first on PYTHONPATH.

A version's environment is a plain folder (what ``pip install --target`` makes): diffusers, the common wheels
and the version's extra wheels from :mod:`.matrix`, unpacked from a local wheelhouse. Put first on
``PYTHONPATH`` it shadows the runner's packages of the same names and nothing else, so torch, CUDA and every
other library stay the runner's. No pip, no index and no network are needed (the GPU runner has none).

Wheelhouse layout: ``.whl-versions/<version>/`` holds that version's wheels; shared folders
(``.whl-versions/shared/``, ``.whl/``) are searched after it. A missing wheel is an error naming it and
the download command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import VersionEnvError
from t2v_energy_lib.versions.matrix import COMMON_WHEELS, VersionSpec

MARKER = ".t2v-energy-env.json"
DOWNLOAD_HINT = (
    "python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 "
    "--platform manylinux2014_x86_64 -d {folder} {requirement}"
)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _version_key(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.+-]", text))


def wheelhouses(
    root: str | Path, version: str, shared: Sequence[str] = (".whl-versions/shared", ".whl")
) -> tuple[Path, ...]:
    """Where a version's wheels are searched: ``<root>/.whl-versions/<version>``, then the shared folders."""
    root = Path(root)
    return (root / ".whl-versions" / version, *(root / s for s in shared))


def find_wheel(requirement: str, folders: Sequence[Path]) -> Path | None:
    """The wheel of ``name==version`` (or the newest ``name``) in the first folder holding one, else None."""
    name, _, version = requirement.partition("==")
    for folder in folders:
        if not folder.is_dir():
            continue
        found = []
        for path in folder.glob("*.whl"):
            parts = path.name.split("-")
            if len(parts) >= 5 and _norm(parts[0]) == _norm(name) and (not version or parts[1] == version):
                found.append(path)
        if found:
            return max(found, key=lambda p: _version_key(p.name.split("-")[1]))
    return None


def wheels_for(spec: VersionSpec, folders: Sequence[Path]) -> tuple[Path, ...]:
    """Every wheel of ``spec``'s environment (diffusers, common, extras).

    Raises:
        VersionEnvError: Wheels are missing; the message lists them with the command that downloads them.
    """
    wanted = (f"diffusers=={spec.diffusers}", *COMMON_WHEELS, *spec.wheels)
    found, missing = [], []
    for requirement in wanted:
        path = find_wheel(requirement, folders)
        (found if path else missing).append(path or requirement)
    if missing:
        hint = DOWNLOAD_HINT.format(folder=folders[0], requirement=" ".join(map(str, missing)))
        raise VersionEnvError(
            f"diffusers {spec.diffusers}: no wheel for {', '.join(map(str, missing))} in "
            f"{', '.join(map(str, folders))}; download them with: {hint}"
        )
    return tuple(found)


def _unpack(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    for data in target.glob("*.data"):  # a wheel's purelib/platlib trees belong at the top level
        for kind in ("purelib", "platlib"):
            tree = data / kind
            if tree.is_dir():
                shutil.copytree(tree, target, dirs_exist_ok=True)
        shutil.rmtree(data)


def install(spec: VersionSpec, target: str | Path, folders: Sequence[Path]) -> Path:
    """Unpack ``spec``'s wheels into ``target`` (reused as is when it already holds exactly these wheels).

    Returns:
        The target folder, to put first on ``PYTHONPATH``.

    Raises:
        VersionEnvError: A wheel is missing (see :func:`wheels_for`) or unreadable.
    """
    target = Path(target)
    wheels = wheels_for(spec, folders)
    names = sorted(w.name for w in wheels)
    marker = target / MARKER
    if marker.exists():
        try:
            if json.loads(marker.read_text()).get("wheels") == names:
                return target
        except ValueError:
            pass
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for wheel in wheels:
        try:
            _unpack(wheel, target)
        except zipfile.BadZipFile as exc:
            raise VersionEnvError(f"{wheel} is not a readable wheel ({exc}); download it again") from None
    marker.write_text(json.dumps({"diffusers": spec.diffusers, "wheels": names}, indent=1))
    return target


def env_vars(target: Path | None, repo: str | Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Process environment for a job: ``target`` (if any), then the repository, first on PYTHONPATH.

    Any diffusers folder already on PYTHONPATH (the runner's ``/tmp/site``) is kept after them, so it never
    shadows the version under test.
    """
    env = dict(os.environ if base is None else base)
    paths = [str(target)] if target is not None else []
    paths.append(str(Path(repo).resolve()))
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in paths]
    env["PYTHONPATH"] = os.pathsep.join(paths + rest)
    return env


_PROBE = """
import importlib, json, sys
out = {"versions": {}, "pipelines": {}}
for name in ("diffusers", "transformers", "huggingface_hub", "tokenizers", "torch"):
    try:
        out["versions"][name] = importlib.import_module(name).__version__
    except Exception as exc:
        out["versions"][name] = None
        out.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
for cls in sys.argv[1:]:
    try:
        getattr(importlib.import_module("diffusers"), cls)
        out["pipelines"][cls] = "ok"
    except Exception as exc:
        out["pipelines"][cls] = f"{type(exc).__name__}: {str(exc)[:400]}"
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Probe:
    """What a version's environment imports: package versions, per pipeline class ``"ok"`` or an error."""

    versions: dict[str, str | None]
    pipelines: dict[str, str]

    def failed(self) -> dict[str, str]:
        """Pipeline classes that do not import, with their errors."""
        return {k: v for k, v in self.pipelines.items() if v != "ok"}


def probe(target: Path | None, repo: str | Path, pipelines: Sequence[str], timeout_s: float = 120.0) -> Probe:
    """Import diffusers and ``pipelines`` in a fresh interpreter with ``target`` first on PYTHONPATH.

    Raises:
        VersionEnvError: The probe itself failed (no JSON answer), with its stderr.
    """
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, *pipelines],
        env=env_vars(target, repo),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    try:
        data = json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise VersionEnvError(
            f"probing the environment {target} failed (exit {run.returncode}): {run.stderr[-800:]}"
        ) from None
    return Probe(versions=data["versions"], pipelines=data["pipelines"])


#: Wheels shared by several versions go to one folder (searched after each version's own).
SHARED_WHEELS: tuple[str, ...] = ("ftfy", "wcwidth")


def download_commands(
    root: str | Path, specs: Sequence[VersionSpec], python: str = "python3"
) -> list[list[str]]:
    """The ``pip download`` commands that fill the wheelhouse of ``specs`` under ``<root>/.whl-versions``.

    Each version's diffusers and its own extra wheels go to ``.whl-versions/<version>/``; the wheels several
    versions share (:data:`SHARED_WHEELS`) and :data:`COMMON_WHEELS` to ``.whl-versions/shared/``. Pure
    wheels for CPython 3.12 on manylinux x86-64 (the GPU runner), without dependencies: the matrix names every
    wheel an environment needs. Commands are returned, not run, so that a caller can show or run them.
    """
    root = Path(root) / ".whl-versions"

    def command(folder: Path, requirements: Sequence[str]) -> list[str]:
        return [
            python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
            "--platform", "manylinux2014_x86_64", "-d", str(folder), *requirements,
        ]  # fmt: skip

    shared: dict[str, None] = dict.fromkeys(COMMON_WHEELS)
    commands = []
    for spec in specs:
        own = [r for r in spec.requirements if _norm(r.partition("==")[0]) not in map(_norm, SHARED_WHEELS)]
        shared.update(dict.fromkeys(r for r in spec.wheels if r not in own))
        commands.append(command(root / spec.diffusers, own))
    commands.append(command(root / "shared", list(shared)))
    return commands


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m t2v_energy_lib.versions.env [--versions SEL] [--run]``: fill the local wheelhouse."""
    import argparse
    import shlex
    import subprocess

    from t2v_energy_lib.versions.matrix import resolve

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--versions", default=None, help="version selection (default: the whole matrix)")
    parser.add_argument("--root", default=".", help="the project root (wheels go to <root>/.whl-versions)")
    parser.add_argument("--run", action="store_true", help="run the downloads (default: print them)")
    args = parser.parse_args(argv)
    commands = download_commands(args.root, resolve(args.versions))
    for cmd in commands:
        print(shlex.join(cmd), flush=True)
        if args.run:
            subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
