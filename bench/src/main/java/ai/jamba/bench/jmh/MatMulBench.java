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
 * The matrix product of the CPU backend on jamba-3b-dense's shapes with bf16 weights: one token row (a decode step,
 * bound by memory bandwidth), 8 (a batched decode step) and 128 (a prefill chunk, bound by the FMA units).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatMulBench {
    /** out x in: in_proj, down_proj, the demo model's in_proj. */
    @Param({"10240x2560", "2560x8192", "1024x256"})
    public String shape;

    @Param({"1", "8", "128"})
    public int tokens;

    @Param({"0"})
    public int threads;

    private Backend backend;
    private Arena arena;
    private Weight w;
    private Mat x, out;

    @Setup(Level.Trial)
    public void setUp() {
        String[] s = shape.split("x");
        int n = Integer.parseInt(s[0]), k = Integer.parseInt(s[1]);
        backend = new CpuBackend(threads > 0 ? threads : CpuBackend.defaultThreads());
        arena = Arena.ofShared();
        w = backend.weight(Inputs.bf16(arena, "w", n, k));
        x = Inputs.activations(backend, tokens, k);
        out = backend.allocate(tokens, n);
    }

    @Benchmark
    public Mat matmul() {
        backend.matmul(x, w, null, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }
}
