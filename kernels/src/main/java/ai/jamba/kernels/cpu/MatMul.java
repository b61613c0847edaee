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
 * token rows: a decode batch costs one pass over the weights. bf16 weights, what real checkpoints hold, are stored
 * blocked ({@link CpuWeight}: units of eight rows, their blocks side by side) and take register tiles: within a
 * thread, a panel of weight rows small enough to stay in L2 meets every token row before the next panel is read,
 * two token rows against one unit at a time (16 accumulators: each widened weight vector feeds two FMAs, each token
 * vector eight; the unit's blocks are one sequential run). A lone token row (a decode step, which waits for nothing but memory) runs one loop over
 * all the thread's rows, a unit's eight at a time: one sequential stream in one loop, which a core reads at 25-30%
 * more GB/s than eight row-major rows, or than the same stream with a loop per unit (bench/README.md, CPU).
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

    /** The bf16 register tile: token rows by weight rows (one unit of the blocked layout). */
    static final int TILE_ROWS = 2, TILE_COLS = CpuWeight.UNIT;
    /** Weight rows are handed out to threads (and panels cut) in whole units of the blocked layout. */
    static final int UNIT = CpuWeight.UNIT;
    /** Bytes from one block of a row to its next block in the blocked layout. */
    private static final long STEP = (long) UNIT * 2 * Simd.BLOCK;
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
        return w.blocked;
    }

    /** For weights that take the tiles, x's whole blocks in block lane order (see {@link Simd#deinterleave}); else x. */
    static CpuMat pack(Scratch scratch, CpuMat x, CpuWeight w) {
        if (!tiled(w)) return x;
        int n = x.cols - x.cols % Simd.BLOCK;
        CpuMat p = scratch.mat(Scratch.Use.MATMUL_INPUT, x.rows, n);
        for (int r = 0; r < x.rows; r++) Simd.deinterleave(x.data, x.at(r), p.data, p.at(r), n);
        return p;
    }

    /**
     * Per thread: accumulators spilled so they are finished outside the kernel's loop (see {@link #finish}): a tile's,
     * or a lone token row's for all the rows of a call (grown to the largest range, then reused).
     */
    private static final ThreadLocal<float[][]> LANES = ThreadLocal.withInitial(() -> new float[][]{new float[TILE_ROWS * TILE_COLS * Simd.L]});

    private static float[] lanes(int floats) {
        float[][] holder = LANES.get();
        if (holder[0].length < floats) holder[0] = new float[floats];
        return holder[0];
    }

    /** Columns [n0, n1) of out (weight rows n0..n1-1) for every token row; {@code packed} is {@link #pack}(x). */
    static void rows(CpuMat x, CpuMat packed, CpuWeight w, float[] bias, CpuMat out, int n0, int n1) {
        if (!tiled(w)) {
            for (int t = 0; t < x.rows; t++) for (int r = n0; r < n1; r++) out.data[out.at(t) + r] = dot(x, t, w, r, bias);
            return;
        }
        if (x.rows == 1) {
            loneRow(packed, 0, w, n0, n1, x, bias, out);
            return;
        }
        float[] lanes = lanes(TILE_ROWS * TILE_COLS * Simd.L);
        int panel = Math.max(UNIT, PANEL_BYTES / (2 * w.cols) / UNIT * UNIT);
        for (int p0 = n0; p0 < n1; p0 += panel) {
            int p1 = Math.min(n1, p0 + panel);
            for (int t0 = 0; t0 < x.rows; t0 += TILE_ROWS) {
                if (x.rows - t0 == 1) {
                    loneRow(packed, t0, w, p0, p1, x, bias, out);
                    lanes = lanes(TILE_ROWS * TILE_COLS * Simd.L);
                } else {
                    for (int r = p0; r < p1; r += TILE_COLS) {
                        tile(packed, t0, w, r, lanes);
                        finish(lanes, TILE_ROWS, TILE_COLS, x, t0, w, r, n1, bias, out);
                    }
                }
            }
        }
    }

    /**
     * Accumulators of out[t0..t0+1, r..r+7] into {@code lanes} (token row major): two token rows against one unit
     * of the blocked layout ({@code r} a multiple of {@link #UNIT}), whose blocks are one 512-byte run. A token row
     * past the end of x is clamped to the last one; a weight row past the end is the unit's zero padding.
     */
    private static void tile(CpuMat xp, int t0, CpuWeight w, int r, float[] lanes) {
        var F = Simd.F;
        var I = Simd.I;
        var LE = Simd.LE;
        int k = w.cols, upper = k - k % Simd.BLOCK, L = Simd.L, B = 2 * Simd.BLOCK;
        float[] xs = xp.data;
        int x0 = xp.at(t0), x1 = xp.at(Math.min(t0 + 1, xp.rows - 1));
        long w0 = 2 * w.index(r, 0);
        MemorySegment seg = w.data;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00, a04 = a00, a05 = a00, a06 = a00, a07 = a00,
                a10 = a00, a11 = a00, a12 = a00, a13 = a00, a14 = a00, a15 = a00, a16 = a00, a17 = a00;
        for (int kk = 0; kk < upper; kk += Simd.BLOCK) {
            long o = w0 + kk / Simd.BLOCK * STEP;
            FloatVector v0 = FloatVector.fromArray(F, xs, x0 + kk), v0h = FloatVector.fromArray(F, xs, x0 + kk + L),
                    v1 = FloatVector.fromArray(F, xs, x1 + kk), v1h = FloatVector.fromArray(F, xs, x1 + kk + L), e, d;
            IntVector p;
            p = IntVector.fromMemorySegment(I, seg, o + 0 * B, LE);
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); d = p.and(0xFFFF0000).reinterpretAsFloats();
            a00 = v0h.fma(d, v0.fma(e, a00)); a10 = v1h.fma(d, v1.fma(e, a10));
            p = IntVector.fromMemorySegment(I, seg, o + 1 * B, LE);
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); d = p.and(0xFFFF0000).reinterpretAsFloats();
            a01 = v0h.fma(d, v0.fma(e, a01)); a11 = v1h.fma(d, v1.fma(e, a11));
            p = IntVector.fromMemorySegment(I, seg, o + 2 * B, LE);
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); d = p.and(0xFFFF0000).reinterpretAsFloats();
            a02 = v0h.fma(d, v0.fma(e, a02)); a12 = v1h.fma(d, v1.fma(e, a12));
            p = IntVector.fromMemorySegment(I, seg, o + 3 * B, LE);
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); d = p.and(0xFFFF0000).reinterpretAsFloats();
            a03 = v0h.fma(d, v0.fma(e, a03)); a13 = v1h.fma(d, v1.fma(e, a13));
            p = IntVector.fromMemorySegment(I, seg, o + 4 * B, LE);
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); d = p.and(0xFFFF0000).reinterpretAsFloats();
            a04 = v0h.fma(d, v0.fma(e, a04)); a14 = v1h.fma(d, v1.fma(e, a14));
            p = IntVector.fromMemorySegment(I, seg, o + 5 * B, LE);
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); d = p.and(0xFFFF0000).reinterpretAsFloats();
            a05 = v0h.fma(d, v0.fma(e, a05)); a15 = v1h.fma(d, v1.fma(e, a15));
            p = IntVector.fromMemorySegment(I, seg, o + 6 * B, LE);
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); d = p.and(0xFFFF0000).reinterpretAsFloats();
            a06 = v0h.fma(d, v0.fma(e, a06)); a16 = v1h.fma(d, v1.fma(e, a16));
            p = IntVector.fromMemorySegment(I, seg, o + 7 * B, LE);
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); d = p.and(0xFFFF0000).reinterpretAsFloats();
            a07 = v0h.fma(d, v0.fma(e, a07)); a17 = v1h.fma(d, v1.fma(e, a17));
        }
        a00.intoArray(lanes, 0 * L); a01.intoArray(lanes, 1 * L); a02.intoArray(lanes, 2 * L); a03.intoArray(lanes, 3 * L); a04.intoArray(lanes, 4 * L); a05.intoArray(lanes, 5 * L); a06.intoArray(lanes, 6 * L); a07.intoArray(lanes, 7 * L);
        a10.intoArray(lanes, 8 * L); a11.intoArray(lanes, 9 * L); a12.intoArray(lanes, 10 * L); a13.intoArray(lanes, 11 * L); a14.intoArray(lanes, 12 * L); a15.intoArray(lanes, 13 * L); a16.intoArray(lanes, 14 * L); a17.intoArray(lanes, 15 * L);
    }

    /**
     * out[t, n0..n1) for one token row: one loop over the range's units (n0 a multiple of {@link #UNIT}), a unit's
     * eight rows accumulated side by side and spilled to the lanes when its last block is done, then finished. Rows
     * of the last unit past the weight's end are its zero padding; their sums are not written.
     */
    private static void loneRow(CpuMat xp, int t, CpuWeight w, int n0, int n1, CpuMat x, float[] bias, CpuMat out) {
        var F = Simd.F;
        var I = Simd.I;
        var LE = Simd.LE;
        int k = w.cols, upper = k - k % Simd.BLOCK, L = Simd.L, B = 2 * Simd.BLOCK;
        int units = (n1 - n0 + UNIT - 1) / UNIT, total = units * (upper / Simd.BLOCK);
        float[] lanes = lanes(units * UNIT * L), xs = xp.data;
        MemorySegment seg = w.data;
        int x0 = xp.at(t), kk = 0, slot = 0;
        long o0 = 2 * w.index(n0, 0);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        // one loop, not a loop per unit: a core streams the rows 25-30% faster so
        for (int it = 0; it < total; it++) {
            long o = o0 + it * STEP;
            FloatVector v = FloatVector.fromArray(F, xs, x0 + kk), vh = FloatVector.fromArray(F, xs, x0 + kk + L);
            IntVector p;
            p = IntVector.fromMemorySegment(I, seg, o + 0 * B, LE);
            a0 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a0));
            p = IntVector.fromMemorySegment(I, seg, o + 1 * B, LE);
            a1 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a1));
            p = IntVector.fromMemorySegment(I, seg, o + 2 * B, LE);
            a2 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a2));
            p = IntVector.fromMemorySegment(I, seg, o + 3 * B, LE);
            a3 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a3));
            p = IntVector.fromMemorySegment(I, seg, o + 4 * B, LE);
            a4 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a4));
            p = IntVector.fromMemorySegment(I, seg, o + 5 * B, LE);
            a5 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a5));
            p = IntVector.fromMemorySegment(I, seg, o + 6 * B, LE);
            a6 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a6));
            p = IntVector.fromMemorySegment(I, seg, o + 7 * B, LE);
            a7 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a7));
            kk += Simd.BLOCK;
            if (kk == upper) {
                a0.intoArray(lanes, slot); a1.intoArray(lanes, slot + L); a2.intoArray(lanes, slot + 2 * L); a3.intoArray(lanes, slot + 3 * L);
                a4.intoArray(lanes, slot + 4 * L); a5.intoArray(lanes, slot + 5 * L); a6.intoArray(lanes, slot + 6 * L); a7.intoArray(lanes, slot + 7 * L);
                a0 = FloatVector.zero(F); a1 = a0; a2 = a0; a3 = a0; a4 = a0; a5 = a0; a6 = a0; a7 = a0;
                slot += UNIT * L;
                kk = 0;
            }
        }
        finish(lanes, 1, n1 - n0, x, t, w, n0, n1, bias, out);
    }

    /**
     * Writes out[t0 + i, r + j] for a tile's {@code rows} x {@code cols} accumulators in {@code lanes} (row-major):
     * lanes summed, then the tail past the last whole block, then the bias. Rows past the end of x, and weight rows
     * past {@code rEnd} (a tile's clamped token rows, a unit's padding), are not written.
     */
    private static void finish(float[] lanes, int rows, int cols, CpuMat x, int t0, CpuWeight w, int r, int rEnd, float[] bias, CpuMat out) {
        int k = w.cols, tail = k - k % Simd.BLOCK;
        for (int i = 0; i < rows && t0 + i < x.rows; i++) {
            int t = t0 + i, oa = out.at(t);
            for (int j = 0; j < cols && r + j < rEnd; j++) {
                int row = r + j;
                float s = tail(Simd.sum(FloatVector.fromArray(Simd.F, lanes, (i * cols + j) * Simd.L)), x, t, w, row, tail);
                out.data[oa + row] = bias == null ? s : s + bias[row];
            }
        }
    }

    /** out[t, r] for weights of any dtype: L lanes at a time along k, {@link Simd#sum}, the tail, the row scale, the bias. */
    private static float dot(CpuMat x, int t, CpuWeight w, int r, float[] bias) {
        int k = w.cols, upper = k - k % Simd.L, xa = x.at(t);
        long wa = w.index(r, 0);
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
        for (int kk = from; kk < w.cols; kk++) s += x.data[xa + kk] * w.raw(w.index(r, kk));
        return s;
    }
}
