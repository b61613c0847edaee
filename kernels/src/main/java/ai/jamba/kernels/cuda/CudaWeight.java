package ai.jamba.kernels.cuda;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.Weight;

/**
 * A weight in device memory, row-major [rows, cols], in its checkpoint dtype or (int8 experts) as int8 values with
 * one float32 scale per row at {@code scales} (0 otherwise).
 */
record CudaWeight(String name, DType dtype, int rows, int cols, long ptr, long scales) implements Weight {

    CudaWeight(String name, DType dtype, int rows, int cols, long ptr) {
        this(name, dtype, rows, cols, ptr, 0);
    }

    static CudaWeight of(Weight w) {
        if (w instanceof CudaWeight c) return c;
        throw new IllegalArgumentException("not a CUDA weight: " + w.name());
    }

    /** The kernels' code for a dtype (common.cuh: DT_F32, DT_BF16, DT_F16, DT_I8). */
    static int code(DType t) {
        return switch (t) {
            case F32 -> 0;
            case BF16 -> 1;
            case F16 -> 2;
            case I8 -> 3;
        };
    }

    int code() {
        return code(dtype);
    }

    @Override
    public long bytes() {
        return (long) rows * cols * dtype.bytes + (dtype == DType.I8 ? 4L * rows : 0);
    }
}
