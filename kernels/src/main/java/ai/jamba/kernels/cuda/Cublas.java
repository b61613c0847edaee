package ai.jamba.kernels.cuda;

import ai.jamba.kernels.BackendUnavailableException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * cuBLAS through FFM: one handle on our stream and {@code cublasGemmEx}, which the matmuls of prefill and the
 * head use. cuBLAS is column-major; a row-major product out[T, N] = x[T, K] · w[N, K]ᵀ is the column-major
 * out'[N, T] = w'ᵀ[N, K] · x'[K, T], i.e. gemm(op(A) = T on w, op(B) = N on x).
 */
final class Cublas {
    static final int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14;
    static final int COMPUTE_32F = 68;
    private static final int OP_N = 0, OP_T = 1, GEMM_DEFAULT = -1;

    private final MethodHandle create, setStream, setWorkspace, gemmEx, destroy;
    private final long handle;
    /** alpha = 1 and beta ∈ {0, 1}: host scalars, cuBLAS's default pointer mode. */
    private final MemorySegment one, zero;

    private Cublas(SymbolLookup lib, long stream, long workspace, long workspaceBytes) {
        create = fn(lib, "cublasCreate_v2", ADDRESS);
        setStream = fn(lib, "cublasSetStream_v2", JAVA_LONG, JAVA_LONG);
        setWorkspace = fn(lib, "cublasSetWorkspace_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG);
        gemmEx = fn(lib, "cublasGemmEx", JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT);
        destroy = fn(lib, "cublasDestroy_v2", JAVA_LONG);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            check("cublasCreate", call(() -> (int) create.invokeExact(h)));
            handle = h.get(JAVA_LONG, 0);
        }
        check("cublasSetStream", call(() -> (int) setStream.invokeExact(handle, stream)));
        // our own workspace: cuBLAS then allocates nothing while a CUDA graph is being captured
        check("cublasSetWorkspace", call(() -> (int) setWorkspace.invokeExact(handle, workspace, workspaceBytes)));
        one = Arena.global().allocate(JAVA_FLOAT);
        one.set(JAVA_FLOAT, 0, 1f);
        zero = Arena.global().allocate(JAVA_FLOAT);
    }

    static Cublas load(long stream, long workspace, long workspaceBytes) {
        return new Cublas(NativeLibraries.cublas(), stream, workspace, workspaceBytes);
    }

    private static MethodHandle fn(SymbolLookup lib, String name, MemoryLayout... args) {
        MemorySegment addr = lib.find(name).orElseThrow(() -> new BackendUnavailableException("libcublas has no " + name));
        return Linker.nativeLinker().downcallHandle(addr, FunctionDescriptor.of(JAVA_INT, args));
    }

    /**
     * Row-major out[T, N] (row stride ldo floats) = x[T, K] (type xType, row stride ldx) · w[N, K]ᵀ (type wType,
     * rows of K), accumulated onto out when {@code accumulate}; float32 compute, float32 out.
     */
    void gemm(int T, int N, int K, long w, int wType, long x, int xType, int ldx, long out, int ldo, boolean accumulate) {
        MemorySegment beta = accumulate ? one : zero;
        int r = call(() -> (int) gemmEx.invokeExact(handle, OP_T, OP_N, N, T, K, one, w, wType, K, x, xType, ldx, beta,
                out, CUDA_R_32F, ldo, COMPUTE_32F, GEMM_DEFAULT));
        if (r != 0) throw new CudaException("cublasGemmEx(" + T + " x " + K + " by " + N + " x " + K + "): " + statusName(r));
    }

    void close() {
        call(() -> (int) destroy.invokeExact(handle));
    }

    private static void check(String what, int status) {
        if (status != 0) throw new CudaException(what + ": " + statusName(status));
    }

    private static String statusName(int s) {
        return switch (s) {
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED (out of device memory)";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "cuBLAS status " + s;
        };
    }

    @FunctionalInterface
    private interface Call {
        int run() throws Throwable;
    }

    private static int call(Call c) {
        try {
            return c.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
