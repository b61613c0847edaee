package ai.jamba.kernels.cpu;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.HostTensor;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.Weight;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tiled matrix product against float64 arithmetic, and each row's result independent of its batch. */
class MatMulTest {
    static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    /**
     * Shapes with ragged edges: weight rows not a multiple of the tile, k not a multiple of the vector, k over two
     * chunks of the blocked layout (the last one short) against more units than a lone row takes at once, and pairs of
     * token rows over more than one panel of weight rows. bf16 runs twice: blocked, and packed in 12 bits.
     */
    @ParameterizedTest(name = "{0} {1} x {2}, {3} token rows")
    @CsvSource({"BF16, 37, 83, 1", "BF16, 64, 160, 9", "BF16, 300, 512, 6", "F32, 37, 83, 5", "F32, 19, 256, 1",
            "F16, 21, 100, 7", "I8, 33, 96, 3", "BF16, 4096, 64, 2",
            "BF16, 45, 1100, 3", "BF16, 600, 1100, 1", "BF16, 45, 1100, 11", "BF16, 1000, 1100, 5"})
    void matchesFloat64AndEveryRowIsTheSameAlone(DType dtype, int n, int k, int t) {
        Random r = new Random(n * 31L + k);
        float[] wf = new float[n * k];
        for (int i = 0; i < wf.length; i++) wf[i] = (float) r.nextGaussian();
        HostTensor source = tensor("w", dtype == DType.I8 ? DType.F32 : dtype, wf, n, k);
        float[] bias = new float[n];
        for (int i = 0; i < n; i++) bias[i] = (float) r.nextGaussian();
        Weight b = backend.weight(HostTensor.ofFloats("b", bias, n));
        float[] x = new float[t * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();

        if (dtype == DType.I8) {
            assertMatchesFloat64AndAlone(backend, CpuExperts.quantize(source), x, t, b, bias);
            return;
        }
        CpuWeight rowMajor = new CpuWeight("w", source.dtype(), n, k, source.data(), null);
        for (boolean pack : dtype == DType.BF16 ? new boolean[]{false, true} : new boolean[]{false}) {
            CpuWeight w = CpuWeight.of(source, pack);
            assertEquals(pack, w.packed != null, "packed in 12 bits");
            for (int j = 0; j < n; j++) for (int i = 0; i < k; i++) assertEquals(rowMajor.get(j, i), w.get(j, i), "w[" + j + ", " + i + "] as stored");
            assertMatchesFloat64AndAlone(backend, w, x, t, b, bias);
        }
    }

    /** x · wᵀ + bias for t token rows on the backend: each within the tolerance of float64, and each row alone the same bits as in the batch. */
    static void assertMatchesFloat64AndAlone(CpuBackend backend, CpuWeight w, float[] x, int t, Weight b, float[] bias) {
        int n = w.rows, k = w.cols;
        float[] together = product(backend, x, t, w, b);
        for (int row = 0; row < t; row++) {
            float[] alone = product(backend, Arrays.copyOfRange(x, row * k, (row + 1) * k), 1, w, b);
            assertArrayEquals(alone, Arrays.copyOfRange(together, row * n, (row + 1) * n), "row " + row + " alone vs in a batch of " + t);
            for (int j = 0; j < n; j++) {
                double ref = bias[j], scale = 0;
                for (int i = 0; i < k; i++) {
                    double wv = w.get(j, i);
                    ref += (double) x[row * k + i] * wv;
                    scale += Math.abs(x[row * k + i] * wv);
                }
                assertEquals(ref, together[row * n + j], TOLERANCE * (scale + 1), "out[" + row + ", " + j + "]");
            }
        }
    }

    /** Relative to the sum of |x·w| of an output: float32 accumulation over up to a few thousand terms. */
    static final double TOLERANCE = 1e-5;

    @Test
    void float16WidensAsFloatFloat16ToFloatForEveryBitPattern() {
        MemorySegment seg = Arena.ofAuto().allocate(2L * 65536);
        for (int i = 0; i < 65536; i++) seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, (short) i);
        for (int i = 0; i < 65536; i += Simd.L) {
            float[] lanes = Simd.f16(seg, 2L * i).toArray();
            for (int l = 0; l < Simd.L; l++) {
                float expected = Float.float16ToFloat((short) (i + l));
                String what = "half 0x" + Integer.toHexString(i + l);
                if (Float.isNaN(expected)) assertTrue(Float.isNaN(lanes[l]), what); // payloads may differ in the quiet bit
                else assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(lanes[l]), what);
            }
        }
    }

    static float[] product(CpuBackend backend, float[] x, int t, Weight w, Weight bias) {
        Mat xm = backend.allocate(t, w.cols()), out = backend.allocate(t, w.rows());
        backend.upload(x, xm);
        backend.matmul(xm, w, bias, out);
        float[] o = new float[t * w.rows()];
        backend.download(out, o);
        return o;
    }

    /** A tensor of {@code values} stored in {@code dtype} (rounded to it). */
    static HostTensor tensor(String name, DType dtype, float[] values, long... shape) {
        MemorySegment seg = Arena.ofAuto().allocate((long) values.length * dtype.bytes);
        var le = ByteOrder.LITTLE_ENDIAN;
        for (int i = 0; i < values.length; i++) {
            switch (dtype) {
                case F32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(le), i, values[i]);
                case BF16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), i, (short) (Float.floatToRawIntBits(values[i]) >>> 16));
                case F16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), i, Float.floatToFloat16(values[i]));
                case I8 -> throw new IllegalArgumentException("int8 comes from quantising");
            }
        }
        assertTrue(values.length > 0);
        return new HostTensor(name, dtype, shape, seg);
    }
}
