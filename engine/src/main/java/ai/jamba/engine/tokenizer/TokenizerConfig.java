package ai.jamba.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What a checkpoint says about its tokenizer beyond {@code tokenizer.json}: the BOS and EOS token texts and the chat
 * template, from {@code tokenizer_config.json} (and {@code chat_template.jinja}, where newer transformers save the
 * template). Every file is optional; a missing token falls back to Jamba's own.
 */
record TokenizerConfig(String bosToken, String eosToken, Optional<String> chatTemplate) {
    static final String CONFIG_FILE = "tokenizer_config.json";
    static final String CHAT_TEMPLATE_FILE = "chat_template.jinja";
    static final String JAMBA_BOS = "<|startoftext|>";
    static final String JAMBA_EOS = "<|endoftext|>";

    static TokenizerConfig read(Path dir) {
        Path file = dir.resolve(CONFIG_FILE);
        JsonNode root = Files.isRegularFile(file) ? parse(file) : new ObjectMapper().createObjectNode();
        return new TokenizerConfig(
                token(root, "bos_token", JAMBA_BOS),
                token(root, "eos_token", JAMBA_EOS),
                chatTemplate(dir, root, file));
    }

    private static JsonNode parse(Path file) {
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            if (root == null || !root.isObject()) throw new TokenizerException(file + " is not a JSON object");
            return root;
        } catch (IOException e) {
            throw new TokenizerException(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** transformers writes a special token either as its text or as an AddedToken object with a "content" field. */
    private static String token(JsonNode root, String field, String fallback) {
        JsonNode node = root.path(field);
        if (node.isTextual()) return node.asText();
        if (node.path("content").isTextual()) return node.path("content").asText();
        return fallback;
    }

    /**
     * transformers gives {@code chat_template.jinja} precedence over the config's {@code chat_template}, which is
     * either the template itself or a list of named templates (then the one named "default" is the chat one).
     */
    private static Optional<String> chatTemplate(Path dir, JsonNode root, Path configFile) {
        Path jinja = dir.resolve(CHAT_TEMPLATE_FILE);
        if (Files.isRegularFile(jinja)) {
            try {
                return Optional.of(Files.readString(jinja));
            } catch (IOException e) {
                throw new TokenizerException("cannot read " + jinja + ": " + e.getMessage(), e);
            }
        }
        JsonNode node = root.path("chat_template");
        if (node.isTextual()) return Optional.of(node.asText());
        if (node.isArray()) {
            for (JsonNode named : node)
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual())
                    return Optional.of(named.path("template").asText());
            throw new TokenizerException(configFile + ": chat_template lists templates but none is named \"default\"");
        }
        return Optional.empty();
    }
}
