#!/bin/bash
# Builds what the GPU machine needs into <main checkout>/.devcarry (git-ignored there; name it in `carry`):
# a jlink'd Java 25 runtime, the project's jars and test jars, Jackson, SLF4J, the JUnit console launcher, the device
# scripts, the demo's validation documents as token ids and transformers' benchmark. Run from the repo root of the checkout you build.
# usage: bench/gpu/prepare-devcarry.sh [DEST]   (default /work/main/.devcarry)
set -euo pipefail
DEST=${1:-/work/main/.devcarry}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
mvn -q -pl kernels,engine,bench package -DskipTests
mvn -q -pl kernels,engine test-compile
mkdir -p "$DEST/jars" && rm -f "$DEST"/jars/*.jar
cp target/lib/jamba-kernels-*.jar target/lib/jamba-engine-*.jar target/lib/jamba-bench-*.jar "$DEST/jars/"
cp target/lib/jackson-annotations-2.18*.jar target/lib/jackson-core-2.18*.jar target/lib/jackson-databind-2.18*.jar "$DEST/jars/"
# the serving engine (ServeAgreement) logs through SLF4J
cp target/lib/slf4j-api-*.jar target/lib/slf4j-simple-*.jar "$DEST/jars/"
(cd kernels/target/test-classes && "$JAVA_HOME/bin/jar" cf "$DEST/jars/kernels-tests.jar" .)
(cd engine/target/test-classes && "$JAVA_HOME/bin/jar" cf "$DEST/jars/engine-tests.jar" .)
mvn -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.13.4 -DoutputDirectory="$DEST"
cp bench/gpu/gpu-suite.sh bench/gpu/gpu-bench.sh bench/gpu/gpu-full.sh bench/gpu/gpu-agreement.sh bench/gpu/gpu-final.sh "$DEST/"
# the demo's validation documents as token ids, for the GPU suite's perplexity test (the tokenizer jar stays here)
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Djamba.root="$PWD" \
  -cp "engine/target/test-classes:$DEST/junit-platform-console-standalone-1.13.4.jar:$(ls target/lib/*.jar | tr '\n' ':')" ai.jamba.engine.eval.TokenizedDocuments "$DEST/valid-ids.txt"
cp ../shared/bench/bench_hf.py "$DEST/" 2>/dev/null || cp /work/shared/bench/bench_hf.py "$DEST/"
# jdk.zipfs: the JUnit console scans test jars as file systems; java.xml: its reports
[ -f "$DEST/jre25.tar.xz" ] || JRE_MODULES=java.base,jdk.incubator.vector,java.logging,java.management,jdk.unsupported,java.xml,jdk.zipfs \
  ../shared/device/make-jre.sh "$DEST"
du -sh "$DEST"
