package ai.jamba.engine.model;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.Fixtures.Golden;
import ai.jamba.engine.TestBackend;
import ai.jamba.engine.generate.Generator;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.SamplingParams;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ExpertsInt8 (expert weights per output row as int8 with a float scale): how far it moves the golden fixtures'
 * logits (reported; bounded only against garbage), and that the demo model's greedy continuations keep every step
 * whose golden margin is clear. Its perplexity is checked in DemoPerplexityTest.
 */
class Int8ExpertsTest {
    /** Far above what rounding weights to 8 bits does to these logits, far below what a broken kernel does. */
    static final double SANE = 5e-2;

    static Backend backend;

    @BeforeAll
    static void start() {
        backend = TestBackend.open();
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    static float[] prefillLogits(JambaModel model, int[] ids) {
        StatePool pool = model.newStatePool();
        int[] rows = new int[ids.length];
        for (int i = 0; i < rows.length; i++) rows[i] = i;
        Mat m = model.forward(pool, Batch.of(new int[]{pool.acquire()}, ids.length), ids, rows, null);
        float[] f = new float[m.rows() * m.cols()];
        backend.download(m, f);
        pool.close();
        return f;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"jamba-tiny-a", "jamba-tiny-b"})
    void int8ExpertsMoveGoldenLogitsByAReportedAmount(String fixture) {
        Golden g = Golden.load(Fixtures.fixture(fixture));
        float[] exact, int8;
        try (JambaModel m = JambaModel.load(Fixtures.fixture(fixture), backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE)) {
            exact = prefillLogits(m, g.promptIds());
        }
        try (JambaModel m = JambaModel.load(Fixtures.fixture(fixture), backend, new JambaModel.LoadOptions(true), JambaModel.Progress.NONE)) {
            int8 = prefillLogits(m, g.promptIds());
        }
        double vsGolden = Fixtures.assertRowsClose(fixture + " int8 experts vs transformers", int8, g.prefillLogits(), g.vocab(), SANE);
        double vsOurs = Fixtures.assertRowsClose(fixture + " int8 experts vs our own experts as stored", int8, exact, g.vocab(), SANE);
        System.out.printf("%s on %s: int8 experts move prefill logits by %.2e (worst row, max|Δ|/max|ref|) from transformers' float64, "
                + "%.2e from our %s-expert logits%n", fixture, backend.name(), vsGolden, vsOurs, fixture.endsWith("a") ? "f32" : "bf16");
    }

    @Test
    void demoGreedyIdsHoldUpToTheFirstNearTie() throws IOException {
        JsonNode golden = new ObjectMapper().readTree(Fixtures.root().resolve("models/jamba-demo-fortunes-golden.json").toFile());
        int compared = 0;
        try (JambaModel model = JambaModel.load(Fixtures.demoModel(), backend, new JambaModel.LoadOptions(true), JambaModel.Progress.NONE)) {
            for (JsonNode c : golden.get("cases")) {
                int[] prompt = DemoModelTest.ints(c.get("prompt_ids")), expected = DemoModelTest.ints(c.get("greedy_ids"));
                int clear = 0;
                while (clear < expected.length && c.get("margins").get(clear).asDouble() >= DemoModelTest.CLEAR_MARGIN) clear++;
                try (StatePool pool = model.newStatePool()) {
                    int[] ours = Generator.generate(model, pool, pool.acquire(), prompt, expected.length, SamplingParams.GREEDY, 0,
                            id -> false, id -> true).ids();
                    assertArrayEquals(Arrays.copyOf(expected, clear), Arrays.copyOf(ours, clear),
                            "\"" + c.get("prompt").asText() + "\" with int8 experts: greedy ids before step " + clear);
                }
                compared += clear;
            }
        }
        System.out.println("demo greedy with int8 experts on " + backend.name() + ": " + compared + " clear steps equal");
        assertTrue(compared >= 6, "the golden file should give clear steps to compare, got " + compared);
    }
}
