package ai.jamba.kernels.cpu;

import ai.jamba.kernels.Batch;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * The selective scan (Mamba's S6) with the D skip and the silu(z) gate, per sequence, token by token from the
 * slot's SSM state. SIMD lanes run over channels: a block of L channels updates its d_state x L state in place (one
 * run of memory, which stays in L1) while the tokens stream past, and B[t, s], C[t, s] are shared by every channel.
 * Δ = softplus(dt) and the gate silu(z) are lane functions of one element each: a first pass computes them for every
 * row, so the recurrence (one exp per state) compiles small. Each pass is one parallel region over the whole batch.
 */
final class SelectiveScan {
    private SelectiveScan() {}

    static void run(Parallel pool, Scratch scratch, CpuMambaState state, Batch batch, CpuMat u, CpuMat dt, CpuWeight aLog,
                    CpuMat b, CpuMat c, CpuWeight d, CpuMat z, CpuMat out) {
        int dInner = state.dInner(), dState = state.dState();
        if (aLog.rows != dInner || aLog.cols != dState)
            throw new IllegalArgumentException(aLog.name + ": A_log is " + aLog.rows + " x " + aLog.cols + ", expected " + dInner + " x " + dState);
        if (b.cols != dState || c.cols != dState)
            throw new IllegalArgumentException("B and C need d_state " + dState + " columns, got " + b.cols + " and " + c.cols);
        float[] a = blockMajorA(aLog, dInner, dState);
        float[] dSkip = d.floats();
        int rows = batch.rows();
        CpuMat delta = scratch.mat(Scratch.Use.SCAN_DELTA, rows, dInner), gate = scratch.mat(Scratch.Use.SCAN_GATE, rows, dInner);
        pool.forRange(rows, 40L * dInner, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                Simd.softplus(dt.data, dt.at(r), delta.data, delta.at(r), dInner);
                Simd.silu(z.data, z.at(r), gate.data, gate.at(r), dInner);
            }
        });
        for (int slot : batch.slots()) state.ssm(slot); // makes new slots here: the workers only read the list
        int blocks = (dInner + Simd.L - 1) / Simd.L, sequences = batch.sequences();
        long work = (long) rows / sequences * dState * Simd.L * 8;
        pool.forRange(sequences * blocks, work, (i0, i1) -> {
            for (int item = i0; item < i1; item++) {
                int i = item / blocks, c0 = item % blocks * Simd.L;
                block(c0, state.ssm(batch.slots()[i]), batch.rowStart()[i], batch.rowCount()[i], dInner, dState, a, dSkip, u, delta, b, c, gate, out);
            }
        });
    }

    /** A = -exp(A_log), laid out block-major like the state ({@link CpuMambaState#ssmIndex}); computed once per weight. */
    private static float[] blockMajorA(CpuWeight aLog, int dInner, int dState) {
        float[] src = aLog.floats();
        return aLog.derive("scanA", () -> {
            float[] a = new float[(dInner + Simd.L - 1) / Simd.L * dState * Simd.L];
            for (int ch = 0; ch < dInner; ch++)
                for (int s = 0; s < dState; s++) a[CpuMambaState.ssmIndex(dState, ch, s)] = (float) -Math.exp(src[ch * dState + s]);
            return a;
        });
    }

    /** Channels [c0, c0 + L) of one sequence's rows (masked past d_inner), from Δ and the gate computed already. */
    private static void block(int c0, float[] h, int start, int count, int dInner, int dState, float[] a, float[] dSkip,
                              CpuMat u, CpuMat delta, CpuMat b, CpuMat c, CpuMat gate, CpuMat out) {
        var F = Simd.F;
        VectorMask<Float> m = F.indexInRange(c0, dInner);
        FloatVector dv = FloatVector.fromArray(F, dSkip, c0, m);
        for (int t = start; t < start + count; t++) {
            FloatVector dl = FloatVector.fromArray(F, delta.data, delta.at(t) + c0, m);
            FloatVector uv = FloatVector.fromArray(F, u.data, u.at(t) + c0, m);
            FloatVector du = dl.mul(uv);
            FloatVector y = FloatVector.zero(F);
            int bRow = b.at(t), cRow = c.at(t);
            for (int s = 0; s < dState; s++) {
                int at = (c0 / Simd.L * dState + s) * Simd.L; // CpuMambaState.ssmIndex(dState, c0, s)
                FloatVector decay = Simd.exp(dl.mul(FloatVector.fromArray(F, a, at, m)));
                FloatVector hs = decay.mul(FloatVector.fromArray(F, h, at, m)).add(du.mul(b.data[bRow + s]));
                hs.intoArray(h, at, m);
                y = hs.fma(FloatVector.broadcast(F, c.data[cRow + s]), y);
            }
            y = uv.fma(dv, y);
            y.mul(FloatVector.fromArray(F, gate.data, gate.at(t) + c0, m)).intoArray(out.data, out.at(t) + c0, m);
        }
    }
}
