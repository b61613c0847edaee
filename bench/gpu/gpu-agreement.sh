#!/bin/bash
# ServeAgreement on the GPU: the demo model's 16 requests alone, then batched by the serving engine, greedy and
# seeded; how many come out identical. Run from the repo root (the demo model is in models/). Results:
# $OUT/serve-agreement.log.
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
mkdir -p /tmp/jre && [ -x /tmp/jre/jre25/bin/java ] || tar xJf .devcarry/jre25.tar.xz -C /tmp/jre
J=/tmp/jre/jre25/bin/java
CP=$(ls .devcarry/jars/*.jar | tr '\n' ':')
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g -Djamba.cuda.cache=/tmp/jamba-cuda"
timeout ${AGREEMENT_TIMEOUT:-120} $J $FLAGS -cp "$CP" ai.jamba.bench.ServeAgreement --backend "${BACKEND:-cuda}" "$@" 2>&1 | tee "$OUT/serve-agreement.log"
echo "serve agreement exit: $?"
