"""A folder this process cannot write in, for tests of the early output-path checks (issue 17)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder that refuses new files.

    For a normal user a chmod 0500 folder; root ignores permission bits, so for root a read-only system folder
    (``/sys``, ``/proc``). Skips, with the reason, where there is none.
    """
    candidates = []
    if os.geteuid() != 0:
        ro = tmp_path / "read-only"
        ro.mkdir()
        ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
        candidates.append(ro)
    candidates += [Path("/sys"), Path("/proc")]
    for folder in candidates:
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError:
            return folder
    pytest.skip("no folder on this machine refuses writes to this user")
