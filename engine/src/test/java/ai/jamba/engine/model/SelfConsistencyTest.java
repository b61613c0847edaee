package ai.jamba.engine.model;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.TestBackend;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Mat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The state carries everything: a prompt prefilled whole, in chunks, or token by token ends in the same place;
 * sequences at different positions batched together compute what each computes alone.
 */
class SelfConsistencyTest {
    /** Same computation, different grouping of float32 work: this close, per row, in the fixtures' measure. */
    static final double REGROUPED = 1e-5;

    static Backend backend;

    @BeforeAll
    static void start() {
        backend = TestBackend.open();
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    static JambaModel load(String name) {
        var dir = name.equals("demo") ? Fixtures.demoModel() : Fixtures.fixture(name);
        return JambaModel.load(dir, backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE);
    }

    static int[] tokens(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = 3 + r.nextInt(vocab - 3);
        return ids;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"jamba-tiny-a", "jamba-tiny-b", "demo"})
    void chunkedPrefillEqualsWholePrefillEqualsTokenByToken(String name) {
        try (JambaModel model = load(name)) {
            int vocab = model.config().vocabSize();
            int[] a = tokens(13, vocab, 1), b = tokens(9, vocab, 2);
            int[] ab = concat(a, b);
            StatePool pool = model.newStatePool();

            int whole = pool.acquire();
            float[] ref = logits(model, pool, whole, ab, lastRows(b.length, ab.length));

            int chunked = pool.acquire();
            logits(model, pool, chunked, a, new int[]{a.length - 1});
            float[] ours = logits(model, pool, chunked, b, lastRows(b.length, b.length));
            Fixtures.assertRowsClose(name + ": prefill(A) then prefill(B) vs prefill(A+B)", ours, ref, vocab, REGROUPED);

            int stepwise = pool.acquire();
            logits(model, pool, stepwise, a, new int[]{a.length - 1});
            float[] steps = new float[b.length * vocab];
            for (int i = 0; i < b.length; i++)
                System.arraycopy(logits(model, pool, stepwise, new int[]{b[i]}, new int[]{0}), 0, steps, i * vocab, vocab);
            Fixtures.assertRowsClose(name + ": prefill(A) then B token by token vs prefill(A+B)", steps, ref, vocab, REGROUPED);

            // the next token after all three agrees too: the states, not just the logits, are the same
            int next = 5;
            float[] w = logits(model, pool, whole, new int[]{next}, new int[]{0});
            Fixtures.assertRowsClose(name + ": state after chunked prefill", logits(model, pool, chunked, new int[]{next}, new int[]{0}), w, vocab, REGROUPED);
            Fixtures.assertRowsClose(name + ": state after stepwise prefill", logits(model, pool, stepwise, new int[]{next}, new int[]{0}), w, vocab, REGROUPED);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"jamba-tiny-b", "demo"})
    void sequencesBatchedTogetherEqualEachAlone(String name) {
        try (JambaModel model = load(name)) {
            int vocab = model.config().vocabSize();
            int[][] prompts = {tokens(5, vocab, 10), tokens(17, vocab, 11), tokens(1, vocab, 12)};
            int steps = 6;
            int[][] next = new int[prompts.length][];
            for (int s = 0; s < prompts.length; s++) next[s] = tokens(steps, vocab, 20 + s);

            // alone: each sequence in its own pool
            float[][][] alone = new float[prompts.length][steps + 1][];
            for (int s = 0; s < prompts.length; s++) {
                StatePool pool = model.newStatePool();
                int slot = pool.acquire();
                alone[s][0] = logits(model, pool, slot, prompts[s], new int[]{prompts[s].length - 1});
                for (int i = 0; i < steps; i++) alone[s][i + 1] = logits(model, pool, slot, new int[]{next[s][i]}, new int[]{0});
            }

            // together: one prefill batch of three lengths, then decode steps of three rows
            StatePool pool = model.newStatePool();
            int[] slots = {pool.acquire(), pool.acquire(), pool.acquire()};
            Batch prefill = Batch.of(slots, prompts[0].length, prompts[1].length, prompts[2].length);
            float[] together = run(model, pool, prefill, concat(concat(prompts[0], prompts[1]), prompts[2]));
            for (int s = 0; s < prompts.length; s++)
                sameRow(alone[s][0], Arrays.copyOfRange(together, s * vocab, (s + 1) * vocab), vocab, name + ": prefill of sequence " + s + " in a batch");
            for (int i = 0; i < steps; i++) {
                Batch decode = Batch.of(slots, 1, 1, 1);
                together = run(model, pool, decode, new int[]{next[0][i], next[1][i], next[2][i]});
                for (int s = 0; s < prompts.length; s++)
                    sameRow(alone[s][i + 1], Arrays.copyOfRange(together, s * vocab, (s + 1) * vocab), vocab,
                            name + ": decode step " + i + " of sequence " + s + " in a batch");
            }
        }
    }

    /**
     * A sequence's row computed in a batch against the same row computed alone: bit-identical on a backend that
     * promises it (the CPU), else within {@link #REGROUPED} (a GPU picks kernels by the batch's row count).
     */
    static void sameRow(float[] alone, float[] together, int vocab, String what) {
        if (TestBackend.bitExactRows(backend)) assertArrayEquals(alone, together, what + " (the CPU backend is bit-exact per row)");
        else System.out.printf("%s: worst row %.2e%n", what, Fixtures.assertRowsClose(what, together, alone, vocab, REGROUPED));
    }

    static float[] run(JambaModel model, StatePool pool, Batch batch, int[] ids) {
        Mat m = model.forward(pool, batch, ids, batch.lastRows(), null);
        float[] f = new float[m.rows() * m.cols()];
        backend.download(m, f);
        return f;
    }

    static float[] logits(JambaModel model, StatePool pool, int slot, int[] ids, int[] rows) {
        Mat m = model.forward(pool, Batch.of(new int[]{slot}, ids.length), ids, rows, null);
        float[] f = new float[m.rows() * m.cols()];
        backend.download(m, f);
        return f;
    }

    static int[] lastRows(int n, int total) {
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) rows[i] = total - n + i;
        return rows;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
