package ai.jamba.kernels.cpu;

import ai.jamba.kernels.MambaState;

import java.util.ArrayList;
import java.util.List;

/**
 * Mamba state per slot on the heap. The conv state is kept [d_inner][d_conv - 1] (oldest input first); the SSM
 * state is kept state-major, [d_state][d_inner], so the scan can run SIMD lanes over channels. Slots are made on
 * first use.
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
            conv.add(new float[dInner * (dConv - 1)]);
            ssm.add(new float[dState * dInner]);
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
        System.arraycopy(c, 0, out, 0, c.length);
        for (int ch = 0; ch < dInner; ch++)
            for (int s = 0; s < dState; s++) out[c.length + ch * dState + s] = h[s * dInner + ch];
        return out;
    }

    @Override
    public void restore(int slot, float[] state) {
        if (state.length != exportSize())
            throw new IllegalArgumentException("Mamba state of " + state.length + " floats, expected " + exportSize());
        float[] c = conv(slot), h = ssm(slot);
        System.arraycopy(state, 0, c, 0, c.length);
        for (int ch = 0; ch < dInner; ch++)
            for (int s = 0; s < dState; s++) h[s * dInner + ch] = state[c.length + ch * dState + s];
    }

    @Override
    public void close() {
        conv.clear();
        ssm.clear();
    }
}
