package ai.jamba.service.http;

import ai.jamba.engine.serve.Engine;
import ai.jamba.engine.serve.EngineException;
import ai.jamba.engine.serve.EventSink;
import ai.jamba.engine.serve.GenerationEvent;
import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.engine.serve.RequestHandle;
import ai.jamba.service.RequestMetrics;
import io.vertx.core.Context;
import io.vertx.core.Vertx;

/**
 * How the WebSocket and HTTP transports start a generation: the owner's request is admitted (rate and concurrency,
 * {@link Access}), submitted to the engine, and its events come back on the Vert.x context of the connection that
 * asked, in order, where the transport writes them. The engine calls back on its own thread, which must never wait
 * for a socket; hopping to the connection's event loop also means a transport's state needs no locks.
 */
public final class Generations {
    private final Engine engine;
    private final Access access;
    private final RequestMetrics metrics;

    public Generations(Engine engine, Access access, RequestMetrics metrics) {
        this.engine = engine;
        this.access = access;
        this.metrics = metrics;
    }

    public Engine engine() {
        return engine;
    }

    public Access access() {
        return access;
    }

    public RequestMetrics metrics() {
        return metrics;
    }

    /**
     * Starts {@code request} for {@code endpoint}; call it on the connection's event loop. Its events go to
     * {@code sink} on that event loop, the final one last; the owner's concurrency slot is given back as the final
     * event is made.
     *
     * @throws ApiError 429 over the owner's rate or concurrency, or the engine's refusal (503 overloaded, 403 another
     *                  owner's session, 400 a request it cannot serve)
     */
    public RequestHandle start(String endpoint, GenerationRequest request, EventSink sink) {
        Context context = Vertx.currentContext();
        if (context == null) throw new IllegalStateException("start a generation on the Vert.x context that writes its events");
        Access.Permit permit = access.admit(request.owner());
        EventSink onContext = event -> {
            if (!(event instanceof GenerationEvent.Token)) permit.close();
            context.runOnContext(v -> sink.accept(event));
        };
        try {
            return engine.submit(request, metrics.observe(endpoint, onContext));
        } catch (EngineException e) {
            permit.close();
            throw ApiError.of(e);
        }
    }
}
