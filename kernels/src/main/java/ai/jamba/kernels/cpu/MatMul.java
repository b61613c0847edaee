package ai.jamba.kernels.cpu;

import ai.jamba.kernels.DType;
import jdk.incubator.vector.FloatVector;

/**
 * out[t, n] = Σ_k x[t, k] · w[n, k] (+ bias[n]), with w in its checkpoint dtype widened to float32 in registers.
 *
 * <p>Threads split the weight rows, so every weight byte is read from memory once per call whatever the number of
 * token rows: a decode batch costs one pass over the weights. Within a thread, a panel of weight rows small
 * enough to stay in L2 meets every token row before the next panel is read, four token rows against four weight
 * rows at a time in registers (16 accumulators: each widened weight vector feeds four FMAs, each token vector
 * four). A lone token row takes a one-row tile instead of wasting three quarters of one.
 *
 * <p>Weights are read in blocks of {@link Simd#BLOCK} elements ({@link Simd#lo}, {@link Simd#hi}); x is packed once
 * per call into the lane order the blocks come in. Every output is one dot product accumulated the same way in
 * every tile — lane by lane along k, lo then hi of each block, then {@link Simd#sum}, then the k % BLOCK tail — so
 * a row's result does not depend on which rows share its call.
 */
final class MatMul {
    private MatMul() {}

    /** The register tile: token rows by weight rows. */
    static final int TILE_ROWS = 4, TILE_COLS = 4;
    /** Bytes of weight rows worked on while they are hot in the core's L2 (1 MiB on Zen 4, shared with x). */
    private static final int PANEL_BYTES = 256 << 10;

    static void run(Parallel pool, Scratch scratch, CpuMat x, CpuWeight w, CpuWeight bias, CpuMat out) {
        check(x, w, out);
        CpuMat packed = pack(scratch, x, w.dtype);
        float[] b = bias == null ? null : bias.floats();
        int n = w.rows, tiles = (n + TILE_COLS - 1) / TILE_COLS;
        pool.forRange(tiles, (long) TILE_COLS * w.cols * x.rows,
                (c0, c1) -> rows(x, packed, w, b, out, c0 * TILE_COLS, Math.min(n, c1 * TILE_COLS)));
    }

    /** Throws unless out = x · wᵀ has matching shapes. */
    static void check(CpuMat x, CpuWeight w, CpuMat out) {
        if (x.cols != w.cols) throw new IllegalArgumentException(w.name + ": input has " + x.cols + " features, weight expects " + w.cols);
        if (out.cols != w.rows || out.rows != x.rows)
            throw new IllegalArgumentException(w.name + ": output is " + out.rows + " x " + out.cols + ", expected " + x.rows + " x " + w.rows);
    }

    /** x's whole blocks in the lane order of {@code dtype}'s weight blocks (x itself where that is its own order). */
    static CpuMat pack(Scratch scratch, CpuMat x, DType dtype) {
        if (!Simd.interleaved(dtype)) return x;
        int n = x.cols - x.cols % Simd.BLOCK;
        CpuMat p = scratch.mat(Scratch.Use.MATMUL_INPUT, x.rows, n);
        for (int r = 0; r < x.rows; r++) Simd.deinterleave(x.data, x.at(r), p.data, p.at(r), n);
        return p;
    }

    /** Per thread: a tile's accumulators, spilled so they are finished outside the tile's loop (see {@link #finish}). */
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[TILE_ROWS * TILE_COLS * Simd.L]);

    /** Columns [n0, n1) of out (weight rows n0..n1-1) for every token row; {@code packed} is {@link #pack}(x). */
    static void rows(CpuMat x, CpuMat packed, CpuWeight w, float[] bias, CpuMat out, int n0, int n1) {
        float[] lanes = LANES.get();
        long rowBytes = (long) w.cols * w.dtype.bytes;
        int panel = (int) Math.max(TILE_COLS, PANEL_BYTES / rowBytes / TILE_COLS * TILE_COLS);
        for (int p0 = n0; p0 < n1; p0 += panel) {
            int p1 = Math.min(n1, p0 + panel);
            for (int t0 = 0; t0 < x.rows; t0 += TILE_ROWS) {
                boolean lone = x.rows - t0 == 1;
                for (int r = p0; r < p1; r += TILE_COLS) {
                    if (lone) oneRow(packed, t0, w, r, n1, lanes);
                    else tile(packed, t0, w, r, n1, lanes);
                    finish(lanes, lone ? 1 : TILE_ROWS, x, t0, w, r, n1, bias, out);
                }
            }
        }
    }

    /**
     * Accumulators of out[t0..t0+3, r..r+3] into {@code lanes}. Rows past the end of x or past {@code rEnd} are
     * clamped to the last one: they recompute a value the tile already has, bit for bit, so no lane needs a mask.
     */
    private static void tile(CpuMat xp, int t0, CpuWeight w, int r, int rEnd, float[] lanes) {
        var F = Simd.F;
        int k = w.cols, last = xp.rows - 1, upper = k - k % Simd.BLOCK, L = Simd.L;
        int t1 = Math.min(t0 + 1, last), t2 = Math.min(t0 + 2, last), t3 = Math.min(t0 + 3, last);
        int r1 = Math.min(r + 1, rEnd - 1), r2 = Math.min(r + 2, rEnd - 1), r3 = Math.min(r + 3, rEnd - 1);
        float[] xs = xp.data;
        int x0 = xp.at(t0), x1 = xp.at(t1), x2 = xp.at(t2), x3 = xp.at(t3);
        long w0 = (long) r * k, w1 = (long) r1 * k, w2 = (long) r2 * k, w3 = (long) r3 * k;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00,
                a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int kk = 0; kk < upper; kk += Simd.BLOCK) {
            for (int half = 0; half < 2; half++) { // lo then hi: the JIT unrolls this, keeping the order fixed
                int at = kk + half * L;
                FloatVector v0 = FloatVector.fromArray(F, xs, x0 + at), v1 = FloatVector.fromArray(F, xs, x1 + at),
                        v2 = FloatVector.fromArray(F, xs, x2 + at), v3 = FloatVector.fromArray(F, xs, x3 + at);
                FloatVector u = half == 0 ? Simd.lo(w, w0 + kk) : Simd.hi(w, w0 + kk);
                a00 = v0.fma(u, a00); a10 = v1.fma(u, a10); a20 = v2.fma(u, a20); a30 = v3.fma(u, a30);
                u = half == 0 ? Simd.lo(w, w1 + kk) : Simd.hi(w, w1 + kk);
                a01 = v0.fma(u, a01); a11 = v1.fma(u, a11); a21 = v2.fma(u, a21); a31 = v3.fma(u, a31);
                u = half == 0 ? Simd.lo(w, w2 + kk) : Simd.hi(w, w2 + kk);
                a02 = v0.fma(u, a02); a12 = v1.fma(u, a12); a22 = v2.fma(u, a22); a32 = v3.fma(u, a32);
                u = half == 0 ? Simd.lo(w, w3 + kk) : Simd.hi(w, w3 + kk);
                a03 = v0.fma(u, a03); a13 = v1.fma(u, a13); a23 = v2.fma(u, a23); a33 = v3.fma(u, a33);
            }
        }
        a00.intoArray(lanes, 0); a01.intoArray(lanes, L); a02.intoArray(lanes, 2 * L); a03.intoArray(lanes, 3 * L);
        a10.intoArray(lanes, 4 * L); a11.intoArray(lanes, 5 * L); a12.intoArray(lanes, 6 * L); a13.intoArray(lanes, 7 * L);
        a20.intoArray(lanes, 8 * L); a21.intoArray(lanes, 9 * L); a22.intoArray(lanes, 10 * L); a23.intoArray(lanes, 11 * L);
        a30.intoArray(lanes, 12 * L); a31.intoArray(lanes, 13 * L); a32.intoArray(lanes, 14 * L); a33.intoArray(lanes, 15 * L);
    }

    /** Accumulators of out[t, r..r+3] for one token row: the decode step of a single sequence, bound by reading w. */
    private static void oneRow(CpuMat xp, int t, CpuWeight w, int r, int rEnd, float[] lanes) {
        var F = Simd.F;
        int k = w.cols, upper = k - k % Simd.BLOCK, L = Simd.L;
        int r1 = Math.min(r + 1, rEnd - 1), r2 = Math.min(r + 2, rEnd - 1), r3 = Math.min(r + 3, rEnd - 1);
        float[] xs = xp.data;
        int x0 = xp.at(t);
        long w0 = (long) r * k, w1 = (long) r1 * k, w2 = (long) r2 * k, w3 = (long) r3 * k;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int kk = 0; kk < upper; kk += Simd.BLOCK) {
            FloatVector v = FloatVector.fromArray(F, xs, x0 + kk), vh = FloatVector.fromArray(F, xs, x0 + kk + L);
            a0 = vh.fma(Simd.hi(w, w0 + kk), v.fma(Simd.lo(w, w0 + kk), a0));
            a1 = vh.fma(Simd.hi(w, w1 + kk), v.fma(Simd.lo(w, w1 + kk), a1));
            a2 = vh.fma(Simd.hi(w, w2 + kk), v.fma(Simd.lo(w, w2 + kk), a2));
            a3 = vh.fma(Simd.hi(w, w3 + kk), v.fma(Simd.lo(w, w3 + kk), a3));
        }
        a0.intoArray(lanes, 0); a1.intoArray(lanes, L); a2.intoArray(lanes, 2 * L); a3.intoArray(lanes, 3 * L);
    }

    /**
     * Writes out[t0 + i, r + j] for the tile's {@code rows} x TILE_COLS accumulators in {@code lanes} (row-major):
     * lanes summed, the k % BLOCK tail added, the int8 row scale, the bias. Rows and columns are clamped as the tile
     * clamped them. A method of its own, so the tile's loop keeps the JIT's whole inlining budget.
     */
    private static void finish(float[] lanes, int rows, CpuMat x, int t0, CpuWeight w, int r, int rEnd, float[] bias, CpuMat out) {
        int k = w.cols, tail = k - k % Simd.BLOCK;
        float[] xs = x.data;
        for (int i = 0; i < rows; i++) {
            int t = Math.min(t0 + i, x.rows - 1), xa = x.at(t), oa = out.at(t);
            for (int j = 0; j < TILE_COLS; j++) {
                int row = Math.min(r + j, rEnd - 1);
                float s = Simd.sum(FloatVector.fromArray(Simd.F, lanes, (i * TILE_COLS + j) * Simd.L));
                long wa = (long) row * k;
                for (int kk = tail; kk < k; kk++) s += xs[xa + kk] * w.raw(wa + kk);
                if (w.scales != null) s *= w.scales[row];
                if (bias != null) s += bias[row];
                out.data[oa + row] = s;
            }
        }
    }
}
