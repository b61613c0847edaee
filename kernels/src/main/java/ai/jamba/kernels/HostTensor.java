package ai.jamba.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor in host memory as a checkpoint stores it: row-major, little-endian, in its own dtype.
 * {@code data} is usually a slice of a memory-mapped file, so nothing is copied until a backend wants it.
 * {@code name} travels along so every error can say which tensor it is about.
 */
public record HostTensor(String name, DType dtype, long[] shape, MemorySegment data) {
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public long elements() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Rows when seen as a matrix: the product of all dimensions but the last (1 for a vector). */
    public long rows() {
        return shape.length == 0 ? 1 : elements() / shape[shape.length - 1];
    }

    /** Columns when seen as a matrix: the last dimension. */
    public long cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** A float32 tensor made in memory (derived weights, tests, random models). */
    public static HostTensor ofFloats(String name, float[] values, long... shape) {
        MemorySegment seg = MemorySegment.ofArray(values.clone());
        return new HostTensor(name, DType.F32, shape.clone(), seg);
    }

    /** Element i as float32, whatever the dtype (slow path: loading, tests). */
    public float get(long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32_LE, i);
            case BF16 -> Float.intBitsToFloat((data.getAtIndex(U16_LE, i) & 0xffff) << 16);
            case F16 -> Float.float16ToFloat(data.getAtIndex(U16_LE, i));
            case I8 -> throw new IllegalStateException(name + ": int8 needs its row scales; read it through its backend");
        };
    }

    /** All elements as float32 (small tensors: norms, biases, A_log, D). */
    public float[] toFloats() {
        long n = elements();
        if (n > Integer.MAX_VALUE) throw new IllegalStateException(name + " has " + n + " elements, too many for a float[]");
        float[] out = new float[(int) n];
        for (int i = 0; i < out.length; i++) out[i] = get(i);
        return out;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
