package ai.jamba.service;

import ai.jamba.engine.serve.GenerationRequest;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * The sampling fields every transport shares (Kafka records, WebSocket params, OpenAI bodies): max_tokens,
 * temperature (0 = greedy; default 1, as OpenAI), top_p, top_k, seed, stop (a string or a list of strings).
 * Types and ranges are checked here, with the field's name in the message.
 */
public final class SamplingFields {
    private SamplingFields() {}

    public static void apply(JsonNode n, GenerationRequest.Builder b, int maxTokensLimit, int defaultMaxTokens) {
        int max = defaultMaxTokens;
        if (present(n, "max_tokens")) max = integer(n, "max_tokens");
        if (max < 1 || max > maxTokensLimit)
            throw new IllegalArgumentException("max_tokens must be between 1 and " + maxTokensLimit + ", got " + max);
        b.maxTokens(max);
        if (present(n, "temperature")) b.temperature((float) number(n, "temperature"));
        else b.temperature(1f);
        if (present(n, "top_p")) b.topP((float) number(n, "top_p"));
        if (present(n, "top_k")) b.topK(integer(n, "top_k"));
        if (present(n, "seed")) {
            JsonNode s = n.get("seed");
            if (!s.isIntegralNumber() || !s.canConvertToLong()) throw new IllegalArgumentException("seed must be an integer");
            b.seed(s.longValue());
        }
        if (present(n, "stop")) b.stop(stop(n.get("stop")));
    }

    private static boolean present(JsonNode n, String field) {
        return n.has(field) && !n.get(field).isNull();
    }

    private static int integer(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw new IllegalArgumentException(field + " must be an integer, got " + v);
        return v.intValue();
    }

    private static double number(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (!v.isNumber()) throw new IllegalArgumentException(field + " must be a number, got " + v);
        return v.doubleValue();
    }

    private static List<String> stop(JsonNode v) {
        List<String> out = new ArrayList<>();
        if (v.isTextual()) out.add(v.asText());
        else if (v.isArray()) {
            for (JsonNode s : v) {
                if (!s.isTextual()) throw new IllegalArgumentException("stop must be a string or a list of strings");
                out.add(s.asText());
            }
        } else throw new IllegalArgumentException("stop must be a string or a list of strings");
        return out;
    }
}
