#!/usr/bin/env bash
# Device call 1 on a 2-GPU H200 host (2026-12-01): the resolution sweep on GPU 0, the frame sweep and the meter
# reference check on GPU 1, side by side (each job sees only its own GPU; energy is per device).
# Usage (repo root, diffusers wheels on PYTHONPATH): OUT=<folder> bash baselines/scripts/h200x2_call1_sweeps.sh
set -u
R=/tmp/r; L=/tmp/logs; mkdir -p "$R"/g0 "$R"/g1 "$L"
LIMIT=${LIMIT:-550}
CHAR="python3 -m t2v_energy_lib characterize --device cuda --quick --no-report --resume"
job() {  # job <gpu> <seconds> <log> <command...>: SIGINT at the limit (the writer keeps finished points)
    local gpu=$1 secs=$2 log=$3; shift 3
    CUDA_VISIBLE_DEVICES=$gpu timeout -s INT -k 15 "$secs" "$@" >>"$L/$log" 2>&1
    echo "exit $? after $SECONDS s: $*" >>"$L/$log"
}
start=$SECONDS
python3 -m pip list 2>/dev/null | grep -iE '^(torch|diffusers|transformers|pytest|pytest-benchmark|pytest-xdist|nvidia-ml-py|numpy|scipy|matplotlib) ' >"$L/pip.txt"
nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version,clocks.max.sm,persistence_mode --format=csv >"$L/nvidia-smi.csv" 2>&1
(   # GPU 0: the whole resolution sweep (13 sizes, 256x256 .. 1008x1792)
    job 0 $LIMIT g0.log $CHAR --suites resolution --out "$R/g0"
) &
(   # GPU 1: the meter reference check, then the frame sweep (13 counts at 720x1280, 4 at 480x832)
    CUDA_VISIBLE_DEVICES=1 timeout -s INT 60 python3 -m t2v_energy_lib.bench.reference "$R/g1/reference.json" >>"$L/g1.log" 2>&1
    job 1 $(( LIMIT - (SECONDS - start) )) g1.log $CHAR --suites frames --out "$R/g1"
) &
wait
tar czf "$OUT/logs.tgz" -C /tmp logs
tar czf "$OUT/results.tgz" -C "$R" .
ls -la "$OUT"; cat "$L/pip.txt" "$L/nvidia-smi.csv"; tail -n 4 "$L"/*.log
