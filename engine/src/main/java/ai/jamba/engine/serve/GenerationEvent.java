package ai.jamba.engine.serve;

/**
 * What a request streams back: {@link Token}s, then exactly one final event, {@link Done} or {@link Error}.
 * The text of the tokens, concatenated, is the completion: whole characters only (a character spread over several
 * byte tokens comes out once complete), cut before a stop string, without the text of a stop id or EOS.
 */
public sealed interface GenerationEvent {
    String requestId();

    /** The next generated ids (one per step) and the text they complete, possibly empty (held back). */
    record Token(String requestId, String text, int[] ids) implements GenerationEvent {}

    /** The turn is over; its state is saved under {@code sessionId} unless it was cancelled. */
    record Done(String requestId, String sessionId, FinishReason finishReason, Usage usage, Timings timings)
            implements GenerationEvent {}

    /** The request failed; nothing of it was saved. */
    record Error(String requestId, EngineException.Code code, String message) implements GenerationEvent {}

    /**
     * Token counts and state sizes of the turn.
     *
     * @param promptTokens     the whole conversation before this turn's completion (what the model attended to)
     * @param completionTokens tokens generated (a final stop id or EOS included)
     * @param reusedTokens     prompt tokens whose state was restored rather than computed (session or prefix reuse)
     * @param sessionTokens    tokens of the session after the turn
     * @param mambaStateBytes  the session's Mamba state (conv + SSM of every Mamba layer): the same at any length
     * @param kvBytes          the session's K/V (every attention layer): grows with its length
     * @param seed             the seed the random draws came from
     */
    record Usage(int promptTokens, int completionTokens, int reusedTokens, int sessionTokens, long mambaStateBytes,
                 long kvBytes, long seed) {}

    /**
     * @param queueMs                submitted → running (waiting for the session, the queue, a free slot)
     * @param prefillMs              running → first token (restoring and prefilling the prompt)
     * @param timeToFirstTokenMs     submitted → first token
     * @param decodeTokensPerSecond  tokens after the first over the time since the first
     * @param totalMs                submitted → final event
     */
    record Timings(double queueMs, double prefillMs, double timeToFirstTokenMs, double decodeTokensPerSecond, double totalMs) {}
}
