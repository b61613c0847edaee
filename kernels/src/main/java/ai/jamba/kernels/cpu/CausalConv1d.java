package ai.jamba.kernels.cpu;

import ai.jamba.kernels.Batch;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Mamba's depthwise causal conv1d with SiLU, per sequence, continuing from the slot's last d_conv - 1 inputs
 * (zeros for a new sequence, which is what transformers' left padding gives a fresh prompt). SIMD lanes run over
 * channels, which is how x's rows and the (tap-major) conv state are laid out; one parallel region covers every
 * sequence of the batch.
 */
final class CausalConv1d {
    private CausalConv1d() {}

    static void run(Parallel pool, CpuMambaState state, Batch batch, CpuMat x, CpuWeight w, CpuWeight bias, CpuMat out) {
        int dInner = state.dInner(), dConv = state.dConv();
        if (w.rows != dInner || w.cols != dConv)
            throw new IllegalArgumentException(w.name + ": conv weight is " + w.rows + " x " + w.cols + ", expected " + dInner + " x " + dConv);
        float[] taps = tapMajor(w, dInner, dConv);
        float[] b = bias == null ? new float[dInner] : bias.floats();
        for (int slot : batch.slots()) state.conv(slot); // makes new slots here: the workers only read the list
        int blocks = (dInner + Simd.L - 1) / Simd.L;
        pool.forRange(blocks, (long) batch.rows() * dConv * Simd.L, (b0, b1) -> {
            for (int blk = b0; blk < b1; blk++)
                for (int i = 0; i < batch.sequences(); i++)
                    block(blk * Simd.L, state.conv(batch.slots()[i]), batch.rowStart()[i], batch.rowCount()[i], dInner, dConv, taps, b, x, out);
        });
    }

    /** The conv weight [d_inner][d_conv] as [d_conv][d_inner], so a tap's weights for L channels are one vector. */
    private static float[] tapMajor(CpuWeight w, int dInner, int dConv) {
        float[] src = w.floats();
        return w.derive("convTaps", () -> {
            float[] t = new float[dConv * dInner];
            for (int c = 0; c < dInner; c++) for (int k = 0; k < dConv; k++) t[k * dInner + c] = src[c * dConv + k];
            return t;
        });
    }

    /** Channels [c0, c0 + L) of one sequence's rows, then its conv state moved on past them. */
    private static void block(int c0, float[] st, int start, int count, int dInner, int dConv, float[] taps, float[] bias,
                              CpuMat x, CpuMat out) {
        var F = Simd.F;
        int keep = dConv - 1;
        VectorMask<Float> m = F.indexInRange(c0, dInner);
        FloatVector b = FloatVector.fromArray(F, bias, c0, m);
        for (int t = 0; t < count; t++) {
            FloatVector acc = b;
            for (int k = 0; k < dConv; k++) {
                int j = t + k - keep; // input position: negative ones are the state's, oldest first
                FloatVector in = j < 0 ? FloatVector.fromArray(F, st, (keep + j) * dInner + c0, m)
                        : FloatVector.fromArray(F, x.data, x.at(start + j) + c0, m);
                acc = acc.add(FloatVector.fromArray(F, taps, k * dInner + c0, m).mul(in));
            }
            Simd.silu(acc).intoArray(out.data, out.at(start + t) + c0, m);
        }
        for (int j = 0; j < keep; j++) { // the last keep inputs, oldest first; reads run ahead of writes
            int from = j + count - keep;
            FloatVector v = from < 0 ? FloatVector.fromArray(F, st, (j + count) * dInner + c0, m)
                    : FloatVector.fromArray(F, x.data, x.at(start + from) + c0, m);
            v.intoArray(st, j * dInner + c0, m);
        }
    }
}
