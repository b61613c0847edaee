package ai.jamba.bench;

import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.engine.checkpoint.TensorSource;
import ai.jamba.kernels.DType;
import ai.jamba.kernels.HostTensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.stream.IntStream;

/**
 * A model's tensors made in memory with random bf16 values, for timing a shape no checkpoint file exists for.
 * Each tensor is made off-heap when the model asks for it, with values of the scale a trained model has (so the
 * arithmetic is typical: no overflow, no denormals), mirroring ../shared/peers/llamacpp/make_dense3b.py:
 * matrices uniform with standard deviation 0.02, norms 1, conv U(-0.5, 0.5), A = -[1..d_state] per channel, D 1,
 * dt bias the inverse softplus of a log-uniform dt in [1e-3, 1e-1]. Values are a pure function of the tensor's
 * name and position, so every run times the same model.
 */
final class RandomWeights implements TensorSource {
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Four bf16 values as one little-endian long. */
    private static final ValueLayout.OfLong QUAD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Values made per parallel task. */
    private static final int CHUNK = 1 << 20;

    private final String shape;
    private final JambaConfig config;
    private final Arena arena = Arena.ofShared();

    RandomWeights(String shape, JambaConfig config) {
        this.shape = shape;
        this.config = config;
    }

    /**
     * jamba-3b-dense: hidden 2560, intermediate 8192, 24 layers with attention at 4, 12 and 20, a dense MLP in every
     * layer, 20 heads, 4 KV heads, d_state 16, d_conv 4, expand 2, dt_rank 160, vocab 65536, untied head.
     */
    static RandomWeights jamba3bDense() {
        return new RandomWeights("jamba-3b-dense", new JambaConfig(65536, 2560, 8192, 24, 20, 4, 1e-6f,
                1, 1, 1, 0, 8, 4, 16, 4, 2, 160, true, false, false, 1, List.of(2), 0, 262144));
    }

    String shape() {
        return shape;
    }

    @Override
    public JambaConfig config() {
        return config;
    }

    @Override
    public boolean contains(String name) {
        return name.equals("lm_head.weight") ? !config.tieWordEmbeddings() : true;
    }

    @Override
    public HostTensor tensor(String name, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        MemorySegment data = arena.allocate(2 * n, 64);
        long seed = name.hashCode() * 0x9E3779B97F4A7C15L;
        Init init = Init.of(name);
        long count = n;
        IntStream.range(0, (int) ((n + CHUNK - 1) / CHUNK)).parallel().forEach(chunk -> {
            long from = (long) chunk * CHUNK, to = Math.min(count, from + CHUNK);
            if (init == Init.MATRIX) fillMatrix(data, from, to, seed);
            else for (long i = from; i < to; i++) data.setAtIndex(BF16, i, bf16(init.value(i, shape, seed)));
        });
        return new HostTensor(name, DType.BF16, shape.clone(), data);
    }

    /** Matrices are uniform in ±this: standard deviation 0.02. */
    private static final double MATRIX_BOUND = 0.02 * Math.sqrt(3);

    /** How a tensor's values are drawn, from its name. */
    private enum Init {
        MATRIX, ONES, CONV, A_LOG, DT_BIAS, ZEROS;

        static Init of(String name) {
            if (name.endsWith("norm.weight")) return ONES;
            if (name.contains("conv1d.")) return CONV;
            if (name.endsWith("A_log")) return A_LOG;
            if (name.endsWith(".D")) return ONES;
            if (name.endsWith("dt_proj.bias")) return DT_BIAS;
            if (name.endsWith(".bias")) return ZEROS;
            return MATRIX;
        }

        float value(long i, long[] shape, long seed) {
            double u = uniform(seed + i * 0x9E3779B97F4A7C15L); // in [0, 1)
            return switch (this) {
                case MATRIX -> (float) ((2 * u - 1) * MATRIX_BOUND);
                case ONES -> 1f;
                case ZEROS -> 0f;
                case CONV -> (float) (u - 0.5);
                case A_LOG -> (float) Math.log(1 + i % shape[shape.length - 1]);
                case DT_BIAS -> {
                    double dt = Math.exp(Math.log(1e-3) + u * (Math.log(1e-1) - Math.log(1e-3)));
                    yield (float) (dt + Math.log(-Math.expm1(-dt)));
                }
            };
        }
    }

    /** Matrix values [from, to): four 16-bit uniforms from each 64-bit draw, written four at a time (the bulk of the model). */
    private static void fillMatrix(MemorySegment data, long from, long to, long seed) {
        float scale = (float) (MATRIX_BOUND / 32768);
        long i = from;
        for (; i + 4 <= to; i += 4) {
            long bits = mix(seed + (i >>> 2) * 0x9E3779B97F4A7C15L), four = 0;
            for (int j = 0; j < 4; j++) four |= (bf16((((int) (bits >>> 16 * j) & 0xFFFF) - 32767.5f) * scale) & 0xFFFFL) << 16 * j;
            data.set(QUAD, 2 * i, four);
        }
        for (; i < to; i++) data.setAtIndex(BF16, i, bf16((float) ((2 * uniform(seed + i)) - 1) * (float) MATRIX_BOUND));
    }

    /** A uniform double in [0, 1) from a counter step (splitmix64's finaliser). */
    private static double uniform(long x) {
        return (mix(x) >>> 11) * 0x1.0p-53;
    }

    private static long mix(long x) {
        x = (x ^ (x >>> 30)) * 0xBF58476D1CE4E5B9L;
        x = (x ^ (x >>> 27)) * 0x94D049BB133111EBL;
        return x ^ (x >>> 31);
    }

    /** float32 to bf16, rounding to nearest even (values here are finite). */
    private static short bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    @Override
    public String origin() {
        return shape + " (random bf16 weights in memory)";
    }

    @Override
    public void close() {
        arena.close();
    }
}
