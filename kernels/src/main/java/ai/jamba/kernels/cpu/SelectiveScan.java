package ai.jamba.kernels.cpu;

import ai.jamba.kernels.Batch;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The selective scan (Mamba's S6) with the D skip and the silu(z) gate, per sequence, token by token from the
 * slot's SSM state. SIMD lanes run over channels: a block of L channels keeps its d_state rows of h in a small
 * buffer while the tokens stream past, and B[t, s], C[t, s] are shared by every channel.
 */
final class SelectiveScan {
    private SelectiveScan() {}

    static void run(Parallel pool, CpuMambaState state, Batch batch, CpuMat u, CpuMat dt, CpuWeight aLog,
                    CpuMat b, CpuMat c, CpuWeight d, CpuMat z, CpuMat out) {
        int dInner = state.dInner(), dState = state.dState();
        if (aLog.rows != dInner || aLog.cols != dState)
            throw new IllegalArgumentException(aLog.name + ": A_log is " + aLog.rows + " x " + aLog.cols + ", expected " + dInner + " x " + dState);
        if (b.cols != dState || c.cols != dState)
            throw new IllegalArgumentException("B and C need d_state " + dState + " columns, got " + b.cols + " and " + c.cols);
        float[] a = stateMajorA(aLog, dInner, dState);
        float[] dSkip = d.floats();
        int blocks = (dInner + Simd.L - 1) / Simd.L;
        for (int i = 0; i < batch.sequences(); i++) {
            int start = batch.rowStart()[i], count = batch.rowCount()[i];
            float[] h = state.ssm(batch.slots()[i]);
            pool.forRange(blocks, (long) count * dState * Simd.L * 8, (b0, b1) -> {
                for (int blk = b0; blk < b1; blk++) {
                    int c0 = blk * Simd.L;
                    if (c0 + Simd.L <= dInner) vectorBlock(c0, start, count, dInner, dState, a, dSkip, h, u, dt, b, c, z, out);
                    else for (int ch = c0; ch < dInner; ch++) scalarChannel(ch, start, count, dInner, dState, a, dSkip, h, u, dt, b, c, z, out);
                }
            });
        }
    }

    /** A = -exp(A_log), laid out [d_state][d_inner] to match the state; computed once per weight. */
    private static float[] stateMajorA(CpuWeight aLog, int dInner, int dState) {
        float[] src = aLog.floats();
        return aLog.derive("scanA", () -> {
            float[] a = new float[dState * dInner];
            for (int ch = 0; ch < dInner; ch++)
                for (int s = 0; s < dState; s++) a[s * dInner + ch] = (float) -Math.exp(src[ch * dState + s]);
            return a;
        });
    }

    private static void vectorBlock(int c0, int start, int count, int dInner, int dState, float[] a, float[] dSkip,
                                    float[] h, CpuMat u, CpuMat dt, CpuMat b, CpuMat c, CpuMat z, CpuMat out) {
        var F = Simd.F;
        FloatVector dv = FloatVector.fromArray(F, dSkip, c0);
        FloatVector one = FloatVector.broadcast(F, 1f), twenty = FloatVector.broadcast(F, 20f);
        for (int t = start; t < start + count; t++) {
            FloatVector raw = FloatVector.fromArray(F, dt.data, dt.at(t) + c0);
            // softplus with torch's threshold: x > 20 passes through
            FloatVector delta = raw.lanewise(VectorOperators.EXP).lanewise(VectorOperators.LOG1P)
                    .blend(raw, raw.compare(VectorOperators.GT, twenty));
            FloatVector uv = FloatVector.fromArray(F, u.data, u.at(t) + c0);
            FloatVector du = delta.mul(uv);
            FloatVector y = FloatVector.zero(F);
            int bRow = b.at(t), cRow = c.at(t);
            for (int s = 0; s < dState; s++) {
                int at = s * dInner + c0;
                FloatVector decay = delta.mul(FloatVector.fromArray(F, a, at)).lanewise(VectorOperators.EXP);
                FloatVector hs = decay.mul(FloatVector.fromArray(F, h, at)).add(du.mul(b.data[bRow + s]));
                hs.intoArray(h, at);
                y = hs.fma(FloatVector.broadcast(F, c.data[cRow + s]), y);
            }
            y = uv.fma(dv, y);
            FloatVector zv = FloatVector.fromArray(F, z.data, z.at(t) + c0);
            FloatVector gate = zv.div(one.add(zv.neg().lanewise(VectorOperators.EXP)));
            y.mul(gate).intoArray(out.data, out.at(t) + c0);
        }
    }

    private static void scalarChannel(int ch, int start, int count, int dInner, int dState, float[] a, float[] dSkip,
                                      float[] h, CpuMat u, CpuMat dt, CpuMat b, CpuMat c, CpuMat z, CpuMat out) {
        for (int t = start; t < start + count; t++) {
            float delta = Simd.softplus(dt.data[dt.at(t) + ch]);
            float uv = u.data[u.at(t) + ch];
            float y = 0;
            for (int s = 0; s < dState; s++) {
                int at = s * dInner + ch;
                float hs = (float) Math.exp(delta * a[at]) * h[at] + delta * uv * b.data[b.at(t) + s];
                h[at] = hs;
                y += hs * c.data[c.at(t) + s];
            }
            y += uv * dSkip[ch];
            out.data[out.at(t) + ch] = y * Simd.silu(z.data[z.at(t) + ch]);
        }
    }
}
