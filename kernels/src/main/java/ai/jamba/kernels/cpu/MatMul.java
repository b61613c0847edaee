package ai.jamba.kernels.cpu;

import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

/**
 * out[t, n] = Σ_k x[t, k] · w[n, k] (+ bias[n]), with w in its checkpoint dtype widened to float32 in registers.
 * Work is split over output features n, so each weight row is read from memory once per call and reused from
 * cache for every token row: a decode batch costs one pass over the weights. Each dot product accumulates in
 * the same order whatever the number of rows, so a row's result does not depend on its batch.
 */
final class MatMul {
    private MatMul() {}

    /** Token rows dotted against one weight row at a time. */
    private static final int TILE = 4;

    static void run(Parallel pool, CpuMat x, CpuWeight w, CpuWeight bias, CpuMat out) {
        int n = w.rows, k = w.cols, t = x.rows;
        if (x.cols != k) throw new IllegalArgumentException(w.name + ": input has " + x.cols + " features, weight expects " + k);
        if (out.cols != n || out.rows != t)
            throw new IllegalArgumentException(w.name + ": output is " + out.rows + " x " + out.cols + ", expected " + t + " x " + n);
        float[] b = bias == null ? null : bias.floats();
        int grain = Math.max(1, (1 << 14) / Math.max(1, k * Math.min(t, 8)));
        pool.forRange(n, grain, (n0, n1) -> {
            for (int row = n0; row < n1; row++) {
                float add = b == null ? 0f : b[row];
                for (int t0 = 0; t0 < t; t0 += TILE) {
                    int tiles = Math.min(TILE, t - t0);
                    dot(x, t0, tiles, w, row, out, add);
                }
            }
        });
    }

    /** out[t0 + i, row] for i < count (count ≤ TILE). */
    private static void dot(CpuMat x, int t0, int count, CpuWeight w, int row, CpuMat out, float add) {
        int k = w.cols;
        float[] xs = x.data;
        int x0 = x.at(t0), x1 = x.at(Math.min(t0 + 1, x.rows - 1)), x2 = x.at(Math.min(t0 + 2, x.rows - 1)), x3 = x.at(Math.min(t0 + 3, x.rows - 1));
        FloatVector a0 = FloatVector.zero(Simd.F), a1 = a0, a2 = a0, a3 = a0;
        MemorySegment seg = w.data;
        long base = (long) row * k;
        int upper = k - k % Simd.L;
        int kk = 0;
        switch (w.dtype) {
            case BF16 -> {
                for (; kk < upper; kk += Simd.L) {
                    FloatVector wv = Simd.bf16(seg, (base + kk) * 2);
                    a0 = FloatVector.fromArray(Simd.F, xs, x0 + kk).fma(wv, a0);
                    if (count > 1) a1 = FloatVector.fromArray(Simd.F, xs, x1 + kk).fma(wv, a1);
                    if (count > 2) a2 = FloatVector.fromArray(Simd.F, xs, x2 + kk).fma(wv, a2);
                    if (count > 3) a3 = FloatVector.fromArray(Simd.F, xs, x3 + kk).fma(wv, a3);
                }
            }
            case F32 -> {
                for (; kk < upper; kk += Simd.L) {
                    FloatVector wv = Simd.f32(seg, (base + kk) * 4);
                    a0 = FloatVector.fromArray(Simd.F, xs, x0 + kk).fma(wv, a0);
                    if (count > 1) a1 = FloatVector.fromArray(Simd.F, xs, x1 + kk).fma(wv, a1);
                    if (count > 2) a2 = FloatVector.fromArray(Simd.F, xs, x2 + kk).fma(wv, a2);
                    if (count > 3) a3 = FloatVector.fromArray(Simd.F, xs, x3 + kk).fma(wv, a3);
                }
            }
            case I8 -> {
                for (; kk < upper; kk += Simd.L) {
                    FloatVector wv = Simd.i8(seg, base + kk);
                    a0 = FloatVector.fromArray(Simd.F, xs, x0 + kk).fma(wv, a0);
                    if (count > 1) a1 = FloatVector.fromArray(Simd.F, xs, x1 + kk).fma(wv, a1);
                    if (count > 2) a2 = FloatVector.fromArray(Simd.F, xs, x2 + kk).fma(wv, a2);
                    if (count > 3) a3 = FloatVector.fromArray(Simd.F, xs, x3 + kk).fma(wv, a3);
                }
            }
            case F16 -> kk = 0; // no vector widening of f16 in the Vector API: the scalar loop below does it all
        }
        float s0 = Simd.sum(a0), s1 = Simd.sum(a1), s2 = Simd.sum(a2), s3 = Simd.sum(a3);
        for (; kk < k; kk++) {
            float wv = w.raw(base + kk);
            s0 += xs[x0 + kk] * wv;
            if (count > 1) s1 += xs[x1 + kk] * wv;
            if (count > 2) s2 += xs[x2 + kk] * wv;
            if (count > 3) s3 += xs[x3 + kk] * wv;
        }
        float scale = w.scales == null ? 1f : w.scales[row];
        float[] o = out.data;
        o[out.at(t0) + row] = s0 * scale + add;
        if (count > 1) o[out.at(t0 + 1) + row] = s1 * scale + add;
        if (count > 2) o[out.at(t0 + 2) + row] = s2 * scale + add;
        if (count > 3) o[out.at(t0 + 3) + row] = s3 * scale + add;
    }
}
