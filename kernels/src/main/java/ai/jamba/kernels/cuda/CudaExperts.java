package ai.jamba.kernels.cuda;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.Experts;

/**
 * A MoE block in device memory: the router [E, hidden] and every expert's weights stacked in one allocation per
 * kind, gate and up [E, intermediate, hidden], down [E, hidden, intermediate], all in one dtype, so a kernel finds
 * expert e's rows at a fixed stride. With int8 experts each kind also has its row scales stacked, [E, rows].
 */
record CudaExperts(CudaWeight router, long gate, long up, long down, long gateScales, long upScales, long downScales,
                   DType dtype, int numExperts, int intermediate, int hidden, int topK) implements Experts {

    static CudaExperts of(Experts e) {
        if (e instanceof CudaExperts c) return c;
        throw new IllegalArgumentException("not a CUDA experts block: " + e);
    }

    /** Bytes of one expert's gate (or up, or down) values. */
    long expertBytes() {
        return (long) intermediate * hidden * dtype.bytes;
    }

    /** All experts' gate weights as one weight of E·intermediate rows (the kernels offset by expert). */
    CudaWeight gateWeight() {
        return new CudaWeight("experts.gate_proj", dtype, intermediate, hidden, gate, gateScales);
    }

    CudaWeight upWeight() {
        return new CudaWeight("experts.up_proj", dtype, intermediate, hidden, up, upScales);
    }

    CudaWeight downWeight() {
        return new CudaWeight("experts.down_proj", dtype, hidden, intermediate, down, downScales);
    }

    /** Expert e's gate, up or down weight alone. */
    CudaWeight expert(CudaWeight stacked, int e) {
        long scales = stacked.scales() == 0 ? 0 : stacked.scales() + 4L * e * stacked.rows();
        return new CudaWeight(stacked.name() + "[" + e + "]", dtype, stacked.rows(), stacked.cols(), stacked.ptr() + e * expertBytes(), scales);
    }

    @Override
    public long bytes() {
        long scales = dtype == DType.I8 ? 4L * numExperts * (2L * intermediate + hidden) : 0;
        return router.bytes() + 3L * numExperts * expertBytes() + scales;
    }
}
