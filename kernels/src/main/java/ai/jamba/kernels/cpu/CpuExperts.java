package ai.jamba.kernels.cpu;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.Experts;
import ai.jamba.kernels.HostTensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/** A MoE block on the CPU: the router and each expert's gate/up/down weights, optionally int8 per row. */
final class CpuExperts implements Experts {
    final CpuWeight router;
    final CpuWeight[] gate, up, down;
    final int topK;

    CpuExperts(HostTensor router, List<HostTensor> gate, List<HostTensor> up, List<HostTensor> down, int topK, boolean int8, boolean pack) {
        int e = (int) router.rows();
        if (gate.size() != e || up.size() != e || down.size() != e)
            throw new IllegalArgumentException(router.name() + ": router has " + e + " experts but " + gate.size() + "/" + up.size() + "/" + down.size() + " gate/up/down weights were given");
        if (topK < 1 || topK > e) throw new IllegalArgumentException("top-k " + topK + " is not between 1 and " + e + " experts");
        this.router = CpuWeight.of(router, pack);
        this.gate = gate.stream().map(t -> int8 ? quantize(t) : CpuWeight.of(t, pack)).toArray(CpuWeight[]::new);
        this.up = up.stream().map(t -> int8 ? quantize(t) : CpuWeight.of(t, pack)).toArray(CpuWeight[]::new);
        this.down = down.stream().map(t -> int8 ? quantize(t) : CpuWeight.of(t, pack)).toArray(CpuWeight[]::new);
        this.topK = topK;
    }

    /** ExpertsInt8: per output row, scale = max|w| / 127, q = clamp(round(w / scale), ±127). */
    static CpuWeight quantize(HostTensor t) {
        CpuWeight src = CpuWeight.of(t);
        int rows = src.rows, cols = src.cols;
        MemorySegment q = Arena.ofAuto().allocate((long) rows * cols);
        float[] scales = new float[rows];
        for (int r = 0; r < rows; r++) {
            float max = 0;
            for (int c = 0; c < cols; c++) max = Math.max(max, Math.abs(src.get(r, c)));
            float scale = max / 127f;
            scales[r] = scale;
            for (int c = 0; c < cols; c++) {
                float v = scale == 0 ? 0 : Math.round(src.get(r, c) / scale);
                q.set(ValueLayout.JAVA_BYTE, (long) r * cols + c, (byte) Math.max(-127, Math.min(127, v)));
            }
        }
        return new CpuWeight(t.name(), DType.I8, rows, cols, q, scales);
    }

    @Override public int numExperts() { return gate.length; }

    @Override public int topK() { return topK; }

    @Override
    public long bytes() {
        long b = router.bytes();
        for (int i = 0; i < gate.length; i++) b += gate[i].bytes() + up[i].bytes() + down[i].bytes();
        return b;
    }
}
