package ai.jamba.engine.serve;

import ai.jamba.engine.session.SessionStoreConfig;

import java.time.Duration;
import java.util.Objects;

/**
 * How much the engine takes on.
 *
 * @param maxRunningSequences most sequences in the batch at once (each holds a state slot: its Mamba state plus its K/V)
 * @param maxQueuedRequests   most requests accepted but not running yet; past it, submit says "overloaded"
 * @param stepTokenBudget     most tokens in one forward step: every running sequence's next token, then chunks of
 *                            prompts with what is left; at least {@code maxRunningSequences}, so decoding never waits
 * @param maxContextTokens    longest conversation, prompt and completion together (capped by the model's own limit)
 * @param sessionWaitTimeout  how long a turn waits for another turn of the same session before "session_busy"
 * @param sessions            where sessions are kept
 */
public record EngineConfig(int maxRunningSequences, int maxQueuedRequests, int stepTokenBudget, int maxContextTokens,
                           Duration sessionWaitTimeout, SessionStoreConfig sessions) {

    public EngineConfig {
        if (maxRunningSequences < 1) throw new IllegalArgumentException("maxRunningSequences must be >= 1, got " + maxRunningSequences);
        if (maxQueuedRequests < 0) throw new IllegalArgumentException("maxQueuedRequests must be >= 0, got " + maxQueuedRequests);
        if (stepTokenBudget < maxRunningSequences)
            throw new IllegalArgumentException("stepTokenBudget (" + stepTokenBudget + ") must be at least maxRunningSequences ("
                    + maxRunningSequences + "): every running sequence feeds a token each step");
        if (maxContextTokens < 2) throw new IllegalArgumentException("maxContextTokens must be >= 2, got " + maxContextTokens);
        Objects.requireNonNull(sessionWaitTimeout, "sessionWaitTimeout");
        Objects.requireNonNull(sessions, "sessions");
    }

    /** 64 sequences, 1024 queued, 512 tokens a step, 32K context, 30 s session wait, sessions in memory only. */
    public static EngineConfig defaults() {
        return new EngineConfig(64, 1024, 512, 32768, Duration.ofSeconds(30), SessionStoreConfig.defaults());
    }

    /** Also raises the step token budget to {@code n} if it is lower: each running sequence feeds a token every step. */
    public EngineConfig withMaxRunningSequences(int n) {
        return new EngineConfig(n, maxQueuedRequests, Math.max(n, stepTokenBudget), maxContextTokens, sessionWaitTimeout, sessions);
    }

    public EngineConfig withMaxQueuedRequests(int n) {
        return new EngineConfig(maxRunningSequences, n, stepTokenBudget, maxContextTokens, sessionWaitTimeout, sessions);
    }

    public EngineConfig withStepTokenBudget(int tokens) {
        return new EngineConfig(maxRunningSequences, maxQueuedRequests, tokens, maxContextTokens, sessionWaitTimeout, sessions);
    }

    public EngineConfig withMaxContextTokens(int tokens) {
        return new EngineConfig(maxRunningSequences, maxQueuedRequests, stepTokenBudget, tokens, sessionWaitTimeout, sessions);
    }

    public EngineConfig withSessionWaitTimeout(Duration timeout) {
        return new EngineConfig(maxRunningSequences, maxQueuedRequests, stepTokenBudget, maxContextTokens, timeout, sessions);
    }

    public EngineConfig withSessions(SessionStoreConfig s) {
        return new EngineConfig(maxRunningSequences, maxQueuedRequests, stepTokenBudget, maxContextTokens, sessionWaitTimeout, s);
    }
}
