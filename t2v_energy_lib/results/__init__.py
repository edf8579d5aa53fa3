"""Results layer: quantities, the record builder, the result-file schema, provenance, atomic incremental
storage, baselines, the indexed ResultFolder, comparison.

Importing this package touches no hardware and imports neither torch nor scipy nor matplotlib; NVML is probed
only inside :func:`collect_provenance`, scipy only inside comparisons, matplotlib only for charts.
"""

from t2v_energy_lib.results.compare import METRICS, Comparison, ComparisonRow, Thresholds, compare
from t2v_energy_lib.results.folder import ResultFolder
from t2v_energy_lib.results.provenance import (
    baseline_dir,
    collect_provenance,
    expand_results_path,
    gpu_slug,
    hardware_differences,
    version_changes,
)
from t2v_energy_lib.results.quantities import QUANTITIES, Quantity
from t2v_energy_lib.results.record_builder import build_record, record_from_windows
from t2v_energy_lib.results.schema import SCHEMA, SCHEMA_VERSION, ResultFile, ResultRecord
from t2v_energy_lib.results.stats import RatioTest, Summary, ratio_test, summarize
from t2v_energy_lib.results.storage import ResultWriter, find_baseline_folders, load_results

__all__ = [
    "METRICS",
    "QUANTITIES",
    "SCHEMA",
    "SCHEMA_VERSION",
    "Comparison",
    "ComparisonRow",
    "Quantity",
    "RatioTest",
    "ResultFile",
    "ResultFolder",
    "ResultRecord",
    "ResultWriter",
    "Summary",
    "Thresholds",
    "baseline_dir",
    "build_record",
    "collect_provenance",
    "compare",
    "expand_results_path",
    "find_baseline_folders",
    "gpu_slug",
    "hardware_differences",
    "load_results",
    "ratio_test",
    "record_from_windows",
    "summarize",
    "version_changes",
]
