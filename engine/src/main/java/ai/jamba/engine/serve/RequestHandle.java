package ai.jamba.engine.serve;

import java.util.concurrent.CompletableFuture;

/** A submitted request: cancel it, or wait for its final event. */
public final class RequestHandle {
    private final String requestId;
    private final String sessionId;
    private final Runnable cancel;
    private final CompletableFuture<GenerationEvent> completion = new CompletableFuture<>();

    RequestHandle(String requestId, String sessionId, Runnable cancel) {
        this.requestId = requestId;
        this.sessionId = sessionId;
        this.cancel = cancel;
    }

    public String requestId() {
        return requestId;
    }

    /** The session the turn continues or starts (the request's, or the random one made for it). */
    public String sessionId() {
        return sessionId;
    }

    /**
     * Stops the request: its slot is freed before the engine's next step and its final event is
     * {@link FinishReason#CANCELLED}; the session stays as it was before the turn. Does nothing once it has ended.
     */
    public void cancel() {
        cancel.run();
    }

    /**
     * Completes with the final event ({@link GenerationEvent.Done} or {@link GenerationEvent.Error}), on the engine
     * thread: chain work with the {@code ...Async} methods, or on your own executor, never blocking work directly.
     */
    public CompletableFuture<GenerationEvent> completion() {
        return completion;
    }

    void complete(GenerationEvent last) {
        completion.complete(last);
    }
}
