package ai.jamba.kernels.cuda;

import ai.jamba.kernels.Backend;
import ai.jamba.kernels.BackendUnavailableException;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.DType;
import ai.jamba.kernels.Experts;
import ai.jamba.kernels.HostTensor;
import ai.jamba.kernels.KvCache;
import ai.jamba.kernels.MambaState;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.Sampler;
import ai.jamba.kernels.SamplingParams;
import ai.jamba.kernels.Weight;
import ai.jamba.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Each CUDA op against the CPU backend (the reference) on fresh random inputs of awkward sizes: not multiples of
 * 32, prompts of 1 and 3,000 tokens, batches of sequences at different positions. The measure is the fixtures'
 * per row, max|cuda - cpu| / max|cpu|. Skipped, with the reason, where CUDA cannot start.
 */
class CudaOpsTest {
    /** float32 math in another order, and bf16 weights meeting float32 activations split in two bf16 parts. */
    static final double TOLERANCE = 1e-4;

    static Backend cuda, cpu;
    static String unavailable;
    static final Random RANDOM = new Random();

    @BeforeAll
    static void open() {
        try {
            cuda = CudaBackend.open(System.out::println);
            System.out.println(cuda.describe());
        } catch (BackendUnavailableException e) {
            unavailable = e.getMessage();
        }
        cpu = new CpuBackend(CpuBackend.defaultThreads());
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
        cpu.close();
    }

    static void requireCuda() {
        assumeTrue(cuda != null, () -> "CUDA unavailable, GPU op tests skipped: " + unavailable);
    }

    // ---- inputs -------------------------------------------------------------------------------------------

    static float[] randoms(int n, float scale) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) RANDOM.nextGaussian() * scale;
        return f;
    }

    /** A random tensor in the given dtype (as a checkpoint would hold it). */
    static HostTensor tensor(String name, DType dt, float scale, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] f = randoms((int) n, scale);
        return tensorOf(name, dt, f, shape);
    }

    static HostTensor tensorOf(String name, DType dt, float[] f, long... shape) {
        MemorySegment seg = Arena.ofAuto().allocate((long) f.length * dt.bytes, 16);
        var f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        var u16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < f.length; i++) {
            switch (dt) {
                case F32 -> seg.setAtIndex(f32, i, f[i]);
                case BF16 -> seg.setAtIndex(u16, i, (short) (Float.floatToRawIntBits(f[i]) >>> 16));
                case F16 -> seg.setAtIndex(u16, i, Float.floatToFloat16(f[i]));
                case I8 -> throw new IllegalArgumentException();
            }
        }
        return new HostTensor(name, dt, shape, seg);
    }

    /** The same host data resident in both backends. */
    record Pair(Weight cuda, Weight cpu) {}

    static Pair weight(HostTensor t) {
        return new Pair(cuda.weight(t), cpu.weight(t));
    }

    /** The same matrix in both backends. */
    record Mats(Mat cuda, Mat cpu) {
        Mats rows(int a, int b) { return new Mats(cuda.rows(a, b), cpu.rows(a, b)); }

        Mats cols(int a, int b) { return new Mats(cuda.cols(a, b), cpu.cols(a, b)); }
    }

    static Mats mats(int rows, int cols, float scale) {
        float[] f = randoms(rows * cols, scale);
        Mat a = cuda.allocate(rows, cols), b = cpu.allocate(rows, cols);
        cuda.upload(f, a);
        cpu.upload(f, b);
        return new Mats(a, b);
    }

    static Mats zeros(int rows, int cols) {
        return new Mats(cuda.allocate(rows, cols), cpu.allocate(rows, cols));
    }

    static float[] host(Backend b, Mat m) {
        float[] f = new float[m.rows() * m.cols()];
        b.download(m, f);
        return f;
    }

    /** Asserts per row and returns the worst row's relative difference. */
    static double assertClose(String what, Mats m, double tolerance) {
        float[] ours = host(cuda, m.cuda), ref = host(cpu, m.cpu);
        return assertClose(what, ours, ref, m.cpu.cols(), tolerance);
    }

    static double assertClose(String what, float[] ours, float[] ref, int cols, double tolerance) {
        assertEquals(ref.length, ours.length, what + ": sizes");
        double worst = 0;
        for (int r = 0; r < ref.length / cols; r++) {
            double maxRef = 0, maxDiff = 0;
            for (int c = 0; c < cols; c++) {
                float o = ours[r * cols + c], x = ref[r * cols + c];
                if (Float.isNaN(o) != Float.isNaN(x)) fail(what + ", row " + r + " col " + c + ": " + o + " vs " + x);
                maxRef = Math.max(maxRef, Math.abs(x));
                maxDiff = Math.max(maxDiff, Math.abs(o - x));
            }
            double rel = maxDiff / Math.max(maxRef, Float.MIN_NORMAL);
            worst = Math.max(worst, rel);
            if (!(rel <= tolerance)) fail(String.format("%s, row %d: max|cuda - cpu| / max|cpu| = %.3g > %.0e", what, r, rel, tolerance));
        }
        System.out.printf("  %-64s worst row %.2e%n", what, worst);
        return worst;
    }

    // ---- products -----------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0} rows x {1} -> {2}, {3}, bias {4}")
    @CsvSource({
            "1, 200, 77, BF16, false", "1, 4096, 333, BF16, true", "3, 1000, 4097, BF16, false", "8, 14336, 96, BF16, false",
            "9, 517, 129, BF16, true", "37, 96, 320, BF16, false", "3000, 300, 130, BF16, true",
            "16, 4096, 300, BF16, false", "33, 8192, 288, BF16, false", "64, 96, 7, BF16, true", "64, 7, 192, BF16, false",
            "65, 4096, 1024, BF16, true", "5, 4096, 1024, BF16, true",
            "1, 63, 65, F32, true", "7, 1025, 31, F32, false", "3000, 64, 100, F32, false",
            "1, 100, 50, F16, false", "19, 200, 70, F16, true"})
    void matmul(int rows, int in, int out, DType dt, boolean bias) {
        requireCuda();
        Pair w = weight(tensor("w", dt, 0.05f, out, in));
        Pair b = bias ? weight(tensor("b", dt, 0.5f, out)) : new Pair(null, null);
        Mats x = mats(rows, in, 1f), y = zeros(rows, out);
        cuda.matmul(x.cuda, w.cuda, b.cuda, y.cuda);
        cpu.matmul(x.cpu, w.cpu, b.cpu, y.cpu);
        assertClose("matmul " + rows + "x" + in + " -> " + out + " " + dt + (bias ? " +bias" : ""), y, TOLERANCE);
    }

    /**
     * bf16 products of up to 64 rows run on the tensor cores with one accumulation chain per element: a row gets
     * the same bits alone, in a batch of 8, 17 or 64, or as a view into another batch. Shapes cover k-slices
     * (few outputs, long K), k-blocks (8192 -> 288, 4096 -> 1024), an unaligned K and a bias.
     */
    @ParameterizedTest(name = "{0} -> {1}, bias {2}")
    @CsvSource({"4096, 300, false", "8192, 288, true", "4096, 1024, true", "200, 77, true", "7, 40, false", "14336, 64, false"})
    void tensorCoreProductsGiveARowTheSameBitsInEveryBatch(int in, int out, boolean bias) {
        requireCuda();
        Weight w = cuda.weight(tensor("w", DType.BF16, 0.05f, out, in));
        Weight b = bias ? cuda.weight(tensor("b", DType.BF16, 0.5f, out)) : null;
        float[] xs = randoms(64 * in, 1f);
        Mat x = cuda.allocate(64, in), all = cuda.allocate(64, out);
        cuda.upload(xs, x);
        cuda.matmul(x, w, b, all);
        float[] ref = host(cuda, all);
        for (int[] range : new int[][]{{0, 1}, {5, 6}, {0, 8}, {3, 20}, {40, 64}, {63, 64}}) {
            int n = range[1] - range[0];
            Mat part = cuda.allocate(n, out);
            cuda.matmul(x.rows(range[0], range[1]), w, b, part);
            float[] got = host(cuda, part);
            assertArrayEquals(java.util.Arrays.copyOfRange(ref, range[0] * out, range[1] * out), got,
                    "rows " + range[0] + ".." + range[1] + " alone vs in the batch of 64");
            cuda.free(part);
        }
        cuda.free(x);
        cuda.free(all);
        System.out.printf("  %-64s bit-identical%n", "product " + in + " -> " + out + " in 6 batchings");
    }

    @Test
    void matmulOnColumnViewsWritesOnlyItsColumns() {
        requireCuda();
        Pair w = weight(tensor("w", DType.BF16, 0.05f, 45, 70));
        for (int rows : new int[]{2, 50}) {
            Mats src = mats(rows, 100, 1f), dst = mats(rows, 90, 1f);
            cuda.matmul(src.cuda.cols(20, 90), w.cuda, null, dst.cuda.cols(30, 75));
            cpu.matmul(src.cpu.cols(20, 90), w.cpu, null, dst.cpu.cols(30, 75));
            assertClose("matmul on column views, " + rows + " rows (whole destination)", dst, TOLERANCE);
        }
    }

    // ---- row ops ------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0} rows of {1}")
    @CsvSource({"1, 4096", "3, 250", "3000, 33", "5, 12"})
    void normsAndAdds(int rows, int cols) {
        requireCuda();
        Pair w = weight(tensor("norm", DType.BF16, 1f, cols));
        Mats x = mats(rows, cols, 2f), d = mats(rows, cols, 1f), out = zeros(rows, cols);
        cuda.rmsNorm(x.cuda, w.cuda, 1e-6f, out.cuda);
        cpu.rmsNorm(x.cpu, w.cpu, 1e-6f, out.cpu);
        assertClose("rmsNorm " + rows + "x" + cols, out, 1e-5);
        cuda.addRmsNorm(x.cuda, d.cuda, w.cuda, 1e-5f, out.cuda);
        cpu.addRmsNorm(x.cpu, d.cpu, w.cpu, 1e-5f, out.cpu);
        assertClose("addRmsNorm residual " + rows + "x" + cols, x, 1e-6);
        assertClose("addRmsNorm out " + rows + "x" + cols, out, 1e-5);
        cuda.add(x.cuda, d.cuda);
        cpu.add(x.cpu, d.cpu);
        assertClose("add " + rows + "x" + cols, x, 1e-6);
        // in place, on a column view (the dt/B/C norms of x_proj's output)
        Pair w2 = weight(tensor("norm2", DType.F32, 1f, cols - 3));
        cuda.rmsNorm(x.cuda.cols(3, cols), w2.cuda, 1e-6f, x.cuda.cols(3, cols));
        cpu.rmsNorm(x.cpu.cols(3, cols), w2.cpu, 1e-6f, x.cpu.cols(3, cols));
        assertClose("rmsNorm in place on a column view " + rows + "x" + cols, x, 1e-5);
    }

    @Test
    void embeddingAndGather() {
        requireCuda();
        for (DType dt : new DType[]{DType.BF16, DType.F32, DType.F16}) {
            Pair table = weight(tensor("embed", dt, 1f, 1001, 77));
            int[] ids = new int[300];
            for (int i = 0; i < ids.length; i++) ids[i] = RANDOM.nextInt(1001);
            Mats out = zeros(ids.length, 77);
            cuda.embedding(table.cuda, ids, out.cuda);
            cpu.embedding(table.cpu, ids, out.cpu);
            assertClose("embedding " + dt, out, 0);
            int[] rows = {299, 0, 17, 17, 150};
            Mats g = zeros(rows.length, 77);
            cuda.gatherRows(out.cuda, rows, g.cuda);
            cpu.gatherRows(out.cpu, rows, g.cpu);
            assertClose("gatherRows " + dt, g, 0);
        }
        Pair table = weight(tensor("embed", DType.BF16, 1f, 10, 8));
        assertThrows(IllegalArgumentException.class, () -> cuda.embedding(table.cuda, new int[]{10}, cuda.allocate(1, 8)));
    }

    // ---- Mamba --------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "d_inner {0}, d_conv {1}, d_state {2}")
    @CsvSource({"200, 4, 16", "90, 3, 12", "8192, 4, 16"})
    void convAndScanOverBatchesAtDifferentPositions(int dInner, int dConv, int dState) {
        requireCuda();
        MambaState sg = cuda.mambaState(dInner, dConv, dState, 2), sc = cpu.mambaState(dInner, dConv, dState, 2);
        Pair w = weight(tensor("conv", DType.BF16, 0.5f, dInner, 1, dConv)), bias = weight(tensor("convb", DType.BF16, 0.5f, dInner));
        Pair aLog = weight(tensor("A_log", DType.F32, 1f, dInner, dState)), d = weight(tensor("D", DType.F32, 1f, dInner));
        boolean big = dInner > 1000;
        // step 1: three sequences from empty state, of 1, many and 5 tokens; step 2: each continues by 1, 7, 3
        int[][] steps = {{1, big ? 300 : 3000, 5}, {1, 7, 3}};
        int[] slots = {2, 0, 5};
        for (int s : slots) {
            sg.reset(s);
            sc.reset(s);
        }
        for (int step = 0; step < steps.length; step++) {
            Batch batch = Batch.of(slots, steps[step]);
            int rows = batch.rows();
            Mats x = mats(rows, dInner, 1f), u = zeros(rows, dInner);
            cuda.conv1d(sg, batch, x.cuda, w.cuda, bias.cuda, u.cuda);
            cpu.conv1d(sc, batch, x.cpu, w.cpu, bias.cpu, u.cpu);
            assertClose("conv1d step " + step + " d_inner " + dInner, u, 1e-5);
            Mats dt = mats(rows, dInner, 1f), bc = mats(rows, 2 * dState, 1f), z = mats(rows, dInner, 1f), y = zeros(rows, dInner);
            cuda.selectiveScan(sg, batch, u.cuda, dt.cuda, aLog.cuda, bc.cuda.cols(0, dState), bc.cuda.cols(dState, 2 * dState), d.cuda, z.cuda, y.cuda);
            cpu.selectiveScan(sc, batch, u.cpu, dt.cpu, aLog.cpu, bc.cpu.cols(0, dState), bc.cpu.cols(dState, 2 * dState), d.cpu, z.cpu, y.cpu);
            assertClose("selectiveScan step " + step + " d_inner " + dInner + " d_state " + dState, y, 1e-4);
            for (int s : slots)
                assertClose("Mamba state of slot " + s + " after step " + step, sg.export(s), sc.export(s), sc.exportSize(), 1e-4);
        }
        float[] restored = sc.export(0);
        sg.restore(7, restored);
        assertArrayEquals(restored, sg.export(7), "restore then export");
    }

    /**
     * Mamba from x_proj's output (the dt/B/C norms, dt_proj, the scan) in one op against the CPU's composition of
     * them: one row, then sequences of many and few rows continuing from it and from empty state, then a step each.
     */
    @ParameterizedTest(name = "d_inner {0}, dt rank {1}, d_state {2}")
    @CsvSource({"8192, 256, 16", "200, 35, 16", "90, 8, 12"})
    void scanOfXProjOverBatches(int dInner, int rank, int dState) {
        requireCuda();
        MambaState sg = cuda.mambaState(dInner, 4, dState, 2), sc = cpu.mambaState(dInner, 4, dState, 2);
        Pair dtNorm = weight(tensor("dt_norm", DType.BF16, 1f, rank)), bNorm = weight(tensor("b_norm", DType.BF16, 1f, dState));
        Pair cNorm = weight(tensor("c_norm", DType.BF16, 1f, dState));
        Pair proj = weight(tensor("dt_proj", DType.BF16, 0.1f, dInner, rank)), bias = weight(tensor("dt_bias", DType.BF16, 1f, dInner));
        Pair aLog = weight(tensor("A_log", DType.F32, 1f, dInner, dState)), d = weight(tensor("D", DType.F32, 1f, dInner));
        int[] slots = {2, 0, 5};
        for (int s : slots) {
            sg.reset(s);
            sc.reset(s);
        }
        Batch[] steps = {Batch.of(new int[]{2}, new int[]{1}), Batch.of(slots, new int[]{dInner > 1000 ? 300 : 3000, 1, 5}),
                Batch.of(slots, new int[]{1, 7, 3})};
        for (int step = 0; step < steps.length; step++) {
            Batch batch = steps[step];
            int rows = batch.rows();
            Mats u = mats(rows, dInner, 1f), xdbl = mats(rows, rank + 2 * dState, 1f), z = mats(rows, dInner, 1f);
            Mats dt = zeros(rows, dInner), y = zeros(rows, dInner);
            cuda.selectiveScanOfXProj(sg, batch, u.cuda, xdbl.cuda, dtNorm.cuda, bNorm.cuda, cNorm.cuda, 1e-6f, proj.cuda, bias.cuda,
                    dt.cuda, aLog.cuda, d.cuda, z.cuda, y.cuda);
            cpu.selectiveScanOfXProj(sc, batch, u.cpu, xdbl.cpu, dtNorm.cpu, bNorm.cpu, cNorm.cpu, 1e-6f, proj.cpu, bias.cpu,
                    dt.cpu, aLog.cpu, d.cpu, z.cpu, y.cpu);
            String what = " step " + step + " d_inner " + dInner + " dt rank " + rank + " d_state " + dState;
            assertClose("selectiveScanOfXProj" + what, y, TOLERANCE);
            for (int s : batch.slots())
                assertClose("Mamba state of slot " + s + " after" + what, sg.export(s), sc.export(s), sc.exportSize(), TOLERANCE);
        }
    }

    /**
     * A step with a prompt runs dt_of_x_proj then the scan, a decode step the one fused launch: a sequence fed as
     * one prompt and fed row by row leaves the same outputs and state, bit for bit.
     */
    @ParameterizedTest(name = "d_inner {0}, dt rank {1}, d_state {2}")
    @CsvSource({"8192, 256, 16", "200, 35, 16", "90, 8, 12"})
    void scanOfXProjGivesAPromptTheBitsOfItsRowsOneByOne(int dInner, int rank, int dState) {
        requireCuda();
        int rows = 70, width = rank + 2 * dState;
        MambaState s = cuda.mambaState(dInner, 4, dState, 2);
        Weight dtNorm = cuda.weight(tensor("dt_norm", DType.BF16, 1f, rank)), bNorm = cuda.weight(tensor("b_norm", DType.BF16, 1f, dState));
        Weight cNorm = cuda.weight(tensor("c_norm", DType.BF16, 1f, dState));
        Weight proj = cuda.weight(tensor("dt_proj", DType.BF16, 0.1f, dInner, rank)), bias = cuda.weight(tensor("dt_bias", DType.BF16, 1f, dInner));
        Weight aLog = cuda.weight(tensor("A_log", DType.F32, 1f, dInner, dState)), d = cuda.weight(tensor("D", DType.F32, 1f, dInner));
        float[] xs = randoms(rows * width, 1f);
        Mat u = cuda.allocate(rows, dInner), xdbl = cuda.allocate(rows, width), z = cuda.allocate(rows, dInner);
        Mat dt = cuda.allocate(rows, dInner), whole = cuda.allocate(rows, dInner), oneByOne = cuda.allocate(rows, dInner);
        cuda.upload(randoms(rows * dInner, 1f), u);
        cuda.upload(randoms(rows * dInner, 1f), z);
        s.reset(0);
        s.reset(1);
        cuda.upload(xs, xdbl);  // the prompt's path norms B and C in place
        cuda.selectiveScanOfXProj(s, Batch.of(new int[]{0}, new int[]{rows}), u, xdbl, dtNorm, bNorm, cNorm, 1e-6f, proj, bias, dt, aLog, d, z, whole);
        cuda.upload(xs, xdbl);
        for (int r = 0; r < rows; r++)
            cuda.selectiveScanOfXProj(s, Batch.of(new int[]{1}, new int[]{1}), u.rows(r, r + 1), xdbl.rows(r, r + 1), dtNorm, bNorm, cNorm,
                    1e-6f, proj, bias, dt.rows(r, r + 1), aLog, d, z.rows(r, r + 1), oneByOne.rows(r, r + 1));
        assertArrayEquals(host(cuda, whole), host(cuda, oneByOne), "outputs, one prompt vs row by row");
        assertArrayEquals(s.export(0), s.export(1), "Mamba state, one prompt vs row by row");
        for (Mat m : new Mat[]{u, xdbl, z, dt, whole, oneByOne}) cuda.free(m);
        System.out.printf("  %-64s bit-identical%n", "selectiveScanOfXProj d_inner " + dInner + " rank " + rank + ": prompt vs rows");
    }

    // ---- attention ----------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0} heads / {1} KV heads of {2}, {3} cache")
    @CsvSource({"4, 2, 16, F32", "6, 3, 36, F32", "32, 8, 128, F32", "6, 3, 36, BF16", "32, 8, 128, BF16"})
    void attentionPrefillThenDecodeAtDifferentPositions(int heads, int kvHeads, int headDim, DType dtype) {
        requireCuda();
        KvCache cg = cuda.kvCache(kvHeads, headDim, dtype, 0), cc = cpu.kvCache(kvHeads, headDim, dtype, 0);
        boolean big = headDim == 128;
        int[] slots = {1, 0, 3};
        // prefill (tiled kernel), a short chunk (per-row kernel), then decode steps of the three together
        int[][] steps = {{1, big ? 700 : 3000, 70}, {3, 1, 9}, {1, 1, 1}, {1, 1, 1}};
        for (int s : slots) {
            cg.reset(s);
            cc.reset(s);
        }
        for (int step = 0; step < steps.length; step++) {
            Batch batch = Batch.of(slots, steps[step]);
            int rows = batch.rows();
            Mats q = mats(rows, heads * headDim, 1f), k = mats(rows, kvHeads * headDim, 1f), v = mats(rows, kvHeads * headDim, 1f);
            Mats out = zeros(rows, heads * headDim);
            cuda.attention(cg, batch, q.cuda, k.cuda, v.cuda, out.cuda);
            cpu.attention(cc, batch, q.cpu, k.cpu, v.cpu, out.cpu);
            assertClose("attention step " + step + " (" + rows + " rows) " + heads + "/" + kvHeads + "x" + headDim + " " + dtype, out, 1e-4);
            for (int s : slots) assertEquals(cc.length(s), cg.length(s), "cached tokens of slot " + s);
        }
        assertArrayEquals(cc.export(3), cg.export(3), "the cache holds exactly the appended k and v");
        float[] kv = cc.export(0);
        cg.restore(6, kv, cc.length(0));
        cc.restore(6, kv, cc.length(0));
        Batch one = Batch.of(new int[]{6}, 1);
        Mats q = mats(1, heads * headDim, 1f), k = mats(1, kvHeads * headDim, 1f), v = mats(1, kvHeads * headDim, 1f), out = zeros(1, heads * headDim);
        cuda.attention(cg, one, q.cuda, k.cuda, v.cuda, out.cuda);
        cpu.attention(cc, one, q.cpu, k.cpu, v.cpu, out.cpu);
        assertClose("attention after restore", out, 1e-4);
        cg.truncate(6, 5);
        assertEquals(5, cg.length(6));
    }

    /** Decode steps (one row a sequence): conv1d moves each slot's state on in the same launch. */
    @Test
    void convStepsOfOneRowEach() {
        requireCuda();
        int dInner = 300, dConv = 4;
        MambaState sg = cuda.mambaState(dInner, dConv, 16, 2), sc = cpu.mambaState(dInner, dConv, 16, 2);
        Pair w = weight(tensor("conv", DType.BF16, 0.5f, dInner, 1, dConv)), bias = weight(tensor("convb", DType.BF16, 0.5f, dInner));
        int[] slots = {3, 1};
        for (int s : slots) {
            sg.reset(s);
            sc.reset(s);
        }
        // a prompt of 2 and one of 6 tokens, then single tokens past the conv window
        for (int[] counts : new int[][]{{2, 6}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}) {
            Batch batch = Batch.of(slots, counts);
            Mats x = mats(batch.rows(), dInner, 1f), u = zeros(batch.rows(), dInner);
            cuda.conv1d(sg, batch, x.cuda, w.cuda, bias.cuda, u.cuda);
            cpu.conv1d(sc, batch, x.cpu, w.cpu, bias.cpu, u.cpu);
            assertClose("conv1d of rows " + Arrays.toString(counts), u, 1e-5);
            for (int s : slots) assertClose("conv state of slot " + s, sg.export(s), sc.export(s), sc.exportSize(), 1e-6);
        }
    }

    // ---- feed-forward -------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0} rows")
    @CsvSource({"1", "5", "8", "70", "3000"})
    void mlpAndMoe(int rows) {
        requireCuda();
        int hidden = 200, inter = 333, experts = 5, topK = 3;
        Pair g = weight(tensor("gate", DType.BF16, 0.07f, inter, hidden)), u = weight(tensor("up", DType.BF16, 0.07f, inter, hidden));
        Pair d = weight(tensor("down", DType.BF16, 0.05f, hidden, inter));
        Mats x = mats(rows, hidden, 1f), out = zeros(rows, hidden);
        cuda.mlp(x.cuda, g.cuda, u.cuda, d.cuda, out.cuda);
        cpu.mlp(x.cpu, g.cpu, u.cpu, d.cpu, out.cpu);
        assertClose("mlp " + rows + " rows", out, TOLERANCE);

        ExpertTensors t = expertTensors(experts, hidden, inter);
        Experts eg = cuda.experts(t.router(), t.gate(), t.up(), t.down(), topK, false), ec = cpu.experts(t.router(), t.gate(), t.up(), t.down(), topK, false);
        cuda.moe(x.cuda, eg, out.cuda);
        cpu.moe(x.cpu, ec, out.cpu);
        assertClose("moe " + rows + " rows, " + experts + " experts top-" + topK, out, TOLERANCE);
    }

    @Test
    void moeWithSixteenExpertsTopTwoAsJamba() {
        requireCuda();
        int hidden = 256, inter = 300, experts = 16;
        ExpertTensors t = expertTensors(experts, hidden, inter);
        Experts eg = cuda.experts(t.router(), t.gate(), t.up(), t.down(), 2, false), ec = cpu.experts(t.router(), t.gate(), t.up(), t.down(), 2, false);
        for (int rows : new int[]{1, 3, 64, 65, 1000}) {
            Mats x = mats(rows, hidden, 1f), out = zeros(rows, hidden);
            cuda.moe(x.cuda, eg, out.cuda);
            cpu.moe(x.cpu, ec, out.cpu);
            assertClose("moe 16 experts top-2, " + rows + " rows", out, TOLERANCE);
        }
    }

    /** int8 experts are quantised on the device exactly as the CPU backend quantises them, then computed alike. */
    @Test
    void int8ExpertsOnTheDeviceQuantiseAsTheCpuDoes() {
        requireCuda();
        int hidden = 256, inter = 320, experts = 16;
        ExpertTensors t = expertTensors(experts, hidden, inter);
        Experts eg = cuda.experts(t.router(), t.gate(), t.up(), t.down(), 2, true), ec = cpu.experts(t.router(), t.gate(), t.up(), t.down(), 2, true);
        for (int rows : new int[]{1, 8, 64, 65, 700}) {
            Mats x = mats(rows, hidden, 1f), out = zeros(rows, hidden);
            cuda.moe(x.cuda, eg, out.cuda);
            cpu.moe(x.cpu, ec, out.cpu);
            assertClose("moe int8 experts 16 top-2, " + rows + " rows", out, TOLERANCE);
        }
    }

    /**
     * A MoE of up to 64 rows routes in the launch that computes its router logits (mma.cu, K over k-blocks for
     * Jamba's 16 x 4096 router): the logits are the plain product's, bit for bit.
     */
    @Test
    void routerLogitsAreThePlainProductsBits() {
        requireCuda();
        int hidden = 4096, experts = 16;
        ExpertTensors t = expertTensors(experts, hidden, 64);
        Experts eg = cuda.experts(t.router(), t.gate(), t.up(), t.down(), 2, false);
        Weight router = cuda.weight(t.router());
        for (int rows : new int[]{1, 8, 37, 64}) {
            Mat x = cuda.allocate(rows, hidden), out = cuda.allocate(rows, hidden), plain = cuda.allocate(rows, experts);
            cuda.upload(randoms(rows * hidden, 1f), x);
            cuda.matmul(x, router, null, plain);
            cuda.moe(x, eg, out);
            assertArrayEquals(host(cuda, plain), ((CudaBackend) cuda).routerLogits(rows * experts), rows + " rows: routed logits vs the product's");
            for (Mat m : new Mat[]{x, out, plain}) cuda.free(m);
        }
        System.out.printf("  %-64s bit-identical%n", "router logits 4096 -> 16 at 1, 8, 37, 64 rows");
    }

    /** A router and bf16 experts of a trained model's scale, the same for both backends. */
    private record ExpertTensors(HostTensor router, List<HostTensor> gate, List<HostTensor> up, List<HostTensor> down) {}

    private static ExpertTensors expertTensors(int experts, int hidden, int inter) {
        HostTensor router = tensor("router", DType.BF16, 0.1f, experts, hidden);
        List<HostTensor> gs = new ArrayList<>(), us = new ArrayList<>(), ds = new ArrayList<>();
        for (int e = 0; e < experts; e++) {
            gs.add(tensor("g" + e, DType.BF16, 0.07f, inter, hidden));
            us.add(tensor("u" + e, DType.BF16, 0.07f, inter, hidden));
            ds.add(tensor("d" + e, DType.BF16, 0.05f, hidden, inter));
        }
        return new ExpertTensors(router, gs, us, ds);
    }

    // ---- state memory ---------------------------------------------------------------------------------------

    @Test
    void aBoundedKvCacheRefusesWhatItCannotHoldAndKeepsServing() {
        requireCuda();
        for (Backend b : new Backend[]{cuda, cpu}) {
            KvCache kv = b.kvCache(2, 16, DType.BF16, 192);  // three blocks of 64 positions
            kv.reserve(0, 100);
            kv.reserve(1, 20);
            ai.jamba.kernels.CapacityException e = assertThrows(ai.jamba.kernels.CapacityException.class, () -> kv.reserve(1, 70));
            System.out.println("  " + b.name() + ": " + e.getMessage());
            assertTrue(e.getMessage().startsWith("the KV cache is full"), e.getMessage());
            kv.reset(0);
            kv.reserve(1, 128);
            kv.close();
        }
    }

    // ---- graphs and timing --------------------------------------------------------------------------------

    /** A repeating step replays its graph with each step's own inputs, and computes what the plain ops compute. */
    @Test
    void repeatingStepsReplayTheirGraphWithNewInputs() {
        requireCuda();
        CudaBackend c = (CudaBackend) cuda;
        Weight w = cuda.weight(tensor("w", DType.BF16, 0.05f, 300, 512));
        Weight norm = cuda.weight(tensor("norm", DType.F32, 1f, 300));
        Mat x = cuda.allocate(3, 512), y = cuda.allocate(3, 300), plain = cuda.allocate(3, 300);
        int before = c.decodeGraphs();
        for (int step = 0; step < 5; step++) {
            float[] xs = randoms(3 * 512, 1f);
            cuda.upload(xs, x);
            cuda.matmul(x, w, null, plain);
            cuda.rmsNorm(plain, norm, 1e-6f, plain);
            float[] want = host(cuda, plain);
            c.repeatingStep(-7, () -> {
                cuda.upload(xs, x);
                cuda.matmul(x, w, null, y);
                cuda.rmsNorm(y, norm, 1e-6f, y);
                return null;
            });
            assertArrayEquals(want, host(cuda, y), "step " + step + " (the first records, the others replay)");
        }
        assertEquals(before + 1, c.decodeGraphs(), "one graph for the step's shape");
    }

    @Test
    void kernelTimesNameTheKernelsOfTheWork() {
        requireCuda();
        CudaBackend c = (CudaBackend) cuda;
        Weight w = cuda.weight(tensor("w", DType.BF16, 0.05f, 4096, 4000));
        Mat x = cuda.allocate(1, 4000), y = cuda.allocate(1, 4096);
        var shares = c.kernelTimes(() -> cuda.matmul(x, w, null, y));
        System.out.println("  " + shares);
        assertEquals("mma_bf16_1 4096x4000", shares.get(0).kernel(), "a product's row names its weight, N x K");
        assertTrue(shares.get(0).millis() > 0);
    }

    // ---- sampling -----------------------------------------------------------------------------------------

    @Test
    void samplingOnTheDeviceChoosesWhatTheHostReferenceChooses() {
        requireCuda();
        int vocab = 5003, rows = 4;
        float[] logits = randoms(rows * vocab, 3f);
        logits[2 * vocab + 17] = logits[2 * vocab + 4000] = 50f;  // a tie for the top: the lower index wins
        for (int i = 0; i < vocab; i += 7) logits[3 * vocab + i] = 1f;  // many equal candidates
        Mat l = cuda.allocate(rows, vocab);
        cuda.upload(logits, l);
        SamplingParams[] greedy = new SamplingParams[rows];
        java.util.Arrays.fill(greedy, SamplingParams.GREEDY);
        int[] ids = cuda.sample(l, greedy, new double[rows]);
        for (int r = 0; r < rows; r++) assertEquals(Sampler.argmax(logits, r * vocab, vocab), ids[r], "argmax row " + r);
        SamplingParams[] kinds = {new SamplingParams(1f, 0, 1f), new SamplingParams(0.7f, 40, 1f),
                new SamplingParams(1.3f, 0, 0.9f), new SamplingParams(0.8f, 50, 0.95f), new SamplingParams(2f, 1, 0.5f),
                new SamplingParams(1f, 0, 0.01f)};
        int draws = 0;
        for (SamplingParams p : kinds) {
            for (int trial = 0; trial < 30; trial++) {
                SamplingParams[] ps = new SamplingParams[rows];
                double[] u = new double[rows];
                for (int r = 0; r < rows; r++) {
                    ps[r] = r == 1 ? SamplingParams.GREEDY : p;
                    u[r] = RANDOM.nextDouble();
                }
                int[] got = cuda.sample(l, ps, u);
                for (int r = 0; r < rows; r++) {
                    int want = Sampler.sample(logits, r * vocab, vocab, ps[r], u[r]);
                    assertEquals(want, got[r], "row " + r + " " + ps[r] + " uniform " + u[r]);
                    draws++;
                }
            }
        }
        System.out.println("  sampling: " + draws + " draws equal to the host reference");
    }

    // ---- errors -------------------------------------------------------------------------------------------

    @Test
    void outOfDeviceMemorySaysHowMuchWasAskedAndIsFree() {
        requireCuda();
        CudaException e = assertThrows(CudaException.class, () -> cuda.allocate(1 << 20, 1 << 19));
        System.out.println("  " + e.getMessage());
        assertTrue(e.getMessage().startsWith("out of device memory: a 1048576 x 524288 activation matrix needs"), e.getMessage());
    }

    @Test
    void aKernelThatDoesNotCompileShowsNvrtcsLog() {
        requireCuda();
        Nvrtc nvrtc = Nvrtc.load();
        CudaException e = assertThrows(CudaException.class, () -> nvrtc.compile("broken.cu",
                "extern \"C\" __global__ void k(float* x) { x[0] = undeclared_name; }", Map.of(), List.of("--gpu-architecture=sm_90")));
        System.out.println("  " + e.getMessage().replace("\n", "\n  "));
        assertTrue(e.getMessage().contains("NVRTC could not compile broken.cu"), e.getMessage());
        assertTrue(e.getMessage().contains("undeclared_name"), "the log names the error: " + e.getMessage());
    }

    @Test
    void anOldGpuIsRefusedByName() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Device.checkSupported("Tesla K80", 3, 7));
        assertEquals("Tesla K80 has compute capability 3.7; the CUDA backend needs 8.0 or newer (Ampere, Hopper)", e.getMessage());
    }
}
