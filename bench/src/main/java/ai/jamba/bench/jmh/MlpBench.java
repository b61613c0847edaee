package ai.jamba.bench.jmh;

import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.Weight;
import ai.jamba.kernels.cpu.CpuBackend;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;

/**
 * jamba-3b-dense's MLP (hidden 2560, intermediate 8192, bf16): gate and up in one parallel pass, then down. Half the
 * model's weights, so a decode step's time is mostly this.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MlpBench {
    @Param({"1", "8", "128"})
    public int tokens;

    @Param({"0"})
    public int threads;

    private Backend backend;
    private Arena arena;
    private Weight gate, up, down;
    private Mat x, out;

    @Setup(Level.Trial)
    public void setUp() {
        int hidden = 2560, inter = 8192;
        backend = new CpuBackend(threads > 0 ? threads : CpuBackend.defaultThreads());
        arena = Arena.ofShared();
        gate = backend.weight(Inputs.bf16(arena, "gate", inter, hidden));
        up = backend.weight(Inputs.bf16(arena, "up", inter, hidden));
        down = backend.weight(Inputs.bf16(arena, "down", hidden, inter));
        x = Inputs.activations(backend, tokens, hidden);
        out = backend.allocate(tokens, hidden);
    }

    @Benchmark
    public Mat mlp() {
        backend.mlp(x, gate, up, down, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }
}
