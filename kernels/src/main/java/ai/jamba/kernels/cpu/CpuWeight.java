package ai.jamba.kernels.cpu;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.HostTensor;
import ai.jamba.kernels.Weight;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * A weight on the CPU: the checkpoint's bytes as they are (usually a memory-mapped slice, never copied to
 * float32), or int8 values with a float scale per row.
 */
final class CpuWeight implements Weight {
    final String name;
    final DType dtype;
    final int rows, cols;
    final MemorySegment data;
    /** Per-row scales of an I8 weight, else null. */
    final float[] scales;
    /** Values derived from this weight that ops reuse (float32 copies of small vectors, the scan's A). */
    private final Map<String, float[]> derived = new ConcurrentHashMap<>();

    CpuWeight(String name, DType dtype, int rows, int cols, MemorySegment data, float[] scales) {
        this.name = name;
        this.dtype = dtype;
        this.rows = rows;
        this.cols = cols;
        this.data = data;
        this.scales = scales;
    }

    static CpuWeight of(HostTensor t) {
        long rows = t.rows(), cols = t.cols();
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE)
            throw new IllegalArgumentException(t.name() + ": " + rows + " x " + cols + " is too large for one matrix");
        return new CpuWeight(t.name(), t.dtype(), (int) rows, (int) cols, t.data(), null);
    }

    static CpuWeight of(Weight w) {
        if (w instanceof CpuWeight c) return c;
        throw new IllegalArgumentException("not a CPU weight: " + w.name());
    }

    /** Element i (row-major) as float32, before any int8 row scale. */
    float raw(long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(Simd.F32_LE, i);
            case BF16 -> Float.intBitsToFloat((data.getAtIndex(Simd.U16_LE, i) & 0xffff) << 16);
            case F16 -> Float.float16ToFloat(data.getAtIndex(Simd.U16_LE, i));
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
        };
    }

    /** Element (r, c) as float32 (slow path: small vectors). */
    float get(int r, int c) {
        float v = raw((long) r * cols + c);
        return scales == null ? v : v * scales[r];
    }

    /** All elements as float32, row-major (for the small weights ops read many times: norms, conv, D). */
    float[] floats() {
        return derive("floats", () -> {
            float[] f = new float[rows * cols];
            for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) f[r * cols + c] = get(r, c);
            return f;
        });
    }

    /** A value computed from this weight once, on first use, and kept with it. */
    float[] derive(String key, Supplier<float[]> compute) {
        return derived.computeIfAbsent(key, k -> compute.get());
    }

    @Override public String name() { return name; }

    @Override public DType dtype() { return dtype; }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    @Override
    public long bytes() {
        return (long) rows * cols * dtype.bytes + (scales == null ? 0 : 4L * scales.length);
    }
}
