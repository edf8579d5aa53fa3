"""Rebuild the stored cross-model breakdowns of points with a complete generation under the current rule.

Usage: python baselines/scripts/rebuild_breakdowns.py baselines/<gpu-slug>/<version>/cross_model.json ...

A breakdown is derived (composed) data: it is computed again from the stored measured records of its point
with :func:`t2v_energy_lib.bench.breakdown.rebuilt_breakdown`; nothing is measured and no other record
changes. Written because the rest of the pipeline used to be taken from a complete generation that ran on
another GPU than the parts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from t2v_energy_lib.bench.breakdown import rebuilt_breakdown
from t2v_energy_lib.results import load_results
from t2v_energy_lib.results.schema import ResultFile
from t2v_energy_lib.results.storage import atomic_write_text


def rebuild(path: Path) -> None:
    results = load_results(path)
    by_id = results.by_id()
    records = []
    for record in results.records:
        point = record.id.rsplit("/", 1)[0]
        if record.component == "breakdown" and f"{point}/end_to_end" in by_id:
            new = rebuilt_breakdown(record, by_id)
            before = record.extra["breakdown"].get("rest_measured")
            after = new.extra["breakdown"]["rest_measured"]
            why = new.extra["breakdown"].get("rest_set_aside", "")
            print(f"{record.id}: rest measured {before} -> {after} {why}")
            record = new
        records.append(record)
    document = ResultFile(provenance=results.provenance, records=tuple(records)).to_dict()
    atomic_write_text(path, json.dumps(document, indent=1, allow_nan=False) + "\n")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        rebuild(Path(arg))
