package ai.jamba.kernels.cpu;

import java.util.EnumMap;
import java.util.Map;

/**
 * Float32 work matrices that ops reuse call after call, grown when a call needs more and never shrunk: no
 * allocation on the hot path. One engine thread drives a backend, so one buffer per use suffices.
 */
final class Scratch {
    /** What a buffer is for; two uses that are live at the same time must differ. */
    enum Use { MATMUL_INPUT, MLP_GATE, MLP_UP, MOE_ROUTER, MOE_INPUT, MOE_OUTPUT, SCAN_DELTA, SCAN_GATE }

    private final Map<Use, float[]> buffers = new EnumMap<>(Use.class);

    /** A rows x cols matrix over the buffer for {@code use}; its contents are whatever the last user left. */
    CpuMat mat(Use use, int rows, int cols) {
        long n = (long) rows * cols;
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(rows + " x " + cols + " floats do not fit one Java array");
        float[] b = buffers.get(use);
        if (b == null || b.length < n) {
            b = new float[(int) Math.max(n, Math.min(Integer.MAX_VALUE - 8, (b == null ? 0 : 2L * b.length)))];
            buffers.put(use, b);
        }
        return new CpuMat(b, 0, rows, cols, cols);
    }
}
