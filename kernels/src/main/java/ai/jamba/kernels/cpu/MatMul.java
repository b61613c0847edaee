package ai.jamba.kernels.cpu;

import ai.jamba.kernels.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * out[t, n] = Σ_k x[t, k] · w[n, k] (+ bias[n]), with w in its checkpoint dtype widened to float32 in registers.
 *
 * <p>Threads split the weight rows, so every weight byte is read from memory once per call whatever the number of
 * token rows: a decode batch costs one pass over the weights. bf16 weights, what real checkpoints hold, take
 * register tiles: within a thread, a panel of weight rows small enough to stay in L2 meets every token row before
 * the next panel is read, four token rows against four weight rows at a time (16 accumulators: each widened
 * weight vector feeds four FMAs, each token vector four); a lone token row takes a tile of eight weight rows
 * (eight streams from memory at once read faster than four here, and that is all a decode step waits for).
 * Other dtypes (float32 fixtures, f16, int8 experts), and rows shorter than one block, take one dot product at a time.
 *
 * <p>A bf16 block of {@link Simd#BLOCK} weights is one load of L ints, each an even element in its low half and
 * the next odd one in its high half: a shift makes float32s of the evens, a mask of the odds — no conversion
 * instruction, one load per 2L weights. x is packed once per call to match ({@link #pack}: each block's even
 * elements, then its odd ones).
 *
 * <p>Every output is one dot product accumulated the same way whichever tile computes it — lane by lane along k,
 * evens then odds of each block, then {@link Simd#sum}, then the tail past the last whole block — so a row's
 * result does not depend on which rows share its call.
 *
 * <p>The tile kernels are written out flat, Vector API calls only: the JIT stops inlining in a method that grows
 * past its budget (or nests too deep), and a Vector API call it does not inline allocates a vector object per
 * operation, which costs ten times the arithmetic. A helper method per load looked tidier and ran 3x slower.
 */
final class MatMul {
    private MatMul() {}

    /** The bf16 register tiles: token rows by weight rows. */
    static final int TILE_ROWS = 4, TILE_COLS = 4, LONE_COLS = 8;
    /** Weight rows are handed out to threads (and panels cut) in multiples of this, so tiles never straddle them. */
    static final int UNIT = LONE_COLS;
    /** Bytes of weight rows worked on while they are hot in the core's L2 (1 MiB on Zen 4, shared with x). */
    private static final int PANEL_BYTES = 256 << 10;

    static void run(Parallel pool, Scratch scratch, CpuMat x, CpuWeight w, CpuWeight bias, CpuMat out) {
        check(x, w, out);
        CpuMat packed = pack(scratch, x, w);
        float[] b = bias == null ? null : bias.floats();
        int n = w.rows, units = (n + UNIT - 1) / UNIT;
        pool.forRange(units, (long) UNIT * w.cols * x.rows, (c0, c1) -> rows(x, packed, w, b, out, c0 * UNIT, Math.min(n, c1 * UNIT)));
    }

    /** Throws unless out = x · wᵀ has matching shapes. */
    static void check(CpuMat x, CpuWeight w, CpuMat out) {
        if (x.cols != w.cols) throw new IllegalArgumentException(w.name + ": input has " + x.cols + " features, weight expects " + w.cols);
        if (out.cols != w.rows || out.rows != x.rows)
            throw new IllegalArgumentException(w.name + ": output is " + out.rows + " x " + out.cols + ", expected " + x.rows + " x " + w.rows);
    }

    /** Whether w takes the bf16 tiles: bf16 with at least one whole block per row (else one dot product at a time). */
    private static boolean tiled(CpuWeight w) {
        return w.dtype == DType.BF16 && w.cols >= Simd.BLOCK;
    }

    /** For weights that take the tiles, x's whole blocks in block lane order (see {@link Simd#deinterleave}); else x. */
    static CpuMat pack(Scratch scratch, CpuMat x, CpuWeight w) {
        if (!tiled(w)) return x;
        int n = x.cols - x.cols % Simd.BLOCK;
        CpuMat p = scratch.mat(Scratch.Use.MATMUL_INPUT, x.rows, n);
        for (int r = 0; r < x.rows; r++) Simd.deinterleave(x.data, x.at(r), p.data, p.at(r), n);
        return p;
    }

    /** Per thread: a tile's accumulators, spilled so they are finished outside the tile's loop (see {@link #finish}). */
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[TILE_ROWS * TILE_COLS * Simd.L]);

    /** Columns [n0, n1) of out (weight rows n0..n1-1) for every token row; {@code packed} is {@link #pack}(x). */
    static void rows(CpuMat x, CpuMat packed, CpuWeight w, float[] bias, CpuMat out, int n0, int n1) {
        if (!tiled(w)) {
            for (int t = 0; t < x.rows; t++) for (int r = n0; r < n1; r++) out.data[out.at(t) + r] = dot(x, t, w, r, bias);
            return;
        }
        float[] lanes = LANES.get();
        int panel = Math.max(UNIT, PANEL_BYTES / (2 * w.cols) / UNIT * UNIT);
        for (int p0 = n0; p0 < n1; p0 += panel) {
            int p1 = Math.min(n1, p0 + panel);
            for (int t0 = 0; t0 < x.rows; t0 += TILE_ROWS) {
                if (x.rows - t0 == 1) {
                    for (int r = p0; r < p1; r += LONE_COLS) {
                        oneRow(packed, t0, w, r, n1, lanes);
                        finish(lanes, 1, LONE_COLS, x, t0, w, r, n1, bias, out);
                    }
                } else {
                    for (int r = p0; r < p1; r += TILE_COLS) {
                        tile(packed, t0, w, r, n1, lanes);
                        finish(lanes, TILE_ROWS, TILE_COLS, x, t0, w, r, n1, bias, out);
                    }
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
        float[] xs = xp.data;
        int x0 = xp.at(t0), x1 = xp.at(t1), x2 = xp.at(t2), x3 = xp.at(t3);
        long w0 = (long) r * k, w1 = (long) Math.min(r + 1, rEnd - 1) * k, w2 = (long) Math.min(r + 2, rEnd - 1) * k,
                w3 = (long) Math.min(r + 3, rEnd - 1) * k;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00,
                a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        var I = Simd.I;
        var LE = Simd.LE;
        MemorySegment seg = w.data;
        w0 *= 2; w1 *= 2; w2 *= 2; w3 *= 2; // byte offsets
        for (int kk = 0; kk < upper; kk += Simd.BLOCK) {
            long o = 2L * kk;
            IntVector p0 = IntVector.fromMemorySegment(I, seg, w0 + o, LE), p1 = IntVector.fromMemorySegment(I, seg, w1 + o, LE),
                    p2 = IntVector.fromMemorySegment(I, seg, w2 + o, LE), p3 = IntVector.fromMemorySegment(I, seg, w3 + o, LE);
            FloatVector v0 = FloatVector.fromArray(F, xs, x0 + kk), v1 = FloatVector.fromArray(F, xs, x1 + kk),
                    v2 = FloatVector.fromArray(F, xs, x2 + kk), v3 = FloatVector.fromArray(F, xs, x3 + kk);
            FloatVector u = p0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            a00 = v0.fma(u, a00); a10 = v1.fma(u, a10); a20 = v2.fma(u, a20); a30 = v3.fma(u, a30);
            u = p1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            a01 = v0.fma(u, a01); a11 = v1.fma(u, a11); a21 = v2.fma(u, a21); a31 = v3.fma(u, a31);
            u = p2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            a02 = v0.fma(u, a02); a12 = v1.fma(u, a12); a22 = v2.fma(u, a22); a32 = v3.fma(u, a32);
            u = p3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            a03 = v0.fma(u, a03); a13 = v1.fma(u, a13); a23 = v2.fma(u, a23); a33 = v3.fma(u, a33);
            v0 = FloatVector.fromArray(F, xs, x0 + kk + L); v1 = FloatVector.fromArray(F, xs, x1 + kk + L);
            v2 = FloatVector.fromArray(F, xs, x2 + kk + L); v3 = FloatVector.fromArray(F, xs, x3 + kk + L);
            u = p0.and(0xFFFF0000).reinterpretAsFloats();
            a00 = v0.fma(u, a00); a10 = v1.fma(u, a10); a20 = v2.fma(u, a20); a30 = v3.fma(u, a30);
            u = p1.and(0xFFFF0000).reinterpretAsFloats();
            a01 = v0.fma(u, a01); a11 = v1.fma(u, a11); a21 = v2.fma(u, a21); a31 = v3.fma(u, a31);
            u = p2.and(0xFFFF0000).reinterpretAsFloats();
            a02 = v0.fma(u, a02); a12 = v1.fma(u, a12); a22 = v2.fma(u, a22); a32 = v3.fma(u, a32);
            u = p3.and(0xFFFF0000).reinterpretAsFloats();
            a03 = v0.fma(u, a03); a13 = v1.fma(u, a13); a23 = v2.fma(u, a23); a33 = v3.fma(u, a33);
        }
        a00.intoArray(lanes, 0); a01.intoArray(lanes, L); a02.intoArray(lanes, 2 * L); a03.intoArray(lanes, 3 * L);
        a10.intoArray(lanes, 4 * L); a11.intoArray(lanes, 5 * L); a12.intoArray(lanes, 6 * L); a13.intoArray(lanes, 7 * L);
        a20.intoArray(lanes, 8 * L); a21.intoArray(lanes, 9 * L); a22.intoArray(lanes, 10 * L); a23.intoArray(lanes, 11 * L);
        a30.intoArray(lanes, 12 * L); a31.intoArray(lanes, 13 * L); a32.intoArray(lanes, 14 * L); a33.intoArray(lanes, 15 * L);
    }

    /** Accumulators of out[t, r..r+7] for one token row: the decode step of a single sequence. */
    private static void oneRow(CpuMat xp, int t, CpuWeight w, int r, int rEnd, float[] lanes) {
        var F = Simd.F;
        var I = Simd.I;
        var LE = Simd.LE;
        int k = w.cols, upper = k - k % Simd.BLOCK, L = Simd.L, last = rEnd - 1;
        float[] xs = xp.data;
        MemorySegment seg = w.data;
        int x0 = xp.at(t);
        long w0 = 2L * r * k, w1 = 2L * Math.min(r + 1, last) * k, w2 = 2L * Math.min(r + 2, last) * k,
                w3 = 2L * Math.min(r + 3, last) * k, w4 = 2L * Math.min(r + 4, last) * k, w5 = 2L * Math.min(r + 5, last) * k,
                w6 = 2L * Math.min(r + 6, last) * k, w7 = 2L * Math.min(r + 7, last) * k;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int kk = 0; kk < upper; kk += Simd.BLOCK) {
            FloatVector v = FloatVector.fromArray(F, xs, x0 + kk), vh = FloatVector.fromArray(F, xs, x0 + kk + L);
            long o = 2L * kk;
            IntVector p = IntVector.fromMemorySegment(I, seg, w0 + o, LE);
            a0 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a0));
            p = IntVector.fromMemorySegment(I, seg, w1 + o, LE);
            a1 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a1));
            p = IntVector.fromMemorySegment(I, seg, w2 + o, LE);
            a2 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a2));
            p = IntVector.fromMemorySegment(I, seg, w3 + o, LE);
            a3 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a3));
            p = IntVector.fromMemorySegment(I, seg, w4 + o, LE);
            a4 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a4));
            p = IntVector.fromMemorySegment(I, seg, w5 + o, LE);
            a5 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a5));
            p = IntVector.fromMemorySegment(I, seg, w6 + o, LE);
            a6 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a6));
            p = IntVector.fromMemorySegment(I, seg, w7 + o, LE);
            a7 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a7));
        }
        a0.intoArray(lanes, 0); a1.intoArray(lanes, L); a2.intoArray(lanes, 2 * L); a3.intoArray(lanes, 3 * L);
        a4.intoArray(lanes, 4 * L); a5.intoArray(lanes, 5 * L); a6.intoArray(lanes, 6 * L); a7.intoArray(lanes, 7 * L);
    }

    /**
     * Writes out[t0 + i, r + j] for a tile's {@code rows} x {@code cols} accumulators in {@code lanes} (row-major):
     * lanes summed, then the tail past the last whole block, then the bias. Rows and columns are clamped as the
     * tile clamped them.
     */
    private static void finish(float[] lanes, int rows, int cols, CpuMat x, int t0, CpuWeight w, int r, int rEnd, float[] bias, CpuMat out) {
        int k = w.cols, tail = k - k % Simd.BLOCK;
        for (int i = 0; i < rows; i++) {
            int t = Math.min(t0 + i, x.rows - 1), oa = out.at(t);
            for (int j = 0; j < cols; j++) {
                int row = Math.min(r + j, rEnd - 1);
                float s = tail(Simd.sum(FloatVector.fromArray(Simd.F, lanes, (i * cols + j) * Simd.L)), x, t, w, row, tail);
                out.data[oa + row] = bias == null ? s : s + bias[row];
            }
        }
    }

    /** out[t, r] for weights of any dtype: L lanes at a time along k, {@link Simd#sum}, the tail, the row scale, the bias. */
    private static float dot(CpuMat x, int t, CpuWeight w, int r, float[] bias) {
        int k = w.cols, upper = k - k % Simd.L, xa = x.at(t);
        long wa = (long) r * k;
        FloatVector acc = FloatVector.zero(Simd.F);
        for (int kk = 0; kk < upper; kk += Simd.L)
            acc = FloatVector.fromArray(Simd.F, x.data, xa + kk).fma(Simd.widen(w, wa + kk), acc);
        float s = tail(Simd.sum(acc), x, t, w, r, upper);
        if (w.scales != null) s *= w.scales[r];
        return bias == null ? s : s + bias[r];
    }

    /** {@code lanes} plus x[t, k] · w[r, k] for k from {@code from} to the end, in order. */
    private static float tail(float lanes, CpuMat x, int t, CpuWeight w, int r, int from) {
        float s = lanes;
        int xa = x.at(t);
        long wa = (long) r * w.cols;
        for (int kk = from; kk < w.cols; kk++) s += x.data[xa + kk] * w.raw(wa + kk);
        return s;
    }
}
