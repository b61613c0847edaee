package ai.jamba.kernels.cpu;

import ai.jamba.kernels.Batch;

/**
 * Mamba's depthwise causal conv1d with SiLU, per sequence, continuing from the slot's last d_conv - 1 inputs
 * (zeros for a new sequence, which is what transformers' left padding gives a fresh prompt).
 */
final class CausalConv1d {
    private CausalConv1d() {}

    static void run(Parallel pool, CpuMambaState state, Batch batch, CpuMat x, CpuWeight w, CpuWeight bias, CpuMat out) {
        int dInner = state.dInner(), dConv = state.dConv(), keep = dConv - 1;
        if (w.rows != dInner || w.cols != dConv)
            throw new IllegalArgumentException(w.name + ": conv weight is " + w.rows + " x " + w.cols + ", expected " + dInner + " x " + dConv);
        float[] wf = w.floats();
        float[] bf = bias == null ? null : bias.floats();
        for (int i = 0; i < batch.sequences(); i++) {
            int start = batch.rowStart()[i], count = batch.rowCount()[i];
            float[] st = state.conv(batch.slots()[i]);
            pool.forRange(dInner, (long) count * dConv, (c0, c1) -> {
                float[] window = new float[keep + count];
                for (int c = c0; c < c1; c++) {
                    System.arraycopy(st, c * keep, window, 0, keep);
                    for (int t = 0; t < count; t++) window[keep + t] = x.data[x.at(start + t) + c];
                    float b = bf == null ? 0f : bf[c];
                    for (int t = 0; t < count; t++) {
                        float acc = b;
                        for (int k = 0; k < dConv; k++) acc += wf[c * dConv + k] * window[t + k];
                        out.data[out.at(start + t) + c] = Simd.silu(acc);
                    }
                    System.arraycopy(window, count, st, c * keep, keep);
                }
            });
        }
    }
}
