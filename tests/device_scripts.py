"""The variant lists the device scripts of the optimisation suite name (read with bash itself), and the
variants their stored H200 runs hold."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "baselines" / "scripts"
H200 = SCRIPTS.parent / "nvidia-h200"


def script_lists(name: str, keys: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """The variant lists of a script (or its lists ``keys``, ``FREE`` and ``ABSENT`` among them), after
    expanding its ``$FREE`` and ``$ABSENT`` lists (read with bash itself)."""
    text = (SCRIPTS / name).read_text()
    keys = keys or tuple(re.findall(r"^([A-Z_0-9]*VARIANTS[A-Z_0-9]*)=", text, re.M))
    assert keys, f"{name} defines no variant list"
    defs = "\n".join(
        line for line in text.splitlines() if re.match(r"^(FREE|ABSENT|[A-Z_0-9]*VARIANTS[A-Z_0-9]*)=", line)
    )
    out = {}
    for key in keys:
        shown = subprocess.run(
            ["bash", "-c", f"{defs}\necho ${key}"],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": os.environ.get("PATH", "")},  # the script's own lists, not a caller's override
        )
        out[key] = [v for v in shown.stdout.strip().split(",") if v]
    return out


def stored_run_files() -> list[Path]:
    """Every stored H200 optimisation run file (not the raw call files under ``runs/``)."""
    return [path for path in sorted(H200.rglob("optimizations.json")) if "runs" not in path.parts]


def stored_records(path: Path) -> list[dict]:
    """The records of one stored run file, as stored."""
    return json.loads(path.read_text(encoding="utf-8"))["records"]


def stored_variants(model: str) -> set[str]:
    """Variant names with a record of ``model`` in any stored H200 optimisation run (not raw call files)."""
    return {
        record["extra"]["variant"]["name"]
        for path in stored_run_files()
        for record in stored_records(path)
        if record["model"] == model
    }
