"""The library's layers never import upward (docs/ARCHITECTURE.md): a package may use the ones below it only.

A violation is named with its file, so the fix (move the shared piece down, or import from the lower layer)
is where the message points.
"""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parent.parent / "t2v_energy_lib"
#: Lower numbers sit lower; a module may import its own package and any package of a lower or equal number.
LAYER = {
    "errors": 0,
    "units": 0,
    "energy": 1,
    "models": 2,
    "theory": 2,
    "results": 3,
    "bench": 4,
    "scaleout": 4,
    "analysis": 5,
    "report": 6,
    "versions": 6,
    "commands": 7,
    "cli": 7,
    "__main__": 7,
}


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n.split(".")[1] for n in names if n.startswith("t2v_energy_lib.")}
    return found


def test_every_package_has_a_layer() -> None:
    packages = {p.name.removesuffix(".py") for p in LIBRARY.iterdir() if p.suffix == ".py" or p.is_dir()}
    assert packages - {"__init__", "__pycache__"} <= set(LAYER), "give the new package a layer in LAYER"


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for path in sorted(LIBRARY.rglob("*.py")):
        package = path.relative_to(LIBRARY).parts[0].removesuffix(".py")
        if package == "__init__":
            continue
        for imported in _imported_packages(path) - {package}:
            if LAYER.get(imported, 0) > LAYER[package]:
                upward.append(f"{path.relative_to(LIBRARY.parent)} imports t2v_energy_lib.{imported}")
    assert not upward, "imports that climb a layer:\n" + "\n".join(upward)
