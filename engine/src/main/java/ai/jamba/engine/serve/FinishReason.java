package ai.jamba.engine.serve;

import java.util.Locale;

/** Why a turn ended (a failed one ends with {@link GenerationEvent.Error} instead, "error" on the wire). */
public enum FinishReason {
    /** A stop string, a stop id, or EOS. */
    STOP,
    /** max_tokens, or the context limit. */
    LENGTH,
    /** The client cancelled, or the engine shut down. */
    CANCELLED;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }
}
