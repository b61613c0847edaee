package ai.jamba.kernels.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

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

    static float silu(float x) {
        return x / (1f + (float) Math.exp(-x));
    }

    /** softplus as torch computes it (beta 1, threshold 20). */
    static float softplus(float x) {
        return x > 20f ? x : (float) Math.log1p(Math.exp(x));
    }
}
