package ai.jamba.kernels.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The SIMD vocabulary of the CPU kernels: the widest float vector the machine has, and loads that turn
 * bf16 / f16 / int8 weights into float32 lanes in registers (the model is never widened in memory).
 */
final class Simd {
    private Simd() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** Shorts and bytes with as many lanes as F, to widen into it. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 2)));
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 4)));

    /**
     * Whether the CPU shuffles bytes across a whole 512-bit vector (AVX-512 VBMI: {@code vpermb}, {@code vpermt2b}),
     * which {@link PackedBf16} widens with; without it the JIT would emulate each shuffle. Read from /proc/cpuinfo
     * (false where there is none): the Vector API does not say.
     */
    static final boolean BYTE_PERMUTES = cpuFlag("avx512vbmi");

    private static boolean cpuFlag(String flag) {
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("flags")).findFirst()
                    .map(l -> List.of(l.substring(l.indexOf(':') + 1).trim().split("\\s+")).contains(flag))
                    .orElse(false);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfShort U16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);

    /** L bf16 values at byte offset {@code off} as float32: a bf16 is the top half of a float32. */
    static FloatVector bf16(MemorySegment seg, long off) {
        ShortVector s = ShortVector.fromMemorySegment(S, seg, off, LE);
        return ((IntVector) s.convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    /** L float16 values at byte offset {@code off} as float32. */
    static FloatVector f16(MemorySegment seg, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, seg, off, LE).convertShape(VectorOperators.S2I, I, 0);
        // exponent and mantissa moved into float32's places, then rescaled by 2^(127-15): exact for normal and
        // subnormal halves alike; infinities and NaNs get the all-ones exponent back; the sign goes on last
        IntVector magnitude = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        FloatVector f = magnitude.reinterpretAsFloats().mul(0x1p112f);
        IntVector bits = f.reinterpretAsInts();
        bits = bits.blend(bits.or(0x7F800000), h.and(0x7C00).compare(VectorOperators.EQ, 0x7C00));
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /**
     * L weights from element {@code index} of w, whatever its dtype, as float32 (int8 before its row scale). The
     * dtype does not change inside a kernel's loop, so the JIT moves this choice out of it.
     */
    static FloatVector widen(CpuWeight w, long index) {
        return switch (w.dtype) {
            case BF16 -> bf16(w.data, index * 2);
            case F32 -> f32(w.data, index * 4);
            case F16 -> f16(w.data, index * 2);
            case I8 -> i8(w.data, index);
        };
    }

    /** L float32 values at byte offset {@code off}. */
    static FloatVector f32(MemorySegment seg, long off) {
        return FloatVector.fromMemorySegment(F, seg, off, LE);
    }

    /** L int8 values at byte offset {@code off} as float32 (unscaled). */
    static FloatVector i8(MemorySegment seg, long off) {
        ByteVector b = ByteVector.fromMemorySegment(B, seg, off, LE);
        return (FloatVector) b.convertShape(VectorOperators.B2F, F, 0);
    }

    // ---- bf16 weights in blocks of 2L elements, for the matrix product ------------------------------------

    /**
     * Elements of a bf16 weight block, which the matrix product loads as L ints: each holds an even element in its
     * low half and the next odd one in its high half, so a shift or a mask makes float32s of them (see MatMul).
     */
    static final int BLOCK = 2 * L;

    /** Lane i of EVENS / ODDS: where a block's even / odd element i sits among its 2L consecutive elements. */
    private static final FloatVector EVENS = FloatVector.fromArray(F, lanes(0), 0), ODDS = FloatVector.fromArray(F, lanes(1), 0);

    private static float[] lanes(int first) {
        float[] f = new float[L];
        for (int i = 0; i < L; i++) f[i] = first + 2 * i;
        return f;
    }

    /** n elements (a multiple of BLOCK) from x[xAt..] into out[oAt..] in block order: the evens, then the odds. */
    static void deinterleave(float[] x, int xAt, float[] out, int oAt, int n) {
        for (int i = 0; i < n; i += BLOCK) {
            FloatVector a = FloatVector.fromArray(F, x, xAt + i), b = FloatVector.fromArray(F, x, xAt + i + L);
            EVENS.selectFrom(a, b).intoArray(out, oAt + i);
            ODDS.selectFrom(a, b).intoArray(out, oAt + i + L);
        }
    }

    /** Rotations by 8, 4, 2 and 1 lanes (L is at most 16): the steps of {@link #sum}, as constants so the JIT emits plain permutes. */
    private static final VectorShuffle<Float> ROTATE_8 = rotation(8), ROTATE_4 = rotation(4), ROTATE_2 = rotation(2),
            ROTATE_1 = rotation(1);

    private static VectorShuffle<Float> rotation(int lanes) {
        return VectorShuffle.fromOp(F, lane -> (lane + lanes) % L);
    }

    /**
     * Sum of a vector's lanes by pairwise halving, spelled out: reduceLanes leaves the order to the JIT, and a
     * row's result must not depend on which tier computed it (batched must equal alone, bit for bit).
     */
    static float sum(FloatVector v) {
        if (L > 8) v = v.add(v.rearrange(ROTATE_8));
        if (L > 4) v = v.add(v.rearrange(ROTATE_4));
        if (L > 2) v = v.add(v.rearrange(ROTATE_2));
        if (L > 1) v = v.add(v.rearrange(ROTATE_1));
        return v.lane(0);
    }

    // ---- transcendental functions, lane by lane ------------------------------------------------------------
    // From plain IEEE arithmetic (add, mul, fma, compare, bit moves), which every JIT tier and the Vector API's
    // Java fallback compute to the same bits. The JDK's EXP and LOG1P lane ops promise no such thing (the
    // compiled code calls a vector math library, the fallback Math.exp), and a row must come out the same
    // whether its op ran interpreted or compiled: batched must equal alone, bit for bit.

    private static final float LOG2E = 1.44269504f;
    /** 1.5 * 2^23: added to a float of magnitude below 2^22, leaves it rounded to an integer in the low bits. */
    private static final float ROUNDER = 12582912f;
    // vector constants, so no lane function calls a helper to broadcast one (a call the JIT may not inline)
    private static final FloatVector MINUS_LN2_HI = broadcast(-0.693359375f), MINUS_LN2_LO = broadcast(2.12194440e-4f),
            EXP_C3 = broadcast(8.3334519073e-3f), EXP_C4 = broadcast(4.1665795894e-2f), EXP_C5 = broadcast(1.6666665459e-1f),
            EXP_C6 = broadcast(5.0000001201e-1f), ONE_NINTH = broadcast(1f / 9), ONE_SEVENTH = broadcast(1f / 7),
            ONE_FIFTH = broadcast(1f / 5), ONE_THIRD = broadcast(1f / 3), ONE = broadcast(1f);

    private static FloatVector broadcast(float c) {
        return FloatVector.broadcast(F, c);
    }

    /**
     * e^x (Cephes' expf: x = n ln 2 + r with |r| <= ln 2 / 2, e^r by a degree-7 polynomial, 2^n put in the exponent).
     * Within 2 ulp of the true value. x is clamped to [-87.3, 88.3], so the result is always a normal float (about
     * 1.2e-38 for anything below the range): the callers' e^-large only ever meets an addition or a division.
     */
    static FloatVector exp(FloatVector x) {
        x = x.max(-87.3f).min(88.3f);
        FloatVector t = x.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(MINUS_LN2_HI, x);
        r = n.fma(MINUS_LN2_LO, r);
        FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
        p = p.fma(r, EXP_C3);
        p = p.fma(r, EXP_C4);
        p = p.fma(r, EXP_C5);
        p = p.fma(r, EXP_C6);
        p = p.fma(r.mul(r), r).add(1f);
        IntVector scale = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUNDER)).lanewise(VectorOperators.LSHL, 23);
        return p.reinterpretAsInts().add(scale).reinterpretAsFloats();
    }

    /** silu(x) = x / (1 + e^-x). */
    static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    /**
     * softplus as torch computes it (beta 1, threshold 20): x above 20 passes through, else
     * max(x, 0) + log1p(e^-|x|), with log1p(y) = 2 atanh(y / (2 + y)) by its odd series (y <= 1, so
     * s = y / (2 + y) <= 1/3 and seven terms reach float precision; no cancellation for tiny y).
     */
    static FloatVector softplus(FloatVector x) {
        FloatVector y = exp(x.abs().neg());
        FloatVector s = y.div(y.add(2f)), s2 = s.mul(s);
        FloatVector series = s2.fma(1f / 13, 1f / 11);
        series = series.fma(s2, ONE_NINTH);
        series = series.fma(s2, ONE_SEVENTH);
        series = series.fma(s2, ONE_FIFTH);
        series = series.fma(s2, ONE_THIRD);
        series = series.fma(s2, ONE);
        FloatVector soft = x.max(0f).add(s.add(s).mul(series));
        return soft.blend(x, x.compare(VectorOperators.GT, 20f));
    }

    // Loops of one lane function each, loads to stores: each compiles on its own, so the JIT's inlining budget for a
    // method (which a kernel with several of these functions inlined would exceed, leaving vectors boxed) holds.

    /** out[oAt + i] = silu(x[xAt + i]) · y[yAt + i] for i in [from, to); {@code out} may be x or y. */
    static void siluMul(float[] x, int xAt, float[] y, int yAt, float[] out, int oAt, int from, int to) {
        for (int i = from; i < to; i += L) {
            VectorMask<Float> m = F.indexInRange(i, to);
            silu(FloatVector.fromArray(F, x, xAt + i, m)).mul(FloatVector.fromArray(F, y, yAt + i, m)).intoArray(out, oAt + i, m);
        }
    }

    /** out[oAt + i] = silu(x[xAt + i]) for i in [0, n). */
    static void silu(float[] x, int xAt, float[] out, int oAt, int n) {
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = F.indexInRange(i, n);
            silu(FloatVector.fromArray(F, x, xAt + i, m)).intoArray(out, oAt + i, m);
        }
    }

    /** out[oAt + i] = softplus(x[xAt + i]) for i in [0, n). */
    static void softplus(float[] x, int xAt, float[] out, int oAt, int n) {
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = F.indexInRange(i, n);
            softplus(FloatVector.fromArray(F, x, xAt + i, m)).intoArray(out, oAt + i, m);
        }
    }
}
