package ai.jamba.kernels;

import java.util.Arrays;

/**
 * Next-token choice from one row of logits, on the host. Backends without a device sampler use it, and it is
 * the reference a device sampler is checked against.
 */
public final class Sampler {
    private Sampler() {}

    /** Index of the largest logit; the lowest index wins a tie, as torch.argmax does. */
    public static int argmax(float[] logits, int offset, int n) {
        int best = 0;
        float bestValue = logits[offset];
        for (int i = 1; i < n; i++) {
            float v = logits[offset + i];
            if (v > bestValue) {
                bestValue = v;
                best = i;
            }
        }
        return best;
    }

    /**
     * Samples from logits[offset, offset + n) under {@code p}, using {@code uniform} in [0, 1) as the random draw.
     * Candidates are ordered by probability (ties by index), so the result depends only on the logits and the draw.
     */
    public static int sample(float[] logits, int offset, int n, SamplingParams p, double uniform) {
        if (p.greedy()) return argmax(logits, offset, n);
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
        Integer[] order = new Integer[n];
        double[] prob = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            order[i] = i;
            prob[i] = Math.exp((logits[offset + i] - max) / p.temperature());
            sum += prob[i];
        }
        Arrays.sort(order, (a, b) -> prob[a] != prob[b] ? Double.compare(prob[b], prob[a]) : Integer.compare(a, b));
        int keep = p.topK() > 0 ? Math.min(p.topK(), n) : n;
        double mass = 0;
        int cut = 0;
        while (cut < keep) {
            mass += prob[order[cut]] / sum;
            cut++;
            if (mass >= p.topP()) break;
        }
        double kept = 0;
        for (int i = 0; i < cut; i++) kept += prob[order[i]];
        double target = uniform * kept;
        double acc = 0;
        for (int i = 0; i < cut; i++) {
            acc += prob[order[i]];
            if (target < acc) return order[i];
        }
        return order[cut - 1];
    }
}
