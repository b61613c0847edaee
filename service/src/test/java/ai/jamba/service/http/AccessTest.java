package ai.jamba.service.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.util.UUID;
import java.util.concurrent.CompletionException;

import static ai.jamba.service.http.LiveServer.ACCESS_KEY;
import static ai.jamba.service.http.LiveServer.OTHER_KEY;
import static ai.jamba.service.http.LiveServer.RATE_KEY;
import static ai.jamba.service.http.LiveServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Who may use the server and how much: API keys, session owners, body size, rate; and which pages may open the chat. */
@ExtendWith(LiveServer.Extension.class)
class AccessTest {
    static final String COMPLETION = "{\"prompt\":\"You will\",\"max_tokens\":2,\"temperature\":0}";

    static void assertError(int status, String code, HttpResponse<String> r) {
        assertEquals(status, r.statusCode(), r.body());
        assertEquals(code, json(r).get("error").get("code").asText(), r.body());
    }

    /** The HTTP status the WebSocket upgrade was refused with. */
    static int refusedUpgrade(Runnable open) {
        CompletionException e = assertThrows(CompletionException.class, open::run);
        return ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode();
    }

    @Test
    void withoutAValidKeyNothingIsServed(LiveServer server) {
        assertError(401, "missing_api_key", server.post("/v1/completions", null, COMPLETION));
        assertError(401, "invalid_api_key", server.post("/v1/completions", "not-a-key", COMPLETION));
        assertError(401, "missing_api_key", server.send(server.request("/v1/models", null).GET().build()));
        assertEquals(401, refusedUpgrade(() -> WsClient.open(server.client(), server.ws(null))));
        assertEquals(401, refusedUpgrade(() -> WsClient.open(server.client(), server.ws("token=not-a-key"))));
        // the page's way: the key as a query parameter
        try (WsClient chat = WsClient.open(server.client(), server.ws("token=" + ACCESS_KEY))) {
            assertEquals("done", chat.ask("{\"type\":\"user\",\"content\":\"You will\",\"params\":{\"max_tokens\":2}}").last().get("type").asText());
        }
    }

    @Test
    void anotherKeysSessionCannotBeContinuedOrDeleted(LiveServer server) {
        String session = "mine-" + UUID.randomUUID();
        assertEquals(200, server.post("/v1/completions", ACCESS_KEY, COMPLETION, "X-Session-Id", session).statusCode());

        assertError(403, "forbidden", server.post("/v1/completions", OTHER_KEY, COMPLETION, "X-Session-Id", session));
        assertError(403, "forbidden", server.send(server.request("/v1/sessions/" + session, OTHER_KEY).DELETE().build()));
        try (WsClient chat = server.chat(OTHER_KEY)) {
            JsonNode error = chat.send("{\"type\":\"user\",\"content\":\"hi\",\"session_id\":\"" + session + "\"}").next("error");
            assertEquals("forbidden", error.get("code").asText());
        }
        assertEquals(200, server.post("/v1/completions", ACCESS_KEY, COMPLETION, "X-Session-Id", session).statusCode(), "the owner still can");
    }

    @Test
    void aBodyOrMessageOverTheLimitIsRefused(LiveServer server) {
        String huge = "{\"prompt\":\"" + "x".repeat(LiveServer.MAX_REQUEST_BYTES) + "\"}";
        HttpResponse<String> r = server.post("/v1/completions", ACCESS_KEY, huge);
        assertError(413, "request_too_large", r);
        assertEquals("request_too_large", json(r).get("error").get("type").asText());
        try (WsClient chat = server.chat(ACCESS_KEY)) { // the JDK's client sends a long message as several frames
            chat.send("{\"type\":\"user\",\"content\":\"" + "x".repeat(LiveServer.MAX_REQUEST_BYTES) + "\"}");
            assertEquals("request_too_large", chat.next("error").get("code").asText());
            assertEquals("done", chat.ask("{\"type\":\"user\",\"content\":\"You will\",\"params\":{\"max_tokens\":2}}").last().get("type").asText(),
                    "the socket stays usable");
        }
    }

    @Test
    void aKeyOverItsRateIsTurnedAway(LiveServer server) {
        for (int i = 0; i < LiveServer.REQUESTS_PER_MINUTE; i++)
            assertEquals(200, server.post("/v1/completions", RATE_KEY, COMPLETION).statusCode(), "request " + i + " is within the rate");
        assertError(429, "rate_limited", server.post("/v1/completions", RATE_KEY, COMPLETION));
        try (WsClient chat = server.chat(RATE_KEY)) {
            assertEquals("rate_limited", chat.send("{\"type\":\"user\",\"content\":\"hi\"}").next("error").get("code").asText());
        }
        assertEquals(200, server.post("/v1/completions", OTHER_KEY, COMPLETION).statusCode(), "other keys are not held back");
    }

    @Test
    void onlyTheServersOwnPagesMayOpenTheChat(LiveServer server) {
        String key = "Bearer " + ACCESS_KEY;
        assertEquals(403, refusedUpgrade(() -> WsClient.open(server.client(), server.ws(null), "Origin", "https://evil.example", "Authorization", key)));
        assertEquals(403, refusedUpgrade(() -> WsClient.open(server.client(), server.ws(null), "Origin", "http://127.0.0.1:1", "Authorization", key)));
        try (WsClient same = WsClient.open(server.client(), server.ws(null), "Origin", server.url(), "Authorization", key)) {
            assertEquals("done", same.ask("{\"type\":\"user\",\"content\":\"You will\",\"params\":{\"max_tokens\":2}}").last().get("type").asText());
        }
    }
}
