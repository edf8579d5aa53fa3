#!/usr/bin/env bash
# Prediction across GPUs, on an H200: (a) calibrate the H200's ceilings (~30 s: bf16 matmul FLOP/s, copy bandwidth,
# idle and loaded power), (b) predict its per-video latency and energy from the stored H100 folder BEFORE any
# H200 point of this call is measured, and write both files; (c) only with MEASURE=1: measure resolution and frame
# points after the prediction, into a fresh folder, until the time limit (GPU 0, and GPU 1 when there is one).
# Scoring runs later, on the CPU, against a stored H200 folder:
#   python -m t2v_energy_lib gpus score <prediction.json> baselines/nvidia-h200/0.42.1
# (it prints whether the prediction was written before the folder's first measurement).
#
# Usage (repo root, diffusers wheel on PYTHONPATH as for the sweeps, T2V_ENERGY_GIT_COMMIT set where there is no
# .git): OUT=<folder> [MEASURE=1] bash baselines/scripts/h200_predict_then_measure.sh [LIMIT_S]
#   LIMIT_S: total seconds for the whole call (default 540). Without MEASURE=1 it takes ~1-2 minutes.
#   CALIBRATION=<file> skips (a) and predicts from that calibration (lets the script be tried on a CPU).
set -u
LIMIT=${1:-540}
SOURCE=${SOURCE:-baselines/nvidia-h100-80gb-hbm3/0.42.1}
L="$OUT/logs"; mkdir -p "$L"
left() { echo $(( LIMIT - SECONDS )); }
{ nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version,clocks.max.sm,persistence_mode --format=csv \
    || echo "no nvidia-smi"; } >"$L/nvidia-smi.csv" 2>&1

# (a) calibration: a result file (suite "calibration") that may later be stored beside the H200 sweeps
CAL=${CALIBRATION:-$OUT/calibration.json}
if [ -z "${CALIBRATION:-}" ]; then
    CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} timeout -s INT -k 10 120 \
        python3 -m t2v_energy_lib.bench.calibrate "$CAL" >"$L/calibrate.log" 2>&1
    echo "calibrate exit $? after $SECONDS s" >>"$L/calibrate.log"
fi

# (b) the prediction, written now (created_utc inside; commit it before comparing with any measurement)
date -u +%Y-%m-%dT%H:%M:%SZ >"$L/predicted_at.txt"
timeout -k 10 "$(left)" python3 -m t2v_energy_lib gpus predict --from "$SOURCE" --calibration "$CAL" \
    --out "$OUT/h200-prediction.json" >"$L/predict.log" 2>&1
echo "predict exit $? after $SECONDS s" >>"$L/predict.log"

# (c) optional: points measured after the prediction (resumable; each job stops cleanly before the limit)
if [ "${MEASURE:-0}" = "1" ] && [ -s "$OUT/h200-prediction.json" ]; then
    R="$OUT/measured-after-prediction"; mkdir -p "$R/g0" "$R/g1"
    CHAR="python3 -m t2v_energy_lib characterize --device cuda --quick --no-report --resume"
    budget=$(( $(left) - 30 ))
    CUDA_VISIBLE_DEVICES=0 timeout -s INT -k 15 "$(( budget + 20 ))" $CHAR --suites resolution \
        --time-budget-s "$budget" --out "$R/g0" >"$L/measure-g0.log" 2>&1 &
    if [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ]; then
        CUDA_VISIBLE_DEVICES=1 timeout -s INT -k 15 "$(( budget + 20 ))" $CHAR --suites frames \
            --time-budget-s "$budget" --out "$R/g1" >"$L/measure-g1.log" 2>&1 &
    fi
    wait
fi
ls -la "$OUT"; tail -n 3 "$L"/*.log
