#!/usr/bin/env bash
# Device calls on one H200 (issue 16): the optimisation suite on Wan2.1-14B at 720x1280x81, 4 steps, with
# --compose (the levers that keep per-step work are also composed at the study's 50 steps). A video takes
# ~105 s there (from the stored H100 figures, 25.3 s a step and 7.6 s decode at 720p; the H200 ran the 1.3B
# steps 4% faster), so one call of <= 9 min holds the build (~60 s), this call's default (~4 min: warm-up
# + 2 videos, composed) and ONE variant. CALL picks it; calls on the same warm machine resume into the same
# file (/tmp/r14): each call's default rounds are appended to the default record with the run they came
# from (docs/notes/issue-16.md, Session 13); on a fresh machine CALL=1 starts a new file.
#   CALL=1: half steps (~2.5 min)          CALL=2: half steps + MagCache (~3 min, calibration included)
#   CALL=3: PAB (~3.5 min; the budget stops cleanly if it does not fit, and says so)
#   CALL=4 ROUNDS=1 COMPOSE= LIMIT=585: on a fresh machine, one call: default, half steps, PAB, CFG batching,
#   one video each. Measured 2026-12-01: a 14B video took 106 s, and call 1's default (warm-up, 2 videos, the
#   composed 2-step generation) took 298 s, leaving no room for its variant (the budget recorded it
#   not_reached); CALL=4 measured all three variants in 549 s (baselines/nvidia-h200/optimizations-14b/).
#   CALL=5..16 (same settings): the levers that were missing on the 14B (every call has run), two or three
#   a call (lists below); calls on one warm machine resume one file (their default rounds appended), a fresh
#   machine starts a new file.
#   CALL=5, 6, 7 ran 2026-12-01 on one warm machine (477 + 489 + 519 s, GPU-59fa8c09; stored in
#   baselines/nvidia-h200/optimizations-14b-2/): compilation, SeaCache, MagCache, layerwise fp8, torchao fp8
#   weights with and without compilation; each call's budget stopped before its last lever (not_reached).
#   Those three (VAE tiling, half steps + compilation, torchao dynamic fp8) moved to CALL=8 to 10: the next
#   session runs CALL=8 and 9 with LIMIT=560 and CALL=10 with LIMIT=585 on one warm machine, back to back.
#   CALL=1..3 (two rounds, composed default) were the first plan and do not fit a call: use CALL=4..16.
# The not-installed levers are recorded in every call at no cost.
# Usage (repo root, diffusers wheel on PYTHONPATH, e.g. PYTHONPATH=/tmp/site:$PWD):
#   OUT=<folder> CALL=1 bash baselines/scripts/h200_optimizations_14b.sh
# CPU check of the flow (tiny model): DEVICE=cpu STEPS=2 EXTRA="--compile-backend eager" ...
# Stores: $OUT/results.tgz (optimizations.json so far), $OUT/report/ (OPTIMIZATIONS.md + chart),
#         $OUT/logs.tgz (console of this call, nvidia-smi).
set -u
: "${OUT:?set OUT to the folder that comes back}"
CALL=${CALL:-1}
R=/tmp/r14; L=/tmp/logs14-call$CALL
[ "$CALL" = 1 ] || [ "$CALL" = 4 ] && rm -rf "$R"       # call 1 starts a new file; later calls resume it (same GPU, versions)
mkdir -p "$R" "$L" "$OUT"; rm -f "$L"/*
LIMIT=${LIMIT:-540}
DEVICE=${DEVICE:-cuda}
EXTRA=${EXTRA:-}
STEPS=${STEPS:-4}
ROUNDS=${ROUNDS:-2}          # ROUNDS=1 fits the default and two variants in one call (a video ~107 s)
COMPOSE=${COMPOSE---compose}  # COMPOSE= skips the composed 50-step default (stored by an earlier call)
# the levers that need another package (recorded as not available where it is missing, at no cost); torchao's
# fp8 levers are not listed: with torchao carried in .whl (h200_optimizations_engage.sh) each would cost a video
FREE=attention:flash,attention:_flash_3,attention:sage,attention:xformers,attention:flash_hub
# From CALL=14 on, every other backend of the dispatcher whose package is not on the runner (or that runs on
# another accelerator, or flex, only compiled) and FasterCache (needs batched CFG; Wan runs two passes), so each
# has its reason recorded on the 14B too (no cost):
ABSENT=attention:flash_varlen,attention:flash_varlen_hub,attention:flash_4_hub,attention:_flash_varlen_3,attention:_flash_3_hub,attention:_flash_3_varlen_hub,attention:aiter_fa2_hub,attention:flex,attention:_native_npu,attention:_native_xla,attention:sage_hub,attention:sage_blackwell_hub,attention:sage_varlen,attention:_sage_qk_int8_pv_fp8_cuda,attention:_sage_qk_int8_pv_fp8_cuda_sm90,attention:_sage_qk_int8_pv_fp16_cuda,attention:_sage_qk_int8_pv_fp16_triton,cache:faster
VARIANTS_1=${VARIANTS_1:-$FREE,steps:half}
VARIANTS_2=${VARIANTS_2:-$FREE,steps:half+cache:mag}
VARIANTS_3=${VARIANTS_3:-$FREE,cache:pab}
VARIANTS_4=${VARIANTS_4:-$FREE,steps:half,cache:pab,cfg_batch}   # one call on a fresh machine: ROUNDS=1 COMPOSE=
# The levers the 14B still lacks (ROUNDS=1 COMPOSE= LIMIT=560 each: three calls fit 30 device minutes; 2-3
# levers a call after the ~180 s build and default; most valuable first, the budget stops cleanly before what
# does not fit and records it not_reached):
VARIANTS_5=${VARIANTS_5:-$FREE,compile,cache:sea,vae:tiling}
VARIANTS_6=${VARIANTS_6:-$FREE,cache:mag,fp8:layerwise,steps:half+compile}   # MagCache: a calibration video
VARIANTS_7=${VARIANTS_7:-$FREE,fp8:torchao_weight+compile,fp8:torchao_weight,fp8:torchao_dynamic}  # .whl-torchao
# (VAE slicing is left out: one video a call, nothing to split; xformers 0.0.35, the only wheel, was built for
# torch 2.10 + CUDA 12.8 and its kernels do not load on the runner's torch 2.11 + CUDA 13.0: measured
# 2026-12-01, baselines/nvidia-h200/optimizations-6/)
# Two single levers a call: each is priced ~150 s and a call leaves ~335 s after its build and default video
# (tests/test_optimizations_next.py checks it on the stored calls); half steps + compilation (priced 245 s on
# a machine that has not compiled yet) is measured only where call 10's budget still allows it.
VARIANTS_8=${VARIANTS_8:-$FREE,vae:tiling,cache:fbc}
VARIANTS_9=${VARIANTS_9:-$FREE,cache:taylorseer,attention:_native_cudnn}
VARIANTS_10=${VARIANTS_10:-$FREE,fp8:torchao_dynamic,steps:half+compile}  # .whl-torchao
# CALL=8, 9, 10 ran 2026-12-01 on one warm machine (478 + 463 + 329 s, GPU-3ece0ba6; stored in
# baselines/nvidia-h200/optimizations-14b-3/): call 10's budget stopped before half steps + compilation (priced
# 245 s after the dynamic fp8 video). Next, LIMIT=560 each, back to back on one warm machine: CALL=11 and 12,
# the combinations, one a call (half steps + compilation; half steps + MagCache + compilation, the 1.3B's best,
# priced 324 s of the ~333 s a call leaves), and CALL=13 (TaylorSeer with patterns naming Wan's attn1/attn2
# modules, whose defaults hook nothing on Wan, and FirstBlockCache at the docstring's threshold 0.2).
VARIANTS_11=${VARIANTS_11:-$FREE,steps:half+compile}
VARIANTS_12=${VARIANTS_12:-$FREE,steps:half+cache:mag+compile}
VARIANTS_13=${VARIANTS_13:-$FREE,cache:taylorseer@attn,cache:fbc@0.2}
# CALL=11, 12, 13 ran 2026-12-01 on one warm machine (311 + 359 + 356 s, GPU-c25886a7; stored in
# baselines/nvidia-h200/optimizations-14b-4/): half steps + compilation -50.8%, half steps + MagCache +
# compilation -72.1%, FirstBlockCache at 0.2 not engaged, and TaylorSeer on the 80 attention modules ran out of
# the H200's memory (it keeps two output-sized tensors per hooked module and CFG branch). Next, LIMIT=560 each:
# CALL=14, TaylorSeer's low-memory mode (keeps proj_out's output only) and torch's flash SDPA; CALL=15 and 16,
# the other attention backends that come with torch (memory-efficient SDPA; the math reference, which needs
# the l x l scores, ~457 GB a call here, and is expected to fail out of memory; flex, compiled).
VARIANTS_14=${VARIANTS_14:-$FREE,$ABSENT,cache:taylorseer@lite,attention:_native_flash}
# CALL=14 ran 2026-12-01 (481 s, GPU-56eb4c9a; stored in baselines/nvidia-h200/optimizations-14b-5/):
# TaylorSeer lite -23.4%, torch's flash SDPA forced +37% (slower than torch's own choice). Priced from that,
# memory-efficient SDPA (2x the default's video on the 1.3B) fills a call alone; the math reference is recorded
# not_available by the availability check at no cost (one call's scores: 40 heads x 75,600 tokens^2 x 2 bytes
# = 457 GB); flex, compiled, goes alone. CALL=15 and 16 (LIMIT=560, ROUNDS=1, COMPOSE=) ran 2026-12-01 on one
# warm machine (513 + 400 s, GPU-1dac8ce7; stored in baselines/nvidia-h200/optimizations-14b-6/): memory-efficient
# SDPA +131.6%, compiled flex +11.7%, math not_available (457 GB). Every lever is now stored on the 14B. Priced
# with the slowdown measured there (2.4x), memory-efficient SDPA would no longer fit a 560-s call after the
# build and default (365 s of ~333 s): re-run CALL=15 with a longer limit on a runner that allows one.
VARIANTS_15=${VARIANTS_15:-$FREE,$ABSENT,attention:_native_math,attention:_native_efficient}
VARIANTS_16=${VARIANTS_16:-$FREE,$ABSENT,attention:flex+compile}
eval "VARIANTS=\${VARIANTS_$CALL:?CALL must be 1 to 16}"
. "$(dirname "$0")/carried_wheels.sh"
C="$L/console.log"
case "$CALL" in   # a lever's package only in the call that lists it (each of its variants costs a video)
  7|10) carried_wheels .whl-torchao /tmp/site-fp8 >>"$C" ;;
esac
export T2V_ENERGY_GIT_COMMIT=${T2V_ENERGY_GIT_COMMIT:-unknown}
nvidia-smi --query-gpu=name,uuid,driver_version,power.limit,clocks.max.sm,temperature.gpu --format=csv >"$L/nvidia-smi.csv" 2>&1
BUDGET=$(( LIMIT - SECONDS - 45 ))   # 45 s kept for imports, the idle-power measurement, report, archives
echo "== Wan2.1-14B call $CALL: $VARIANTS (budget $BUDGET s)" >>"$C"
timeout -s INT -k 20 $(( BUDGET + 25 )) python3 -m t2v_energy_lib optimize --device "$DEVICE" \
    --target wan2.1-t2v-14b --steps "$STEPS" --rounds "$ROUNDS" --variants "$VARIANTS" --no-best $COMPOSE \
    --no-profile --warmup-steps 1 --time-budget-s "$BUDGET" --out "$R" --no-report $EXTRA >>"$C" 2>&1
echo "optimize exit $? after $SECONDS s" >>"$C"
. "$(dirname "$0")/optimizations_finish.sh"
tail -n 30 "$C"
