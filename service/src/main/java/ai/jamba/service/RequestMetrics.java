package ai.jamba.service;

import ai.jamba.engine.serve.EventSink;
import ai.jamba.engine.serve.GenerationEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Requests as the clients see them, per endpoint ({@code ws_chat}, {@code chat_completions}, ...):
 * {@code jamba_requests_total{endpoint,outcome}}, where the outcome is the finish reason ({@code stop},
 * {@code length}, {@code cancelled}) or the error code the client got ({@code invalid_request}, {@code rate_limited},
 * ...); and the latency of their tokens: time to the first token (from the request being accepted) and between
 * tokens. The histograms' buckets are fixed, chosen for what a chat user notices, so they stay cheap to scrape.
 */
public final class RequestMetrics {
    private static final Duration[] TTFT_BUCKETS = millis(10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000);
    private static final Duration[] INTER_TOKEN_BUCKETS = millis(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000);

    private final MeterRegistry registry;

    public RequestMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Counts one request of {@code endpoint} that ended with {@code outcome}. */
    public void count(String endpoint, String outcome) {
        Counter.builder("jamba.requests").description("requests by endpoint and outcome")
                .tags("endpoint", endpoint, "outcome", outcome).register(registry).increment();
    }

    /**
     * Wraps a request's sink so that its token latencies are timed and its outcome counted; call it as the request
     * is accepted. The timing runs on the engine thread, where the events are made, so a slow client does not
     * show up as a slow model.
     */
    public EventSink observe(String endpoint, EventSink next) {
        Timer ttft = Timer.builder("jamba.time.to.first.token").description("request accepted to its first token")
                .tags("endpoint", endpoint).serviceLevelObjectives(TTFT_BUCKETS).register(registry);
        Timer interToken = Timer.builder("jamba.inter.token.latency").description("time between a request's tokens")
                .tags("endpoint", endpoint).serviceLevelObjectives(INTER_TOKEN_BUCKETS).register(registry);
        return new EventSink() { // one request's events come one at a time, in order: plain fields will do
            private final long accepted = System.nanoTime();
            private long previousToken;
            private boolean tokenSeen;

            @Override
            public void accept(GenerationEvent event) {
                switch (event) {
                    case GenerationEvent.Token t -> {
                        long now = System.nanoTime();
                        if (tokenSeen) interToken.record(now - previousToken, TimeUnit.NANOSECONDS);
                        else ttft.record(now - accepted, TimeUnit.NANOSECONDS);
                        tokenSeen = true;
                        previousToken = now;
                    }
                    case GenerationEvent.Done d -> count(endpoint, d.finishReason().wire());
                    case GenerationEvent.Error e -> count(endpoint, e.code().wire());
                }
                next.accept(event);
            }
        };
    }

    private static Duration[] millis(long... ms) {
        Duration[] d = new Duration[ms.length];
        for (int i = 0; i < ms.length; i++) d[i] = Duration.ofMillis(ms[i]);
        return d;
    }
}
