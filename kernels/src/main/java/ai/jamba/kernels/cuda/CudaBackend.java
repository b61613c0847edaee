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
import ai.jamba.kernels.SamplingParams;
import ai.jamba.kernels.Weight;
import ai.jamba.kernels.cuda.KernelCompiler.Kernel;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The GPU backend: CUDA kernels compiled at start-up by NVRTC and launched through FFM, cuBLAS for the large
 * products. Weights stay in device memory in their checkpoint dtype (experts optionally int8); activations are
 * float32; per-slot state (conv, SSM, paged KV) lives in device memory; sampling runs on the device and only token
 * ids come back. {@link Products} says which kernel runs a product.
 *
 * <p>Ops are queued on one stream and return before the device finishes; {@link #download}, {@link #sample}
 * and {@link #synchronize} wait. Decode steps ({@link #repeatingStep}) run as CUDA graphs ({@link StepGraphs}).
 * One thread drives a backend at a time.
 */
public final class CudaBackend implements Backend {
    /** Rows up to which attention runs the per-row decode kernel rather than a tiled prefill one. */
    static final int DECODE_ATTENTION_ROWS = 64;
    /** attention.cu MAX_GROUP, PREFILL_Q, DECODE_WARPS. */
    private static final int MAX_GROUP = 8, PREFILL_Q = 64, DECODE_WARPS = 4;
    /** Tokens up to which MoE runs its experts from device-side routing (no host round trip). */
    static final int DEVICE_ROUTED_ROWS = Products.MMA_ROWS;
    /** gemv.cu SKINNY_ROWS and KCHUNK, for the f32/f16 expert kernels. */
    private static final int SKINNY_ROWS = Products.SKINNY_ROWS, KCHUNK = 1024;

    private final Device device;
    private final Products products;
    private final List<CudaMambaState> mambaStates = new ArrayList<>();
    private final List<CudaKvCache> kvCaches = new ArrayList<>();
    /** Device memory of weights, freed when the backend closes. */
    private final List<Long> resident = new ArrayList<>();
    private Thread boundThread;
    /** The batch whose descriptor is on the device now (one upload per step, whatever the layers). */
    private Batch uploadedBatch;
    private DeviceBatch deviceBatch;

    private CudaBackend(Device device) {
        this.device = device;
        long kBlockScratch = keep(device.alloc(Products.K_BLOCK_SCRATCH_BYTES, "k-block partial sums"));
        device.zero(kBlockScratch, Products.K_BLOCK_SCRATCH_BYTES);
        this.products = new Products(device, kBlockScratch);
        this.boundThread = Thread.currentThread();
    }

    /** Sources every model uses, compiled (or found in the cache) when the backend opens, so a broken toolchain fails here. */
    private static final List<String> GENERIC_SOURCES = List.of("elementwise.cu", "gemv.cu", "mma.cu", "moe.cu", "sample.cu");

    /** Opens GPU 0. Throws BackendUnavailableException (a one-line reason) where there is no usable GPU. */
    public static CudaBackend open(Consumer<String> log) {
        Device device;
        try {
            device = Device.open(0, log);
        } catch (CudaException e) {
            throw new BackendUnavailableException(e.getMessage());
        }
        CudaBackend b = new CudaBackend(device);
        try {
            for (String source : GENERIC_SOURCES) device.compiler.module(source);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
        return b;
    }

    @Override public String name() { return "cuda"; }

    @Override
    public String describe() {
        int driver = device.driver.driverVersion();
        return String.format("cuda: %s (sm_%d%d, %d SMs, %.1f GiB), driver API %d.%d", device.name, device.ccMajor, device.ccMinor,
                device.multiprocessors, device.totalMemory / (double) (1L << 30), driver / 1000, driver % 1000 / 10);
    }

    /** The GPU's name, as the driver reports it. */
    public String deviceName() {
        return device.name;
    }

    /** Makes the context current when a different thread calls than last time. */
    private void bind() {
        Thread t = Thread.currentThread();
        if (t != boundThread) {
            device.bind();
            boundThread = t;
        }
    }

    private Kernel kernel(String source, String function, String... defines) {
        return device.compiler.kernel(source, function, defines);
    }

    // ---- memory -------------------------------------------------------------------------------------------

    @Override
    public Weight weight(HostTensor t) {
        bind();
        long rows = t.rows(), cols = t.cols();
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE)
            throw new IllegalArgumentException(t.name() + ": " + rows + " x " + cols + " is too large for one matrix");
        CudaWeight.code(t.dtype());
        long bytes = rows * cols * t.dtype().bytes;
        long ptr = keep(device.alloc(bytes, t.name()));
        device.upload(t.data().asSlice(0, bytes), ptr);
        return new CudaWeight(t.name(), t.dtype(), (int) rows, (int) cols, ptr);
    }

    @Override
    public Experts experts(HostTensor router, List<HostTensor> gate, List<HostTensor> up, List<HostTensor> down, int topK, boolean int8) {
        bind();
        int e = (int) router.rows();
        if (gate.size() != e || up.size() != e || down.size() != e)
            throw new IllegalArgumentException(router.name() + ": router has " + e + " experts but " + gate.size() + "/" + up.size() + "/" + down.size() + " gate/up/down weights were given");
        if (topK < 1 || topK > e) throw new IllegalArgumentException("top-k " + topK + " is not between 1 and " + e + " experts");
        DType dt = gate.get(0).dtype();
        int inter = (int) gate.get(0).rows(), hidden = (int) gate.get(0).cols();
        for (int i = 0; i < e; i++)
            for (HostTensor t : List.of(gate.get(i), up.get(i), down.get(i))) {
                boolean isDown = t == down.get(i);
                long r = isDown ? hidden : inter, c = isDown ? inter : hidden;
                if (t.dtype() != dt || t.rows() != r || t.cols() != c)
                    throw new IllegalArgumentException(t + ": experts must share one dtype and shape (" + dt + " " + r + " x " + c + ")");
            }
        List<List<HostTensor>> kinds = List.of(gate, up, down);
        return stackExperts(router.name(), (CudaWeight) weight(router), e, inter, hidden, topK, dt, int8 ? DType.I8 : dt,
                (kind, i, ptr) -> device.upload(kinds.get(kind).get(i).data().asSlice(0, (long) inter * hidden * dt.bytes), ptr));
    }

    /** Writes expert e's matrix of one kind (0 gate, 1 up, 2 down), in the source dtype, at a device address. */
    @FunctionalInterface
    private interface ExpertSource {
        void write(int kind, int expert, long ptr);
    }

    /**
     * Every expert's gate, up and down stacked by kind in the dtype they are kept in. Kept as they come, each matrix
     * is written in place; kept int8 (ExpertsInt8), each is written to one staging matrix and quantised from there
     * row by row (quantize_rows), so loading never holds more than one expert matrix in its source dtype.
     */
    private CudaExperts stackExperts(String name, CudaWeight router, int experts, int inter, int hidden, int topK,
                                     DType source, DType kept, ExpertSource from) {
        long per = (long) inter * hidden;
        long[] values = new long[3], scales = new long[3];
        String[] kinds = {"gate", "up", "down"};
        for (int k = 0; k < 3; k++) {
            values[k] = keep(device.alloc(experts * per * kept.bytes, name + " expert " + kinds[k] + " weights"));
            if (kept == DType.I8) scales[k] = keep(device.alloc(4L * experts * (k == 2 ? hidden : inter), name + " expert " + kinds[k] + " scales"));
        }
        for (int i = 0; i < experts; i++)
            for (int k = 0; k < 3; k++) {
                if (kept != DType.I8) {
                    from.write(k, i, values[k] + i * per * kept.bytes);
                    continue;
                }
                int rows = k == 2 ? hidden : inter, cols = k == 2 ? inter : hidden;
                long staging = device.scratch("expert staging", per * source.bytes);
                from.write(k, i, staging);
                device.launch(kernel("elementwise.cu", "quantize_rows"), rows, 1, 1, 256, 0,
                        device.args().ptr(staging).i32(CudaWeight.code(source)).ptr(values[k] + i * per).ptr(scales[k] + 4L * i * rows).i32(cols));
            }
        device.dropScratch("expert staging");
        return new CudaExperts(router, values[0], values[1], values[2], scales[0], scales[1], scales[2], kept, experts,
                inter, hidden, topK);
    }

    /** A bf16 weight of N(0, std²) values made on the device (benchmarks: no file, no host copy). */
    public Weight randomWeight(String name, int rows, int cols, float std, long seed) {
        bind();
        long n = (long) rows * cols;
        long ptr = keep(device.alloc(2 * n, name));
        random(ptr, n, std, seed);
        return new CudaWeight(name, DType.BF16, rows, cols, ptr);
    }

    /** A float32 weight with every element {@code value}, made on the device. */
    public Weight constantWeight(String name, int rows, int cols, float value) {
        bind();
        long n = (long) rows * cols;
        long ptr = keep(device.alloc(4 * n, name));
        device.launch(kernel("elementwise.cu", "fill_f32"), Math.min(Device.blocks(n, 256), 65535), 1, 1, 256, 0,
                device.args().ptr(ptr).i64(n).f32(value));
        return new CudaWeight(name, DType.F32, rows, cols, ptr);
    }

    /**
     * A MoE block of random bf16 weights made on the device (benchmarks), kept as bf16 or (int8) quantised by the
     * same path a checkpoint's experts take.
     */
    public Experts randomExperts(String name, int numExperts, int intermediate, int hidden, int topK, float std, long seed, boolean int8) {
        bind();
        CudaWeight router = (CudaWeight) randomWeight(name + ".router", numExperts, hidden, std, seed);
        long per = (long) intermediate * hidden;
        return stackExperts(name, router, numExperts, intermediate, hidden, topK, DType.BF16, int8 ? DType.I8 : DType.BF16,
                (kind, i, ptr) -> random(ptr, per, std, seed + 1 + 3L * i + kind));
    }

    private long keep(long ptr) {
        resident.add(ptr);
        return ptr;
    }

    private void random(long ptr, long n, float std, long seed) {
        device.launch(kernel("elementwise.cu", "random_bf16"), Math.min(Device.blocks(n, 256), 65535), 1, 1, 256, 0,
                device.args().ptr(ptr).i64(n).f32(std).i32((int) (seed ^ (seed >>> 32))));
    }

    @Override
    public Mat allocate(int rows, int cols) {
        bind();
        long bytes = 4L * rows * cols;
        long ptr = device.alloc(bytes, "a " + rows + " x " + cols + " activation matrix");
        device.zero(ptr, bytes);
        return new CudaMat(ptr, rows, cols, cols, true);
    }

    @Override
    public void free(Mat m) {
        bind();
        CudaMat c = CudaMat.of(m);
        if (c.owner) device.free(c.ptr);
    }

    @Override
    public void upload(float[] src, Mat dst) {
        bind();
        CudaMat d = CudaMat.of(dst);
        if (src.length < d.rows * d.cols) throw new IllegalArgumentException("host array of " + src.length + " floats for " + d);
        MemorySegment s = MemorySegment.ofArray(src);
        if (d.contiguous()) device.upload(s.asSlice(0, 4L * d.rows * d.cols), d.ptr);
        else for (int r = 0; r < d.rows; r++) device.upload(s.asSlice(4L * r * d.cols, 4L * d.cols), d.row(r));
    }

    @Override
    public void download(Mat src, float[] dst) {
        bind();
        CudaMat s = CudaMat.of(src);
        if (dst.length < s.rows * s.cols) throw new IllegalArgumentException("host array of " + dst.length + " floats for " + s);
        if (s.contiguous()) {
            device.download(s.ptr, dst, s.rows * s.cols);
            return;
        }
        // a column view: fetch the rows whole, keep the columns
        int span = (s.rows - 1) * s.stride + s.cols;
        float[] all = new float[span];
        device.download(s.ptr, all, span);
        for (int r = 0; r < s.rows; r++) System.arraycopy(all, r * s.stride, dst, r * s.cols, s.cols);
    }

    @Override
    public MambaState mambaState(int dInner, int dConv, int dState, int slots) {
        bind();
        CudaMambaState s = new CudaMambaState(device, dInner, dConv, dState, slots);
        mambaStates.add(s);
        return s;
    }

    @Override
    public KvCache kvCache(int kvHeads, int headDim, DType dtype, long capacityTokens) {
        bind();
        if (headDim % 4 != 0) throw new IllegalArgumentException("the CUDA attention kernels need head_dim a multiple of 4, got " + headDim);
        CudaKvCache c = new CudaKvCache(device, kvHeads, headDim, dtype, capacityTokens);
        kvCaches.add(c);
        return c;
    }

    @Override
    public long[] deviceMemory() {
        bind();
        device.synchronize();
        return device.memoryInfo();
    }

    // ---- ops ----------------------------------------------------------------------------------------------

    @Override
    public void embedding(Weight table, int[] ids, Mat out) {
        bind();
        CudaWeight w = CudaWeight.of(table);
        CudaMat o = CudaMat.of(out);
        for (int id : ids)
            if (id < 0 || id >= w.rows()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + w.rows() + ")");
        long dIds = device.scratch("token ids", 4L * ids.length);
        device.upload(ids, ids.length, dIds);
        device.launch(kernel("elementwise.cu", "embedding"), ids.length, 1, 1, 256, 0,
                device.args().ptr(w.ptr()).i32(w.code()).ptr(dIds).i32(w.cols()).ptr(o.ptr).i32(o.stride));
    }

    /** elementwise.cu NORM_PER: columns of a row each thread of a norm holds. */
    private static final int NORM_PER = 16;

    /** Threads of a norm's block: enough for the row at NORM_PER columns a thread, in whole warps. */
    private static int rowBlock(int cols) {
        if (cols > NORM_PER * 1024) throw new IllegalArgumentException("the CUDA norms take rows of at most " + NORM_PER * 1024 + " columns, got " + cols);
        return Math.max(32, (cols + NORM_PER * 32 - 1) / (NORM_PER * 32) * 32);
    }

    @Override
    public void rmsNorm(Mat x, Weight weight, float eps, Mat out) {
        bind();
        CudaMat xm = CudaMat.of(x), om = CudaMat.of(out);
        CudaWeight w = CudaWeight.of(weight);
        if (w.rows() * w.cols() != xm.cols) throw new IllegalArgumentException(w.name() + " has " + w.rows() * w.cols() + " elements for rows of " + xm.cols);
        device.launch(kernel("elementwise.cu", "rms_norm"), xm.rows, 1, 1, rowBlock(xm.cols), 0,
                device.args().ptr(xm.ptr).i32(xm.stride).ptr(w.ptr()).i32(w.code()).f32(eps).ptr(om.ptr).i32(om.stride).i32(xm.cols));
    }

    @Override
    public void addRmsNorm(Mat residual, Mat delta, Weight weight, float eps, Mat out) {
        bind();
        CudaMat r = CudaMat.of(residual), d = CudaMat.of(delta), o = CudaMat.of(out);
        CudaWeight w = CudaWeight.of(weight);
        device.launch(kernel("elementwise.cu", "add_rms_norm"), r.rows, 1, 1, rowBlock(r.cols), 0,
                device.args().ptr(r.ptr).i32(r.stride).ptr(d.ptr).i32(d.stride).ptr(w.ptr()).i32(w.code()).f32(eps)
                        .ptr(o.ptr).i32(o.stride).i32(r.cols));
    }

    @Override
    public void add(Mat acc, Mat x) {
        bind();
        CudaMat a = CudaMat.of(acc), b = CudaMat.of(x);
        if (a.rows != b.rows || a.cols != b.cols) throw new IllegalArgumentException("add: " + a + " += " + b);
        device.launch(kernel("elementwise.cu", "add"), Device.blocks(a.cols, 256), a.rows, 1, 256, 0,
                device.args().ptr(a.ptr).i32(a.stride).ptr(b.ptr).i32(b.stride).i32(a.cols));
    }

    @Override
    public void matmul(Mat x, Weight w, Weight bias, Mat out) {
        bind();
        CudaMat xm = CudaMat.of(x), om = CudaMat.of(out);
        CudaWeight wm = CudaWeight.of(w);
        if (xm.cols != wm.cols()) throw new IllegalArgumentException(wm.name() + ": input has " + xm.cols + " features, weight expects " + wm.cols());
        if (om.cols != wm.rows() || om.rows != xm.rows)
            throw new IllegalArgumentException(wm.name() + ": output is " + om.rows + " x " + om.cols + ", expected " + xm.rows + " x " + wm.rows());
        products.product(xm.ptr, xm.stride, xm.rows, wm, bias == null ? null : CudaWeight.of(bias), om.ptr, om.stride);
    }

    private DeviceBatch batch(Batch batch) {
        if (batch != uploadedBatch) {
            int[] layout = DeviceBatch.layout(batch);
            long ptr = device.scratch("batch descriptor", 4L * layout.length);
            device.upload(layout, layout.length, ptr);
            deviceBatch = DeviceBatch.at(ptr, batch.sequences());
            uploadedBatch = batch;
        }
        return deviceBatch;
    }

    private static String[] mambaDefines(CudaMambaState s) {
        return new String[]{"D_CONV=" + s.dConv(), "D_STATE=" + s.dState()};
    }

    private static void ensureSlots(CudaMambaState s, Batch batch) {
        int max = 0;
        for (int slot : batch.slots()) max = Math.max(max, slot);
        s.ensure(max);
    }

    @Override
    public void conv1d(MambaState state, Batch batch, Mat x, Weight w, Weight bias, Mat out) {
        bind();
        CudaMambaState s = (CudaMambaState) state;
        CudaMat xm = CudaMat.of(x), om = CudaMat.of(out);
        CudaWeight wm = CudaWeight.of(w), b = bias == null ? null : CudaWeight.of(bias);
        int dInner = s.dInner();
        if (wm.rows() != dInner || wm.cols() != s.dConv())
            throw new IllegalArgumentException(wm.name() + ": conv weight is " + wm.rows() + " x " + wm.cols() + ", expected " + dInner + " x " + s.dConv());
        ensureSlots(s, batch);
        DeviceBatch db = batch(batch);
        String[] defs = mambaDefines(s);
        boolean oneRowEach = batch.rows() == batch.sequences();  // a decode step: conv1d moves the state on itself
        device.launch(kernel("mamba.cu", "conv1d", defs), Device.blocks(dInner, 256), batch.rows(), 1, 256, 0,
                device.args().batch(db).ptr(s.conv()).ptr(xm.ptr).i32(xm.stride).ptr(wm.ptr()).i32(wm.code())
                        .ptr(b == null ? 0 : b.ptr()).i32(b == null ? 0 : b.code()).ptr(om.ptr).i32(om.stride).i32(dInner)
                        .i32(oneRowEach ? 1 : 0));
        if (!oneRowEach)
            device.launch(kernel("mamba.cu", "conv_state", defs), Device.blocks(dInner, 256), batch.sequences(), 1, 256, 0,
                    device.args().batch(db).ptr(s.conv()).ptr(xm.ptr).i32(xm.stride).i32(dInner));
    }

    /** mamba.cu STATE_LANES: lanes that share a channel's scan, d_state rounded up to a power of two. */
    private static int stateLanes(int dState) {
        return dState == 1 ? 1 : Integer.highestOneBit(dState - 1) * 2;
    }

    private static void checkALog(CudaWeight a, int dInner, int dState) {
        if (a.rows() != dInner || a.cols() != dState)
            throw new IllegalArgumentException(a.name() + ": A_log is " + a.rows() + " x " + a.cols() + ", expected " + dInner + " x " + dState);
    }

    @Override
    public void selectiveScan(MambaState state, Batch batch, Mat u, Mat dt, Weight aLog, Mat b, Mat c, Weight d, Mat z, Mat out) {
        bind();
        CudaMambaState s = (CudaMambaState) state;
        CudaMat um = CudaMat.of(u), dtm = CudaMat.of(dt), bm = CudaMat.of(b), cm = CudaMat.of(c), zm = CudaMat.of(z), om = CudaMat.of(out);
        CudaWeight a = CudaWeight.of(aLog), dw = CudaWeight.of(d);
        int dInner = s.dInner(), dState = s.dState();
        checkALog(a, dInner, dState);
        if (bm.cols != dState || cm.cols != dState)
            throw new IllegalArgumentException("B and C need d_state " + dState + " columns, got " + bm.cols + " and " + cm.cols);
        ensureSlots(s, batch);
        int lanes = stateLanes(dState);
        device.launch(kernel("mamba.cu", "selective_scan", mambaDefines(s)), Device.blocks((long) dInner * lanes, 128), batch.sequences(), 1, 128, 0,
                device.args().batch(batch(batch)).ptr(s.ssm()).ptr(um.ptr).i32(um.stride).ptr(dtm.ptr).i32(dtm.stride)
                        .ptr(a.ptr()).i32(a.code()).ptr(bm.ptr).i32(bm.stride).ptr(cm.ptr).i32(cm.stride)
                        .ptr(dw.ptr()).i32(dw.code()).ptr(zm.ptr).i32(zm.stride).ptr(om.ptr).i32(om.stride).i32(dInner));
    }

    /**
     * mamba.cu RANK_PER bound: dt columns a lane keeps in registers (Jamba: 256 / 16 = 16); SEQS: sequences a block
     * of selective_scan_of_x_proj runs one after another; DT_ROWS and DT_CH: rows a block of dt_of_x_proj computes, and
     * channels a lane.
     */
    private static final int MAX_RANK_PER_LANE = 32, SCAN_SEQUENCES = 8, DT_ROWS = 32, DT_CHANNELS = 4;

    @Override
    public void selectiveScanOfXProj(MambaState state, Batch batch, Mat u, Mat xdbl, Weight dtNorm, Weight bNorm,
                                     Weight cNorm, float eps, Weight dtProj, Weight dtProjBias, Mat dt, Weight aLog,
                                     Weight d, Mat z, Mat out) {
        bind();
        CudaMambaState s = (CudaMambaState) state;
        CudaWeight proj = CudaWeight.of(dtProj), a = CudaWeight.of(aLog), dw = CudaWeight.of(d);
        int dInner = s.dInner(), dState = s.dState(), rank = proj.cols(), lanes = stateLanes(dState);
        if (rank > MAX_RANK_PER_LANE * lanes) {
            Backend.super.selectiveScanOfXProj(state, batch, u, xdbl, dtNorm, bNorm, cNorm, eps, dtProj, dtProjBias, dt, aLog, d, z, out);
            return;
        }
        CudaMat um = CudaMat.of(u), xm = CudaMat.of(xdbl), zm = CudaMat.of(z), om = CudaMat.of(out);
        CudaWeight nd = CudaWeight.of(dtNorm), nb = CudaWeight.of(bNorm), nc = CudaWeight.of(cNorm);
        CudaWeight bias = dtProjBias == null ? null : CudaWeight.of(dtProjBias);
        checkALog(a, dInner, dState);
        if (proj.rows() != dInner || xm.cols != rank + 2 * dState)
            throw new IllegalArgumentException(proj.name() + ": dt_proj is " + proj.rows() + " x " + rank + " for x_proj rows of " + xm.cols
                    + " (dt_rank + 2 d_state) and d_inner " + dInner);
        if ((long) nd.rows() * nd.cols() != rank || (long) nb.rows() * nb.cols() != dState || (long) nc.rows() * nc.cols() != dState)
            throw new IllegalArgumentException("dt, B and C norms need " + rank + ", " + dState + " and " + dState + " weights");
        ensureSlots(s, batch);
        String[] defs = {"D_CONV=" + s.dConv(), "D_STATE=" + dState, "DT_RANK=" + rank};
        int vec = xm.ptr % 16 == 0 && xm.stride % 4 == 0 && proj.ptr() % 16 == 0 ? 1 : 0;
        if (batch.rows() > batch.sequences()) {
            // prompts: dt, B and C for all rows at once (the same bits per row), then a scan of only the recurrence
            CudaMat dm = CudaMat.of(dt);
            device.launch(kernel("mamba.cu", "dt_of_x_proj", defs), Device.blocks((long) dInner * lanes, 128 * DT_CHANNELS),
                    Device.blocks(batch.rows(), DT_ROWS), 1, 128, 0,
                    device.args().i32(batch.rows()).ptr(xm.ptr).i32(xm.stride).i32(vec)
                            .ptr(nd.ptr()).i32(nd.code()).ptr(nb.ptr()).i32(nb.code()).ptr(nc.ptr()).i32(nc.code()).f32(eps)
                            .ptr(proj.ptr()).i32(proj.code()).ptr(bias == null ? 0 : bias.ptr()).i32(bias == null ? 0 : bias.code())
                            .ptr(dm.ptr).i32(dm.stride).i32(dInner), true);
            selectiveScan(state, batch, u, dt, aLog, xdbl.cols(rank, rank + dState), xdbl.cols(rank + dState, rank + 2 * dState), d, z, out);
            return;
        }
        device.launch(kernel("mamba.cu", "selective_scan_of_x_proj", defs),
                Device.blocks((long) dInner * lanes, 128), Device.blocks(batch.sequences(), SCAN_SEQUENCES), 1, 128, 0,
                device.args().batch(batch(batch)).i32(batch.sequences()).ptr(s.ssm()).ptr(um.ptr).i32(um.stride)
                        .ptr(xm.ptr).i32(xm.stride).i32(vec)
                        .ptr(nd.ptr()).i32(nd.code()).ptr(nb.ptr()).i32(nb.code()).ptr(nc.ptr()).i32(nc.code()).f32(eps)
                        .ptr(proj.ptr()).i32(proj.code()).ptr(bias == null ? 0 : bias.ptr()).i32(bias == null ? 0 : bias.code())
                        .ptr(a.ptr()).i32(a.code()).ptr(dw.ptr()).i32(dw.code()).ptr(zm.ptr).i32(zm.stride).ptr(om.ptr).i32(om.stride)
                        .i32(dInner), true);
    }

    @Override
    public void attention(KvCache cache, Batch batch, Mat q, Mat k, Mat v, Mat out) {
        bind();
        CudaKvCache kv = (CudaKvCache) cache;
        CudaMat qm = CudaMat.of(q), km = CudaMat.of(k), vm = CudaMat.of(v), om = CudaMat.of(out);
        int kvHeads = kv.kvHeads(), headDim = kv.headDim(), width = kvHeads * headDim;
        if (km.cols != width || vm.cols != width)
            throw new IllegalArgumentException("k and v need " + width + " columns (" + kvHeads + " heads of " + headDim + "), got " + km.cols + " and " + vm.cols);
        if (qm.cols % headDim != 0 || (qm.cols / headDim) % kvHeads != 0)
            throw new IllegalArgumentException("q has " + qm.cols + " columns: not a multiple of " + kvHeads + " KV heads of " + headDim);
        int heads = qm.cols / headDim, group = heads / kvHeads, rows = batch.rows();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        for (int i = 0; i < batch.sequences(); i++) {
            int slot = batch.slots()[i];
            kv.reserve(slot, kv.length(slot) + batch.rowCount()[i]);  // done already when a StatePool reserved the step
        }
        DeviceBatch db = batch(batch);
        boolean bf16 = kv.dtype() == DType.BF16;
        String[] defs = {"HEAD_DIM=" + headDim, "KV_BF16=" + (bf16 ? 1 : 0)};
        device.launch(kernel("attention.cu", "kv_append", defs), rows, 1, 1, 256, 0,
                device.args().batch(db).ptr(kv.table()).i32(kv.maxBlocks()).ptr(kv.lenTable()).ptr(km.ptr).i32(km.stride)
                        .ptr(vm.ptr).i32(vm.stride).i32(width));
        if (rows <= DECODE_ATTENTION_ROWS) {
            int splits = decodeSplits(kv, batch);
            long partial = device.scratch("attention partials", 4L * rows * heads * splits * (headDim + 2));
            if (group > MAX_GROUP) throw new IllegalArgumentException("the CUDA decode attention serves at most " + MAX_GROUP + " query heads per KV head, got " + group);
            device.launch(kernel("attention.cu", "attention_decode", defs), rows, kvHeads, splits, 32 * DECODE_WARPS, 0,
                    device.args().batch(db).ptr(kv.table()).i32(kv.maxBlocks()).ptr(kv.lenTable()).ptr(qm.ptr).i32(qm.stride)
                            .i32(kvHeads).i32(group).f32(scale).ptr(partial));
            device.launch(kernel("attention.cu", "attention_combine", defs), rows, heads, 1, (headDim + 31) / 32 * 32, 0,
                    device.args().ptr(partial).i32(splits).ptr(om.ptr).i32(om.stride));
        } else {
            int[] tiles = prefillTiles(batch);
            long dTiles = device.scratch("attention tiles", 4L * tiles.length);
            device.upload(tiles, tiles.length, dTiles);
            boolean tensor = bf16 && headDim % 64 == 0;
            device.launch(kernel("attention.cu", tensor ? "attention_prefill_mma" : "attention_prefill", defs), tiles.length / 2, heads, 1,
                    tensor ? 128 : 256, tensor ? 2 * 2 * CudaKvCache.BLOCK_TOKENS * headDim * 2 : 0,
                    device.args().batch(db).ptr(kv.table()).i32(kv.maxBlocks()).ptr(kv.lenTable()).ptr(dTiles)
                            .ptr(qm.ptr).i32(qm.stride).i32(kvHeads).i32(group).f32(scale).ptr(om.ptr).i32(om.stride));
        }
        device.launch(kernel("attention.cu", "kv_advance", defs), Device.blocks(batch.sequences(), 128), 1, 1, 128, 0,
                device.args().batch(db).ptr(kv.lenTable()).i32(batch.sequences()));
        for (int i = 0; i < batch.sequences(); i++) kv.advance(batch.slots()[i], batch.rowCount()[i]);
    }

    /**
     * Splits of the decode attention over positions: 16, more (by powers of two, up to 256) while each warp would
     * still have at least two cache blocks of the longest sequence, so a 256K-token context fills the GPU. Powers of
     * two keep the decode graphs few: a graph is recorded again only when a sequence crosses into the next one.
     */
    private static int decodeSplits(CudaKvCache kv, Batch batch) {
        long longest = 0;
        for (int i = 0; i < batch.sequences(); i++) longest = Math.max(longest, kv.length(batch.slots()[i]) + batch.rowCount()[i]);
        int splits = 16;
        while (splits < 256 && longest >= (long) splits * 2 * DECODE_WARPS * 2 * CudaKvCache.BLOCK_TOKENS) splits *= 2;
        return splits;
    }

    /** (first row, rows) of each tile of up to PREFILL_Q query rows; a tile never spans two sequences. */
    private static int[] prefillTiles(Batch batch) {
        List<Integer> t = new ArrayList<>();
        for (int i = 0; i < batch.sequences(); i++)
            for (int r = 0; r < batch.rowCount()[i]; r += PREFILL_Q) {
                t.add(batch.rowStart()[i] + r);
                t.add(Math.min(PREFILL_Q, batch.rowCount()[i] - r));
            }
        return t.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public void mlp(Mat x, Weight gate, Weight up, Weight down, Mat out) {
        bind();
        CudaMat xm = CudaMat.of(x), om = CudaMat.of(out);
        CudaWeight g = CudaWeight.of(gate), u = CudaWeight.of(up), d = CudaWeight.of(down);
        int T = xm.rows, inter = g.rows();
        long h = device.scratch("mlp activations", 4L * T * inter);
        products.gateUp(xm.ptr, xm.stride, T, g, u, null, h, inter);
        products.product(h, inter, T, d, null, om.ptr, om.stride);
    }

    /** The router logits [T, E] of the last {@link #moe} (count = T · E floats), for tests. */
    float[] routerLogits(int count) {
        bind();
        float[] logits = new float[count];
        device.download(device.scratch("router logits", 4L * count), logits, count);
        return logits;
    }

    @Override
    public void moe(Mat x, Experts experts, Mat out) {
        bind();
        CudaMat xm = CudaMat.of(x), om = CudaMat.of(out);
        CudaExperts ex = CudaExperts.of(experts);
        int T = xm.rows, E = ex.numExperts(), k = ex.topK(), hidden = ex.hidden(), inter = ex.intermediate();
        if (xm.cols != hidden) throw new IllegalArgumentException("moe: input has " + xm.cols + " features, experts expect " + hidden);
        if (E > 256) throw new IllegalArgumentException("the CUDA MoE kernels route over at most 256 experts, got " + E);
        long logits = device.scratch("router logits", 4L * T * E);
        long sel = device.scratch("moe choices", 4L * T * k), prob = device.scratch("moe weights", 4L * T * k);
        long lists = device.scratch("moe lists", 4L * (3L * E + 2L * T * k));
        long count = lists, offset = lists + 4L * E, token = lists + 8L * E, slot = token + 4L * T * k, active = slot + 4L * T * k;
        long h = device.scratch("expert activations", 4L * T * k * inter);
        long y = device.scratch("expert outputs", 4L * T * k * hidden);
        Products.Lists l = new Products.Lists(count, offset, token, active, E, k);
        if (T <= DEVICE_ROUTED_ROWS) {
            if (k > 8) throw new IllegalArgumentException("the CUDA decode routing takes at most 8 experts a token, got " + k);
            if (!products.routeInOneLaunch(xm.ptr, xm.stride, T, ex.router(), logits, sel, prob, l, slot)) {
                products.product(xm.ptr, xm.stride, T, ex.router(), null, logits, E);
                device.launch(kernel("moe.cu", "moe_route_lists"), 1, 1, 1, 256, 0,
                        device.args().ptr(logits).i32(E).i32(T).i32(E).i32(k).ptr(sel).ptr(prob).ptr(count).ptr(offset).ptr(token).ptr(slot)
                                .ptr(active));
            }
        } else {
            products.product(xm.ptr, xm.stride, T, ex.router(), null, logits, E);
            device.launch(kernel("moe.cu", "moe_route"), Device.blocks(T, 128), 1, 1, 128, 0,
                    device.args().ptr(logits).i32(E).i32(T).i32(E).i32(k).ptr(sel).ptr(prob));
            device.launch(kernel("moe.cu", "moe_lists"), 1, 1, 1, (E + 31) / 32 * 32, 0,
                    device.args().ptr(sel).i32(T).i32(E).i32(k).ptr(count).ptr(offset).ptr(token).ptr(slot));
        }
        boolean tensor = ex.dtype() == DType.BF16 || ex.dtype() == DType.I8;
        if (T <= DEVICE_ROUTED_ROWS && tensor) {
            // every expert's blocks look up their own token lists: no host round trip
            products.gateUp(xm.ptr, xm.stride, T, ex.gateWeight(), ex.upWeight(), l, h, inter);
            products.expertDown(h, inter, T, ex.downWeight(), l, y, hidden);
        } else if (T <= DEVICE_ROUTED_ROWS) {
            int code = CudaWeight.code(ex.dtype()), tiles = Device.blocks(T, SKINNY_ROWS);
            device.launch(kernel("gemv.cu", "expert_gate_up"), Device.blocks(inter, 8), E, tiles, 256, 4 * SKINNY_ROWS * KCHUNK,
                    device.args().ptr(xm.ptr).i32(xm.stride).ptr(ex.gate()).ptr(ex.up()).i32(code).ptr(count).ptr(offset)
                            .ptr(token).ptr(h).i32(inter).i32(hidden).i32(Products.vec(ex.gate(), ex.dtype(), hidden)));
            device.launch(kernel("gemv.cu", "expert_down"), Device.blocks(hidden, 8), E, tiles, 256, 4 * SKINNY_ROWS * KCHUNK,
                    device.args().ptr(h).ptr(ex.down()).i32(code).ptr(count).ptr(offset).ptr(y).i32(hidden).i32(inter)
                            .i32(Products.vec(ex.down(), ex.dtype(), inter)));
        } else {
            // prefill: the host learns how many tokens each expert has, and runs each expert's MLP as products
            int[] counts = new int[2 * E];
            device.download(lists, counts, 2 * E);
            long xe = device.scratch("expert inputs", 4L * T * k * hidden);
            CudaWeight gate = ex.gateWeight(), up = ex.upWeight(), down = ex.downWeight();
            for (int e = 0; e < E; e++) {
                int n = counts[e], off = counts[E + e];
                if (n == 0) continue;
                device.launch(kernel("elementwise.cu", "gather_rows"), n, 1, 1, 256, 0,
                        device.args().ptr(xm.ptr).i32(xm.stride).ptr(token + 4L * off).ptr(xe).i32(hidden).i32(hidden));
                long ho = h + 4L * off * inter;
                products.gateUp(xe, hidden, n, ex.expert(gate, e), ex.expert(up, e), null, ho, inter);
                products.product(ho, inter, n, ex.expert(down, e), null, y + 4L * off * hidden, hidden);
            }
        }
        device.launch(kernel("moe.cu", "moe_combine"), Device.blocks(hidden, 256), T, 1, 256, 0,
                device.args().ptr(y).ptr(slot).ptr(prob).i32(k).ptr(om.ptr).i32(om.stride).i32(hidden));
    }

    @Override
    public void gatherRows(Mat x, int[] rows, Mat out) {
        bind();
        CudaMat s = CudaMat.of(x), d = CudaMat.of(out);
        for (int r : rows) if (r < 0 || r >= s.rows) throw new IndexOutOfBoundsException("row " + r + " of " + s.rows);
        long dRows = device.scratch("gathered rows", 4L * rows.length);
        device.upload(rows, rows.length, dRows);
        device.launch(kernel("elementwise.cu", "gather_rows"), rows.length, 1, 1, 256, 0,
                device.args().ptr(s.ptr).i32(s.stride).ptr(dRows).ptr(d.ptr).i32(d.stride).i32(s.cols));
    }

    @Override
    public int[] sample(Mat logits, SamplingParams[] params, double[] uniforms) {
        bind();
        CudaMat l = CudaMat.of(logits);
        int n = l.rows, vocab = l.cols;
        long ids = device.scratch("sampled ids", 4L * n);
        boolean greedy = true;
        for (SamplingParams p : params) greedy &= p.greedy();
        if (greedy) {
            device.launch(kernel("sample.cu", "argmax_rows"), n, 1, 1, 1024, 0,
                    device.args().ptr(l.ptr).i32(l.stride).i32(vocab).ptr(ids));
        } else {
            float[] temp = new float[n], topP = new float[n];
            int[] topK = new int[n];
            for (int i = 0; i < n; i++) {
                temp[i] = params[i].temperature();
                topK[i] = params[i].topK();
                topP[i] = params[i].topP();
            }
            long dParams = device.scratch("sampling params", 4L * 3 * n + 8L * n + 8);
            long dTemp = dParams, dTopK = dParams + 4L * n, dTopP = dParams + 8L * n, dUniform = dParams + 12L * n;
            dUniform = (dUniform + 7) & ~7L;
            device.upload(temp, dTemp);
            device.upload(topK, n, dTopK);
            device.upload(topP, dTopP);
            device.upload(java.util.Arrays.copyOf(uniforms, n), dUniform);
            long p = device.scratch("sampling probabilities", 8L * n * vocab);
            device.launch(kernel("sample.cu", "sample_rows"), n, 1, 1, 1024, 0,
                    device.args().ptr(l.ptr).i32(l.stride).i32(vocab).ptr(dTemp).ptr(dTopK).ptr(dTopP).ptr(dUniform).ptr(p).ptr(ids));
        }
        int[] out = new int[n];
        device.download(ids, out, n);
        return out;
    }

    /** The device's memory now: {free, total} bytes (what {@link #deviceMemory} says, for benchmark logs). */
    public String memoryLine() {
        long[] m = deviceMemory();
        return String.format("%.1f of %.1f GiB free", m[0] / (double) (1L << 30), m[1] / (double) (1L << 30));
    }

    /**
     * The device's memory bandwidth as a large device-to-device copy achieves it, bytes read plus written per
     * second (the roofline benchmarks compare against).
     */
    public double copyBandwidth(long bytes) {
        bind();
        long a = device.alloc(bytes, "bandwidth probe"), b = device.alloc(bytes, "bandwidth probe");
        try {
            device.zero(a, bytes);
            long start = device.driver.eventCreate(), end = device.driver.eventCreate();
            device.copy(b, a, bytes);
            int reps = 10;
            device.driver.eventRecord(start, device.stream);
            for (int i = 0; i < reps; i++) device.copy(i % 2 == 0 ? b : a, i % 2 == 0 ? a : b, bytes);
            device.driver.eventRecord(end, device.stream);
            device.driver.eventSynchronize(end);
            double seconds = device.driver.elapsedMillis(start, end) / 1e3;
            return 2.0 * bytes * reps / seconds;
        } finally {
            device.free(a);
            device.free(b);
        }
    }

    @Override
    public <T> T repeatingStep(int shape, Supplier<T> step) {
        bind();
        device.graphs.begin(shape);
        boolean completed = false;
        try {
            T result = step.get();
            completed = true;
            return result;
        } finally {
            device.graphs.end(completed);
        }
    }

    /** Turns the replay of decode steps as CUDA graphs on or off (benchmarks compare the two). */
    public void useDecodeGraphs(boolean on) {
        device.graphs.pause(!on);
    }

    /** Decode-step graphs captured so far (logs, tests). */
    public int decodeGraphs() {
        return device.graphs.graphs();
    }

    /** One kernel's share of some work: launches and device milliseconds. */
    public record KernelShare(String kernel, int launches, double millis) {}

    /** Runs {@code work} with each kernel launch timed by events (no graphs meanwhile): where its device time goes. */
    public List<KernelShare> kernelTimes(Runnable work) {
        bind();
        return device.timeKernels(work).stream().map(s -> new KernelShare(s.kernel(), s.launches(), s.millis())).toList();
    }

    @Override
    public void synchronize() {
        bind();
        device.synchronize();
    }

    @Override
    public void close() {
        bind();
        for (CudaMambaState s : mambaStates) s.close();
        for (CudaKvCache c : kvCaches) c.close();
        device.synchronize();
        for (long p : resident) device.driver.free(p);
        resident.clear();
        device.close();
    }
}
