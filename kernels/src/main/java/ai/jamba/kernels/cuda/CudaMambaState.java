package ai.jamba.kernels.cuda;

import ai.jamba.kernels.MambaState;

import java.lang.foreign.MemorySegment;

/**
 * Mamba state of one layer in device memory for every slot: conv [slot][d_inner][d_conv - 1] (oldest input
 * first) and SSM [slot][d_inner][d_state], the export layout, so export and restore are plain copies. Room for
 * the planned slots is made up front; more are made by doubling (which moves the buffers: captured decode graphs
 * notice and capture again).
 */
final class CudaMambaState implements MambaState {
    private final Device device;
    private final int dInner, dConv, dState;
    private long conv, ssm;
    private int capacity;

    CudaMambaState(Device device, int dInner, int dConv, int dState, int slots) {
        if (dInner <= 0 || dConv < 1 || dState <= 0)
            throw new IllegalArgumentException("bad Mamba state shape: d_inner " + dInner + ", d_conv " + dConv + ", d_state " + dState);
        if (dState > 32) throw new IllegalArgumentException("the CUDA scan supports d_state up to 32, got " + dState);
        this.device = device;
        this.dInner = dInner;
        this.dConv = dConv;
        this.dState = dState;
        if (slots > 0) ensure(slots - 1);
    }

    long convBytes() {
        return 4L * dInner * (dConv - 1);
    }

    long ssmBytes() {
        return 4L * dInner * dState;
    }

    /** Makes room for slots [0, slot] (new slots zeroed); returns {conv, ssm} base pointers. */
    long[] ensure(int slot) {
        if (slot < 0) throw new IllegalArgumentException("negative slot " + slot);
        if (slot >= capacity) {
            int cap = Math.max(slot + 1, Math.max(4, 2 * capacity));
            long c = device.alloc(Math.max(4, cap * convBytes()), "Mamba conv state");
            long s = device.alloc(cap * ssmBytes(), "Mamba SSM state");
            device.zero(c, cap * convBytes());
            device.zero(s, cap * ssmBytes());
            if (capacity > 0) {
                device.copy(c, conv, capacity * convBytes());
                device.copy(s, ssm, capacity * ssmBytes());
                device.free(conv);
                device.free(ssm);
            }
            conv = c;
            ssm = s;
            capacity = cap;
        }
        return new long[]{conv, ssm};
    }

    long conv() {
        return conv;
    }

    long ssm() {
        return ssm;
    }

    @Override public int dInner() { return dInner; }

    @Override public int dConv() { return dConv; }

    @Override public int dState() { return dState; }

    @Override
    public void reset(int slot) {
        ensure(slot);
        device.zero(conv + slot * convBytes(), convBytes());
        device.zero(ssm + slot * ssmBytes(), ssmBytes());
    }

    @Override
    public float[] export(int slot) {
        ensure(slot);
        float[] out = new float[exportSize()];
        int convFloats = (int) (convBytes() / 4);
        MemorySegment all = MemorySegment.ofArray(out);
        device.download(conv + slot * convBytes(), all.asSlice(0, convBytes()));
        device.download(ssm + slot * ssmBytes(), all.asSlice(4L * convFloats, ssmBytes()));
        return out;
    }

    @Override
    public void restore(int slot, float[] state) {
        if (state.length != exportSize())
            throw new IllegalArgumentException("Mamba state of " + state.length + " floats, expected " + exportSize());
        ensure(slot);
        MemorySegment all = MemorySegment.ofArray(state);
        device.upload(all.asSlice(0, convBytes()), conv + slot * convBytes());
        device.upload(all.asSlice(convBytes(), ssmBytes()), ssm + slot * ssmBytes());
    }

    @Override
    public void close() {
        if (capacity > 0) {
            device.free(conv);
            device.free(ssm);
            capacity = 0;
        }
    }
}
