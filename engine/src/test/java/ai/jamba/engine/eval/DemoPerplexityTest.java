package ai.jamba.engine.eval;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import ai.jamba.kernels.cpu.CpuBackend;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The demo model's perplexity on 300 held-out documents against transformers' (models/jamba-demo-fortunes-perplexity.json). */
class DemoPerplexityTest {
    /** Relative distance allowed from transformers' float64 perplexity. */
    static final double RELATIVE = 1e-3;

    @Test
    void perplexityOnHeldOutDocumentsMatchesTransformers() throws IOException {
        Path root = Fixtures.root();
        JsonNode ref = new ObjectMapper().readTree(root.resolve("models/jamba-demo-fortunes-perplexity.json").toFile());
        try (CpuBackend backend = new CpuBackend(CpuBackend.defaultThreads());
             JambaModel model = JambaModel.load(Fixtures.demoModel(), backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE);
             JambaTokenizer tok = JambaTokenizer.load(Fixtures.demoModel())) {
            List<int[]> docs = Perplexity.documents(root.resolve("models/jamba-demo-fortunes-valid.jsonl"), tok);
            Perplexity.Score s = Perplexity.score(model, docs, done -> {});
            assertEquals(ref.get("documents").asInt(), s.documents());
            assertEquals(ref.get("predicted_tokens").asLong(), s.tokens(), "tokens predicted (tokenisation must match transformers')");
            double expected = ref.get("bf16_weights").get("perplexity").asDouble();
            assertEquals(expected, s.perplexity(), expected * RELATIVE, "perplexity vs transformers' " + expected);
        }
    }
}
