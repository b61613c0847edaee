package ai.jamba.service.http;

import ai.jamba.service.Greedy;
import ai.jamba.service.TestKafka;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.UUID;

import static ai.jamba.service.http.LiveServer.CHAT_KEY;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The WebSocket chat at /ws/chat, against a running server. */
@ExtendWith(LiveServer.Extension.class)
class ChatSocketTest {
    /** A prompt the demo model continues for 67 tokens before EOS: long enough to interrupt. */
    static final String LONG = "1 2 3 4 5 6 7 8 9 10 11 12";

    static String user(String content, String sessionId, int maxTokens) {
        ObjectNode f = TestKafka.JSON.createObjectNode().put("type", "user").put("content", content);
        if (sessionId != null) f.put("session_id", sessionId);
        f.putObject("params").put("max_tokens", maxTokens).put("temperature", 0);
        return f.toString();
    }

    @Test
    void aNewChatStreamsWhatGenerateGives(LiveServer server) {
        Greedy expected = Greedy.of(Greedy.encode("You will", true), 64); // ./jamba generate --prompt "You will" --stop-at-eos
        try (WsClient chat = server.chat(CHAT_KEY)) {
            WsClient.Reply reply = chat.ask(user("You will", null, 64));
            assertTrue(reply.sessionId().matches("[0-9a-f]{32}"), "a new session gets a random 128-bit id: " + reply.sessionId());
            assertArrayEquals(expected.ids(), reply.ids());
            assertEquals(expected.text(), reply.text());
            assertEquals("done", reply.last().get("type").asText(), reply.last().toString());
            assertEquals("stop", reply.last().get("finish_reason").asText());
            assertEquals(expected.ids().length, reply.last().get("usage").get("completion_tokens").asInt());
            assertTrue(reply.last().get("timings").has("time_to_first_token_ms"));
        }
    }

    @Test
    void aSessionResumesByIdOnAnotherSocket(LiveServer server) {
        String session = "ws-resume-" + UUID.randomUUID();
        String p1 = "A programmer walks into a bar", p2 = " and then";
        WsClient.Reply first, second;
        try (WsClient chat = server.chat(CHAT_KEY)) {
            first = chat.ask(user(p1, session, 12));
        }
        try (WsClient chat = server.chat(CHAT_KEY)) {
            second = chat.ask(user(p2, session, 12));
        }
        assertEquals(session, first.sessionId());
        assertEquals(session, second.sessionId());
        // a model without a chat format continues the text: one greedy run over P1 + O1 + P2 gives turn 2's reply
        int[] ids1 = Greedy.encode(p1, true);
        Greedy o1 = Greedy.of(ids1, 12);
        assertEquals(o1.text(), first.text());
        Greedy o2 = Greedy.of(Greedy.concat(Greedy.concat(ids1, o1.ids()), Greedy.encode(p2, false)), 12);
        assertEquals(o2.text(), second.text());
        assertEquals(first.last().get("usage").get("session_tokens").asInt() - 1, second.last().get("usage").get("reused_tokens").asInt(),
                "turn 2 restores turn 1's state instead of computing it again");
    }

    @Test
    void stopEndsTheRunningReplyAndTheSocketGoesOn(LiveServer server) {
        int uninterrupted = Greedy.of(Greedy.encode(LONG, true), 200).ids().length;
        try (WsClient chat = server.chat(CHAT_KEY)) {
            chat.send(user(LONG, null, 200));
            chat.next("session");
            chat.next("token");
            chat.send(user("meanwhile", null, 8)); // one reply at a time
            JsonNode busy = chat.nextAfterTokens();
            assertEquals("busy", busy.path("code").asText(), busy.toString());
            chat.send("{\"type\":\"stop\"}");
            JsonNode last = chat.nextAfterTokens();
            assertEquals("done", last.get("type").asText(), last.toString());
            assertEquals("cancelled", last.get("finish_reason").asText());
            assertTrue(last.get("usage").get("completion_tokens").asInt() < uninterrupted,
                    "stopped after " + last.get("usage").get("completion_tokens") + " of " + uninterrupted + " tokens");

            assertEquals("stop", chat.ask(user("You will", null, 64)).last().get("finish_reason").asText());
        }
    }

    @Test
    void closingTheSocketCancelsItsReply(LiveServer server) throws InterruptedException {
        long cancelledBefore = server.service().engine().stats().cancelled();
        WsClient chat = server.chat(CHAT_KEY);
        chat.send(user(LONG, null, 200));
        chat.next("session");
        chat.next("token");
        chat.close();
        long deadline = System.nanoTime() + LiveServer.WAIT.toNanos();
        while (server.service().engine().stats().cancelled() == cancelledBefore && System.nanoTime() < deadline) Thread.sleep(20);
        assertEquals(cancelledBefore + 1, server.service().engine().stats().cancelled(), "the reply was cancelled");
    }

    @Test
    void malformedFramesGetErrorFramesAndTheSocketStaysUsable(LiveServer server) {
        try (WsClient chat = server.chat(CHAT_KEY)) {
            List<String> garbage = List.of(
                    "{not json",
                    "[1, 2, 3]",
                    "{\"type\":\"shout\",\"content\":\"hi\"}",
                    "{\"type\":\"user\"}",
                    "{\"type\":\"user\",\"content\":42}",
                    "{\"type\":\"user\",\"content\":\"hi\",\"params\":{\"max_tokens\":\"ten\"}}",
                    "{\"type\":\"user\",\"content\":\"hi\",\"params\":{\"max_tokens\":100000}}",
                    "{\"type\":\"user\",\"content\":\"hi\",\"session_id\":\"../../etc/passwd\"}");
            for (String frame : garbage) {
                JsonNode error = chat.send(frame).next("error");
                assertTrue(error.get("code").asText().startsWith("invalid_"), frame + " → " + error);
                assertTrue(!error.get("message").asText().isEmpty());
            }
            assertEquals("invalid_request", chat.sendBinary(new byte[]{1, 2, 3}).next("error").get("code").asText());

            assertEquals("done", chat.ask(user("You will", null, 64)).last().get("type").asText());
        }
    }
}
