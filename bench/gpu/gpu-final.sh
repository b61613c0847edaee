#!/bin/bash
# The release check on the device, in two calls (each under the 10-minute limit), from a .devcarry built by
# prepare-devcarry.sh:   PART=1: the GPU test suite, ServeAgreement on CUDA, the block bench without transformers;
#                        PART=2: the block bench beside transformers (same call), the full Mini shape to 256K.
# Run from the repo root; results land in $OUT (steps.txt: what ran when, and the headline lines).
set -o pipefail
OUT=${OUT:-/tmp/out}; export OUT; mkdir -p "$OUT"
T0=$(date +%s); step() { echo "[t+$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/steps.txt"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
case "${PART:-1}" in
  1)
    step suite; SUITE_TIMEOUT=300 bash .devcarry/gpu-suite.sh > "$OUT/suite-stdout.log" 2>&1
    grep -E "tests (successful|failed|found|skipped|aborted)" "$OUT/gpu-tests.log" | tee -a "$OUT/steps.txt"
    grep -E "✘" "$OUT/gpu-tests.log" | head -20 | tee -a "$OUT/steps.txt"
    step agreement; BACKEND=cuda AGREEMENT_TIMEOUT=120 bash .devcarry/gpu-agreement.sh > /dev/null 2>&1
    tail -4 "$OUT/serve-agreement.log" | tee -a "$OUT/steps.txt"
    step block; HF=0 BENCH_TIMEOUT=120 BENCH_NAME=gpu-bench-part1 bash .devcarry/gpu-bench.sh > /dev/null 2>&1
    grep -E "^decode batch|^prefill" "$OUT/gpu-bench-part1.log" | tee -a "$OUT/steps.txt" ;;
  2)
    step block+transformers; BENCH_TIMEOUT=150 HF_TIMEOUT=200 bash .devcarry/gpu-bench.sh > /dev/null 2>&1
    grep -E "^decode batch|^prefill" "$OUT/gpu-bench.log" | tee -a "$OUT/steps.txt"
    step full; FULL_TIMEOUT=${FULL_TIMEOUT:-220} bash .devcarry/gpu-full.sh "$@" > /dev/null 2>&1
    grep -E "^decode|^prefill|^memory|^plan" "$OUT/full-model.log" | tee -a "$OUT/steps.txt" ;;
esac
step done
