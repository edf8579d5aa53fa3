#!/usr/bin/env bash
# Device call 3 on one H200 (2026-12-01): what the last ~10 minutes of this session's device time could buy, in
# priority order, each part bounded so that the whole ends within LIMIT seconds:
#   1. calibration (bench/calibrate.py: bf16 matmul ceiling, copy bandwidth, idle and loaded power)
#   2. the cross-GPU prediction of the H200 from the H100 folder and this calibration (gpus predict)
#   3. the gate proof (h200_gate_proof.sh: 0.42.1 baseline, 0.35.2 gated, 0.42.1 gated, from a user folder)
#   4. independent step-count runs of Wan2.1-T2V-1.3B at 480x832x81 (S = 2, 5, 10, 20; 2 runs each)
#   5. the random-weights study (bench/weights_study.py), as far as time allows
# Usage (repo root; carry .whl = diffusers 0.42.1 + importlib_metadata, .whl035 = diffusers 0.35.2 + ftfy):
#   OUT=<folder> T2V_ENERGY_GIT_COMMIT=<sha> bash baselines/scripts/h200_call3_claims_gate.sh
set -u
LIMIT=${LIMIT:-575}
W=/tmp/c3; rm -rf "$W"; R="$W/claims"; L="$W/logs"; mkdir -p "$R" "$L"   # only the tarball goes to $OUT
export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl >"$L/pip-install.log" 2>&1
export PYTHONPATH=/tmp/site:$PWD
left() { echo $(( LIMIT - SECONDS )); }
run() {  # run <seconds> <log> <command...>: SIGINT at the limit (result writers keep what finished)
    local secs=$1 log=$2; shift 2
    [ "$secs" -gt 15 ] || { echo "skipped (no time left): $*" >>"$L/$log"; return; }
    timeout -s INT -k 15 "$secs" "$@" >>"$L/$log" 2>&1
    echo "exit $? after $SECONDS s: $*" >>"$L/$log"
}
nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version,clocks.max.sm,persistence_mode \
    --format=csv >"$L/nvidia-smi.csv" 2>&1
run 60 calibration.log python3 -m t2v_energy_lib.bench.calibrate "$R/calibration.json"
date -u +%Y-%m-%dT%H:%M:%SZ >"$L/predicted_at.txt"
run 20 predict.log python3 -m t2v_energy_lib gpus predict --from baselines/nvidia-h100-80gb-hbm3/0.42.1 \
    --calibration "$R/calibration.json" --out "$W/h200-prediction.json"
GATE_BUDGET=${GATE_BUDGET:-240}
OUT="$W/gate" BUDGET=$GATE_BUDGET CAP=${CAP:-6} TRIALS=300 timeout -s INT -k 15 $(( GATE_BUDGET + 60 )) \
    bash baselines/scripts/h200_gate_proof.sh >"$L/gate-proof.log" 2>&1
echo "gate proof exit $? after $SECONDS s" >>"$L/gate-proof.log"
run 120 steps_runs.log python3 -m t2v_energy_lib.bench.steps_runs "$R" --model wan2.1-t2v-1.3b \
    --size 480x832x81 --steps 2,5,10,20 --rounds 2 --device cuda
run $(( $(left) - 10 )) weights_study.log python3 -m t2v_energy_lib.bench.weights_study "$R" \
    --model wan2.1-t2v-1.3b --size 480x832x81 --rounds 2 --forwards 4 --device cuda
echo "total $SECONDS s" >>"$L/calibration.log"
tar czf "$OUT/call3.tgz" -C "$W" .
ls -la "$OUT" "$W"; tail -n 4 "$L"/*.log; tail -n 40 "$L/gate-proof.log"
