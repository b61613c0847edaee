package ai.jamba.kernels.cuda;

import ai.jamba.kernels.BackendUnavailableException;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One GPU as the CUDA backend uses it: the primary context, one stream that every op is queued on in order,
 * the kernel compiler, cuBLAS, and the host side of transfers. Small per-step inputs (token ids, batch
 * descriptors) go up through a page-locked staging buffer without waiting; downloads wait for the stream.
 */
final class Device implements AutoCloseable {
    /** The oldest compute capability accepted (Ampere); the kernels are tuned for Hopper. */
    static final int MIN_CC_MAJOR = 8;
    private static final long STAGING_BYTES = 4 << 20, CUBLAS_WORKSPACE = 64L << 20;
    /** Dynamic shared memory a kernel gets without asking (cuFuncSetAttribute). */
    private static final int DEFAULT_SHARED = 48 << 10;

    final CudaDriver driver;
    final String name;
    final int ccMajor, ccMinor, multiprocessors;
    final long totalMemory;
    final long stream;
    final KernelCompiler compiler;
    final Cublas cublas;
    private final long context;
    private final long cublasWorkspace;
    private final KernelArgs args = new KernelArgs();
    private final MemorySegment staging;
    private long stagingUsed;
    private MemorySegment download;
    private final Map<String, long[]> scratch = new HashMap<>();
    /** Dynamic shared memory each kernel has been allowed beyond the default. */
    private final Map<Long, Integer> largeShared = new HashMap<>();
    /** Decode steps as CUDA graphs (-Djamba.cuda.graphs=false turns them off). */
    final StepGraphs graphs;
    /** Non-null while launches are being timed one by one. */
    private KernelTimer timer;

    private Device(CudaDriver driver, int ordinal, Consumer<String> log) {
        this.driver = driver;
        int dev = driver.device(ordinal);
        this.name = driver.deviceName(dev);
        this.ccMajor = driver.attribute(dev, CudaDriver.ATTR_CC_MAJOR);
        this.ccMinor = driver.attribute(dev, CudaDriver.ATTR_CC_MINOR);
        checkSupported(name, ccMajor, ccMinor);
        this.multiprocessors = driver.attribute(dev, CudaDriver.ATTR_MULTIPROCESSOR_COUNT);
        this.totalMemory = driver.totalMemory(dev);
        this.context = driver.usePrimaryContext(dev);
        this.stream = driver.streamCreate();
        this.compiler = new KernelCompiler(driver, Nvrtc.load(), ccMajor, ccMinor, name, log);
        this.cublasWorkspace = driver.malloc(CUBLAS_WORKSPACE, "the cuBLAS workspace");
        this.cublas = Cublas.load(stream, cublasWorkspace, CUBLAS_WORKSPACE);
        this.staging = driver.mallocHost(STAGING_BYTES);
        this.download = driver.mallocHost(1 << 20);
        this.graphs = new StepGraphs(driver, stream, !"false".equals(System.getProperty("jamba.cuda.graphs")));
    }

    /** Opens GPU {@code ordinal}; a machine without a usable GPU or CUDA libraries gets BackendUnavailableException. */
    static Device open(int ordinal, Consumer<String> log) {
        CudaDriver driver = CudaDriver.load();
        int count = driver.deviceCount();
        if (count == 0) throw new BackendUnavailableException("the NVIDIA driver sees no GPU");
        if (ordinal >= count) throw new BackendUnavailableException("GPU " + ordinal + " asked for, the driver sees " + count);
        return new Device(driver, ordinal, log);
    }

    /** Refuses GPUs older than the kernels are written for (they use sm_80+ features and bf16). */
    static void checkSupported(String name, int ccMajor, int ccMinor) {
        if (ccMajor < MIN_CC_MAJOR)
            throw new BackendUnavailableException(name + " has compute capability " + ccMajor + "." + ccMinor
                    + "; the CUDA backend needs " + MIN_CC_MAJOR + ".0 or newer (Ampere, Hopper)");
    }

    /** The calling thread must have the context current before any call (the engine thread may not be the opener). */
    void bind() {
        driver.makeCurrent(context);
        boundThread = Thread.currentThread();
    }

    /** The thread that made the context current last. */
    private volatile Thread boundThread;

    /**
     * Binds for a calling thread that has not: the memory and transfer calls below may come straight from a state
     * object (a StatePool's Mamba state or K/V cache acquired on the serving engine's thread) before any backend call.
     */
    private void current() {
        if (Thread.currentThread() != boundThread) bind();
    }

    // ---- memory ---------------------------------------------------------------------------------------------

    long alloc(long bytes, String what) {
        current();
        return driver.malloc(bytes, what);
    }

    /** Free and total device memory, bytes. */
    long[] memoryInfo() {
        current();
        return driver.memoryInfo();
    }

    /** Frees after the stream is idle: work queued earlier may still read the buffer. */
    void free(long ptr) {
        if (ptr == 0) return;
        current();
        synchronize();
        driver.free(ptr);
    }

    /**
     * A device buffer of at least {@code bytes} reserved for one use (by name), reused step after step and grown
     * when a step needs more. Its content is not kept across growth.
     */
    long scratch(String use, long bytes) {
        long[] b = scratch.get(use);
        if (b != null && b[1] >= bytes) return b[0];
        if (b != null) free(b[0]);
        long size = Math.max(bytes, b == null ? 0 : b[1] * 2);
        long ptr = alloc(size, "scratch for " + use);
        scratch.put(use, new long[]{ptr, size});
        return ptr;
    }

    /** Frees a scratch buffer that no step needs any more (staging used while loading). */
    void dropScratch(String use) {
        long[] b = scratch.remove(use);
        if (b != null) free(b[0]);
    }

    // ---- transfers ------------------------------------------------------------------------------------------

    /** Staging space for {@code bytes}, waiting for queued copies only when the buffer wraps around. */
    private MemorySegment stage(long bytes) {
        long aligned = (bytes + 255) & ~255L;
        if (stagingUsed + aligned > STAGING_BYTES) {
            synchronize();
            stagingUsed = 0;
        }
        MemorySegment s = staging.asSlice(stagingUsed, bytes);
        stagingUsed += aligned;
        return s;
    }

    void upload(int[] src, int count, long dst) {
        upload(MemorySegment.ofArray(src).asSlice(0, 4L * count), dst);
    }

    void upload(float[] src, long dst) {
        upload(MemorySegment.ofArray(src), dst);
    }

    void upload(double[] src, long dst) {
        upload(MemorySegment.ofArray(src), dst);
    }

    /** Copies host bytes to the device in stream order; the host array may be reused as soon as this returns. */
    void upload(MemorySegment src, long dst) {
        current();
        long size = src.byteSize();
        for (long done = 0; done < size; ) {
            long n = Math.min(size - done, STAGING_BYTES);
            MemorySegment s = stage(n);
            s.copyFrom(src.asSlice(done, n));
            driver.copyToDeviceAsync(dst + done, s, n, stream);
            done += n;
        }
    }

    /** Copies device bytes into a host segment, waiting for everything queued before. */
    void download(long src, MemorySegment dst) {
        long size = dst.byteSize();
        if (size == 0) return;
        current();
        graphs.unrepeatable();
        if (download.byteSize() < size) {
            synchronize();
            driver.freeHost(download);
            download = driver.mallocHost(Math.max(size, 2 * download.byteSize()));
        }
        driver.copyToHostAsync(download, src, size, stream);
        synchronize();
        dst.copyFrom(download.asSlice(0, size));
    }

    void download(long src, float[] dst, int count) {
        download(src, MemorySegment.ofArray(dst).asSlice(0, 4L * count));
    }

    void download(long src, int[] dst, int count) {
        download(src, MemorySegment.ofArray(dst).asSlice(0, 4L * count));
    }

    void copy(long dst, long src, long bytes) {
        current();
        graphs.flush();
        if (bytes > 0) driver.copyDeviceAsync(dst, src, bytes, stream);
    }

    void zero(long dst, long bytes) {
        current();
        graphs.flush();
        if (bytes > 0) driver.zeroAsync(dst, bytes, stream);
    }

    void synchronize() {
        current();
        graphs.flush();
        driver.synchronize(stream);
    }

    /** A cuBLAS product on our stream (a graph recording cannot see it). */
    void gemm(int T, int N, int K, long w, int wType, long x, int xType, int ldx, long out, int ldo, boolean accumulate) {
        graphs.unrepeatable();
        if (timer != null) timer.before("cublasGemmEx");
        cublas.gemm(T, N, K, w, wType, x, xType, ldx, out, ldo, accumulate);
        if (timer != null) timer.after();
    }

    // ---- launches -------------------------------------------------------------------------------------------

    /** Arguments of the next launch (one reused buffer: fill it, then launch). */
    KernelArgs args() {
        return args.reset();
    }

    void launch(KernelCompiler.Kernel k, int gx, int gy, int gz, int block, int sharedBytes, KernelArgs a) {
        launch(k, gx, gy, gz, block, sharedBytes, a, false);
    }

    /**
     * A launch; {@code early}: the kernel may start while the one before it still runs (it waits, in the kernel,
     * before reading what that one wrote: mma.cu), so its blocks are resident and its first weights on the way
     * when the previous kernel ends. -Djamba.cuda.pdl=false launches every kernel plainly.
     */
    void launch(KernelCompiler.Kernel k, int gx, int gy, int gz, int block, int sharedBytes, KernelArgs a, boolean early) {
        if (gx == 0 || gy == 0 || gz == 0) return;
        if (sharedBytes > DEFAULT_SHARED && largeShared.getOrDefault(k.function(), DEFAULT_SHARED) < sharedBytes) {
            driver.allowDynamicShared(k.function(), sharedBytes, k.name());
            largeShared.put(k.function(), sharedBytes);
        }
        early &= EARLY_LAUNCHES && ccMajor >= 9;
        if (graphs.hold(k, gx, gy, gz, block, sharedBytes, early, a)) return;
        if (timer != null) timer.before(label == null ? k.name() : k.name() + " " + label);
        label = null;
        if (early) driver.launchEarly(k.function(), gx, gy, gz, block, 1, 1, sharedBytes, stream, a.pointers(), k.name());
        else driver.launch(k.function(), gx, gy, gz, block, 1, 1, sharedBytes, stream, a.pointers(), k.name());
        if (timer != null) timer.after();
    }

    /** While kernels are timed ({@link #timeKernels}): whether launches are, and a label for the next one's row. */
    boolean timing() {
        return timer != null;
    }

    /** The next launch's row in {@link #timeKernels} reads "kernel label" (a product's shape: one kernel, many weights). */
    void labelNext(String label) {
        this.label = label;
    }

    private String label;

    private static final boolean EARLY_LAUNCHES = !"false".equals(System.getProperty("jamba.cuda.pdl"));

    /** Runs {@code work} with each launch timed (graphs are not used meanwhile) and returns the time by kernel. */
    List<KernelTimer.Share> timeKernels(Runnable work) {
        synchronize();
        timer = new KernelTimer(driver, stream);
        graphs.pause(true);
        try {
            work.run();
            return timer.shares();
        } finally {
            timer = null;
            graphs.pause(false);
        }
    }

    static int blocks(long n, int per) {
        return (int) ((n + per - 1) / per);
    }

    @Override
    public void close() {
        synchronize();
        graphs.close();
        for (long[] b : scratch.values()) driver.free(b[0]);
        scratch.clear();
        cublas.close();
        driver.free(cublasWorkspace);
        driver.freeHost(staging);
        driver.freeHost(download);
    }
}
