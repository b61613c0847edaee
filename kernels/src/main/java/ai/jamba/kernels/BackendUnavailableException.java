package ai.jamba.kernels;

/** A backend that cannot start on this machine; the message says what was looked for and not found. */
public final class BackendUnavailableException extends RuntimeException {
    public BackendUnavailableException(String message) {
        super(message);
    }

    public BackendUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
