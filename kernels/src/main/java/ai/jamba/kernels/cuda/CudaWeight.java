package ai.jamba.kernels.cuda;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.Weight;

/** A weight in device memory in its checkpoint dtype, row-major [rows, cols]. */
record CudaWeight(String name, DType dtype, int rows, int cols, long ptr) implements Weight {

    static CudaWeight of(Weight w) {
        if (w instanceof CudaWeight c) return c;
        throw new IllegalArgumentException("not a CUDA weight: " + w.name());
    }

    /** The kernels' code for a dtype (common.cuh: DT_F32, DT_BF16, DT_F16). */
    static int code(DType t) {
        return switch (t) {
            case F32 -> 0;
            case BF16 -> 1;
            case F16 -> 2;
            case I8 -> throw new IllegalArgumentException("int8 weights are not supported by the CUDA backend yet");
        };
    }

    int code() {
        return code(dtype);
    }

    @Override
    public long bytes() {
        return (long) rows * cols * dtype.bytes;
    }
}
