package ai.jamba.engine.serve;

import ai.jamba.engine.session.SessionStats;

/**
 * A snapshot of the engine's counters, for metrics.
 *
 * @param queueDepth         requests accepted but not running yet
 * @param runningSequences   sequences in the batch now
 * @param lastBatchSequences sequences in the last forward step
 * @param lastBatchTokens    tokens in the last forward step
 * @param steps              forward steps so far
 * @param requests           requests accepted
 * @param rejected           requests turned down by submit
 * @param completed          requests that ended with stop or length
 * @param cancelled          requests that ended cancelled
 * @param failed             requests that ended with an error
 * @param prefilledTokens    prompt tokens computed
 * @param reusedTokens       prompt tokens restored from sessions instead
 * @param generatedTokens    tokens generated
 * @param sessions           the session store's counters
 */
public record EngineStats(int queueDepth, int runningSequences, int lastBatchSequences, int lastBatchTokens, long steps,
                          long requests, long rejected, long completed, long cancelled, long failed,
                          long prefilledTokens, long reusedTokens, long generatedTokens, SessionStats sessions) {

    /** One forward step: how many sequences, how many of its tokens were prompt chunks and how many decodes. */
    public record Step(int sequences, int prefillTokens, int decodeTokens, long nanos) {}
}
