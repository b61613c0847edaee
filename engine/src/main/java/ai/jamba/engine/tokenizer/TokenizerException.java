package ai.jamba.engine.tokenizer;

/** Tokenizer files that cannot be used, or a chat template that fails; the message names the file and the problem. */
public final class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
