#!/usr/bin/env bash
# One device call on one H200 (issue 13): the CI gate suite as a user runs it, from a folder OUTSIDE the project
# with the baseline given as a separate absolute-path argument (the case that passed silently before):
#   1. baseline of the gate suite under Diffusers 0.42.1 (adaptive: rounds until each mean is precise);
#   2. the same suite under Diffusers 0.35.2, gated against it: expected to FAIL, with the table;
#   3. again under 0.42.1, gated against the baseline: expected to PASS;
# then `t2v-energy compare` on the stored files (exit codes) and the gate-power simulation from the suite's own
# per-round data. Results (one folder per session, results.json + summary.md), markdown summaries and console
# logs go under $OUT; no other *.json there, so $OUT/results can be copied into baselines/ as it is.
#   OUT=<folder> bash baselines/scripts/h200_gate_proof.sh        # repo root; .whl/ = 0.42.1, .whl035/ = 0.35.2
# Budget: about 2 min per session on an H200 (build ~10 s, four benchmarks capped at CAP s each), < 8 min whole.
# Flow test on a CPU (tiny model, no GPU energy: NOT a measurement): FLOW=cpu OUT=/tmp/flow bash <this script>
set -u
REPO=$PWD
USERDIR=${USERDIR:-/tmp/user}            # the user's own folder: no pytest ini, no conftest, outside the project
STORE=${STORE:-/tmp/gate-store}          # where the user keeps the baseline (an absolute path, not under USERDIR)
CAP=${CAP:-20}                           # adaptive cap per benchmark (s of measured rounds)
BUDGET=${BUDGET:-450}                    # seconds for the three pytest sessions together
SPEC=${SPEC:-energy:2%,latency:2%}
WHL=${WHL:-.whl}; WHL035=${WHL035:-.whl035}   # the wheel folders
L=$OUT/logs
rm -rf "$USERDIR" "$STORE" /tmp/site042 /tmp/site035 "$OUT/results" "$OUT/logs"
mkdir -p "$USERDIR" "$STORE" "$L" "$OUT/results"
start=$SECONDS

GPU_ARGS=(--require-gpu)
PLUGIN=(-p pytest_t2v_energy.plugin)     # the runner has no pip-installed project; where it is, the entry point loads it
python3 -c "import importlib.metadata as m, sys; sys.exit(not any(e.value.startswith('pytest_t2v_energy') \
    for e in m.entry_points(group='pytest11')))" 2>/dev/null && PLUGIN=()
if [ "${FLOW:-}" = cpu ]; then
    export T2V_ENERGY_GATE_FLOW=cpu; GPU_ARGS=(); SPEC=latency:5%
    echo "FLOW TEST on the CPU with the tiny model: not a measurement" | tee "$L/FLOW-TEST-NOT-A-MEASUREMENT.txt"
fi
# 0. Each Diffusers version into its own folder (no dependencies: torch/transformers come from the runner).
python3 -m pip install -q --no-deps --target /tmp/site042 "$WHL"/*.whl >"$L/pip-install.log" 2>&1
python3 -m pip install -q --no-deps --target /tmp/site035 "$WHL035"/*.whl "$WHL"/importlib_metadata-*.whl \
    >>"$L/pip-install.log" 2>&1
python3 -m pip list 2>/dev/null | grep -iE '^(torch|transformers|pytest|pytest-benchmark|nvidia-ml-py|scipy) ' >"$L/pip.txt"
nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version,clocks.max.sm --format=csv >"$L/nvidia-smi.csv" 2>&1
cp tests/gpu/test_gate_suite.py "$USERDIR/test_my_gate.py"   # the user's own benchmark file (a copy of the suite)

session() {  # session <name> <site> [pytest args...]: one pytest run from USERDIR, bounded by what is left
    local name=$1 site=$2; shift 2
    local left=$(( BUDGET - (SECONDS - start) )); [ "$left" -gt 60 ] || left=60
    echo "== $name: diffusers from $site, limit ${left}s, started at ${SECONDS}s" | tee -a "$L/proof.txt"
    ( cd "$USERDIR" && PYTHONPATH="$site:$REPO" timeout -s INT -k 20 "$left" python3 -m pytest test_my_gate.py \
        "${PLUGIN[@]}" -p no:cacheprovider -m gate "${GPU_ARGS[@]}" \
        --energy-adaptive --energy-max-rounds 12 --energy-max-seconds "$CAP" --energy-compare-fail "$SPEC" \
        --energy-results "$STORE/$name.json" --energy-summary "$OUT/results/$name/summary.md" "$@" ) \
        >"$L/$name.log" 2>&1
    local rc=$?
    echo "   $name: pytest exit $rc after ${SECONDS}s" | tee -a "$L/proof.txt"
    # keep the session's records at once: a later limit must not lose them (a call's outer limit once cut the
    # copy at the end of this script, and the sessions' JSON files stayed on the runner)
    if [ -s "$STORE/$name.json" ]; then mkdir -p "$OUT/results/$name"; cp "$STORE/$name.json" "$OUT/results/$name/results.json"; fi
    return $rc
}
session base-0.42.1 /tmp/site042
session gate-0.35.2 /tmp/site035 --energy-baseline "$STORE/base-0.42.1.json"; rc035=$?
session gate-0.42.1 /tmp/site042 --energy-baseline "$STORE/base-0.42.1.json"; rc042=$?
# The same gate through the CLI (exit codes 0 pass, 1 regression/missing, 2 unusable inputs).
for name in gate-0.35.2 gate-0.42.1; do
    PYTHONPATH="/tmp/site042:$REPO" python3 -m t2v_energy_lib compare "$STORE/base-0.42.1.json" "$STORE/$name.json" \
        --fail "$SPEC" --summary "$OUT/results/compare-$name.md" >"$L/compare-$name.log" 2>&1
    echo "   t2v-energy compare base-0.42.1 $name: exit $?" | tee -a "$L/proof.txt"
done
# Gate power by simulation from this suite's own per-round data (labelled SIMULATION in its output).
PYTHONPATH="/tmp/site042:$REPO" timeout 120 python3 -m t2v_energy_lib.results.power "$STORE/base-0.42.1.json" \
    "$STORE/gate-0.42.1.json" --out "$OUT/results/power" \
    --trials "${TRIALS:-500}" >"$L/power.log" 2>&1 || echo "   power simulation failed (see logs/power.log)" | tee -a "$L/proof.txt"
echo "PROOF: 0.35.2 gate exit $rc035 (expected 1: fails with the table), 0.42.1 gate exit $rc042 (expected 0)," \
    "total ${SECONDS}s" | tee -a "$L/proof.txt"
# (each session's result file was copied to $OUT/results/<session>/results.json as soon as it ended: one folder
# per file, since the three share record ids and a folder merges its files)
cp "$USERDIR/test_my_gate.py" "$OUT/results/"
tail -n 45 "$L/gate-0.35.2.log"; tail -n 25 "$L/gate-0.42.1.log"; cat "$L/proof.txt"
