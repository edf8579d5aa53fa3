"""Version matrix: resolution of selections, tox environments generated from it, wheelhouse environments."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from t2v_energy_lib.errors import VersionEnvError
from t2v_energy_lib.versions import env, toxgen
from t2v_energy_lib.versions.matrix import MATRIX, VersionSpec, get_version, resolve

ROOT = Path(__file__).resolve().parents[1]


def test_matrix_spans_033_to_042_in_release_order_without_duplicates() -> None:
    names = [s.diffusers for s in MATRIX]
    assert names[0] == "0.33.1" and names[-1] == "0.42.1" and len(names) >= 6
    assert sorted(MATRIX, key=lambda s: s.key) == list(MATRIX) and len(set(names)) == len(names)


def test_033_pins_transformers_4_with_its_hub_and_tokenizers() -> None:
    spec = get_version("0.33.1")
    pins = dict(r.split("==") for r in spec.requirements)
    assert pins["transformers"].startswith("4.") and pins["huggingface_hub"].startswith("0.")
    assert pins["tokenizers"] == "0.22.1" and "ftfy" in pins and spec.note
    assert all("transformers==" not in r for s in MATRIX[1:] for r in s.requirements)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.42.1,0.33.1", ["0.33.1", "0.42.1"]),
        ("0.35.2..0.37.1", ["0.35.2", "0.36.0", "0.37.1"]),
        ("0.37.1, 0.37.1", ["0.37.1"]),
        (None, [s.diffusers for s in MATRIX]),
        ("all", [s.diffusers for s in MATRIX]),
    ],
)
def test_resolve_lists_ranges_and_all(text: str | None, expected: list[str]) -> None:
    assert [s.diffusers for s in resolve(text)] == expected


def test_resolve_can_keep_the_written_order() -> None:
    got = resolve("0.42.1,0.39.0..0.40.0,0.33.1,0.42.1", keep_order=True)
    assert [s.diffusers for s in got] == ["0.42.1", "0.39.0", "0.40.0", "0.33.1"]


def test_resolve_rejects_unknown_versions_and_backward_ranges() -> None:
    with pytest.raises(VersionEnvError, match=r"not in the version matrix.*toxgen"):
        resolve("0.34.0")
    with pytest.raises(VersionEnvError, match="ends before it starts"):
        resolve("0.42.1..0.33.1")
    with pytest.raises(VersionEnvError, match=r"X\.Y\.Z"):
        VersionSpec("0.42")


def test_tox_ini_holds_exactly_the_generated_block() -> None:
    text = (ROOT / "tox.ini").read_text()
    assert toxgen.splice(text, toxgen.render()) == text, (
        "run python -m t2v_energy_lib.versions.toxgen --write tox.ini"
    )


def test_tox_env_names_match_their_pins() -> None:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "tox.ini")
    [section] = [s for s in cfg.sections() if s.startswith("testenv:gpu-diffusers")]
    factors = section.split("{", 1)[1].rstrip("}").split(",")
    assert [f"gpu-diffusers{f}" for f in factors] == [s.tox_env for s in MATRIX]
    deps = [line.strip() for line in cfg[section]["deps"].splitlines() if ":" in line]
    for spec in MATRIX:
        pinned = [d.split(":", 1)[1].strip() for d in deps if d.startswith(spec.factor + ":")]
        assert pinned == list(spec.requirements)
        assert pinned[0] == "diffusers==" + spec.diffusers
        assert spec.tox_env == "gpu-diffusers" + spec.diffusers.replace(".", "")
    assert not any(s.startswith("testenv:h100-diffusers") for s in cfg.sections())


def test_tox_itself_resolves_the_pins_of_an_env() -> None:
    # tox is a dev dependency (pyproject's dev extra), so it is there wherever the tests run
    tox = str(Path(sys.prefix) / "bin" / "tox") if (Path(sys.prefix) / "bin" / "tox").exists() else "tox"
    spec = get_version("0.33.1")
    out = subprocess.run(
        [tox, "config", "-e", spec.tox_env, "-k", "deps"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("deps"))
    listed = [line.strip() for line in lines[start + 1 :] if line.startswith(" ")]
    assert listed == ["importlib_metadata", *spec.requirements]


def _wheel(folder: Path, name: str, version: str, module: str) -> Path:
    """A minimal pure-Python wheel (synthetic) holding one module."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{module}/__init__.py", f"__version__ = {version!r}\n")
        zf.writestr(f"{name}-{version}.dist-info/METADATA", f"Name: {name}\nVersion: {version}\n")
    return path


def test_install_unpacks_the_version_and_names_missing_wheels(tmp_path: Path) -> None:
    spec = VersionSpec("0.35.2", wheels=("ftfy==6.3.1",))
    own, shared = tmp_path / ".whl-versions" / "0.35.2", tmp_path / ".whl"
    own.mkdir(parents=True)
    shared.mkdir()
    _wheel(own, "diffusers", "0.35.2", "diffusers")
    _wheel(shared, "diffusers", "0.42.1", "diffusers")  # another version in the shared folder: not taken
    _wheel(shared, "importlib_metadata", "10.2.0", "importlib_metadata")
    folders = env.wheelhouses(tmp_path, "0.35.2")
    with pytest.raises(VersionEnvError, match=r"no wheel for ftfy==6\.3\.1.*pip download"):
        env.install(spec, tmp_path / "target", folders)
    _wheel(own, "ftfy", "6.3.1", "ftfy")
    target = env.install(spec, tmp_path / "target", folders)
    assert (target / "diffusers" / "__init__.py").read_text() == "__version__ = '0.35.2'\n"
    assert (target / "ftfy").is_dir() and (target / env.MARKER).exists()
    (target / "diffusers" / "stamp").write_text("kept")
    assert env.install(spec, target, folders) == target and (target / "diffusers" / "stamp").exists()


def test_job_environment_puts_the_version_first_and_keeps_the_rest(tmp_path: Path) -> None:
    got = env.env_vars(tmp_path / "v", ROOT, {"PYTHONPATH": "/tmp/site", "X": "1"})
    assert got["PYTHONPATH"].split(":") == [str(tmp_path / "v"), str(ROOT), "/tmp/site"] and got["X"] == "1"


def test_the_download_commands_fill_every_wheelhouse_the_environments_search(tmp_path: Path) -> None:
    """What `python -m t2v_energy_lib.versions.env --run` downloads is what each install looks for."""
    from t2v_energy_lib.versions.env import download_commands, wheelhouses, wheels_for

    specs = resolve(None)
    for command in download_commands(tmp_path, specs):
        assert command[2:4] == ["pip", "download"] and "--no-deps" in command
        folder = Path(command[command.index("-d") + 1])
        folder.mkdir(parents=True, exist_ok=True)
        for requirement in command[command.index("-d") + 2 :]:  # stand-ins named as pip names wheels
            name, _, version = requirement.partition("==")
            (folder / f"{name}-{version or '1.0'}-py3-none-any.whl").write_bytes(b"")
    for spec in specs:
        assert wheels_for(spec, wheelhouses(tmp_path, spec.diffusers))
