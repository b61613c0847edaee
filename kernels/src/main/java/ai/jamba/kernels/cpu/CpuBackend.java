package ai.jamba.kernels.cpu;

import ai.jamba.kernels.Backend;
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
import jdk.incubator.vector.FloatVector;

import java.util.List;

/**
 * The pure-Java backend: Vector API kernels on a fixed pool of threads, weights read in their checkpoint
 * dtype straight from the memory-mapped file. Ops are synchronous. One engine thread drives it.
 */
public final class CpuBackend implements Backend {
    private final Parallel pool;
    private final Scratch scratch = new Scratch();
    private final MixtureOfExperts moe;

    /** Whether bf16 matrices are packed in 12 bits ({@link PackedBf16}): faster single-token decoding, slower batches. */
    private final boolean packBf16;

    public CpuBackend(int threads) {
        this(threads, false);
    }

    public CpuBackend(int threads, boolean packBf16) {
        this.pool = new Parallel(threads);
        this.moe = new MixtureOfExperts(pool, scratch);
        this.packBf16 = packBf16;
    }

    /** Threads by default: one per core. */
    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }

    @Override public String name() { return "cpu"; }

    @Override
    public String describe() {
        return "cpu: " + pool.threads() + " threads, " + Simd.F.vectorBitSize() + "-bit SIMD (" + Simd.L + " float lanes)"
                + (packBf16 ? ", bf16 weights packed in 12 bits" : "");
    }

    public int threads() {
        return pool.threads();
    }

    // ---- memory -------------------------------------------------------------------------------------------

    @Override
    public Weight weight(HostTensor tensor) {
        return CpuWeight.of(tensor, packBf16);
    }

    @Override
    public Experts experts(HostTensor router, List<HostTensor> gate, List<HostTensor> up, List<HostTensor> down, int topK, boolean int8) {
        return new CpuExperts(router, gate, up, down, topK, int8, packBf16);
    }

    @Override
    public Mat allocate(int rows, int cols) {
        long n = (long) rows * cols;
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(rows + " x " + cols + " floats do not fit one Java array");
        return new CpuMat(new float[(int) n], 0, rows, cols, cols);
    }

    @Override
    public void free(Mat m) {
        // the garbage collector takes it
    }

    @Override
    public void upload(float[] src, Mat dst) {
        CpuMat d = CpuMat.of(dst);
        checkSize(src.length, d);
        for (int r = 0; r < d.rows; r++) System.arraycopy(src, r * d.cols, d.data, d.at(r), d.cols);
    }

    @Override
    public void download(Mat src, float[] dst) {
        CpuMat s = CpuMat.of(src);
        checkSize(dst.length, s);
        for (int r = 0; r < s.rows; r++) System.arraycopy(s.data, s.at(r), dst, r * s.cols, s.cols);
    }

    private static void checkSize(int length, CpuMat m) {
        if (length < m.rows * m.cols) throw new IllegalArgumentException("host array of " + length + " floats for " + m);
    }

    /** Slots are made on first use: {@code slots} asks for nothing up front on the heap. */
    @Override
    public MambaState mambaState(int dInner, int dConv, int dState, int slots) {
        return new CpuMambaState(dInner, dConv, dState);
    }

    @Override
    public KvCache kvCache(int kvHeads, int headDim, DType dtype, long capacityTokens) {
        return new CpuKvCache(kvHeads, headDim, dtype, capacityTokens);
    }

    // ---- ops ----------------------------------------------------------------------------------------------

    @Override
    public void embedding(Weight table, int[] ids, Mat out) {
        CpuWeight w = CpuWeight.of(table);
        CpuMat o = CpuMat.of(out);
        for (int t = 0; t < ids.length; t++) {
            int id = ids[t];
            if (id < 0 || id >= w.rows) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + w.rows + ")");
            int at = o.at(t), c = 0;
            for (; w.packed == null && c <= w.cols - Simd.L; c += Simd.L) { // a packed row: element by element, below
                FloatVector v = Simd.widen(w, w.index(id, c)); // L elements in a row never straddle a block
                (w.scales == null ? v : v.mul(w.scales[id])).intoArray(o.data, at + c);
            }
            for (; c < w.cols; c++) o.data[at + c] = w.get(id, c);
        }
    }

    @Override
    public void rmsNorm(Mat x, Weight weight, float eps, Mat out) {
        CpuMat xm = CpuMat.of(x), om = CpuMat.of(out);
        float[] w = CpuWeight.of(weight).floats();
        int cols = xm.cols;
        if (w.length != cols) throw new IllegalArgumentException(weight.name() + " has " + w.length + " elements for rows of " + cols);
        pool.forRange(xm.rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) normRow(xm.data, xm.at(r), w, eps, cols, om.data, om.at(r));
        });
    }

    @Override
    public void addRmsNorm(Mat residual, Mat delta, Weight weight, float eps, Mat out) {
        CpuMat rm = CpuMat.of(residual), dm = CpuMat.of(delta), om = CpuMat.of(out);
        float[] w = CpuWeight.of(weight).floats();
        int cols = rm.cols;
        pool.forRange(rm.rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                addRow(rm.data, rm.at(r), dm.data, dm.at(r), cols);
                normRow(rm.data, rm.at(r), w, eps, cols, om.data, om.at(r));
            }
        });
    }

    private static void normRow(float[] x, int xAt, float[] w, float eps, int n, float[] out, int oAt) {
        int upper = n - n % Simd.L, i = 0;
        FloatVector acc = FloatVector.zero(Simd.F);
        for (; i < upper; i += Simd.L) {
            FloatVector v = FloatVector.fromArray(Simd.F, x, xAt + i);
            acc = v.fma(v, acc);
        }
        float ss = Simd.sum(acc);
        for (; i < n; i++) ss += x[xAt + i] * x[xAt + i];
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (i = 0; i < upper; i += Simd.L)
            FloatVector.fromArray(Simd.F, x, xAt + i).mul(inv).mul(FloatVector.fromArray(Simd.F, w, i)).intoArray(out, oAt + i);
        for (; i < n; i++) out[oAt + i] = x[xAt + i] * inv * w[i];
    }

    private static void addRow(float[] acc, int aAt, float[] x, int xAt, int n) {
        int upper = n - n % Simd.L, i = 0;
        for (; i < upper; i += Simd.L)
            FloatVector.fromArray(Simd.F, acc, aAt + i).add(FloatVector.fromArray(Simd.F, x, xAt + i)).intoArray(acc, aAt + i);
        for (; i < n; i++) acc[aAt + i] += x[xAt + i];
    }

    @Override
    public void add(Mat acc, Mat x) {
        CpuMat a = CpuMat.of(acc), b = CpuMat.of(x);
        if (a.rows != b.rows || a.cols != b.cols) throw new IllegalArgumentException("add: " + a + " += " + b);
        pool.forRange(a.rows, a.cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) addRow(a.data, a.at(r), b.data, b.at(r), a.cols);
        });
    }

    @Override
    public void matmul(Mat x, Weight w, Weight bias, Mat out) {
        MatMul.run(pool, scratch, CpuMat.of(x), CpuWeight.of(w), bias == null ? null : CpuWeight.of(bias), CpuMat.of(out));
    }

    @Override
    public void conv1d(MambaState state, Batch batch, Mat x, Weight w, Weight bias, Mat out) {
        CausalConv1d.run(pool, (CpuMambaState) state, batch, CpuMat.of(x), CpuWeight.of(w),
                bias == null ? null : CpuWeight.of(bias), CpuMat.of(out));
    }

    @Override
    public void selectiveScan(MambaState state, Batch batch, Mat u, Mat dt, Weight aLog, Mat b, Mat c, Weight d, Mat z, Mat out) {
        SelectiveScan.run(pool, scratch, (CpuMambaState) state, batch, CpuMat.of(u), CpuMat.of(dt), CpuWeight.of(aLog),
                CpuMat.of(b), CpuMat.of(c), CpuWeight.of(d), CpuMat.of(z), CpuMat.of(out));
    }

    @Override
    public void attention(KvCache cache, Batch batch, Mat q, Mat k, Mat v, Mat out) {
        Attention.run(pool, (CpuKvCache) cache, batch, CpuMat.of(q), CpuMat.of(k), CpuMat.of(v), CpuMat.of(out));
    }

    @Override
    public void mlp(Mat x, Weight gate, Weight up, Weight down, Mat out) {
        Mlp.run(pool, scratch, CpuMat.of(x), CpuWeight.of(gate), CpuWeight.of(up), CpuWeight.of(down), CpuMat.of(out));
    }

    @Override
    public void moe(Mat x, Experts experts, Mat out) {
        moe.run(CpuMat.of(x), (CpuExperts) experts, CpuMat.of(out));
    }

    @Override
    public void gatherRows(Mat x, int[] rows, Mat out) {
        CpuMat s = CpuMat.of(x), d = CpuMat.of(out);
        for (int i = 0; i < rows.length; i++) System.arraycopy(s.data, s.at(rows[i]), d.data, d.at(i), s.cols);
    }

    /** Samples straight from the logits' rows: they are host memory already, no copy needed. */
    @Override
    public int[] sample(Mat logits, SamplingParams[] params, double[] uniforms) {
        CpuMat m = CpuMat.of(logits);
        int[] ids = new int[m.rows];
        for (int i = 0; i < ids.length; i++) ids[i] = Sampler.sample(m.data, m.at(i), m.cols, params[i], uniforms[i]);
        return ids;
    }

    @Override
    public void close() {
        pool.close();
    }
}
