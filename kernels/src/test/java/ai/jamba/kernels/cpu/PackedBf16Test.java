package ai.jamba.kernels.cpu;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.HostTensor;
import ai.jamba.kernels.Weight;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** 12-bit packing of bf16 matrices: every weight comes back exactly, the ones outside the 16 binades included. */
class PackedBf16Test {
    static CpuBackend backend;

    @BeforeAll
    static void start() {
        assumeTrue(Simd.L == 16 && Simd.BYTE_PERMUTES, "packing needs 512-bit vectors and AVX-512 VBMI's byte shuffles; this CPU packs nothing");
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    /** A Gaussian matrix with zeros, tiny, subnormal, huge and negative outliers planted; k over two chunks and a tail. */
    private static float[] withOutliers(int n, int k, Random r) {
        float[] w = new float[n * k];
        for (int i = 0; i < w.length; i++) w[i] = (float) (0.02 * r.nextGaussian());
        float[] planted = {0f, -0f, 1e-9f, -3e-7f, Float.MIN_NORMAL, 2e-39f, 3.5f, -40f, 1e-5f, 0.5f, 1e30f, -2e-30f};
        for (int i = 0; i < planted.length; i++) w[r.nextInt(w.length)] = planted[i];
        return w;
    }

    @Test
    void everyWeightComesBackExactlyAndTheProductMatchesFloat64() {
        int n = 70, k = 1100, t = 6;
        Random r = new Random(7);
        HostTensor source = MatMulTest.tensor("w", DType.BF16, withOutliers(n, k, r), n, k);
        CpuWeight plain = CpuWeight.of(source, false), packed = CpuWeight.of(source, true);
        assertNotNull(packed.packed, "a Gaussian matrix with a few outliers packs");
        for (int j = 0; j < n; j++)
            for (int i = 0; i < k; i++)
                assertEquals(Float.floatToRawIntBits(plain.get(j, i)), Float.floatToRawIntBits(packed.get(j, i)), "w[" + j + ", " + i + "]");
        float[] bias = new float[n], x = new float[t * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        Weight b = backend.weight(HostTensor.ofFloats("b", bias, n));
        MatMulTest.assertMatchesFloat64AndAlone(backend, packed, x, t, b, bias);
    }

    @Test
    void aMatrixWithWeightsOverTooManyBinadesIsLeftInBf16() {
        Random r = new Random(11);
        float[] spread = new float[64 * 64]; // exponents spread evenly over 2^-60 .. 2^60: most outside any 16 binades
        for (int i = 0; i < spread.length; i++) spread[i] = (float) Math.scalb(1.0 + r.nextDouble(), r.nextInt(121) - 60);
        assertNull(CpuWeight.of(MatMulTest.tensor("spread", DType.BF16, spread, 64, 64), true).packed);
    }
}
