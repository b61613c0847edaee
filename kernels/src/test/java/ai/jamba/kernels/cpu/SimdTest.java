package ai.jamba.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The lane functions built from plain arithmetic, against java.lang.Math in float64. */
class SimdTest {
    @Test
    void expIsWithinTwoUlpOverItsRange() {
        assertWithinUlps(Simd::exp, Math::exp, -87.3, 88.3, 2);
    }

    @Test
    void siluIsWithinFourUlp() {
        assertWithinUlps(Simd::silu, x -> x / (1 + Math.exp(-x)), -80, 80, 4);
    }

    @Test
    void softplusIsWithinFourUlpAndPassesLargeValuesThrough() {
        assertWithinUlps(Simd::softplus, x -> x > 20 ? x : Math.log1p(Math.exp(x)), -80, 40, 4);
        float[] big = {20.5f, 100f, 1e30f, 21f, 20.0001f, 33f, 50f, 64f, 20.5f, 100f, 1e30f, 21f, 20.0001f, 33f, 50f, 64f};
        float[] out = Simd.softplus(FloatVector.fromArray(Simd.F, big, 0)).toArray();
        for (int i = 0; i < Simd.L; i++) assertEquals(big[i], out[i]);
    }

    @Test
    void lanesSumInTheSameOrderAsThePairwiseTree() {
        float[] v = new float[Simd.L];
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.pow(1.37, i) * (i % 3 == 0 ? -1 : 1) + 1e-7f * i;
        float[] tree = v.clone();
        for (int width = Simd.L / 2; width >= 1; width /= 2) for (int i = 0; i < width; i++) tree[i] += tree[i + width];
        assertEquals(tree[0], Simd.sum(FloatVector.fromArray(Simd.F, v, 0)));
    }

    private static void assertWithinUlps(UnaryOperator<FloatVector> f, DoubleUnaryOperator ref, double from, double to, int ulps) {
        int n = 1 << 20;
        float[] x = new float[Simd.L];
        for (int i = 0; i < n; i += Simd.L) {
            for (int l = 0; l < Simd.L; l++) x[l] = (float) (from + (to - from) * (i + l) / n);
            float[] y = f.apply(FloatVector.fromArray(Simd.F, x, 0)).toArray();
            for (int l = 0; l < Simd.L; l++) {
                double expected = ref.applyAsDouble(x[l]);
                double err = Math.abs(y[l] - expected) / Math.ulp((float) expected);
                if (!(err <= ulps)) throw new AssertionError("x = " + x[l] + ": " + y[l] + " vs " + expected + " (" + err + " ulp)");
            }
        }
    }
}
