"""``--energy-results`` and ``--energy-baseline`` checked when pytest starts, before any benchmark runs.

Without these checks a read-only results path or a corrupt results file made every energy test fail after
it had measured, and a bad baseline was reported only at the end of the session, after all the GPU work.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_t2v_energy.session import EnergyOptions


def check_energy_paths(options: EnergyOptions) -> None:
    """Fail the session at configure time, in one line, when a results or baseline path is unusable.

    The results file must be writable (its folder), and an existing one readable (it is resumed); the
    baseline must load. An xdist worker writes a fresh file of its own and gates nothing, so it checks only
    that its file can be written.

    Raises:
        pytest.UsageError: The path, the rule it breaks and the fix (pytest prints it on one line).
    """
    from t2v_energy_lib.results import load_results
    from t2v_energy_lib.results.paths import check_output_file

    controller = options.xdist != "worker"
    if options.results_path is not None:
        path = options.results_path
        _usage("--energy-results", check_output_file, path, "--energy-results")
        if controller and path.is_file():  # resumed at the first record: it must be readable now
            _usage("--energy-results", load_results, path)
    if options.baseline_path is not None and controller:
        _usage("--energy-baseline", load_results, options.baseline_path)


def _usage(option: str, check: Callable[..., object], *args: object) -> None:
    """Run ``check``; turn this project's error into a one-line ``pytest.UsageError`` naming ``option``."""
    from t2v_energy_lib.errors import T2VEnergyError

    try:
        check(*args)
    except T2VEnergyError as exc:
        text = str(exc)
        raise pytest.UsageError(text if text.startswith(option) else f"{option}: {text}") from None
