#!/bin/bash
# ./jamba bench gpu (one Mini-shaped block), then transformers on the same shape, in the same device call.
# Run from the repo root. Results: $OUT/gpu-bench.json (or $BENCH_NAME.json), $OUT/hf.json and the logs.
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
mkdir -p /tmp/jre && tar xJf .devcarry/jre25.tar.xz -C /tmp/jre
J=/tmp/jre/jre25/bin/java
CP=$(ls .devcarry/jars/*.jar | tr '\n' ':')
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g -Djamba.cuda.cache=/tmp/jamba-cuda"
NAME=${BENCH_NAME:-gpu-bench}  # JAVA_OPTS: e.g. -Djamba.cuda.pdl=false for a comparison run
timeout ${BENCH_TIMEOUT:-240} $J $FLAGS $JAVA_OPTS -cp "$CP" ai.jamba.bench.GpuBench --json "$OUT/$NAME.json" "$@" 2>&1 | tee "$OUT/$NAME.log"
echo "bench exit: $?"
[ "${HF:-1}" = 1 ] || exit 0
PYTHONUNBUFFERED=1 timeout ${HF_TIMEOUT:-200} python3 .devcarry/bench_hf.py 8 2>&1 | grep -v Warning | tee "$OUT/bench-hf.log"
echo "bench_hf exit: $?"
grep '^RESULT ' "$OUT/bench-hf.log" | sed 's/^RESULT //' > "$OUT/hf.json"
