package ai.jamba.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Jamba's sparse MoE block: a softmax over all experts' router logits, each token's top-k experts kept with
 * their probabilities as they are (no renormalisation), and each expert's MLP run once over all the tokens
 * routed to it. A token's output adds its experts in ascending expert order, as transformers does. The routing
 * tables live here between calls, so a step allocates nothing.
 */
final class MixtureOfExperts {
    private final Parallel pool;
    private final Scratch scratch;
    /** Per expert e: the rows it serves, rows[e * capacity + i], with their weights; count[e] of them. */
    private int capacity;
    private int[] rows = new int[0], count = new int[0];
    private float[] weights = new float[0];
    private double[] p = new double[0];

    MixtureOfExperts(Parallel pool, Scratch scratch) {
        this.pool = pool;
        this.scratch = scratch;
    }

    void run(CpuMat x, CpuExperts experts, CpuMat out) {
        int tokens = x.rows, hidden = x.cols, e = experts.numExperts();
        CpuMat logits = scratch.mat(Scratch.Use.MOE_ROUTER, tokens, e);
        MatMul.run(pool, scratch, x, experts.router, null, logits);
        route(logits, e, experts.topK);

        for (int t = 0; t < tokens; t++) java.util.Arrays.fill(out.data, out.at(t), out.at(t) + hidden, 0f);
        for (int j = 0; j < e; j++) {
            int n = count[j];
            if (n == 0) continue;
            CpuMat xe = scratch.mat(Scratch.Use.MOE_INPUT, n, hidden), ye = scratch.mat(Scratch.Use.MOE_OUTPUT, n, hidden);
            for (int i = 0; i < n; i++) System.arraycopy(x.data, x.at(rows[j * capacity + i]), xe.data, xe.at(i), hidden);
            Mlp.run(pool, scratch, xe, experts.gate[j], experts.up[j], experts.down[j], ye);
            for (int i = 0; i < n; i++) addScaled(ye.data, ye.at(i), weights[j * capacity + i], out.data, out.at(rows[j * capacity + i]), hidden);
        }
    }

    /** Fills the routing tables: per token, softmax over all experts, then the top k by probability (ties: lower index). */
    private void route(CpuMat logits, int e, int k) {
        int tokens = logits.rows;
        if (capacity < tokens || count.length < e) {
            capacity = Math.max(tokens, 2 * capacity);
            rows = new int[e * capacity];
            weights = new float[e * capacity];
            count = new int[e];
            p = new double[e];
        }
        java.util.Arrays.fill(count, 0);
        for (int t = 0; t < tokens; t++) {
            int at = logits.at(t);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < e; j++) max = Math.max(max, logits.data[at + j]);
            for (int j = 0; j < e; j++) sum += (p[j] = Math.exp(logits.data[at + j] - max));
            for (int j = 0; j < e; j++) p[j] /= sum;
            for (int i = 0; i < k; i++) {
                int best = 0;
                for (int j = 1; j < e; j++) if (p[j] > p[best]) best = j;
                rows[best * capacity + count[best]] = t;
                weights[best * capacity + count[best]++] = (float) p[best];
                p[best] = -1; // taken: below every probability
            }
        }
    }

    /** out[o..o+n) += y[y0..y0+n) * w. */
    private static void addScaled(float[] y, int y0, float w, float[] out, int o, int n) {
        for (int i = 0; i < n; i += Simd.L) {
            VectorMask<Float> m = Simd.F.indexInRange(i, n);
            FloatVector.fromArray(Simd.F, y, y0 + i, m).mul(w).add(FloatVector.fromArray(Simd.F, out, o + i, m)).intoArray(out, o + i, m);
        }
    }
}
