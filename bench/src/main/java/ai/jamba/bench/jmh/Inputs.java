package ai.jamba.bench.jmh;

import ai.jamba.kernels.Backend;
import ai.jamba.kernels.DType;
import ai.jamba.kernels.HostTensor;
import ai.jamba.kernels.Mat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/** Inputs of the kernel benchmarks: bf16 weights of a trained model's scale, activations of unit scale. */
final class Inputs {
    private Inputs() {}

    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A rows x cols bf16 matrix, uniform in ±0.035 (standard deviation 0.02). */
    static HostTensor bf16(Arena arena, String name, int rows, int cols) {
        long n = (long) rows * cols;
        MemorySegment data = arena.allocate(2 * n, 64);
        SplittableRandom r = new SplittableRandom(name.hashCode());
        for (long i = 0; i < n; i++) data.setAtIndex(BF16, i, (short) (Float.floatToRawIntBits((float) ((r.nextDouble() * 2 - 1) * 0.035)) >>> 16));
        return new HostTensor(name, DType.BF16, new long[]{rows, cols}, data);
    }

    /** A rows x cols activation matrix of standard normal values. */
    static Mat activations(Backend backend, int rows, int cols) {
        SplittableRandom r = new SplittableRandom(rows * 31L + cols);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 2 - 1) * 1.7f;
        Mat m = backend.allocate(rows, cols);
        backend.upload(v, m);
        return m;
    }
}
