package ai.jamba.engine.eval;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.TestBackend;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.kernels.Backend;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The demo model's perplexity on 300 held-out documents against transformers' (models/jamba-demo-fortunes-perplexity.json),
 * with its bf16 experts and with int8 experts (ExpertsInt8), on the backend the tests run on.
 */
class DemoPerplexityTest {
    /** Relative distance allowed from transformers' float64 perplexity. */
    static final double RELATIVE = 1e-3;

    static Backend backend;

    @BeforeAll
    static void start() {
        backend = TestBackend.open();
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    @ParameterizedTest(name = "{0} experts")
    @CsvSource({"bf16, bf16_weights", "int8, int8_experts"})
    void perplexityOnHeldOutDocumentsMatchesTransformers(String experts, String reference) throws IOException {
        Path root = Fixtures.root();
        JsonNode ref = new ObjectMapper().readTree(root.resolve("models/jamba-demo-fortunes-perplexity.json").toFile());
        List<int[]> docs = TokenizedDocuments.validation();
        try (JambaModel model = JambaModel.load(Fixtures.demoModel(), backend, new JambaModel.LoadOptions(experts.equals("int8")), JambaModel.Progress.NONE)) {
            Perplexity.Score s = Perplexity.score(model, docs, done -> {});
            assertEquals(ref.get("documents").asInt(), s.documents());
            assertEquals(ref.get("predicted_tokens").asLong(), s.tokens(), "tokens predicted (tokenisation must match transformers')");
            double expected = ref.get(reference).get("perplexity").asDouble();
            System.out.printf("demo perplexity, %s experts on %s: %.4f (transformers %.3f, %+.4f%%)%n", experts, backend.name(),
                    s.perplexity(), expected, 100 * (s.perplexity() / expected - 1));
            assertEquals(expected, s.perplexity(), expected * RELATIVE, "perplexity vs transformers' " + expected);
        }
    }
}
