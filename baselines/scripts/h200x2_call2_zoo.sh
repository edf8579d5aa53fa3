#!/usr/bin/env bash
# Device call 2 on a 2-GPU H200 host (2026-12-01): validation, steps and the smaller models of the cross-model
# suite (parts, complete generations where a video takes under 3 minutes, breakdown, operator profile), one job
# per GPU. Usage (repo root, diffusers wheels on PYTHONPATH): OUT=<folder> bash baselines/scripts/h200x2_call2_zoo.sh
set -u
R=/tmp/r; L=/tmp/logs; mkdir -p "$R"/g0 "$R"/g1 "$L"
LIMIT=${LIMIT:-550}
CHAR="python3 -m t2v_energy_lib characterize --device cuda --quick --no-report --resume --e2e-rounds 2"
job() {  # job <gpu> <seconds> <log> <command...>: SIGINT at the limit (the writer keeps finished points)
    local gpu=$1 secs=$2 log=$3; shift 3
    [ "$secs" -gt 20 ] || { echo "skipped (no time left): $*" >>"$L/$log"; return; }
    CUDA_VISIBLE_DEVICES=$gpu timeout -s INT -k 15 "$secs" "$@" >>"$L/$log" 2>&1
    echo "exit $? after $SECONDS s: $*" >>"$L/$log"
}
left() { echo $(( LIMIT - SECONDS )); }
(   # GPU 0: validation, the steps trace, then Wan2.1-1.3B and AnimateDiff defaults
    job 0 "$(left)" g0.log $CHAR --suites validation --out "$R/g0"
    job 0 "$(left)" g0.log $CHAR --suites steps --measured-steps 16 --out "$R/g0"
    job 0 "$(left)" g0.log $CHAR --suites cross_model --points 0,11 --out "$R/g0"
) &
(   # GPU 1: CogVideoX-2b, Mochi (19 frames), CogVideoX-5b, then LTX-Video (study settings, defaults)
    job 1 "$(left)" g1.log $CHAR --suites cross_model --points 5,9,6,8,7 --out "$R/g1"
) &
wait
tar czf "$OUT/logs.tgz" -C /tmp logs
tar czf "$OUT/results.tgz" -C "$R" .
ls -la "$OUT"; tail -n 4 "$L"/*.log
