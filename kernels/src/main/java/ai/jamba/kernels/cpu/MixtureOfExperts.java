package ai.jamba.kernels.cpu;

import java.util.Arrays;

/**
 * Jamba's sparse MoE block: a softmax over all experts' router logits, each token's top-k experts kept with
 * their probabilities as they are (no renormalisation), and each expert's MLP run once over all the tokens
 * routed to it. A token's output adds its experts in ascending expert order, as transformers does.
 */
final class MixtureOfExperts {
    private MixtureOfExperts() {}

    static void run(CpuBackend backend, CpuMat x, CpuExperts experts, CpuMat out) {
        int tokens = x.rows, hidden = x.cols, e = experts.numExperts(), k = experts.topK;
        CpuMat logits = (CpuMat) backend.allocate(tokens, e);
        backend.matmul(x, experts.router, null, logits);

        // routing: per expert, the rows it serves and their weights
        int[][] rowsOf = new int[e][tokens];
        float[][] weightOf = new float[e][tokens];
        int[] count = new int[e];
        double[] p = new double[e];
        Integer[] order = new Integer[e];
        for (int t = 0; t < tokens; t++) {
            int at = logits.at(t);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < e; j++) max = Math.max(max, logits.data[at + j]);
            for (int j = 0; j < e; j++) sum += (p[j] = Math.exp(logits.data[at + j] - max));
            for (int j = 0; j < e; j++) {
                p[j] /= sum;
                order[j] = j;
            }
            Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
            for (int i = 0; i < k; i++) {
                int j = order[i];
                rowsOf[j][count[j]] = t;
                weightOf[j][count[j]++] = (float) p[j];
            }
        }

        for (int t = 0; t < tokens; t++) Arrays.fill(out.data, out.at(t), out.at(t) + hidden, 0f);
        for (int j = 0; j < e; j++) {
            int n = count[j];
            if (n == 0) continue;
            CpuMat xe = (CpuMat) backend.allocate(n, hidden), ye = (CpuMat) backend.allocate(n, hidden);
            backend.gatherRows(x, Arrays.copyOf(rowsOf[j], n), xe);
            backend.mlp(xe, experts.gate[j], experts.up[j], experts.down[j], ye);
            for (int i = 0; i < n; i++) {
                int o = out.at(rowsOf[j][i]), y = ye.at(i);
                float w = weightOf[j][i];
                for (int c = 0; c < hidden; c++) out.data[o + c] += ye.data[y + c] * w;
            }
        }
    }
}
