package ai.jamba.service.http;

import ai.jamba.service.Greedy;
import ai.jamba.service.TestKafka;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static ai.jamba.service.http.LiveServer.API_KEY;
import static ai.jamba.service.http.LiveServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The OpenAI-style HTTP API under /v1, against a running server. */
@ExtendWith(LiveServer.Extension.class)
class OpenAiApiTest {
    static final String MODEL = "jamba-demo-fortunes";
    static final String CHAT = "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"You will\"}],\"max_tokens\":64,\"temperature\":0";
    static final String TEXT = "{\"model\":\"" + MODEL + "\",\"prompt\":\"You will\",\"max_tokens\":64,\"temperature\":0";

    /** What the WebSocket chat streams for "You will" (ChatSocketTest holds it to ./jamba generate). */
    static String webSocketText(LiveServer server) {
        try (WsClient chat = server.chat(API_KEY)) {
            return chat.ask("{\"type\":\"user\",\"content\":\"You will\",\"params\":{\"max_tokens\":64,\"temperature\":0}}").text();
        }
    }

    /** The data events of a server-sent event stream, the last of which must be [DONE] (left out). */
    static List<JsonNode> events(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        List<String> data = r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        assertEquals("[DONE]", data.getLast(), "the stream ends with data: [DONE]");
        List<JsonNode> out = new ArrayList<>();
        for (String d : data.subList(0, data.size() - 1)) {
            try {
                out.add(TestKafka.JSON.readTree(d));
            } catch (Exception e) {
                throw new AssertionError("not JSON: " + d, e);
            }
        }
        return out;
    }

    @Test
    void chatCompletionsWholeAndStreamedGiveTheWebSocketsText(LiveServer server) {
        String expected = webSocketText(server);

        HttpResponse<String> whole = server.post("/v1/chat/completions", API_KEY, CHAT + "}");
        assertEquals(200, whole.statusCode(), whole.body());
        JsonNode body = json(whole);
        assertEquals("chat.completion", body.get("object").asText());
        assertEquals(MODEL, body.get("model").asText());
        JsonNode choice = body.get("choices").get(0);
        assertEquals("assistant", choice.get("message").get("role").asText());
        assertEquals(expected, choice.get("message").get("content").asText());
        assertEquals("stop", choice.get("finish_reason").asText());
        JsonNode usage = body.get("usage");
        assertEquals(usage.get("prompt_tokens").asInt() + usage.get("completion_tokens").asInt(), usage.get("total_tokens").asInt());
        assertEquals(body.get("session_id").asText(), whole.headers().firstValue("x-session-id").orElseThrow());

        List<JsonNode> chunks = events(server.post("/v1/chat/completions", API_KEY, CHAT + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}"));
        assertEquals("assistant", chunks.getFirst().get("choices").get(0).get("delta").get("role").asText(), "the first chunk names the role");
        StringBuilder streamed = new StringBuilder();
        chunks.forEach(c -> {
            assertEquals("chat.completion.chunk", c.get("object").asText());
            if (!c.get("choices").isEmpty()) streamed.append(c.get("choices").get(0).get("delta").path("content").asText(""));
        });
        assertEquals(expected, streamed.toString());
        JsonNode finish = chunks.get(chunks.size() - 2), usageChunk = chunks.getLast();
        assertEquals("stop", finish.get("choices").get(0).get("finish_reason").asText());
        assertTrue(usageChunk.get("choices").isEmpty(), "include_usage: a last chunk with no choices carries the usage");
        assertEquals(usage.get("completion_tokens"), usageChunk.get("usage").get("completion_tokens"));
    }

    @Test
    void completionsWholeAndStreamedGiveTheWebSocketsText(LiveServer server) {
        String expected = webSocketText(server);

        JsonNode whole = json(server.post("/v1/completions", API_KEY, TEXT + "}"));
        assertEquals("text_completion", whole.get("object").asText());
        assertEquals(expected, whole.get("choices").get(0).get("text").asText());

        List<JsonNode> chunks = events(server.post("/v1/completions", API_KEY, TEXT + ",\"stream\":true}"));
        StringBuilder streamed = new StringBuilder();
        chunks.forEach(c -> streamed.append(c.get("choices").get(0).get("text").asText()));
        assertEquals(expected, streamed.toString());
        assertEquals("stop", chunks.getLast().get("choices").get(0).get("finish_reason").asText());
        assertTrue(chunks.stream().noneMatch(c -> c.has("usage")), "no usage chunk unless asked for");
    }

    @Test
    void anOpenAiClientsRequestWorksUnchanged(LiveServer server) {
        // What the openai Python package (1.x) sends for client.chat.completions.create(...), headers included.
        String body = """
                {"messages": [{"role": "system", "content": "You are a fortune cookie."},
                              {"role": "user", "content": [{"type": "text", "text": "You will"}]}],
                 "model": "jamba-demo-fortunes", "frequency_penalty": 0, "presence_penalty": 0, "max_completion_tokens": 16,
                 "n": 1, "seed": 7, "stop": ["\\n\\n"], "temperature": 0.7, "top_p": 0.9, "user": "someone", "stream": false}""";
        HttpResponse<String> r = server.post("/v1/chat/completions", API_KEY, body, "User-Agent", "OpenAI/Python 1.99.0",
                "X-Stainless-Lang", "python", "X-Stainless-Retry-Count", "0", "Accept", "application/json");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode reply = json(r);
        assertTrue(reply.get("id").asText().startsWith("chatcmpl-"));
        assertTrue(reply.get("usage").get("completion_tokens").asInt() <= 16);
        assertTrue(reply.get("choices").get(0).get("message").get("content").isTextual());

        // the same seed gives the same reply
        assertEquals(reply.get("choices").get(0).get("message"), json(server.post("/v1/chat/completions", API_KEY, body)).get("choices").get(0).get("message"));
    }

    /** A greedy chat body of up to 12 tokens: the session id (or null), then role and content pairs. */
    static String conversation(String session, String... roleContent) {
        ObjectNode body = TestKafka.JSON.createObjectNode();
        if (session != null) body.put("session_id", session);
        ArrayNode messages = body.putArray("messages");
        for (int i = 0; i < roleContent.length; i += 2) messages.addObject().put("role", roleContent[i]).put("content", roleContent[i + 1]);
        return body.put("max_tokens", 12).put("temperature", 0).toString();
    }

    static String reply(JsonNode completion) {
        return completion.get("choices").get(0).get("message").get("content").asText();
    }

    @Test
    void aClientResendingTheWholeConversationReusesItsSession(LiveServer server) {
        String session = "http-" + UUID.randomUUID(), u1 = "A programmer walks into a bar", u2 = " and then";
        HttpResponse<String> r1 = server.post("/v1/chat/completions", API_KEY, conversation(null, "user", u1), "X-Session-Id", session);
        assertEquals(session, r1.headers().firstValue("x-session-id").orElseThrow(), "the response carries the session");
        JsonNode first = json(r1);
        String a1 = reply(first);

        JsonNode second = json(server.post("/v1/chat/completions", API_KEY, conversation(session, "user", u1, "assistant", a1, "user", u2)));
        assertEquals(session, second.get("session_id").asText());
        assertEquals(first.get("usage").get("session_tokens").asInt() - 1, second.get("usage").get("reused_tokens").asInt(),
                "the known part of the conversation is restored, not computed again");
        int[] ids1 = Greedy.encode(u1, true);
        int[] o1 = Greedy.of(ids1, 12).ids();
        assertEquals(Greedy.of(Greedy.concat(Greedy.concat(ids1, o1), Greedy.encode(u2, false)), 12).text(), reply(second));

        // no session id at all: the key's stored conversation that this one extends is found and continued
        JsonNode third = json(server.post("/v1/chat/completions", API_KEY,
                conversation(null, "user", u1, "assistant", a1, "user", u2, "assistant", reply(second), "user", " Later")));
        assertEquals(second.get("usage").get("session_tokens").asInt() - 1, third.get("usage").get("reused_tokens").asInt());
        assertNotEquals(session, third.get("session_id").asText(), "it continues a copy under a new id");
    }

    @Test
    void modelsListTheServedModelByItsFolderName(LiveServer server) {
        JsonNode list = json(server.send(server.request("/v1/models", API_KEY).GET().build()));
        assertEquals("list", list.get("object").asText());
        assertEquals(1, list.get("data").size());
        assertEquals(MODEL, list.get("data").get(0).get("id").asText());
        assertEquals(MODEL, json(server.send(server.request("/v1/models/" + MODEL, API_KEY).GET().build())).get("id").asText());

        HttpResponse<String> other = server.send(server.request("/v1/models/gpt-4o", API_KEY).GET().build());
        assertEquals(404, other.statusCode());
        assertEquals("model_not_found", json(other).get("error").get("code").asText());
        HttpResponse<String> asked = server.post("/v1/chat/completions", API_KEY, CHAT.replace(MODEL, "gpt-4o") + "}");
        assertEquals(404, asked.statusCode());
        assertEquals("not_found_error", json(asked).get("error").get("type").asText());
    }

    @Test
    void aDeletedSessionIsGone(LiveServer server) {
        String session = "http-delete-" + UUID.randomUUID();
        assertEquals(200, server.post("/v1/completions", API_KEY, TEXT + ",\"max_tokens\":4}", "X-Session-Id", session).statusCode());
        HttpResponse<String> deleted = server.send(server.request("/v1/sessions/" + session, API_KEY).DELETE().build());
        assertEquals(200, deleted.statusCode(), deleted.body());
        assertTrue(json(deleted).get("deleted").asBoolean());
        HttpResponse<String> again = server.send(server.request("/v1/sessions/" + session, API_KEY).DELETE().build());
        assertEquals(404, again.statusCode());
        assertEquals("session_not_found", json(again).get("error").get("code").asText());
    }

    @Test
    void badRequestsGetOpenAiErrors(LiveServer server) {
        for (String body : List.of("{not json", "[]", "{\"messages\":[]}", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":3,\"max_completion_tokens\":4}",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "word ".repeat(600) + "\"}]}")) {
            HttpResponse<String> r = server.post("/v1/chat/completions", API_KEY, body);
            assertEquals(400, r.statusCode(), body + " → " + r.body());
            JsonNode error = json(r).get("error");
            assertEquals("invalid_request_error", error.get("type").asText());
            assertTrue(error.get("message").asText().length() > 5, error.toString());
        }
        assertEquals(404, server.send(server.request("/v1/embeddings", API_KEY).GET().build()).statusCode());
    }

    @Test
    void metricsCountRequestsTokensAndLatencies(LiveServer server) {
        assertEquals(200, server.post("/v1/completions", API_KEY, TEXT + "}").statusCode());
        String metrics = server.send(server.request("/metrics", null).GET().build()).body();
        for (String line : List.of("jamba_requests_total{endpoint=\"completions\",outcome=\"stop\"}",
                "jamba_time_to_first_token_seconds_bucket{endpoint=\"completions\"", "jamba_inter_token_latency_seconds_bucket{endpoint=\"completions\"",
                "jamba_tokens_prompt_total", "jamba_tokens_completion_total", "jamba_batch_sequences_count", "jamba_queue_depth",
                "jamba_sequences_active", "jamba_sessions_hits_total", "jamba_sessions_misses_total", "jamba_sessions_evictions_total",
                "jamba_sessions_memory_bytes", "jamba_model_weight_bytes", "jvm_memory_used_bytes"))
            assertTrue(metrics.contains(line), "/metrics has " + line);
    }
}
