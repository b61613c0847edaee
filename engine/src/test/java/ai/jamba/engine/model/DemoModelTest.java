package ai.jamba.engine.model;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.TestBackend;
import ai.jamba.engine.generate.Generator;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.SamplingParams;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The trained demo model against transformers' float64 greedy continuations (models/jamba-demo-fortunes-golden.json). */
class DemoModelTest {
    /** Greedy ids must agree at every step before the first whose golden top-1/top-2 margin is below this. */
    static final double CLEAR_MARGIN = 1e-2;

    static Backend backend;
    static JambaModel model;

    @BeforeAll
    static void load() {
        backend = TestBackend.open();
        model = JambaModel.load(Fixtures.demoModel(), backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE);
    }

    @AfterAll
    static void close() {
        model.close();
        backend.close();
    }

    @Test
    void greedyContinuationsMatchTransformersUpToTheFirstNearTie() throws IOException {
        JsonNode golden = new ObjectMapper().readTree(Fixtures.root().resolve("models/jamba-demo-fortunes-golden.json").toFile());
        int comparedSteps = 0;
        for (JsonNode c : golden.get("cases")) {
            int[] prompt = ints(c.get("prompt_ids"));
            int[] expected = ints(c.get("greedy_ids"));
            int clear = 0;
            while (clear < expected.length && c.get("margins").get(clear).asDouble() >= CLEAR_MARGIN) clear++;
            StatePool pool = model.newStatePool();
            int[] ours = Generator.generate(model, pool, pool.acquire(), prompt, expected.length, SamplingParams.GREEDY, 0,
                    id -> false, id -> true).ids();
            assertArrayEquals(Arrays.copyOf(expected, clear), Arrays.copyOf(ours, clear),
                    "\"" + c.get("prompt").asText() + "\": greedy ids before step " + clear + " (first margin below " + CLEAR_MARGIN + ")");
            comparedSteps += clear;
        }
        assertTrue(comparedSteps >= 6, "the golden file should give clear steps to compare, got " + comparedSteps);
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
