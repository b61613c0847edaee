package ai.jamba.service.http;

import ai.jamba.engine.serve.EngineException;
import ai.jamba.engine.serve.GenerationEvent;
import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.engine.serve.RequestHandle;
import ai.jamba.engine.tokenizer.ChatMessage;
import ai.jamba.service.EventJson;
import ai.jamba.service.SamplingFields;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.List;

/**
 * One chat over a WebSocket at {@code /ws/chat}: user frames in, the reply streamed back as frames.
 *
 * <pre>
 * client: {"type":"user","content":"..","session_id"?:"..","params"?:{max_tokens,temperature,top_p,top_k,seed,stop}}
 *         {"type":"stop"}                                  stops the running reply
 * server: {"type":"session","session_id":".."}             first, in reply to each user frame that starts a reply
 *         {"type":"token","text":"..","ids":[..]}          as the reply is generated
 *         {"type":"done","finish_reason","usage","timings"} the reply is over
 *         {"type":"error","code","message"}                a frame that could not be served; the socket stays open
 * </pre>
 *
 * The content is a user message of the session's conversation, which the model's chat format renders; a model with
 * none (the demo model) continues the text as it stands. One reply runs at a time per socket; closing the socket
 * cancels it. Everything here runs on the socket's event loop.
 */
public final class ChatSocket {
    static final String ENDPOINT = "ws_chat";

    private final ServerWebSocket socket;
    private final String owner;
    private final Generations generations;
    private final Limits limits;
    private RequestHandle running;
    private boolean closed;

    /** What a user frame may ask for. */
    public record Limits(int maxTokens, int defaultMaxTokens) {}

    private ChatSocket(ServerWebSocket socket, String owner, Generations generations, Limits limits) {
        this.socket = socket;
        this.owner = owner;
        this.generations = generations;
        this.limits = limits;
    }

    /**
     * Serves {@code /ws/chat}. The upgrade request is checked first: its Origin (403 for a page that may not use
     * the chat) and its API key ({@code Authorization: Bearer KEY} or {@code ?token=KEY}, 401), so a refused
     * client gets an HTTP status rather than a socket that closes.
     */
    public static void mount(Router router, Generations generations, OriginPolicy origins, Limits limits) {
        router.get("/ws/chat").handler(ctx -> {
            HttpServerRequest req = ctx.request();
            String owner;
            try {
                if (!origins.allows(req.getHeader("Origin"), req.authority()))
                    throw new ApiError(403, "origin_not_allowed", "pages from " + req.getHeader("Origin") + " may not open this chat (see allowed-origins)");
                owner = generations.access().authenticate(req.getHeader("Authorization"), req.getParam("token"));
            } catch (ApiError e) {
                refuse(ctx, generations, e);
                return;
            }
            req.toWebSocket().onSuccess(ws -> new ChatSocket(ws, owner, generations, limits).listen())
                    .onFailure(e -> refuse(ctx, generations, new ApiError(400, "invalid_request", "not a WebSocket upgrade: " + e.getMessage())));
        });
    }

    private static void refuse(RoutingContext ctx, Generations generations, ApiError e) {
        generations.metrics().count(ENDPOINT, e.code());
        e.send(ctx.response());
    }

    private void listen() {
        socket.textMessageHandler(this::onText);
        socket.binaryMessageHandler(b -> error(ApiError.badRequest("frames are JSON text, not binary")));
        socket.exceptionHandler(e -> {
            // Vert.x drops a message that grows past max-request-bytes and says so here; anything else is the
            // connection failing, which the close handler deals with.
            if (e instanceof IllegalStateException) error(new ApiError(413, "request_too_large", "the message is larger than the limit (max-request-bytes)"));
        });
        socket.closeHandler(v -> {
            closed = true;
            if (running != null) running.cancel(); // nobody is reading the reply any more: free its slot
        });
    }

    private void onText(String text) {
        JsonNode frame;
        try {
            frame = EventJson.JSON.readTree(text);
        } catch (JsonProcessingException e) {
            error(new ApiError(400, "invalid_json", "not valid JSON: " + e.getOriginalMessage()));
            return;
        }
        switch (frame.path("type").asText()) {
            case "user" -> onUser(frame);
            case "stop" -> {
                if (running != null) running.cancel(); // its done frame says "cancelled"; nothing running: nothing to do
            }
            default -> error(ApiError.badRequest("a frame is {\"type\":\"user\",\"content\":...} or {\"type\":\"stop\"}"));
        }
    }

    private void onUser(JsonNode frame) {
        if (running != null) {
            error(new ApiError(409, "busy", "a reply is still running: wait for its done frame, or send {\"type\":\"stop\"}"));
            return;
        }
        try {
            running = generations.start(ENDPOINT, request(frame), this::onEvent);
        } catch (ApiError e) {
            error(e);
            return;
        } catch (IllegalArgumentException | EngineException e) {
            error(ApiError.badRequest(e.getMessage()));
            return;
        }
        // Written before any event of the reply: those arrive on this event loop after this handler returns.
        send(EventJson.JSON.createObjectNode().put("type", "session").put("session_id", running.sessionId()));
    }

    private GenerationRequest request(JsonNode frame) {
        JsonNode content = frame.get("content"), session = frame.get("session_id"), params = frame.get("params");
        if (content == null || !content.isTextual() || content.asText().isEmpty())
            throw new IllegalArgumentException("content must be a non-empty string");
        if (session != null && !session.isNull() && !session.isTextual()) throw new IllegalArgumentException("session_id must be a string");
        if (params != null && !params.isNull() && !params.isObject()) throw new IllegalArgumentException("params must be an object");
        GenerationRequest.Builder b = GenerationRequest.builder().owner(owner)
                .sessionId(session == null || session.isNull() ? null : session.asText())
                .chat(List.of(new ChatMessage("user", content.asText())))
                .stopAtEos(true);
        SamplingFields.apply(params == null ? EventJson.JSON.createObjectNode() : params, b, limits.maxTokens(), limits.defaultMaxTokens());
        return b.build();
    }

    private void onEvent(GenerationEvent event) {
        ObjectNode frame = EventJson.JSON.createObjectNode();
        switch (event) {
            case GenerationEvent.Token t -> frame.put("type", "token").put("text", t.text()).set("ids", EventJson.ids(t.ids()));
            case GenerationEvent.Done d -> {
                running = null;
                frame.put("type", "done").put("finish_reason", d.finishReason().wire());
                frame.set("usage", EventJson.usage(d.usage()));
                frame.set("timings", EventJson.timings(d.timings()));
            }
            case GenerationEvent.Error e -> {
                running = null;
                frame.put("type", "error").put("code", e.code().wire()).put("message", e.message());
            }
        }
        send(frame);
    }

    private void error(ApiError e) {
        generations.metrics().count(ENDPOINT, e.code());
        send(EventJson.JSON.createObjectNode().put("type", "error").put("code", e.code()).put("message", e.getMessage()));
    }

    private void send(ObjectNode frame) {
        if (!closed) socket.writeTextMessage(frame.toString());
    }
}
