package ai.jamba.service.http;

import ai.jamba.engine.serve.GenerationEvent;
import ai.jamba.service.EventJson;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.http.HttpServerResponse;

/**
 * One completion written back in OpenAI's shape, from the request's events (on the connection's event loop).
 *
 * <ul>
 *   <li>Whole: the text is gathered and sent with the final event, as {@code chat.completion} or
 *       {@code text_completion}.</li>
 *   <li>Streamed ({@code stream: true}): server-sent events, one {@code data: <chunk>} per token with text, a chunk
 *       with the finish reason, with {@code stream_options.include_usage} a chunk with no choices and the usage,
 *       then {@code data: [DONE]}. The status line waits for the first event, so a request that fails before its
 *       first token still gets its HTTP error status; a failure after it comes as a {@code data: {"error":..}}
 *       event.</li>
 * </ul>
 * Both carry the session id: the {@code X-Session-Id} header and a {@code session_id} field; and, beyond OpenAI's
 * fields, the engine's usage details and timings.
 */
final class CompletionResponse {
    private final OpenAiRequest.Kind kind;
    private final OpenAiRequest request;
    private final String model;
    private final HttpServerResponse http;
    private final long created = System.currentTimeMillis() / 1000;
    private final StringBuilder text = new StringBuilder();
    private String id, sessionId;

    CompletionResponse(OpenAiRequest.Kind kind, OpenAiRequest request, String model, HttpServerResponse http) {
        this.kind = kind;
        this.request = request;
        this.model = model;
        this.http = http;
    }

    /** The request as the engine took it; called before its first event. */
    void started(String requestId, String sessionId) {
        this.id = (kind == OpenAiRequest.Kind.CHAT ? "chatcmpl-" : "cmpl-") + requestId;
        this.sessionId = sessionId;
    }

    void accept(GenerationEvent event) {
        if (http.closed()) return; // the client left; the request is being cancelled
        if (event instanceof GenerationEvent.Error e && !http.headWritten()) {
            ApiError.of(e.code(), e.message()).send(http);
            return;
        }
        if (request.stream()) stream(event);
        else if (event instanceof GenerationEvent.Token t) text.append(t.text());
        else if (event instanceof GenerationEvent.Done d) whole(d);
    }

    private void whole(GenerationEvent.Done d) {
        ObjectNode body = envelope(kind == OpenAiRequest.Kind.CHAT ? "chat.completion" : "text_completion");
        body.putArray("choices").add(choice(text.toString(), true, d.finishReason().wire()));
        body.set("usage", EventJson.usage(d.usage()));
        body.set("timings", EventJson.timings(d.timings()));
        http.putHeader("content-type", "application/json").putHeader("x-session-id", sessionId).end(body.toString());
    }

    private void stream(GenerationEvent event) {
        if (!http.headWritten()) {
            http.setChunked(true).putHeader("content-type", "text/event-stream").putHeader("cache-control", "no-cache")
                    .putHeader("x-session-id", sessionId);
            if (kind == OpenAiRequest.Kind.CHAT) { // OpenAI's first chunk names the role
                ObjectNode first = chunk(choice("", false, null));
                first.withArray("choices").get(0).withObject("delta").put("role", "assistant");
                write(first);
            }
        }
        switch (event) {
            case GenerationEvent.Token t -> {
                if (!t.text().isEmpty()) write(chunk(choice(t.text(), false, null)));
            }
            case GenerationEvent.Done d -> {
                write(chunk(choice("", false, d.finishReason().wire())));
                if (request.includeUsage()) {
                    ObjectNode usage = envelope(chunkObject());
                    usage.putArray("choices");
                    usage.set("usage", EventJson.usage(d.usage()));
                    usage.set("timings", EventJson.timings(d.timings()));
                    write(usage);
                }
                http.end("data: [DONE]\n\n");
            }
            case GenerationEvent.Error e -> {
                write(ApiError.of(e.code(), e.message()).body());
                http.end("data: [DONE]\n\n");
            }
        }
    }

    private ObjectNode chunk(ObjectNode choice) {
        ObjectNode c = envelope(chunkObject());
        c.putArray("choices").add(choice);
        return c;
    }

    private String chunkObject() {
        return kind == OpenAiRequest.Kind.CHAT ? "chat.completion.chunk" : "text_completion";
    }

    private ObjectNode envelope(String object) {
        return EventJson.JSON.createObjectNode().put("id", id).put("object", object).put("created", created).put("model", model)
                .put("session_id", sessionId);
    }

    /**
     * A choice: chat puts the text in {@code message} (whole) or {@code delta} (streamed), completions in
     * {@code text}. A null finish reason: the completion goes on.
     */
    private ObjectNode choice(String content, boolean whole, String finishReason) {
        ObjectNode c = EventJson.JSON.createObjectNode().put("index", 0);
        if (kind == OpenAiRequest.Kind.TEXT) c.put("text", content);
        else if (whole) c.putObject("message").put("role", "assistant").put("content", content);
        else if (!content.isEmpty()) c.putObject("delta").put("content", content);
        else c.putObject("delta");
        c.putNull("logprobs");
        if (finishReason == null) c.putNull("finish_reason");
        else c.put("finish_reason", finishReason);
        return c;
    }

    private void write(ObjectNode data) {
        http.write("data: " + data + "\n\n");
    }
}
