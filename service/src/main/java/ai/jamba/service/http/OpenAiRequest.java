package ai.jamba.service.http;

import ai.jamba.engine.serve.EngineException;
import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.engine.tokenizer.ChatMessage;
import ai.jamba.service.SamplingFields;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * The body of {@code POST /v1/chat/completions} or {@code /v1/completions}, as OpenAI's clients send it, made into
 * a generation request. What is read: {@code messages} (chat: {role, content}, content a string or a list of text
 * parts) or {@code prompt} (completions: a string, a list of one string, or a list of token ids); {@code model}
 * (optional; another model than the one served is 404, as OpenAI answers); {@code stream},
 * {@code stream_options.include_usage}; {@code session_id} (or the {@code X-Session-Id} header); and the sampling
 * fields every transport shares, with {@code max_completion_tokens} as another name for {@code max_tokens}.
 * Fields that would change the result in a way this server does not do ({@code n} above 1, {@code logprobs},
 * {@code tools}) are refused rather than ignored; others ({@code user}, {@code frequency_penalty}, ...) are ignored.
 *
 * @param stream       reply as server-sent events
 * @param includeUsage with {@code stream}: a last chunk carrying the usage
 */
public record OpenAiRequest(GenerationRequest generation, boolean stream, boolean includeUsage) {

    /** Which endpoint: the body's prompt field and the response's shape differ. */
    public enum Kind { CHAT, TEXT }

    /** What the server allows, and its model's name. */
    public record Limits(String model, int maxTokens, int defaultMaxTokens) {}

    /**
     * @param headerSession the {@code X-Session-Id} header, or null
     * @throws ApiError 400 for a body that cannot be served, 404 for another model
     */
    public static OpenAiRequest parse(Kind kind, JsonNode body, String headerSession, String owner, Limits limits) {
        if (body == null || !body.isObject()) throw ApiError.badRequest("the body must be a JSON object");
        JsonNode model = body.get("model");
        if (model != null && !model.isNull() && !model.asText().equals(limits.model()))
            throw new ApiError(404, "model_not_found", "the model " + model + " does not exist; this server has \"" + limits.model() + "\"");
        if (body.path("n").asInt(1) != 1) throw ApiError.badRequest("n must be 1: one completion per request");
        if (body.path("logprobs").asBoolean(false) || body.path("logprobs").asInt(0) > 0) // chat: a boolean; completions: a count
            throw ApiError.badRequest("logprobs are not supported");
        if (body.has("tools") || body.has("functions")) throw ApiError.badRequest("tools and functions are not supported");

        JsonNode stream = body.path("stream");
        if (!stream.isMissingNode() && !stream.isNull() && !stream.isBoolean()) throw ApiError.badRequest("stream must be true or false");
        GenerationRequest.Builder b = GenerationRequest.builder().owner(owner).sessionId(session(body, headerSession)).stopAtEos(true);
        try {
            switch (kind) {
                case CHAT -> b.chat(messages(body.get("messages")));
                case TEXT -> prompt(body.get("prompt"), b);
            }
            SamplingFields.apply(maxTokensUnderOneName(body), b, limits.maxTokens(), limits.defaultMaxTokens());
            return new OpenAiRequest(b.build(), stream.asBoolean(false), body.path("stream_options").path("include_usage").asBoolean(false));
        } catch (IllegalArgumentException | EngineException e) { // EngineException: what the request's own checks refuse
            throw ApiError.badRequest(e.getMessage());
        }
    }

    private static String session(JsonNode body, String header) {
        JsonNode field = body.get("session_id");
        if (field != null && !field.isNull() && !field.isTextual()) throw ApiError.badRequest("session_id must be a string");
        String fromBody = field == null || field.isNull() ? null : field.asText();
        if (header != null && fromBody != null && !header.equals(fromBody))
            throw ApiError.badRequest("the X-Session-Id header and the session_id field name different sessions");
        return header != null ? header : fromBody;
    }

    /** OpenAI's chat API renamed max_tokens to max_completion_tokens; clients send either. */
    private static JsonNode maxTokensUnderOneName(JsonNode body) {
        JsonNode newer = body.get("max_completion_tokens");
        if (newer == null || newer.isNull()) return body;
        if (body.hasNonNull("max_tokens") && !body.get("max_tokens").equals(newer))
            throw ApiError.badRequest("max_tokens and max_completion_tokens differ; give one");
        return ((ObjectNode) body.deepCopy()).set("max_tokens", newer);
    }

    private static List<ChatMessage> messages(JsonNode m) {
        if (m == null || !m.isArray() || m.isEmpty()) throw new IllegalArgumentException("messages must be a non-empty array of {role, content}");
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode e = m.get(i);
            if (!e.path("role").isTextual()) throw new IllegalArgumentException("messages[" + i + "].role must be a string");
            out.add(new ChatMessage(e.get("role").asText(), content(e.get("content"), "messages[" + i + "].content")));
        }
        return out;
    }

    /** A string, or a list of parts of which only text parts are understood. */
    private static String content(JsonNode c, String where) {
        if (c != null && c.isTextual()) return c.asText();
        if (c == null || !c.isArray()) throw new IllegalArgumentException(where + " must be a string or a list of text parts");
        StringBuilder text = new StringBuilder();
        for (JsonNode part : c) {
            if (!part.path("type").asText().equals("text") || !part.path("text").isTextual())
                throw new IllegalArgumentException(where + ": only {\"type\":\"text\",\"text\":...} parts are supported");
            text.append(part.get("text").asText());
        }
        return text.toString();
    }

    private static void prompt(JsonNode p, GenerationRequest.Builder b) {
        String shape = "prompt must be a string, a list of one string, or a list of token ids";
        if (p == null || p.isNull()) throw new IllegalArgumentException("prompt is required");
        if (p.isTextual()) b.text(p.asText());
        else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) b.text(p.get(0).asText());
        else if (p.isArray() && !p.isEmpty() && p.get(0).isIntegralNumber()) {
            int[] ids = new int[p.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!p.get(i).isIntegralNumber() || !p.get(i).canConvertToInt()) throw new IllegalArgumentException(shape);
                ids[i] = p.get(i).intValue();
            }
            b.ids(ids);
        } else throw new IllegalArgumentException(shape);
    }
}
