package ai.jamba.engine.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A request's events, collected on the engine thread; read them after {@link #await} (the final event's future
 * orders the reads after the writes).
 */
final class Events implements EventSink {
    final List<GenerationEvent.Token> tokens = new ArrayList<>();
    GenerationEvent last;
    private final CountDownLatch firstToken = new CountDownLatch(1);

    @Override
    public void accept(GenerationEvent event) {
        if (last != null) fail("an event after the final one: " + event);
        if (event instanceof GenerationEvent.Token t) {
            tokens.add(t);
            firstToken.countDown();
        } else {
            last = event;
        }
    }

    static final long TIMEOUT_SECONDS = 120;

    Events await(RequestHandle handle) {
        try {
            handle.completion().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("request " + handle.requestId() + " did not finish", e);
        }
        return this;
    }

    void awaitFirstToken() throws InterruptedException {
        assertTrue(firstToken.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "no token came");
    }

    int[] ids() {
        return tokens.stream().flatMapToInt(t -> java.util.Arrays.stream(t.ids())).toArray();
    }

    String text() {
        StringBuilder s = new StringBuilder();
        for (GenerationEvent.Token t : tokens) s.append(t.text());
        return s.toString();
    }

    GenerationEvent.Done done() {
        if (last instanceof GenerationEvent.Error e) fail("the request failed: " + e.code().wire() + ": " + e.message());
        return assertInstanceOf(GenerationEvent.Done.class, last);
    }

    GenerationEvent.Error error() {
        return assertInstanceOf(GenerationEvent.Error.class, last, "the request should have failed");
    }
}
