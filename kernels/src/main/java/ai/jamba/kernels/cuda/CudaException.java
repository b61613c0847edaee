package ai.jamba.kernels.cuda;

/** A CUDA, NVRTC or cuBLAS call that failed; the message names the call, the error and what it was doing. */
public final class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }
}
