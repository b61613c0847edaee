package ai.jamba.bench.jmh;

import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.HostTensor;
import ai.jamba.kernels.MambaState;
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

import java.util.concurrent.TimeUnit;

/**
 * The selective scan of one jamba-3b-dense Mamba layer (d_inner 5120, d_state 16) over one sequence: a decode step
 * (1 row) and a prefill chunk (512 rows, sequential along them). The state carries on from call to call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class SelectiveScanBench {
    @Param({"1", "512"})
    public int tokens;

    @Param({"0"})
    public int threads;

    private Backend backend;
    private MambaState state;
    private Batch batch;
    private Mat u, dt, b, c, z, out;
    private Weight aLog, d;

    @Setup(Level.Trial)
    public void setUp() {
        int dInner = 5120, dState = 16;
        backend = new CpuBackend(threads > 0 ? threads : CpuBackend.defaultThreads());
        state = backend.mambaState(dInner, 4, dState, 1);
        batch = Batch.of(new int[]{0}, tokens);
        u = Inputs.activations(backend, tokens, dInner);
        dt = Inputs.activations(backend, tokens, dInner);
        b = Inputs.activations(backend, tokens, dState);
        c = Inputs.activations(backend, tokens, dState);
        z = Inputs.activations(backend, tokens, dInner);
        out = backend.allocate(tokens, dInner);
        float[] a = new float[dInner * dState];
        for (int i = 0; i < a.length; i++) a[i] = (float) Math.log(1 + i % dState);
        float[] ones = new float[dInner];
        java.util.Arrays.fill(ones, 1f);
        aLog = backend.weight(HostTensor.ofFloats("A_log", a, dInner, dState));
        d = backend.weight(HostTensor.ofFloats("D", ones, dInner));
    }

    @Benchmark
    public Mat scan() {
        backend.selectiveScan(state, batch, u, dt, aLog, b, c, d, z, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
    }
}
