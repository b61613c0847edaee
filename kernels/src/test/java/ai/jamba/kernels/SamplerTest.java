package ai.jamba.kernels;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The sampler against the definition it must keep: the whole vocabulary sorted by (probability, index). */
class SamplerTest {
    /** The first implementation, word for word: boxed indices of the whole vocabulary, sorted every step. */
    static int reference(float[] logits, int offset, int n, SamplingParams p, double uniform) {
        if (p.greedy()) return Sampler.argmax(logits, offset, n);
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

    @Test
    void choosesWhatTheDefinitionChoosesIncludingTiesAndUnderflow() {
        Random r = new Random(7);
        float[] temperatures = {0.3f, 0.7f, 1f, 1.5f};
        int[] topKs = {0, 1, 2, 40, 64, 65, 100, 5000};
        float[] topPs = {0.05f, 0.5f, 0.9f, 0.999f, 1f};
        for (int trial = 0; trial < 400; trial++) {
            int n = trial % 4 == 0 ? 65536 : 50 + r.nextInt(3000);
            float[] logits = new float[n + 3];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = switch (trial % 5) {
                    case 0 -> (float) r.nextGaussian() * 3;
                    case 1 -> r.nextInt(6);                                 // many exact ties
                    case 2 -> 20 + r.nextInt(3) * 1e-6f * r.nextInt(2);     // different logits, equal probabilities
                    case 3 -> r.nextBoolean() ? -1e4f * (1 + r.nextInt(3)) : (float) r.nextGaussian(); // different logits, probability 0
                    default -> (float) r.nextGaussian() * 0.01f;            // a flat distribution: long nucleus
                };
            }
            SamplingParams p = new SamplingParams(temperatures[r.nextInt(temperatures.length)],
                    topKs[r.nextInt(topKs.length)], topPs[r.nextInt(topPs.length)]);
            for (int draw = 0; draw < 5; draw++) {
                double u = draw == 4 ? Math.nextDown(1.0) : r.nextDouble();
                assertEquals(reference(logits, 3, n, p, u), Sampler.sample(logits, 3, n, p, u), "trial " + trial + " " + p + " u=" + u);
            }
        }
    }
}
