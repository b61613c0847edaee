package ai.jamba.kernels.cuda;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.Experts;

/**
 * A MoE block in device memory: the router [E, hidden] and every expert's weights stacked in one allocation
 * per kind, gate and up [E, intermediate, hidden], down [E, hidden, intermediate], all in one dtype, so a
 * kernel finds expert e's rows at a fixed stride.
 */
record CudaExperts(CudaWeight router, long gate, long up, long down, DType dtype, int numExperts, int intermediate,
                   int hidden, int topK) implements Experts {

    static CudaExperts of(Experts e) {
        if (e instanceof CudaExperts c) return c;
        throw new IllegalArgumentException("not a CUDA experts block: " + e);
    }

    /** Bytes of one expert's gate (or up, or down) matrix. */
    long expertBytes() {
        return (long) intermediate * hidden * dtype.bytes;
    }

    @Override
    public long bytes() {
        return router.bytes() + 3L * numExperts * expertBytes();
    }
}
