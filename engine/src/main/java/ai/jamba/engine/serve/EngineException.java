package ai.jamba.engine.serve;

import java.util.Locale;

/**
 * Why the engine turned a request down. {@link Engine#submit} throws it for what it can tell at once; what it finds
 * later (a session busy too long, a conversation over the context limit) arrives as a {@link GenerationEvent.Error}
 * with the same codes.
 */
public final class EngineException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What went wrong, for clients to act on (HTTP 429, 400, 403, 409, 500, 503). */
    public enum Code {
        /** The queue is full: retry later. */
        OVERLOADED,
        /** Bad parameters, or a prompt that does not fit the context. */
        INVALID_REQUEST,
        /** The session belongs to another owner. */
        FORBIDDEN,
        /** Another turn of the session ran longer than the wait allowed. */
        SESSION_BUSY,
        /** The session's file could not be read at all (it was set aside; the session is gone). */
        SESSION_CORRUPT,
        /** The engine is shut down. */
        UNAVAILABLE,
        /** A failure inside the engine (the message says what). */
        INTERNAL;

        /** The code as it goes on the wire: {@code "overloaded"}, {@code "invalid_request"}, ... */
        public String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Code code;

    public EngineException(Code code, String message) {
        super(message);
        this.code = code;
    }

    public Code code() {
        return code;
    }

    static EngineException invalid(String message) {
        return new EngineException(Code.INVALID_REQUEST, message);
    }
}
