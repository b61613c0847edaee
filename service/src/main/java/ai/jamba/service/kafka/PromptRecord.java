package ai.jamba.service.kafka;

import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.service.SamplingFields;
import ai.jamba.engine.tokenizer.ChatMessage;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A record of jamba.prompts, checked and turned into a generation request (kafka-config/schemas/prompt.schema.json):
 * {@code request_id} (required), {@code session_id}, exactly one of {@code prompt}, {@code messages},
 * {@code prompt_ids}, and {@code max_tokens}, {@code temperature} (0 = greedy), {@code top_p}, {@code top_k},
 * {@code seed}, {@code stop}. Anything else is rejected with a reason that names the field.
 */
public final class PromptRecord {
    private PromptRecord() {}

    /** A record that cannot be served: {@code code} and {@code message} go back to the client. */
    public static final class Rejected extends Exception {
        public final String code;
        /** The request and session ids, when the record got far enough to name them. */
        public final String requestId, sessionId;

        Rejected(String code, String message, String requestId, String sessionId) {
            super(message);
            this.code = code;
            this.requestId = requestId;
            this.sessionId = sessionId;
        }
    }

    /** Limits the service puts on requests. */
    public record Limits(int maxRecordBytes, int maxTokens, int defaultMaxTokens) {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final Set<String> FIELDS = Set.of("request_id", "session_id", "prompt", "messages", "prompt_ids",
            "max_tokens", "temperature", "top_p", "top_k", "seed", "stop");

    public static GenerationRequest parse(byte[] value, Limits limits) throws Rejected {
        if (value == null) throw new Rejected("invalid_request", "the record has no value", null, null);
        if (value.length > limits.maxRecordBytes())
            throw new Rejected("request_too_large", "the record is " + value.length + " bytes; the limit is " + limits.maxRecordBytes(), null, null);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value)).toString();
        } catch (CharacterCodingException e) {
            throw new Rejected("invalid_utf8", "the record is not valid UTF-8", null, null);
        }
        JsonNode n;
        try {
            n = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new Rejected("invalid_json", "not valid JSON: " + e.getOriginalMessage(), null, null);
        }
        if (n == null || !n.isObject()) throw new Rejected("invalid_request", "the record must be a JSON object", null, null);

        JsonNode rid = n.get("request_id");
        String requestId = rid != null && rid.isTextual() && !rid.asText().isEmpty() ? rid.asText() : null;
        JsonNode sid = n.get("session_id");
        String sessionId = sid != null && sid.isTextual() ? sid.asText() : null;
        try {
            return request(n, requestId, sessionId, limits);
        } catch (IllegalArgumentException e) {
            throw new Rejected("invalid_request", e.getMessage(), requestId, sessionId);
        } catch (ai.jamba.engine.serve.EngineException e) {
            throw new Rejected(e.code().wire(), e.getMessage(), requestId, sessionId);
        }
    }

    private static GenerationRequest request(JsonNode n, String requestId, String sessionId, Limits limits) {
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            String f = it.next().getKey();
            if (!FIELDS.contains(f)) throw new IllegalArgumentException("unknown field \"" + f + "\"");
        }
        if (requestId == null) throw new IllegalArgumentException("request_id is required and must be a non-empty string");
        if (n.has("session_id") && sessionId == null) throw new IllegalArgumentException("session_id must be a string");
        var b = GenerationRequest.builder().requestId(requestId).sessionId(sessionId);
        int prompts = 0;
        if (n.has("prompt")) {
            prompts++;
            if (!n.get("prompt").isTextual()) throw new IllegalArgumentException("prompt must be a string");
            b.text(n.get("prompt").asText());
        }
        if (n.has("messages")) {
            prompts++;
            b.chat(messages(n.get("messages")));
        }
        if (n.has("prompt_ids")) {
            prompts++;
            JsonNode ids = n.get("prompt_ids");
            if (!ids.isArray()) throw new IllegalArgumentException("prompt_ids must be an array of integers");
            int[] out = new int[ids.size()];
            for (int i = 0; i < out.length; i++) {
                if (!ids.get(i).isIntegralNumber() || !ids.get(i).canConvertToInt())
                    throw new IllegalArgumentException("prompt_ids[" + i + "] must be an integer");
                out[i] = ids.get(i).intValue();
            }
            b.ids(out);
        }
        if (prompts != 1) throw new IllegalArgumentException("give exactly one of prompt, messages and prompt_ids (got " + prompts + ")");
        SamplingFields.apply(n, b, limits.maxTokens(), limits.defaultMaxTokens());
        return b.build();
    }

    static List<ChatMessage> messages(JsonNode m) {
        if (!m.isArray() || m.isEmpty()) throw new IllegalArgumentException("messages must be a non-empty array of {role, content}");
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode e = m.get(i);
            if (!e.isObject() || !e.path("role").isTextual() || !e.path("content").isTextual())
                throw new IllegalArgumentException("messages[" + i + "] must be {\"role\": string, \"content\": string}");
            out.add(new ChatMessage(e.get("role").asText(), e.get("content").asText()));
        }
        return out;
    }
}
