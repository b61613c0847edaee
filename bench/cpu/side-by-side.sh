#!/bin/bash
# Our CPU backend and llama.cpp on this machine, interleaved (ours, llama.cpp, ours, llama.cpp: the VM's memory
# bandwidth jumps between two levels, so only neighbouring runs compare). Needs llama.cpp set up as
# ../shared/peers/llamacpp/README.md says (node-llama-cpp in /tmp/peer-npm, GGUF files in /tmp/peer-gguf).
# usage: bench/cpu/side-by-side.sh OUTDIR [ROUNDS]      Run from the repo root.
# FIRST=N numbers the rounds from N (to add rounds to a folder); F16=0 skips llama.cpp's F16 runs; OURS=--pack
# passes options to ours (bf16 packed in 12 bits).
set -uo pipefail
OUT=${1:?usage: side-by-side.sh OUTDIR [ROUNDS]}; ROUNDS=${2:-2}; ONLY=${ONLY:-3b,demo}  # ONLY=demo: the demo model alone
PEER=${PEER:-../shared/peers/llamacpp}; GGUF=${GGUF:-/tmp/peer-gguf}
mkdir -p "$OUT"
ours() { ./jamba bench cpu --json ${OURS:-} "$@"; }
llama() { node "$PEER/run.mjs" bench "$@"; }
FIRST=${FIRST:-1}
for r in $(seq "$FIRST" $((FIRST + ROUNDS - 1))); do
  if [[ $ONLY == *3b* ]]; then
  echo "== round $r: ours, jamba-3b-dense bf16" >&2
  ours 2>"$OUT/ours-3b-$r.log" | tee "$OUT/ours-3b-$r.json"
  echo "== round $r: llama.cpp, jamba-3b-dense BF16 then F16, 2 threads" >&2
  llama --model "$GGUF/dense3b-bf16.gguf" --pp 512 --tg 32 --tg-prompt 64 --reps 3 --threads 2 --no-mmap 2>&1 | tee "$OUT/llama-3b-bf16-$r.log"
  [ "${F16:-1}" = 0 ] || llama --model "$GGUF/dense3b-f16.gguf" --pp 512 --tg 32 --tg-prompt 64 --reps 3 --threads 2 --no-mmap 2>&1 | tee "$OUT/llama-3b-f16-$r.log"
  fi
  [[ $ONLY == *demo* ]] || continue
  echo "== round $r: demo model, ours (default threads) then llama.cpp F32 at 1 and 2 threads" >&2
  ours --model models/jamba-demo-fortunes 2>"$OUT/ours-demo-$r.log" | tee "$OUT/ours-demo-$r.json"
  for t in 1 2; do
    llama --model "$GGUF/demo-f32.gguf" --vocab 4096 --pp 512 --tg 32 --tg-prompt 64 --reps 3 --threads $t 2>&1 | tee "$OUT/llama-demo-t$t-$r.log"
  done
done
