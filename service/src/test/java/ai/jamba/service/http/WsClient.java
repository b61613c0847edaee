package ai.jamba.service.http;

import ai.jamba.service.TestKafka;
import com.fasterxml.jackson.databind.JsonNode;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** A chat socket from the client's side: send frames, take the server's frames one by one as they come. */
public final class WsClient implements AutoCloseable {
    private final WebSocket socket;
    private final BlockingQueue<JsonNode> frames;

    private WsClient(WebSocket socket, BlockingQueue<JsonNode> frames) {
        this.socket = socket;
        this.frames = frames;
    }

    /** Opens a socket with header pairs; fails with the handshake's exception (e.g. a 401) as the cause. */
    public static WsClient open(HttpClient client, URI uri, String... headers) {
        BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
        WebSocket.Builder b = client.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10));
        for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        WebSocket ws = b.buildAsync(uri, new WebSocket.Listener() {
            private final StringBuilder partial = new StringBuilder();

            @Override
            public CompletableFuture<?> onText(WebSocket w, CharSequence data, boolean last) {
                partial.append(data);
                if (last) {
                    try {
                        frames.add(TestKafka.JSON.readTree(partial.toString()));
                    } catch (Exception e) {
                        frames.add(TestKafka.JSON.createObjectNode().put("type", "unparseable").put("text", partial.toString()));
                    }
                    partial.setLength(0);
                }
                w.request(1);
                return null;
            }
        }).join();
        return new WsClient(ws, frames);
    }

    public WsClient send(String text) {
        socket.sendText(text, true).join();
        return this;
    }

    public WsClient sendBinary(byte[] bytes) {
        socket.sendBinary(ByteBuffer.wrap(bytes), true).join();
        return this;
    }

    /** The next frame from the server (failing after two minutes). */
    public JsonNode next() {
        try {
            JsonNode f = frames.poll(LiveServer.WAIT.toSeconds(), TimeUnit.SECONDS);
            assertNotNull(f, "no frame from the server within " + LiveServer.WAIT);
            return f;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The next frame, which must be of {@code type}. */
    public JsonNode next(String type) {
        JsonNode f = next();
        assertEquals(type, f.path("type").asText(), "expected a " + type + " frame, got " + f);
        return f;
    }

    /** The next frame that is not a token frame: what comes while a reply streams. */
    public JsonNode nextAfterTokens() {
        JsonNode f = next();
        while (f.path("type").asText().equals("token")) f = next();
        return f;
    }

    /** One reply: the session frame, the token frames, and the final (done or error) frame. */
    public record Reply(String sessionId, List<JsonNode> tokens, JsonNode last) {
        public String text() {
            StringBuilder b = new StringBuilder();
            tokens.forEach(t -> b.append(t.get("text").asText()));
            return b.toString();
        }

        public int[] ids() {
            return tokens.stream().flatMapToInt(t -> java.util.stream.IntStream.range(0, t.get("ids").size()).map(i -> t.get("ids").get(i).asInt())).toArray();
        }
    }

    /** Reads a whole reply to a user frame just sent. */
    public Reply reply() {
        String session = next("session").get("session_id").asText();
        List<JsonNode> tokens = new ArrayList<>();
        for (JsonNode f = next(); ; f = next()) {
            if (!f.path("type").asText().equals("token")) return new Reply(session, tokens, f);
            tokens.add(f);
        }
    }

    /** Sends a user frame and reads its reply. */
    public Reply ask(String userFrame) {
        return send(userFrame).reply();
    }

    /** Closes from the client's side and waits until it is sent. */
    @Override
    public void close() {
        try {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").join();
        } catch (CompletionException e) {
            socket.abort(); // already closed by the server
        }
    }
}
