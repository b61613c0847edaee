package ai.jamba.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The CUDA driver API through FFM downcalls: device, primary context, memory, streams, events, modules,
 * launches and graphs. Device pointers and handles are plain {@code long}s. Every call checks its result and
 * throws a {@link CudaException} naming the call and the driver's error.
 */
final class CudaDriver {
    static final int CUDA_ERROR_OUT_OF_MEMORY = 2;
    static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    static final int ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76;
    static final int STREAM_NON_BLOCKING = 1;
    static final int CAPTURE_MODE_THREAD_LOCAL = 1;
    static final int FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    private final MethodHandle cuInit, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute,
            cuDeviceTotalMem, cuDriverGetVersion, cuDevicePrimaryCtxRetain, cuCtxSetCurrent, cuGetErrorName,
            cuGetErrorString, cuMemAlloc, cuMemFree, cuMemGetInfo, cuMemAllocHost, cuMemFreeHost, cuMemcpyHtoD,
            cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuMemsetD8Async, cuStreamCreate,
            cuStreamSynchronize, cuEventCreate, cuEventDestroy, cuEventRecord, cuEventSynchronize, cuEventElapsedTime,
            cuModuleLoadData, cuModuleGetFunction, cuFuncSetAttribute, cuLaunchKernel, cuLaunchKernelEx, cuStreamBeginCapture, cuStreamEndCapture,
            cuGraphInstantiate, cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy;

    private CudaDriver(SymbolLookup lib) {
        cuInit = fn(lib, "cuInit", JAVA_INT);
        cuDeviceGetCount = fn(lib, "cuDeviceGetCount", ADDRESS);
        cuDeviceGet = fn(lib, "cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetName = fn(lib, "cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceGetAttribute = fn(lib, "cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceTotalMem = fn(lib, "cuDeviceTotalMem_v2", ADDRESS, JAVA_INT);
        cuDriverGetVersion = fn(lib, "cuDriverGetVersion", ADDRESS);
        cuDevicePrimaryCtxRetain = fn(lib, "cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuCtxSetCurrent = fn(lib, "cuCtxSetCurrent", JAVA_LONG);
        cuGetErrorName = fn(lib, "cuGetErrorName", JAVA_INT, ADDRESS);
        cuGetErrorString = fn(lib, "cuGetErrorString", JAVA_INT, ADDRESS);
        cuMemAlloc = fn(lib, "cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        cuMemFree = fn(lib, "cuMemFree_v2", JAVA_LONG);
        cuMemGetInfo = fn(lib, "cuMemGetInfo_v2", ADDRESS, ADDRESS);
        cuMemAllocHost = fn(lib, "cuMemAllocHost_v2", ADDRESS, JAVA_LONG);
        cuMemFreeHost = fn(lib, "cuMemFreeHost", ADDRESS);
        cuMemcpyHtoD = fn(lib, "cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemcpyHtoDAsync = fn(lib, "cuMemcpyHtoDAsync_v2", JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG);
        cuMemcpyDtoHAsync = fn(lib, "cuMemcpyDtoHAsync_v2", ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemcpyDtoDAsync = fn(lib, "cuMemcpyDtoDAsync_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemsetD8Async = fn(lib, "cuMemsetD8Async", JAVA_LONG, JAVA_BYTE, JAVA_LONG, JAVA_LONG);
        cuStreamCreate = fn(lib, "cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamSynchronize = fn(lib, "cuStreamSynchronize", JAVA_LONG);
        cuEventCreate = fn(lib, "cuEventCreate", ADDRESS, JAVA_INT);
        cuEventDestroy = fn(lib, "cuEventDestroy_v2", JAVA_LONG);
        cuEventRecord = fn(lib, "cuEventRecord", JAVA_LONG, JAVA_LONG);
        cuEventSynchronize = fn(lib, "cuEventSynchronize", JAVA_LONG);
        cuEventElapsedTime = fn(lib, "cuEventElapsedTime_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuModuleLoadData = fn(lib, "cuModuleLoadData", ADDRESS, ADDRESS);
        cuModuleGetFunction = fn(lib, "cuModuleGetFunction", ADDRESS, JAVA_LONG, ADDRESS);
        cuFuncSetAttribute = fn(lib, "cuFuncSetAttribute", JAVA_LONG, JAVA_INT, JAVA_INT);
        cuLaunchKernel = fn(lib, "cuLaunchKernel", JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
        cuLaunchKernelEx = fn(lib, "cuLaunchKernelEx", ADDRESS, JAVA_LONG, ADDRESS, ADDRESS);
        cuStreamBeginCapture = fn(lib, "cuStreamBeginCapture_v2", JAVA_LONG, JAVA_INT);
        cuStreamEndCapture = fn(lib, "cuStreamEndCapture", JAVA_LONG, ADDRESS);
        cuGraphInstantiate = fn(lib, "cuGraphInstantiateWithFlags", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuGraphLaunch = fn(lib, "cuGraphLaunch", JAVA_LONG, JAVA_LONG);
        cuGraphExecDestroy = fn(lib, "cuGraphExecDestroy", JAVA_LONG);
        cuGraphDestroy = fn(lib, "cuGraphDestroy", JAVA_LONG);
    }

    private static MethodHandle fn(SymbolLookup lib, String name, java.lang.foreign.MemoryLayout... args) {
        MemorySegment addr = lib.find(name).orElseThrow(() ->
                new ai.jamba.kernels.BackendUnavailableException("the NVIDIA driver library has no " + name + ": the driver is too old for CUDA 13"));
        return Linker.nativeLinker().downcallHandle(addr, FunctionDescriptor.of(JAVA_INT, args));
    }

    /** Loads libcuda and initialises it; fails with BackendUnavailableException when there is no usable driver/GPU. */
    static CudaDriver load() {
        CudaDriver d = new CudaDriver(NativeLibraries.driver());
        int r = d.raw(() -> (int) d.cuInit.invokeExact(0));
        if (r != 0) throw new ai.jamba.kernels.BackendUnavailableException("cuInit failed: " + d.errorText(r));
        return d;
    }

    @FunctionalInterface
    private interface Call {
        int run() throws Throwable;
    }

    private int raw(Call c) {
        try {
            return c.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private void check(String what, Call c) {
        int r = raw(c);
        if (r != 0) throw new CudaException(what + ": " + errorText(r));
    }

    /** "CUDA_ERROR_X (the driver's description)". */
    String errorText(int code) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocate(ADDRESS), text = a.allocate(ADDRESS);
            int r1 = raw(() -> (int) cuGetErrorName.invokeExact(code, name));
            int r2 = raw(() -> (int) cuGetErrorString.invokeExact(code, text));
            String n = r1 == 0 ? name.get(ADDRESS, 0).reinterpret(256).getString(0) : "CUDA error " + code;
            String s = r2 == 0 ? text.get(ADDRESS, 0).reinterpret(1024).getString(0) : "";
            return s.isEmpty() ? n : n + " (" + s + ")";
        }
    }

    // ---- device and context ---------------------------------------------------------------------------------

    int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check("cuDeviceGetCount", () -> (int) cuDeviceGetCount.invokeExact(n));
            return n.get(JAVA_INT, 0);
        }
    }

    int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment d = a.allocate(JAVA_INT);
            check("cuDeviceGet(" + ordinal + ")", () -> (int) cuDeviceGet.invokeExact(d, ordinal));
            return d.get(JAVA_INT, 0);
        }
    }

    String deviceName(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(256);
            check("cuDeviceGetName", () -> (int) cuDeviceGetName.invokeExact(s, 256, dev));
            return s.getString(0);
        }
    }

    int attribute(int dev, int attr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDeviceGetAttribute(" + attr + ")", () -> (int) cuDeviceGetAttribute.invokeExact(v, attr, dev));
            return v.get(JAVA_INT, 0);
        }
    }

    long totalMemory(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuDeviceTotalMem", () -> (int) cuDeviceTotalMem.invokeExact(v, dev));
            return v.get(JAVA_LONG, 0);
        }
    }

    int driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDriverGetVersion", () -> (int) cuDriverGetVersion.invokeExact(v));
            return v.get(JAVA_INT, 0);
        }
    }

    /** Retains the device's primary context (shared with cuBLAS) and makes it current on this thread. */
    long usePrimaryContext(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(ADDRESS);
            check("cuDevicePrimaryCtxRetain", () -> (int) cuDevicePrimaryCtxRetain.invokeExact(c, dev));
            long ctx = c.get(JAVA_LONG, 0);
            makeCurrent(ctx);
            return ctx;
        }
    }

    void makeCurrent(long ctx) {
        check("cuCtxSetCurrent", () -> (int) cuCtxSetCurrent.invokeExact(ctx));
    }

    // ---- memory ---------------------------------------------------------------------------------------------

    /** Free and total device memory, bytes. */
    long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(JAVA_LONG), total = a.allocate(JAVA_LONG);
            check("cuMemGetInfo", () -> (int) cuMemGetInfo.invokeExact(free, total));
            return new long[]{free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        }
    }

    /** Device memory; out of memory is reported with what was asked for and what is free. */
    long malloc(long bytes, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            int r = raw(() -> (int) cuMemAlloc.invokeExact(p, Math.max(bytes, 1L)));
            if (r == CUDA_ERROR_OUT_OF_MEMORY) {
                long[] info = memoryInfo();
                throw new CudaException(String.format("out of device memory: %s needs %.1f MiB, %.1f MiB of %.1f MiB are free",
                        what, bytes / 1048576.0, info[0] / 1048576.0, info[1] / 1048576.0));
            }
            if (r != 0) throw new CudaException("cuMemAlloc(" + bytes + " bytes for " + what + "): " + errorText(r));
            return p.get(JAVA_LONG, 0);
        }
    }

    void free(long ptr) {
        check("cuMemFree", () -> (int) cuMemFree.invokeExact(ptr));
    }

    /** Page-locked host memory, which async copies need. */
    MemorySegment mallocHost(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cuMemAllocHost(" + bytes + ")", () -> (int) cuMemAllocHost.invokeExact(p, bytes));
            return p.get(ADDRESS, 0).reinterpret(bytes);
        }
    }

    void freeHost(MemorySegment p) {
        check("cuMemFreeHost", () -> (int) cuMemFreeHost.invokeExact(p));
    }

    /** Synchronous copy from any host memory (weights at load time). */
    void copyToDevice(long dst, MemorySegment src, long bytes) {
        check("cuMemcpyHtoD", () -> (int) cuMemcpyHtoD.invokeExact(dst, src, bytes));
    }

    void copyToDeviceAsync(long dst, MemorySegment pinnedSrc, long bytes, long stream) {
        check("cuMemcpyHtoDAsync", () -> (int) cuMemcpyHtoDAsync.invokeExact(dst, pinnedSrc, bytes, stream));
    }

    void copyToHostAsync(MemorySegment pinnedDst, long src, long bytes, long stream) {
        check("cuMemcpyDtoHAsync", () -> (int) cuMemcpyDtoHAsync.invokeExact(pinnedDst, src, bytes, stream));
    }

    void copyDeviceAsync(long dst, long src, long bytes, long stream) {
        check("cuMemcpyDtoDAsync", () -> (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream));
    }

    void zeroAsync(long dst, long bytes, long stream) {
        check("cuMemsetD8Async", () -> (int) cuMemsetD8Async.invokeExact(dst, (byte) 0, bytes, stream));
    }

    // ---- streams and events ---------------------------------------------------------------------------------

    long streamCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(ADDRESS);
            check("cuStreamCreate", () -> (int) cuStreamCreate.invokeExact(s, STREAM_NON_BLOCKING));
            return s.get(JAVA_LONG, 0);
        }
    }

    /** Waits for the stream; errors of earlier asynchronous work (a kernel's bad access) surface here. */
    void synchronize(long stream) {
        check("cuStreamSynchronize (the error may come from any kernel queued before it)",
                () -> (int) cuStreamSynchronize.invokeExact(stream));
    }

    long eventCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = a.allocate(ADDRESS);
            check("cuEventCreate", () -> (int) cuEventCreate.invokeExact(e, 0));
            return e.get(JAVA_LONG, 0);
        }
    }

    void eventDestroy(long event) {
        check("cuEventDestroy", () -> (int) cuEventDestroy.invokeExact(event));
    }

    void eventRecord(long event, long stream) {
        check("cuEventRecord", () -> (int) cuEventRecord.invokeExact(event, stream));
    }

    void eventSynchronize(long event) {
        check("cuEventSynchronize", () -> (int) cuEventSynchronize.invokeExact(event));
    }

    float elapsedMillis(long start, long end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ms = a.allocate(JAVA_FLOAT);
            check("cuEventElapsedTime", () -> (int) cuEventElapsedTime.invokeExact(ms, start, end));
            return ms.get(JAVA_FLOAT, 0);
        }
    }

    // ---- modules and launches -------------------------------------------------------------------------------

    long moduleLoad(MemorySegment image, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(ADDRESS);
            check("cuModuleLoadData(" + what + ")", () -> (int) cuModuleLoadData.invokeExact(m, image));
            return m.get(JAVA_LONG, 0);
        }
    }

    long function(long module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(ADDRESS);
            MemorySegment n = a.allocateFrom(name);
            check("cuModuleGetFunction(" + name + ")", () -> (int) cuModuleGetFunction.invokeExact(f, module, n));
            return f.get(JAVA_LONG, 0);
        }
    }

    /** Lets a kernel use more than the default 48 KB of dynamic shared memory. */
    void allowDynamicShared(long function, int bytes, String name) {
        check("cuFuncSetAttribute(" + name + ", max dynamic shared memory " + bytes + ")",
                () -> (int) cuFuncSetAttribute.invokeExact(function, FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
    }

    /** Queues a kernel; {@code params} holds a pointer to each argument's value, as cuLaunchKernel wants. */
    void launch(long function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, long stream,
                MemorySegment params, String name) {
        int r = raw(() -> (int) cuLaunchKernel.invokeExact(function, gx, gy, gz, bx, by, bz, sharedBytes, stream, params,
                MemorySegment.NULL));
        if (r != 0)
            throw new CudaException("cuLaunchKernel(" + name + ", grid " + gx + "x" + gy + "x" + gz + ", block " + bx + "x" + by + "x" + bz
                    + ", " + sharedBytes + " B shared): " + errorText(r));
    }

    /** CUlaunchConfig (56 bytes) with one CUlaunchAttribute (72 bytes) after it, reused launch after launch. */
    private final MemorySegment launchConfig = Arena.global().allocate(56 + 72, 8);
    private static final int ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

    /**
     * Queues a kernel that may start before the kernel ahead of it on the stream has finished (programmatic
     * dependent launch): it must execute griddepcontrol.wait before reading anything that kernel wrote.
     */
    void launchEarly(long function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, long stream,
                     MemorySegment params, String name) {
        MemorySegment c = launchConfig;
        c.set(JAVA_INT, 0, gx);
        c.set(JAVA_INT, 4, gy);
        c.set(JAVA_INT, 8, gz);
        c.set(JAVA_INT, 12, bx);
        c.set(JAVA_INT, 16, by);
        c.set(JAVA_INT, 20, bz);
        c.set(JAVA_INT, 24, sharedBytes);
        c.set(JAVA_LONG, 32, stream);
        c.set(ADDRESS, 40, c.asSlice(56));
        c.set(JAVA_INT, 48, 1);
        c.set(JAVA_INT, 56, ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        c.set(JAVA_INT, 64, 1);  // programmaticStreamSerializationAllowed
        int r = raw(() -> (int) cuLaunchKernelEx.invokeExact(c, function, params, MemorySegment.NULL));
        if (r != 0)
            throw new CudaException("cuLaunchKernelEx(" + name + ", grid " + gx + "x" + gy + "x" + gz + ", block " + bx + "x" + by + "x" + bz
                    + ", " + sharedBytes + " B shared, programmatic dependent launch): " + errorText(r));
    }

    // ---- graphs (capture of the decode step: GPU speed, issue 5) --------------------------------------------

    void beginCapture(long stream) {
        check("cuStreamBeginCapture", () -> (int) cuStreamBeginCapture.invokeExact(stream, CAPTURE_MODE_THREAD_LOCAL));
    }

    /** Ends a capture and instantiates what was captured; returns the executable graph. */
    long endCapture(long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS), exec = a.allocate(ADDRESS);
            check("cuStreamEndCapture", () -> (int) cuStreamEndCapture.invokeExact(stream, g));
            long graph = g.get(JAVA_LONG, 0);
            check("cuGraphInstantiate", () -> (int) cuGraphInstantiate.invokeExact(exec, graph, 0L));
            check("cuGraphDestroy", () -> (int) cuGraphDestroy.invokeExact(graph));
            return exec.get(JAVA_LONG, 0);
        }
    }

    /** Ends a capture that failed part way, dropping what was captured. */
    void abandonCapture(long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS);
            int r = raw(() -> (int) cuStreamEndCapture.invokeExact(stream, g));
            long graph = g.get(JAVA_LONG, 0);
            if (r == 0 && graph != 0) raw(() -> (int) cuGraphDestroy.invokeExact(graph));
        }
    }

    void graphLaunch(long exec, long stream) {
        check("cuGraphLaunch", () -> (int) cuGraphLaunch.invokeExact(exec, stream));
    }

    void graphDestroy(long exec) {
        check("cuGraphExecDestroy", () -> (int) cuGraphExecDestroy.invokeExact(exec));
    }
}
