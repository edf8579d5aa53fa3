"""Rebuild ``optimizations.json`` from the raw files of the 2026-12-01 H200 calls, losing no default round.

Call 4 resumed into call 3's file before resuming kept every default round: the file it left
(``runs/optimizations-call4.json``) holds call 4's re-measured default in place of call 3's. Call 3's own file
(``runs/optimizations-call3.json``, its results archive) still holds call 3's default. This script pools the
two defaults with the runner's own rule (:func:`~t2v_energy_lib.bench.optimizations.resume.labelled_default`:
rounds appended, each labelled with its run) and labels every variant with the run it was measured in (the
run whose default it was measured beside). No value is changed; the raw files stay beside the result.

    python baselines/scripts/merge_optimization_calls.py baselines/nvidia-h200/0.42.1
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from t2v_energy_lib.bench.optimizations.resume import labelled_default
from t2v_energy_lib.results import load_results
from t2v_energy_lib.results.storage import ResultWriter


def main(folder: Path) -> Path:
    first = load_results(folder / "runs" / "optimizations-call3.json")
    second = load_results(folder / "runs" / "optimizations-call4.json")
    run1 = str(first.provenance["date_utc"])
    run2 = str(second.provenance["resumed_utc"][-1])
    ids1 = set(first.by_id())
    default_id = next(r.id for r in first.records if r.extra.get("status") == "reference")
    default1 = labelled_default(first.by_id()[default_id], None, run1)
    default = labelled_default(second.by_id()[default_id], default1, run2)
    out = folder / "optimizations.json"
    out.unlink(missing_ok=True)
    writer = ResultWriter(out, second.provenance, resume=False)
    for record in second.records:
        if record.id == default_id:
            writer.add(default)
            continue
        run = run1 if record.id in ids1 else run2
        writer.add(dataclasses.replace(record, extra={**record.extra, "run": run, "reference_run": run}))
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1])))
