#!/bin/bash
# The GPU suite on the device machine, from prebuilt jars (no JDK, no Maven there). Run from the repo root.
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
mkdir -p /tmp/jre && tar xJf .devcarry/jre25.tar.xz -C /tmp/jre
J=/tmp/jre/jre25/bin/java
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu.txt"
CP=$(ls .devcarry/jars/*.jar | tr '\n' ':')
# the demo's validation documents come as token ids (the tokenizer's native jar does not travel); the tokenizer's
# own tests, the larger-than-heap test (host memory, no GPU in it) and the tests that need the tokenizer and run on
# the CPU backend only (the serving engine's text tests: Demo opens a CpuBackend; the CLI's session commands in a
# child JVM) stay with the CPU build
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g -Djamba.root=$PWD -Djamba.cuda.cache=/tmp/jamba-cuda -Djamba.test.tokenized=.devcarry/valid-ids.txt"
timeout ${SUITE_TIMEOUT:-420} $J $FLAGS -Djamba.test.backend=cuda -jar .devcarry/junit-platform-console-standalone-1.13.4.jar \
  execute --class-path "$CP" --select-package ai.jamba --exclude-classname '^ai[.]jamba[.]engine[.]tokenizer[.].*' \
  --exclude-classname '.*LargerThanHeapTest' --exclude-package ai.jamba.bench \
  --exclude-classname '^ai[.]jamba[.]engine[.](serve[.](Conversation|Resume|RequestLifecycle|TextStream|Batching)|cli[.]SessionCommands)Test$' \
  --details=tree --disable-banner 2>&1 | tee "$OUT/gpu-tests.log" | grep -vE "^\s*[│├└ ]*\s*(✔|↷)" | tail -150
echo "suite exit: $?"
