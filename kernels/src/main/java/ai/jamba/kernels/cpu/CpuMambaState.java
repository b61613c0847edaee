package ai.jamba.kernels.cpu;

import ai.jamba.kernels.MambaState;

import java.util.ArrayList;
import java.util.List;

/**
 * Mamba state per slot on the heap, laid out so the kernels run SIMD lanes over channels: the conv state is kept
 * tap-major, [d_conv - 1][d_inner] (oldest input first), the SSM state block-major, [d_inner / L][d_state][L] (L
 * channels, a vector, per block; the last block padded), so the scan reads a block's whole state as one run: between
 * two steps of a layer the model streams all the other weights, and a state read in 16 strided rows came back from
 * memory at a third of the speed. Exports use the interface's channel-major layouts. Slots are made on first use.
 */
final class CpuMambaState implements MambaState {
    private final int dInner, dConv, dState;
    private final List<float[]> conv = new ArrayList<>();
    private final List<float[]> ssm = new ArrayList<>();

    CpuMambaState(int dInner, int dConv, int dState) {
        if (dInner <= 0 || dConv < 1 || dState <= 0)
            throw new IllegalArgumentException("bad Mamba state shape: d_inner " + dInner + ", d_conv " + dConv + ", d_state " + dState);
        this.dInner = dInner;
        this.dConv = dConv;
        this.dState = dState;
    }

    float[] conv(int slot) {
        grow(slot);
        return conv.get(slot);
    }

    float[] ssm(int slot) {
        grow(slot);
        return ssm.get(slot);
    }

    private void grow(int slot) {
        if (slot < 0) throw new IllegalArgumentException("negative slot " + slot);
        while (conv.size() <= slot) {
            conv.add(new float[(dConv - 1) * dInner]);
            ssm.add(new float[(dInner + Simd.L - 1) / Simd.L * dState * Simd.L]);
        }
    }

    @Override public int dInner() { return dInner; }

    @Override public int dConv() { return dConv; }

    @Override public int dState() { return dState; }

    @Override
    public void reset(int slot) {
        java.util.Arrays.fill(conv(slot), 0f);
        java.util.Arrays.fill(ssm(slot), 0f);
    }

    @Override
    public float[] export(int slot) {
        float[] c = conv(slot), h = ssm(slot);
        float[] out = new float[exportSize()];
        transpose(c, dConv - 1, dInner, out, 0);
        for (int ch = 0; ch < dInner; ch++) for (int s = 0; s < dState; s++) out[c.length + ch * dState + s] = h[ssmIndex(dState, ch, s)];
        return out;
    }

    @Override
    public void restore(int slot, float[] state) {
        if (state.length != exportSize())
            throw new IllegalArgumentException("Mamba state of " + state.length + " floats, expected " + exportSize());
        float[] c = conv(slot), h = ssm(slot);
        untranspose(state, 0, dConv - 1, dInner, c);
        for (int ch = 0; ch < dInner; ch++) for (int s = 0; s < dState; s++) h[ssmIndex(dState, ch, s)] = state[c.length + ch * dState + s];
    }

    /** Where state s of channel ch is in the block-major SSM state (and in the scan's A, laid out alike). */
    static int ssmIndex(int dState, int ch, int s) {
        return (ch / Simd.L * dState + s) * Simd.L + ch % Simd.L;
    }

    /** src [rows][cols] into dst at {@code at} as [cols][rows]. */
    private static void transpose(float[] src, int rows, int cols, float[] dst, int at) {
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) dst[at + c * rows + r] = src[r * cols + c];
    }

    /** src at {@code at}, [cols][rows], into dst as [rows][cols]. */
    private static void untranspose(float[] src, int at, int rows, int cols, float[] dst) {
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) dst[r * cols + c] = src[at + c * rows + r];
    }

    @Override
    public void close() {
        conv.clear();
        ssm.clear();
    }
}
