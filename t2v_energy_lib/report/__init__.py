"""Report layer: PNG plots (matplotlib, imported lazily) and a markdown summary of stored results.

``write_report(results, out_dir=None, theory=None) -> Path`` is the entry point; the study's published
figures (not measured here) live in :mod:`t2v_energy_lib.report.published`.
"""

from t2v_energy_lib.report.writer import write_report

__all__ = ["write_report"]
