package ai.jamba.service.http;

import ai.jamba.engine.serve.EngineException;
import ai.jamba.service.EventJson;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.http.HttpServerResponse;

/**
 * An error a client gets back, in OpenAI's shape ({"error":{"message","type","code"}}) over HTTP and as an
 * error frame over WebSocket. {@code status} is the HTTP status it maps to.
 */
public final class ApiError extends RuntimeException {
    private final int status;
    private final String code;

    public ApiError(int status, String code, String message) {
        super(message);
        this.status = status;
        this.code = code;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    /** OpenAI's error type for a status. */
    public String type() {
        return switch (status) {
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 404 -> "not_found_error";
            case 413 -> "request_too_large";
            case 429 -> "rate_limit_error";
            case 503 -> "service_unavailable";
            default -> status >= 500 ? "server_error" : "invalid_request_error";
        };
    }

    /** The body OpenAI's clients parse: {"error":{"message","type","param","code"}}. */
    public ObjectNode body() {
        ObjectNode e = EventJson.JSON.createObjectNode().put("message", getMessage()).put("type", type()).putNull("param").put("code", code);
        return EventJson.JSON.createObjectNode().set("error", e);
    }

    /** Answers an HTTP request with this error. */
    public void send(HttpServerResponse response) {
        response.setStatusCode(status).putHeader("content-type", "application/json").end(body().toString());
    }

    public static ApiError badRequest(String message) {
        return new ApiError(400, "invalid_request", message);
    }

    /** An engine refusal or failure, under the engine's own code. */
    public static ApiError of(EngineException.Code code, String message) {
        int status = switch (code) {
            case INVALID_REQUEST -> 400;
            case FORBIDDEN -> 403;
            case SESSION_BUSY -> 409;
            case OVERLOADED, UNAVAILABLE -> 503; // OpenAI's status for "overloaded, retry": not the client's own rate
            case SESSION_CORRUPT, INTERNAL -> 500;
        };
        return new ApiError(status, code.wire(), message);
    }

    public static ApiError of(EngineException e) {
        return of(e.code(), e.getMessage());
    }
}
