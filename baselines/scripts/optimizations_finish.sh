#!/usr/bin/env bash
# End of an optimisation device call (sourced by h200_optimizations_next.sh and h200_optimizations_14b.sh):
# OPTIMIZATIONS.md + charts from $R/optimizations.json into $OUT/report, then the archives of $R and $L.
# Needs R, L, C (console log) and OUT set by the caller.
timeout 60 python3 -c "
from pathlib import Path
from t2v_energy_lib.report.optimizations_section import write_optimizations_report
print(write_optimizations_report(Path('$R/optimizations.json'), Path('$OUT/report')))
" >>"$C" 2>&1
echo "report exit $? after $SECONDS s" >>"$C"
tar czf "$OUT/logs.tgz" -C "$(dirname "$L")" "$(basename "$L")"
tar czf "$OUT/results.tgz" -C "$R" .
ls -la "$OUT"
