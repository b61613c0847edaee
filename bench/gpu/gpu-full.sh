#!/bin/bash
# The whole Jamba-1.5-Mini shape with int8 experts (FullModelBench): memory plan, a 256K-token prompt, decode by
# context and by batch. Run from the repo root. Results: $OUT/full-model.json and the log.
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
mkdir -p /tmp/jre && tar xJf .devcarry/jre25.tar.xz -C /tmp/jre
J=/tmp/jre/jre25/bin/java
CP=$(ls .devcarry/jars/*.jar | tr '\n' ':')
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g -Djamba.cuda.cache=/tmp/jamba-cuda"
timeout ${FULL_TIMEOUT:-420} $J $FLAGS -cp "$CP" ai.jamba.bench.FullModelBench --json "$OUT/full-model.json" "$@" 2>&1 | tee "$OUT/full-model.log"
echo "full-model exit: $?"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
