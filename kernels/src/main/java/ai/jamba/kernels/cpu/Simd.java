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

    /** L float32 values at byte offset {@code off}. */
    static FloatVector f32(MemorySegment seg, long off) {
        return FloatVector.fromMemorySegment(F, seg, off, LE);
    }

    /** L int8 values at byte offset {@code off} as float32 (unscaled). */
    static FloatVector i8(MemorySegment seg, long off) {
        ByteVector b = ByteVector.fromMemorySegment(B, seg, off, LE);
        return (FloatVector) b.convertShape(VectorOperators.B2F, F, 0);
    }

    /** Rotations by L/2, L/4, ..., 1 lanes: the steps of {@link #sum}. */
    private static final VectorShuffle<Float>[] HALVING = halvings();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] halvings() {
        int steps = Integer.numberOfTrailingZeros(L);
        VectorShuffle<Float>[] s = new VectorShuffle[steps];
        for (int i = 0, shift = L / 2; i < steps; i++, shift /= 2) {
            final int sh = shift;
            s[i] = VectorShuffle.fromOp(F, lane -> (lane + sh) % L);
        }
        return s;
    }

    /**
     * Sum of a vector's lanes by pairwise halving, spelled out: reduceLanes leaves the order to the JIT, and a
     * row's result must not depend on which tier computed it (batched must equal alone, bit for bit).
     */
    static float sum(FloatVector v) {
        for (VectorShuffle<Float> s : HALVING) v = v.add(v.rearrange(s));
        return v.lane(0);
    }

    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[L]);

    /**
     * f applied to each lane through Math (float → double → float). Not lanewise(EXP): that is SVML once C2 has
     * compiled the caller and Java code before, and the two differ in the last bits, so a row's result would
     * depend on when the JIT got to it.
     */
    static FloatVector map(FloatVector v, java.util.function.DoubleUnaryOperator f) {
        float[] lanes = LANES.get();
        v.intoArray(lanes, 0);
        for (int i = 0; i < L; i++) lanes[i] = (float) f.applyAsDouble(lanes[i]);
        return FloatVector.fromArray(F, lanes, 0);
    }

    static float silu(float x) {
        return x / (1f + (float) Math.exp(-x));
    }

    /** softplus as torch computes it (beta 1, threshold 20). */
    static float softplus(float x) {
        return x > 20f ? x : (float) Math.log1p(Math.exp(x));
    }
}
