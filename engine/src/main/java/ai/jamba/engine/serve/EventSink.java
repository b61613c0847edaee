package ai.jamba.engine.serve;

/**
 * Receives a request's events, in order, on the engine thread. It must not block (hand the event to your own thread
 * or event loop): every running request waits while it runs. If it throws, its request is cancelled.
 */
@FunctionalInterface
public interface EventSink {
    void accept(GenerationEvent event);
}
