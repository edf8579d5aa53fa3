"""Checks of output and input paths, made before the first measurement so that a bad path fails in one line.

A measurement that ran for minutes and then could not be written is lost; these checks run first, with the
option name in the message. Writability is tested by creating (and removing) a temporary file: permission
bits alone do not tell (root ignores them; a read-only file system does not show in them).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from t2v_energy_lib.errors import OutputPathError


def _existing_ancestor(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _probe_write(folder: Path, option: str, target: Path) -> None:
    try:
        with tempfile.TemporaryFile(prefix=".t2v-energy-probe-", dir=folder):
            pass
    except OSError as exc:
        raise OutputPathError(
            f"{option} {target}: cannot write in {folder} ({exc.strerror or exc}); "
            "choose a folder you can write to"
        ) from None


def check_output_dir(path: str | Path, option: str) -> Path:
    """Check that ``path`` is a folder that exists or can be created, and that files can be written in it.

    Nothing is created: the write probe runs in ``path`` or in its nearest existing parent folder.

    Args:
        path: The output folder.
        option: The command-line option that named it (for the message), e.g. ``--out``.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        OutputPathError: ``path`` is an existing file, lies under a file, or its folder is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(
            f"{option} {path}: is an existing file, not a folder; give a folder (files are written inside it)"
        )
    _check_folder(path, option, path)
    return path


def _check_folder(folder: Path, option: str, target: Path) -> None:
    ancestor = _existing_ancestor(folder)
    if not ancestor.is_dir():
        raise OutputPathError(
            f"{option} {target}: {ancestor} is a file, so the folder cannot be created; give another path"
        )
    _probe_write(ancestor, option, target)


def check_output_file(path: str | Path, option: str) -> Path:
    """Check that the file ``path`` can be (re)written: not a folder, and its folder writable.

    Files are written atomically (a temporary file in the same folder, then renamed), so what matters is the
    folder, not the file's own permission bits.

    Raises:
        OutputPathError: ``path`` is a folder, or its folder cannot be created or written.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{option} {path}: is a folder; give a file name (e.g. {path / 'out.png'})")
    _check_folder(path.parent, option, path)
    return path
