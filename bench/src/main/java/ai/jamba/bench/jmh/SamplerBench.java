package ai.jamba.bench.jmh;

import ai.jamba.kernels.Sampler;
import ai.jamba.kernels.SamplingParams;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/** One sampling decision over a 65,536-token vocabulary (Jamba's), per kind of sampling. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SamplerBench {
    /** temperature/top_k/top_p */
    @Param({"0/0/1", "0.8/50/0.95", "0.8/0/0.9", "1/0/1"})
    public String params;

    private float[] logits;
    private SamplingParams p;
    private final SplittableRandom random = new SplittableRandom(1);

    @Setup
    public void setUp() {
        SplittableRandom r = new SplittableRandom(7);
        logits = new float[65536];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) (r.nextDouble() * 2 - 1) * 6;
        String[] f = params.split("/");
        p = new SamplingParams(Float.parseFloat(f[0]), Integer.parseInt(f[1]), Float.parseFloat(f[2]));
    }

    @Benchmark
    public int sample() {
        return Sampler.sample(logits, 0, logits.length, p, random.nextDouble());
    }
}
