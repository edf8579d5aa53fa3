#!/usr/bin/env bash
# Device call on one H200: the optimisation suite (issue 16) on Wan2.1-T2V-1.3B at 480x832x81 with 10 steps
# (~16 s a complete video there): the default pipeline, then each lever alone in priority order, then the
# best combinations of the engaged single levers that saved energy (2 complete videos per variant, metered;
# deviation from the default's output; engagement counters). Levers that cannot be installed on the runner
# (flash-attn, FA3, sage, xformers, Hub kernels, torchao) are recorded as not available with the reason, at
# no cost. Expected: ~9 min (the runner's time budget stops cleanly before a variant that would not fit and
# keeps COMBO_RESERVE seconds for the combinations; what was not reached is named in the log).
# Usage (repo root, diffusers wheel on PYTHONPATH, e.g. PYTHONPATH=/tmp/site:$PWD):
#   OUT=<folder> bash baselines/scripts/h200_optimizations.sh
# Stores: $OUT/results.tgz (optimizations.json: one record per variant, raw per-video rounds, provenance),
#         $OUT/report/ (OPTIMIZATIONS.md + energy-vs-deviation chart), $OUT/logs.tgz (console, nvidia-smi).
set -u
: "${OUT:?set OUT to the folder that comes back}"
R=/tmp/r; L=/tmp/logs; mkdir -p "$R" "$L" "$OUT"
LIMIT=${LIMIT:-540}          # whole call, seconds
STEPS=${STEPS:-10}
COMBO_RESERVE=${COMBO_RESERVE:-110}
VARIANTS=${VARIANTS:-cache:pab,steps:half,cfg_batch,cache:mag,attention:_native_cudnn,fp8:layerwise,cache:fbc,compile,cache:faster,attention:flash,attention:_flash_3,attention:sage,attention:xformers,attention:flash_hub,fp8:torchao_weight,fp8:torchao_dynamic,cache:sea,vae:tiling,cache:taylorseer}
export T2V_ENERGY_GIT_COMMIT=${T2V_ENERGY_GIT_COMMIT:-unknown}
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm,temperature.gpu --format=csv >"$L/nvidia-smi.csv" 2>&1
python3 -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__)" >>"$L/console.log" 2>&1
BUDGET=$(( LIMIT - SECONDS - 30 ))   # 30 s kept for the report and the archives; the runner's own budget
                                      # starts after imports, the build and the idle-power measurement (~25 s)
timeout -s INT -k 20 $(( BUDGET + 20 )) python3 -m t2v_energy_lib optimize --device cuda \
    --target wan2.1-t2v-1.3b --steps "$STEPS" --rounds 2 --variants "$VARIANTS" \
    --time-budget-s $(( BUDGET - 25 )) --combo-reserve-s "$COMBO_RESERVE" --out "$R" --no-report >>"$L/console.log" 2>&1
echo "optimize exit $? after $SECONDS s" >>"$L/console.log"
timeout 60 python3 -c "
from pathlib import Path
from t2v_energy_lib.report.optimizations_section import write_optimizations_report
print(write_optimizations_report(Path('$R/optimizations.json'), Path('$OUT/report')))
" >>"$L/console.log" 2>&1
echo "report exit $? after $SECONDS s" >>"$L/console.log"
tar czf "$OUT/logs.tgz" -C /tmp logs
tar czf "$OUT/results.tgz" -C "$R" .
ls -la "$OUT"; tail -n 30 "$L/console.log"
