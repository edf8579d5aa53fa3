"""Test-suite glue: one autouse fixture, so that the suite runs the same under ``pytest -n N``."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_inherited_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide this xdist worker's ``PYTEST_XDIST_WORKER`` from the sessions a test starts (pytester).

    pytest-benchmark reads that variable from the environment: a child session that inherits it takes itself
    for an xdist worker and neither benchmarks nor writes a record, so the plugin tests would fail under
    ``-n N`` only.
    """
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
