package ai.jamba.kernels;

import java.util.Arrays;

/**
 * Next-token choice from one row of logits, on the host. Backends without a device sampler use it, and it is
 * the reference a device sampler is checked against.
 *
 * <p>Candidates are ordered by probability, ties by index, and only as many of them are put in order as the
 * top-k / top-p cut needs: the top 64 first, sixteen times more while the cut reaches past them (all of the
 * top-k once that is more than a quarter of the vocabulary). The order is built from primitive keys: a token's probability is a non-decreasing
 * function of its scaled logit, so sorting by scaled logit (then index) is right except within a run of tokens
 * whose different logits round to the same probability, and such runs are re-sorted by index.
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

    /** Candidates put in order first; the prefix grows by this factor while the cut reaches past it. */
    private static final int FIRST_PREFIX = 64, GROWTH = 16;

    /** Per thread: probabilities, sort keys and the ordered prefix, grown to the largest vocabulary seen. */
    private static final ThreadLocal<Work> WORK = ThreadLocal.withInitial(Work::new);

    private static final class Work {
        double[] prob = new double[0];
        long[] keys = new long[0];
        int[] order = new int[0];

        Work fit(int n) {
            if (prob.length < n) {
                prob = new double[n];
                keys = new long[n];
                order = new int[n];
            }
            return this;
        }
    }

    /**
     * Samples from logits[offset, offset + n) under {@code p}, using {@code uniform} in [0, 1) as the random draw:
     * softmax of logits / temperature, the topK most likely (0 = all), the smallest prefix of those whose probability
     * reaches topP, then the token where the cumulative probability passes {@code uniform} times the prefix's.
     * The result depends only on the logits and the draw.
     */
    public static int sample(float[] logits, int offset, int n, SamplingParams p, double uniform) {
        if (p.greedy()) return argmax(logits, offset, n);
        Work w = WORK.get().fit(n);
        double[] prob = w.prob;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float scaled = (logits[offset + i] - max) / p.temperature();
            prob[i] = Math.exp(scaled);
            sum += prob[i];
            w.keys[i] = key(scaled, i);
        }
        int keep = p.topK() > 0 ? Math.min(p.topK(), n) : n;
        for (int m = Math.min(keep, FIRST_PREFIX); ; m = Math.min(keep, m * GROWTH > n / 4 ? n : m * GROWTH)) {
            order(w, n, m);
            // the cut: candidates in order until their probability reaches topP (or none are left)
            double mass = 0;
            int cut = 0;
            while (cut < m) {
                mass += prob[w.order[cut]] / sum;
                cut++;
                if (mass >= p.topP()) break;
            }
            if (cut < m || mass >= p.topP() || m == keep) return draw(w.order, cut, prob, uniform);
        }
    }

    /** Ascending keys order by scaled logit descending, then index ascending (scaled logits are never NaN here). */
    private static long key(float scaled, int index) {
        int bits = Float.floatToRawIntBits(scaled);
        int ascending = bits ^ ((bits >> 31) & 0x7FFFFFFF); // float order as int order
        return (long) ~ascending << 32 | index;
    }

    /** The m most likely tokens, in order (probability descending, index ascending), into w.order[0, m). */
    private static void order(Work w, int n, int m) {
        long[] chosen = smallest(w.keys, n, m);
        for (int i = 0; i < m; i++) w.order[i] = (int) chosen[i];
        double[] prob = w.prob;
        // runs of equal probability: by index. Inner runs are whole (a likelier token has a larger scaled logit);
        // the last run may go on past m, so all of its members are gathered from the whole vocabulary.
        double last = prob[w.order[m - 1]];
        int runStart = m - 1;
        while (runStart > 0 && prob[w.order[runStart - 1]] == last) runStart--;
        for (int i = 0; i < runStart; ) {
            int j = i + 1;
            while (j < runStart && prob[w.order[j]] == prob[w.order[i]]) j++;
            if (j - i > 1) Arrays.sort(w.order, i, j);
            i = j;
        }
        for (int i = 0, at = runStart; i < n && at < m; i++) if (prob[i] == last) w.order[at++] = i;
    }

    /** The m smallest of keys[0, n), ascending: a max-heap of m keys swept over all n, then sorted. */
    private static long[] smallest(long[] keys, int n, int m) {
        if (m == n) {
            long[] all = Arrays.copyOf(keys, n);
            Arrays.sort(all);
            return all;
        }
        long[] heap = Arrays.copyOf(keys, m);
        for (int i = m / 2 - 1; i >= 0; i--) siftDown(heap, i, heap[i]);
        for (int i = m; i < n; i++) if (keys[i] < heap[0]) siftDown(heap, 0, keys[i]);
        Arrays.sort(heap);
        return heap;
    }

    /** Puts {@code key} at {@code i} of a max-heap and moves it down to where it belongs. */
    private static void siftDown(long[] heap, int i, long key) {
        int m = heap.length;
        while (true) {
            int child = 2 * i + 1;
            if (child >= m) break;
            if (child + 1 < m && heap[child + 1] > heap[child]) child++;
            if (heap[child] <= key) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = key;
    }

    /** The token where the cumulative probability of order[0, cut) passes uniform times their total. */
    private static int draw(int[] order, int cut, double[] prob, double uniform) {
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
