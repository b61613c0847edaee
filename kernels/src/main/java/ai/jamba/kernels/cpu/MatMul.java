package ai.jamba.kernels.cpu;

import ai.jamba.kernels.DType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * out[t, n] = Σ_k x[t, k] · w[n, k] (+ bias[n]), with w in its checkpoint dtype widened to float32 in registers.
 *
 * <p>Threads split the weight rows, so every weight byte is read from memory once per call whatever the number of
 * token rows: a decode batch costs one pass over the weights. bf16 weights, what real checkpoints hold, are stored
 * blocked ({@link CpuWeight}: chunks of 1024 columns; within a chunk, units of eight rows with their blocks side by
 * side). A lone token row (a decode step, which waits for nothing but memory) goes chunk by chunk, one loop over all
 * the thread's units, each unit's eight sums going on from where the last chunk left them: the weights are one
 * sequential stream per chunk while the chunk's 4 KB of x stay in L1. A core streams a quarter faster so than with
 * the whole of x (10-32 KB, which fell out of L1 between two uses), and a quarter faster again than over eight
 * row-major rows or with a loop per unit (bench/README.md, CPU). More token rows take register tiles: within a
 * thread, a panel of weight rows small enough to stay in L2 meets every pair of token rows before the next panel is
 * read, two token rows at a time, going chunk by chunk over all the panel's units in one loop as a lone row does
 * (16 accumulators: each widened weight vector feeds two FMAs, each token vector eight). The first pair reads the
 * panel from memory: one sequential run per chunk streams 40% faster than a unit over all of k at a time, which
 * jumped from chunk to chunk (bench/README.md, "Batch 8").
 * A bf16 weight packed in 12 bits ({@link PackedBf16}, opt-in) takes the same paths with its own kernels: a lone row
 * shuffles each record back to bf16 in registers ({@link #packedChunk}, quads of rows); more rows widen each panel to bf16 once
 * ({@link PackedBf16#unpack}) for the tiles; the weights outside the packing's 16 binades are added last
 * ({@link PackedBf16#fix}).
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

    /** Token rows of the bf16 register tile, against one unit of weight rows. */
    static final int TILE_ROWS = 2;
    /** Weight rows are handed out to threads (and panels cut) in whole units of the blocked layout. */
    static final int UNIT = CpuWeight.UNIT;
    /** Bytes from one block of a row to its next block in the blocked layout. */
    private static final long STEP = (long) UNIT * 2 * Simd.BLOCK;
    /**
     * Bytes of weight rows worked on while they are hot in the core's L2 (1 MiB on Zen 4, shared with x): 768 KB
     * decoded a batch of 8 5% faster than 256 KB, and prefilled as fast.
     */
    private static final int PANEL_BYTES = 768 << 10;

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
     * Per thread: accumulators kept between chunks and finished outside the kernels' loops (see {@link #finish}): a
     * pair of token rows' for a panel, or a lone token row's for a group of units.
     */
    private static final ThreadLocal<float[][]> LANES = ThreadLocal.withInitial(() -> new float[][]{new float[TILE_ROWS * UNIT * Simd.L]});

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
        if (x.rows == 1) loneRow(packed, 0, w, n0, n1, x, bias, out);
        else tiles(x, packed, w, bias, out, n0, n1);
        if (w.packed != null) w.packed.fix(x, out, n0, n1);
    }

    /** {@link #rows} for more than one token row: panels of weight rows against pairs of token rows. */
    private static void tiles(CpuMat x, CpuMat packed, CpuWeight w, float[] bias, CpuMat out, int n0, int n1) {
        int panel = Math.max(UNIT, PANEL_BYTES / (2 * w.cols) / UNIT * UNIT), L = Simd.L, upper = w.cols - w.cols % Simd.BLOCK;
        float[] xs = packed.data;
        for (int p0 = n0; p0 < n1; p0 += panel) { // a panel meets every pair of token rows while it is in L2
            int p1 = Math.min(n1, p0 + panel), units = (p1 - p0 + UNIT - 1) / UNIT, cols = units * UNIT, stride = (cols + UNIT) * L;
            // a packed panel is widened to bf16 once, for all the pairs; rows of seg are w's from row seg0
            MemorySegment seg = w.data;
            int segRows = w.rows, seg0 = 0;
            if (w.packed != null) {
                seg = panelScratch(2L * cols * upper);
                w.packed.unpack(p0, p1, seg);
                segRows = p1 - p0;
                seg0 = p0;
            }
            for (int t0 = 0; t0 < x.rows; t0 += TILE_ROWS) {
                if (x.rows - t0 == 1) {
                    loneRow(packed, t0, w, p0, p1, x, bias, out);
                    continue;
                }
                float[] lanes = lanes(TILE_ROWS * stride);
                for (int c0 = 0; c0 < upper; c0 += CpuWeight.CHUNK)
                    tile(xs, packed.at(t0) + c0, packed.at(t0 + 1) + c0, Math.min(CpuWeight.CHUNK, upper - c0), seg,
                            2 * CpuWeight.blockAt(segRows, w.cols, p0 - seg0, c0 / Simd.BLOCK), units, lanes, stride, c0 == 0);
                finish(lanes, TILE_ROWS, cols, stride, x, t0, w, p0, p1, bias, out);
            }
        }
    }

    /** Per thread: where a packed weight's panel is widened to bf16 (native memory, as the weights: one type for the JIT). */
    private static final ThreadLocal<MemorySegment[]> PANEL = ThreadLocal.withInitial(() -> new MemorySegment[]{MemorySegment.NULL});

    private static MemorySegment panelScratch(long bytes) {
        MemorySegment[] holder = PANEL.get();
        if (holder[0].byteSize() < bytes) holder[0] = Arena.ofAuto().allocate(Math.max(bytes, PANEL_BYTES), 64);
        return holder[0];
    }

    /**
     * One chunk of {@code n} columns for two token rows (x from {@code x0} and {@code x1}, packed) against {@code units}
     * units, whose blocks of the chunk are one run from byte {@code o0}: one loop, as for a lone row ({@link #chunk}),
     * with 16 accumulators (each widened weight vector feeds two FMAs, each token vector eight). Token row 0's sums go
     * on from lanes at 0, row 1's from lanes at {@code stride} — or from zero in the {@code first} chunk — and back to
     * them; each row has one spare unit of lanes at its end, for the last reload. (The sums are loaded before the loop
     * and again where a unit ends, not once where each starts: a test at the top of the loop made pairs from memory 8%
     * slower, 118 against 129 GFLOP/s.)
     */
    private static void tile(float[] xs, int x0, int x1, int n, MemorySegment seg, long o0, int units, float[] lanes, int stride, boolean first) {
        var F = Simd.F;
        var I = Simd.I;
        var LE = Simd.LE;
        int L = Simd.L, B = 2 * Simd.BLOCK, total = units * (n / Simd.BLOCK), kk = 0, s0 = 0, s1 = stride;
        FloatVector z = FloatVector.zero(F), a00 = z, a01 = z, a02 = z, a03 = z, a04 = z, a05 = z, a06 = z, a07 = z,
                a10 = z, a11 = z, a12 = z, a13 = z, a14 = z, a15 = z, a16 = z, a17 = z;
        if (!first) {
            a00 = FloatVector.fromArray(F, lanes, s0); a01 = FloatVector.fromArray(F, lanes, s0 + L); a02 = FloatVector.fromArray(F, lanes, s0 + 2 * L);
            a03 = FloatVector.fromArray(F, lanes, s0 + 3 * L); a04 = FloatVector.fromArray(F, lanes, s0 + 4 * L); a05 = FloatVector.fromArray(F, lanes, s0 + 5 * L);
            a06 = FloatVector.fromArray(F, lanes, s0 + 6 * L); a07 = FloatVector.fromArray(F, lanes, s0 + 7 * L);
            a10 = FloatVector.fromArray(F, lanes, s1); a11 = FloatVector.fromArray(F, lanes, s1 + L); a12 = FloatVector.fromArray(F, lanes, s1 + 2 * L);
            a13 = FloatVector.fromArray(F, lanes, s1 + 3 * L); a14 = FloatVector.fromArray(F, lanes, s1 + 4 * L); a15 = FloatVector.fromArray(F, lanes, s1 + 5 * L);
            a16 = FloatVector.fromArray(F, lanes, s1 + 6 * L); a17 = FloatVector.fromArray(F, lanes, s1 + 7 * L);
        }
        for (int it = 0; it < total; it++) {
            long o = o0 + it * STEP;
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
            kk += Simd.BLOCK;
            if (kk == n) { // the unit's chunk is done: its sums back to the lanes, the next unit's out
                a00.intoArray(lanes, s0); a01.intoArray(lanes, s0 + L); a02.intoArray(lanes, s0 + 2 * L); a03.intoArray(lanes, s0 + 3 * L);
                a04.intoArray(lanes, s0 + 4 * L); a05.intoArray(lanes, s0 + 5 * L); a06.intoArray(lanes, s0 + 6 * L); a07.intoArray(lanes, s0 + 7 * L);
                a10.intoArray(lanes, s1); a11.intoArray(lanes, s1 + L); a12.intoArray(lanes, s1 + 2 * L); a13.intoArray(lanes, s1 + 3 * L);
                a14.intoArray(lanes, s1 + 4 * L); a15.intoArray(lanes, s1 + 5 * L); a16.intoArray(lanes, s1 + 6 * L); a17.intoArray(lanes, s1 + 7 * L);
                s0 += UNIT * L;
                s1 += UNIT * L;
                kk = 0;
                if (first) {
                    a00 = a01 = a02 = a03 = a04 = a05 = a06 = a07 = a10 = a11 = a12 = a13 = a14 = a15 = a16 = a17 = z;
                } else {
                    a00 = FloatVector.fromArray(F, lanes, s0); a01 = FloatVector.fromArray(F, lanes, s0 + L); a02 = FloatVector.fromArray(F, lanes, s0 + 2 * L);
                    a03 = FloatVector.fromArray(F, lanes, s0 + 3 * L); a04 = FloatVector.fromArray(F, lanes, s0 + 4 * L); a05 = FloatVector.fromArray(F, lanes, s0 + 5 * L);
                    a06 = FloatVector.fromArray(F, lanes, s0 + 6 * L); a07 = FloatVector.fromArray(F, lanes, s0 + 7 * L);
                    a10 = FloatVector.fromArray(F, lanes, s1); a11 = FloatVector.fromArray(F, lanes, s1 + L); a12 = FloatVector.fromArray(F, lanes, s1 + 2 * L);
                    a13 = FloatVector.fromArray(F, lanes, s1 + 3 * L); a14 = FloatVector.fromArray(F, lanes, s1 + 4 * L); a15 = FloatVector.fromArray(F, lanes, s1 + 5 * L);
                    a16 = FloatVector.fromArray(F, lanes, s1 + 6 * L); a17 = FloatVector.fromArray(F, lanes, s1 + 7 * L);
                }
            }
        }
    }

    /** Units of rows a lone token row takes through all the chunks before the next ones: their sums stay in L2. */
    private static final int GROUP = 32;

    /**
     * out[t, n0..n1) for one token row (n0 a multiple of {@link #UNIT}): a group of units at a time, chunk by chunk
     * of columns ({@link #chunk}), the sums kept in the lanes, then finished. Rows of the last unit past the weight's
     * end are its zero padding; their sums are not written.
     */
    private static void loneRow(CpuMat xp, int t, CpuWeight w, int n0, int n1, CpuMat x, float[] bias, CpuMat out) {
        int upper = w.cols - w.cols % Simd.BLOCK, L = Simd.L;
        float[] lanes = lanes((GROUP + 1) * UNIT * L);
        for (int g0 = n0; g0 < n1; g0 += GROUP * UNIT) {
            int g1 = Math.min(n1, g0 + GROUP * UNIT), units = (g1 - g0 + UNIT - 1) / UNIT;
            Arrays.fill(lanes, 0, units * UNIT * L, 0f);
            for (int c0 = 0; c0 < upper; c0 += CpuWeight.CHUNK) {
                int n = Math.min(CpuWeight.CHUNK, upper - c0);
                if (w.packed != null) packedChunk(xp.data, xp.at(t) + c0, n, w.packed.data, w.packed.at(g0, c0), units * UNIT / PackedBf16.QUAD, lanes, w.packed.lut);
                else chunk(xp.data, xp.at(t) + c0, n, w.data, 2 * w.index(g0, c0), units, lanes);
            }
            finish(lanes, 1, g1 - g0, 0, x, t, w, g0, g1, bias, out);
        }
    }

    /**
     * One chunk of {@code n} columns for a lone token row against {@code units} units, whose blocks of the chunk are
     * one run from byte {@code o0}: one loop, not a loop per unit (a core streams 25-30% faster so). Each unit's eight
     * sums go on from the lanes and back to them; lanes has one spare unit at the end, for the last reload.
     */
    private static void chunk(float[] xs, int x0, int n, MemorySegment seg, long o0, int units, float[] lanes) {
        var F = Simd.F;
        var I = Simd.I;
        var LE = Simd.LE;
        int L = Simd.L, B = 2 * Simd.BLOCK, total = units * (n / Simd.BLOCK), kk = 0, slot = 0;
        FloatVector a0 = FloatVector.fromArray(F, lanes, 0), a1 = FloatVector.fromArray(F, lanes, L), a2 = FloatVector.fromArray(F, lanes, 2 * L),
                a3 = FloatVector.fromArray(F, lanes, 3 * L), a4 = FloatVector.fromArray(F, lanes, 4 * L), a5 = FloatVector.fromArray(F, lanes, 5 * L),
                a6 = FloatVector.fromArray(F, lanes, 6 * L), a7 = FloatVector.fromArray(F, lanes, 7 * L);
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
            if (kk == n) {
                a0.intoArray(lanes, slot); a1.intoArray(lanes, slot + L); a2.intoArray(lanes, slot + 2 * L); a3.intoArray(lanes, slot + 3 * L);
                a4.intoArray(lanes, slot + 4 * L); a5.intoArray(lanes, slot + 5 * L); a6.intoArray(lanes, slot + 6 * L); a7.intoArray(lanes, slot + 7 * L);
                slot += UNIT * L;
                kk = 0;
                a0 = FloatVector.fromArray(F, lanes, slot); a1 = FloatVector.fromArray(F, lanes, slot + L); a2 = FloatVector.fromArray(F, lanes, slot + 2 * L);
                a3 = FloatVector.fromArray(F, lanes, slot + 3 * L); a4 = FloatVector.fromArray(F, lanes, slot + 4 * L); a5 = FloatVector.fromArray(F, lanes, slot + 5 * L);
                a6 = FloatVector.fromArray(F, lanes, slot + 6 * L); a7 = FloatVector.fromArray(F, lanes, slot + 7 * L);
            }
        }
    }

    /**
     * {@link #chunk} for a {@link PackedBf16} weight: {@code quads} quads of rows, each record's bytes shuffled into the
     * bf16 pairs the blocked layout would hold (a table lookup of the nibbles for the high bytes, one two-vector
     * shuffle per row: see PackedBf16), then widened and multiplied as {@link #chunk} does, in the same order. Quads,
     * not units of eight rows: with the shuffles, eight rows' loop grew past what the JIT inlines in one method (a 10x
     * slower loop).
     */
    private static void packedChunk(float[] xs, int x0, int n, MemorySegment seg, long o0, int quads, float[] lanes, ByteVector lut) {
        var F = Simd.F;
        var I = Simd.I;
        var LE = Simd.LE;
        var BYTES = PackedBf16.BYTES;
        ByteVector first = PackedBf16.FIRST_ROW, second = PackedBf16.SECOND_ROW;
        int L = Simd.L, total = quads * (n / Simd.BLOCK), kk = 0, slot = 0;
        FloatVector a0 = FloatVector.fromArray(F, lanes, 0), a1 = FloatVector.fromArray(F, lanes, L), a2 = FloatVector.fromArray(F, lanes, 2 * L),
                a3 = FloatVector.fromArray(F, lanes, 3 * L);
        for (int it = 0; it < total; it++) {
            long o = o0 + (long) it * PackedBf16.RECORD;
            FloatVector v = FloatVector.fromArray(F, xs, x0 + kk), vh = FloatVector.fromArray(F, xs, x0 + kk + L);
            ByteVector P = ByteVector.fromMemorySegment(BYTES, seg, o, LE), Q = ByteVector.fromMemorySegment(BYTES, seg, o + 64, LE);
            IntVector N = IntVector.fromMemorySegment(I, seg, o + 128, LE), p;
            ByteVector high01 = N.reinterpretAsBytes().selectFrom(lut), high23 = N.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(lut);
            p = first.selectFrom(P, high01).reinterpretAsInts();
            a0 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a0));
            p = second.selectFrom(P, high01).reinterpretAsInts();
            a1 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a1));
            p = first.selectFrom(Q, high23).reinterpretAsInts();
            a2 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a2));
            p = second.selectFrom(Q, high23).reinterpretAsInts();
            a3 = vh.fma(p.and(0xFFFF0000).reinterpretAsFloats(), v.fma(p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a3));
            kk += Simd.BLOCK;
            if (kk == n) {
                a0.intoArray(lanes, slot); a1.intoArray(lanes, slot + L); a2.intoArray(lanes, slot + 2 * L); a3.intoArray(lanes, slot + 3 * L);
                slot += PackedBf16.QUAD * L;
                kk = 0;
                a0 = FloatVector.fromArray(F, lanes, slot); a1 = FloatVector.fromArray(F, lanes, slot + L); a2 = FloatVector.fromArray(F, lanes, slot + 2 * L);
                a3 = FloatVector.fromArray(F, lanes, slot + 3 * L);
            }
        }
    }

    /**
     * Writes out[t0 + i, r + j] for {@code rows} x {@code cols} accumulators in {@code lanes} (token row i's from
     * i·{@code stride}, one weight row after another): lanes summed, then the tail past the last whole block, then the bias. Rows past the end of x, and weight rows
     * past {@code rEnd} (a tile's clamped token rows, a unit's padding), are not written.
     */
    private static void finish(float[] lanes, int rows, int cols, int stride, CpuMat x, int t0, CpuWeight w, int r, int rEnd, float[] bias, CpuMat out) {
        int k = w.cols, tail = k - k % Simd.BLOCK;
        for (int i = 0; i < rows && t0 + i < x.rows; i++) {
            int t = t0 + i, oa = out.at(t);
            for (int j = 0; j < cols && r + j < rEnd; j++) {
                int row = r + j;
                float s = tail(Simd.sum(FloatVector.fromArray(Simd.F, lanes, i * stride + j * Simd.L)), x, t, w, row, tail);
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
        for (int kk = from; kk < w.cols; kk++) s += x.data[xa + kk] * w.stored(r, kk);
        return s;
    }
}
