package ai.jamba.engine.generate;

import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.StatePool;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.SamplingParams;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;

/**
 * One sequence generated start to finish on the calling thread: prefill the prompt, then one token a step.
 * The serving engine batches many sequences; this is the plain loop the CLI and tests use.
 */
public final class Generator {
    private Generator() {}

    /** Called with each generated id as soon as it is chosen; returns false to stop. */
    @FunctionalInterface
    public interface TokenSink {
        boolean accept(int id);
    }

    /** The generated ids and the wall time of each phase. */
    public record Result(int[] ids, long prefillNanos, long decodeNanos, int promptTokens) {
        public double prefillTokensPerSecond() {
            return promptTokens / Math.max(1e-9, prefillNanos / 1e9);
        }

        /** Tokens after the first (which prefill produced) over the decode time. */
        public double decodeTokensPerSecond() {
            return Math.max(0, ids.length - 1) / Math.max(1e-9, decodeNanos / 1e9);
        }
    }

    /**
     * Generates up to {@code maxTokens} ids after {@code prompt}, continuing from whatever the slot already holds.
     * {@code stop} ends generation after an id it accepts (that id is kept).
     */
    public static Result generate(JambaModel model, StatePool pool, int slot, int[] prompt, int maxTokens,
                                  SamplingParams params, long seed, IntPredicate stop, TokenSink sink) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        SplittableRandom random = new SplittableRandom(seed);
        SamplingParams[] p = {params};
        int[] ids = new int[maxTokens];
        int n = 0;
        long t0 = System.nanoTime();
        Batch batch = Batch.of(new int[]{slot}, prompt.length);
        Mat logits = model.forward(pool, batch, prompt, batch.lastRows(), null);
        long prefill = 0;
        Batch one = Batch.of(new int[]{slot}, 1);
        while (n < maxTokens) {
            int id = model.backend().sample(logits, p, new double[]{random.nextDouble()})[0];
            if (n == 0) prefill = System.nanoTime() - t0;
            ids[n++] = id;
            if (!sink.accept(id) || stop.test(id) || n == maxTokens) break;
            logits = model.forward(pool, one, new int[]{id}, new int[]{0}, null);
        }
        long end = System.nanoTime();
        if (n == 0) prefill = end - t0;
        return new Result(Arrays.copyOf(ids, n), prefill, end - t0 - prefill, prompt.length);
    }

    /** A stop rule for end-of-sequence ids. */
    public static IntPredicate stopAt(List<Integer> eosIds) {
        return eosIds::contains;
    }
}
