package ai.jamba.kernels;

/**
 * A request for sequence state beyond what was sized for it: no free slot, or more KV positions than the cache
 * has left. Thrown before any of the step's work starts, so the engine and the other sequences are unharmed;
 * the request can wait or be refused with this message.
 */
public class CapacityException extends RuntimeException {
    public CapacityException(String message) {
        super(message);
    }
}
