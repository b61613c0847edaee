package ai.jamba.engine.session;

/** A session file that cannot be used: not ours, another format version, truncated, or a damaged META/TOKN. */
public final class SessionFileException extends Exception {
    private static final long serialVersionUID = 1L;

    public SessionFileException(String message) {
        super(message);
    }
}
