package ai.jamba.engine.model;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.TestBackend;
import ai.jamba.engine.Fixtures.Golden;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.Sampler;
import ai.jamba.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The contract of fixtures/README.md: our forward pass against transformers' float64 JambaForCausalLM.
 * jamba-tiny-a: float32 weights, one file. jamba-tiny-b: bfloat16 weights in 14 shards, tied lm_head, top-3 of
 * 5 experts, d_conv 3; also on the CPU backend with its bf16 matrices packed in 12 bits (lossless: the same tolerance).
 */
class GoldenFixturesTest {
    /** Greedy ids must agree wherever the reference's top-1 led its top-2 by more than this. */
    static final double DECISIVE_MARGIN = 1e-3;

    static Backend backend, packedCpu;

    @BeforeAll
    static void start() {
        backend = TestBackend.open();
        packedCpu = new CpuBackend(2, true);
    }

    static Backend on(boolean packed) {
        return packed ? packedCpu : backend;
    }

    @AfterAll
    static void stop() {
        backend.close();
        packedCpu.close();
    }

    @ParameterizedTest(name = "{0}: prefill logits and hidden states within {1} (bf16 packed: {2})")
    @CsvSource({"jamba-tiny-a, 1e-4, false", "jamba-tiny-b, 1e-3, false", "jamba-tiny-b, 1e-3, true"})
    void prefillMatchesTransformers(String fixture, double tolerance, boolean packed) {
        Golden g = Golden.load(Fixtures.fixture(fixture));
        Backend backend = on(packed);
        try (JambaModel model = JambaModel.load(Fixtures.fixture(fixture), backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE)) {
            StatePool pool = model.newStatePool();
            int slot = pool.acquire();
            int t = g.promptIds().length;
            float[][] hidden = new float[g.hiddenLayers() + 1][];
            Mat logits = model.forward(pool, Batch.of(new int[]{slot}, t), g.promptIds(), allRows(t), (i, rows) -> hidden[i] = rows);
            Fixtures.assertRowsClose(fixture + " prefill logits", download(backend, logits), g.prefillLogits(), g.vocab(), tolerance);
            for (int i = 0; i <= g.hiddenLayers(); i++)
                Fixtures.assertRowsClose(fixture + " hidden_states[" + i + "]", hidden[i], g.hidden(i), g.hidden(), tolerance);
        }
    }

    @ParameterizedTest(name = "{0}: greedy decode with the cache within {1} (bf16 packed: {2})")
    @CsvSource({"jamba-tiny-a, 1e-4, false", "jamba-tiny-b, 1e-3, false", "jamba-tiny-b, 1e-3, true"})
    void greedyDecodeMatchesTransformers(String fixture, double tolerance, boolean packed) {
        Golden g = Golden.load(Fixtures.fixture(fixture));
        Backend backend = on(packed);
        try (JambaModel model = JambaModel.load(Fixtures.fixture(fixture), backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE)) {
            StatePool pool = model.newStatePool();
            int slot = pool.acquire();
            int[] prompt = g.promptIds();
            Batch prefill = Batch.of(new int[]{slot}, prompt.length);
            Mat logits = model.forward(pool, prefill, prompt, prefill.lastRows(), null);
            int steps = g.greedyIds().length, vocab = g.vocab();
            for (int step = 0; step < steps; step++) {
                float[] ours = download(backend, logits);
                float[] ref = Arrays.copyOfRange(g.greedyLogits(), step * vocab, (step + 1) * vocab);
                Fixtures.assertRowsClose(fixture + " greedy step " + step + " logits", ours, ref, vocab, tolerance);
                if (g.greedyMargin()[step] > DECISIVE_MARGIN)
                    assertEquals(g.greedyIds()[step], Sampler.argmax(ours, 0, vocab), fixture + " greedy id at step " + step);
                // feed the reference's token, so one near-tie cannot derail every later step
                logits = model.forward(pool, Batch.of(new int[]{slot}, 1), new int[]{g.greedyIds()[step]}, new int[]{0}, null);
            }
        }
    }

    static int[] allRows(int n) {
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) rows[i] = i;
        return rows;
    }

    static float[] download(Backend backend, Mat m) {
        float[] f = new float[m.rows() * m.cols()];
        backend.download(m, f);
        return f;
    }
}
