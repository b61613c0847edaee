package ai.jamba.kernels.cpu;

import ai.jamba.kernels.Batch;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Grouped-query causal attention over the KV cache, no positional encoding. Work items are (sequence, query
 * head, token); each computes its scores against every cached position up to its own, a softmax, and the
 * weighted sum of values.
 */
final class Attention {
    private Attention() {}

    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[1024]);

    static void run(Parallel pool, CpuKvCache cache, Batch batch, CpuMat q, CpuMat k, CpuMat v, CpuMat out) {
        int kvHeads = cache.kvHeads(), headDim = cache.headDim(), width = kvHeads * headDim;
        if (k.cols != width || v.cols != width)
            throw new IllegalArgumentException("k and v need " + width + " columns (" + kvHeads + " heads of " + headDim + "), got " + k.cols + " and " + v.cols);
        if (q.cols % headDim != 0 || (q.cols / headDim) % kvHeads != 0)
            throw new IllegalArgumentException("q has " + q.cols + " columns: not a multiple of " + kvHeads + " KV heads of " + headDim);
        int heads = q.cols / headDim, group = heads / kvHeads;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int n = batch.sequences();
        int[] past = new int[n];
        int[] firstItem = new int[n + 1];
        for (int i = 0; i < n; i++) {
            int slot = batch.slots()[i], start = batch.rowStart()[i], count = batch.rowCount()[i];
            past[i] = cache.length(slot);
            cache.reserve(slot, past[i] + count);
            for (int t = 0; t < count; t++) cache.store(slot, past[i] + t, k.data, k.at(start + t), v.data, v.at(start + t));
            firstItem[i + 1] = firstItem[i] + heads * count;
        }
        pool.forRange(firstItem[n], 2L * headDim * (past[n - 1] + batch.rowCount()[n - 1]), (i0, i1) -> {
            int seq = 0;
            for (int item = i0; item < i1; item++) {
                while (item >= firstItem[seq + 1]) seq++;
                int local = item - firstItem[seq];
                int t = local / heads, head = local % heads;
                int slot = batch.slots()[seq], row = batch.rowStart()[seq] + t;
                attend(q, row, head, head / group, past[seq] + t + 1, cache.keys(slot), cache.values(slot),
                        width, headDim, scale, out);
            }
        });
        for (int i = 0; i < n; i++) cache.setLength(batch.slots()[i], past[i] + batch.rowCount()[i]);
    }

    private static void attend(CpuMat q, int row, int head, int kvHead, int positions, float[] keys, float[] values,
                               int width, int headDim, float scale, CpuMat out) {
        float[] scores = SCORES.get();
        if (scores.length < positions) {
            scores = new float[Math.max(positions, 2 * scores.length)];
            SCORES.set(scores);
        }
        int qAt = q.at(row) + head * headDim;
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < positions; j++) {
            float s = dot(q.data, qAt, keys, j * width + kvHead * headDim, headDim) * scale;
            scores[j] = s;
            max = Math.max(max, s);
        }
        float sum = 0;
        for (int j = 0; j < positions; j++) {
            float e = (float) Math.exp(scores[j] - max);
            scores[j] = e;
            sum += e;
        }
        float inv = 1f / sum;
        int oAt = out.at(row) + head * headDim;
        for (int e = 0; e < headDim; e += Simd.L) { // out = Σ_j p_j v_j, a slice of L lanes at a time
            VectorMask<Float> m = Simd.F.indexInRange(e, headDim);
            FloatVector acc = FloatVector.zero(Simd.F);
            for (int j = 0; j < positions; j++)
                acc = FloatVector.fromArray(Simd.F, values, j * width + kvHead * headDim + e, m).fma(FloatVector.broadcast(Simd.F, scores[j] * inv), acc);
            acc.intoArray(out.data, oAt + e, m);
        }
    }

    private static float dot(float[] a, int aAt, float[] b, int bAt, int n) {
        int upper = n - n % Simd.L, i = 0;
        FloatVector acc = FloatVector.zero(Simd.F);
        for (; i < upper; i += Simd.L)
            acc = FloatVector.fromArray(Simd.F, a, aAt + i).fma(FloatVector.fromArray(Simd.F, b, bAt + i), acc);
        float s = Simd.sum(acc);
        for (; i < n; i++) s += a[aAt + i] * b[bAt + i];
        return s;
    }
}
