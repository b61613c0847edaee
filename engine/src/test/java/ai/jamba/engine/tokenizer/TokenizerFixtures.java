package ai.jamba.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The tokenizer fixtures of {@code fixtures/README.md} and small tokenizer folders built from them. */
final class TokenizerFixtures {
    static final Path ROOT = Path.of(System.getProperty("jamba.root"));
    static final Path TOKENIZER_DIR = ROOT.resolve("fixtures/tokenizer");
    static final Path DEMO_MODEL_DIR = ROOT.resolve("models/jamba-demo-fortunes");
    private static final ObjectMapper JSON = new ObjectMapper();

    private TokenizerFixtures() {}

    /** One case of {@code fixtures/tokenizer-golden.json}: what transformers computes for {@code text}. */
    record GoldenCase(String text, int[] ids, int[] idsWithBos, String[] tokens, String decoded) {
        @Override
        public String toString() {
            return '"' + text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + '"';
        }
    }

    static List<GoldenCase> goldenCases() throws IOException {
        JsonNode root = JSON.readTree(ROOT.resolve("fixtures/tokenizer-golden.json").toFile());
        List<GoldenCase> cases = new ArrayList<>();
        for (JsonNode c : root.path("cases")) {
            cases.add(new GoldenCase(
                    c.path("text").asText(),
                    JSON.treeToValue(c.path("ids"), int[].class),
                    JSON.treeToValue(c.path("ids_with_bos"), int[].class),
                    JSON.treeToValue(c.path("tokens"), String[].class),
                    c.path("decoded").asText()));
        }
        return cases;
    }

    /**
     * A tokenizer folder in {@code dir}: the fixture's {@code tokenizer.json} with {@code addedSpecialTokens} added
     * after its vocabulary (ids 4096, 4097, ...), and the given {@code tokenizer_config.json} (none when null).
     */
    static Path tokenizerFolder(Path dir, List<String> addedSpecialTokens, Map<String, Object> config) throws IOException {
        ObjectNode tokenizer = (ObjectNode) JSON.readTree(TOKENIZER_DIR.resolve("tokenizer.json").toFile());
        int id = 4096;
        for (String content : addedSpecialTokens) {
            tokenizer.withArray("added_tokens").addObject()
                    .put("id", id++).put("content", content).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tokenizer);
        if (config != null) JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
        return dir;
    }
}
