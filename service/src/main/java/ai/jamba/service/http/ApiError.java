package ai.jamba.service.http;

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

    public static ApiError badRequest(String message) {
        return new ApiError(400, "invalid_request", message);
    }
}
