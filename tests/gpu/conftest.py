"""The optimisation benchmarks join the energy gate's selection (``-m gate``) when the plugin registers the
``gate`` marker; without it (an older plugin) nothing is added, so ``--strict-markers`` holds."""

from __future__ import annotations

import pytest

GATED_FILE = "test_optimizations.py"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the optimisation benchmarks ``gate`` (before ``-m`` deselects) when the marker exists."""
    names = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    if "gate" not in names:
        return
    for item in items:
        if item.path.name == GATED_FILE and item.path.parent.name == "gpu":
            item.add_marker(pytest.mark.gate)
