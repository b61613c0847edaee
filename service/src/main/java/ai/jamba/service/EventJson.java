package ai.jamba.service;

import ai.jamba.engine.serve.GenerationEvent;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The JSON every transport writes for usage, timings and ids, so Kafka, WebSocket and HTTP say the same thing. */
public final class EventJson {
    private EventJson() {}

    public static final ObjectMapper JSON = new ObjectMapper();

    public static ObjectNode usage(GenerationEvent.Usage u) {
        return JSON.createObjectNode()
                .put("prompt_tokens", u.promptTokens())
                .put("completion_tokens", u.completionTokens())
                .put("total_tokens", u.promptTokens() + u.completionTokens())
                .put("reused_tokens", u.reusedTokens())
                .put("session_tokens", u.sessionTokens())
                .put("mamba_state_bytes", u.mambaStateBytes())
                .put("kv_bytes", u.kvBytes())
                .put("seed", u.seed());
    }

    public static ObjectNode timings(GenerationEvent.Timings t) {
        return JSON.createObjectNode()
                .put("queue_ms", round(t.queueMs()))
                .put("prefill_ms", round(t.prefillMs()))
                .put("time_to_first_token_ms", round(t.timeToFirstTokenMs()))
                .put("decode_tok_s", round(t.decodeTokensPerSecond()))
                .put("total_ms", round(t.totalMs()));
    }

    public static ArrayNode ids(int[] ids) {
        ArrayNode a = JSON.createArrayNode();
        for (int id : ids) a.add(id);
        return a;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
