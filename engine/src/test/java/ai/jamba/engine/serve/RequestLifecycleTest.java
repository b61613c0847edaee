package ai.jamba.engine.serve;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A request from submit to its final event: how it stops, how it is cancelled, and what is turned down. */
class RequestLifecycleTest {
    static Demo demo;

    @BeforeAll
    static void open() {
        demo = Demo.open();
    }

    @AfterAll
    static void close() {
        demo.close();
    }

    static GenerationRequest.Builder greedy(String text, int maxTokens) {
        return GenerationRequest.builder().text(text).greedy().maxTokens(maxTokens).stopAtEos(false);
    }

    // ---- cancellation ----------------------------------------------------------------------------------------

    @Test
    void cancellingFreesTheSequenceAtOnce() throws Exception {
        try (Engine engine = demo.engine(EngineConfig.defaults().withMaxRunningSequences(1))) {
            Events running = new Events(), queued = new Events();
            RequestHandle a = engine.submit(greedy("You will", 5000).sessionId("cancelled").build(), running);
            RequestHandle b = engine.submit(greedy("A friend", 3).build(), queued); // waits: one slot
            running.awaitFirstToken();
            long t0 = System.nanoTime();
            a.cancel();
            running.await(a);
            double ms = (System.nanoTime() - t0) / 1e6;
            assertEquals(FinishReason.CANCELLED, running.done().finishReason());
            assertTrue(ms < 1000, "cancelled within a step, took " + ms + " ms");
            assertTrue(running.ids().length < 5000);
            queued.await(b);
            assertEquals(FinishReason.LENGTH, queued.done().finishReason(), "the freed slot went to the waiting request");
            assertEquals(0, engine.stats().runningSequences());
            assertFalse(engine.session("cancelled", null).join().isPresent(), "a cancelled turn leaves its session as it was");
        }
    }

    @Test
    void aQueuedRequestCancelledBeforeItRunsEndsWithoutTokens() {
        try (Engine engine = demo.engine(EngineConfig.defaults().withMaxRunningSequences(1))) {
            Events running = new Events(), queued = new Events();
            RequestHandle a = engine.submit(greedy("You will", 200).build(), running);
            RequestHandle b = engine.submit(greedy("A friend", 3).build(), queued);
            b.cancel();
            queued.await(b);
            assertEquals(FinishReason.CANCELLED, queued.done().finishReason());
            assertEquals(0, queued.tokens.size());
            a.cancel();
            running.await(a);
            assertEquals(2, engine.stats().cancelled());
        }
    }

    // ---- how generation ends ---------------------------------------------------------------------------------

    @Test
    void aStopStringCutsTheTextExactlyBeforeIt() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            Events free = demo.run(engine, greedy("The best way to", 40).build());
            String text = free.text();
            String stop = text.substring(text.length() / 2, text.length() / 2 + 4); // likely spans tokens
            Events stopped = demo.run(engine, greedy("The best way to", 40).stop(List.of(stop)).build());
            assertEquals(text.substring(0, text.indexOf(stop)), stopped.text(), "stop string \"" + stop + "\"");
            assertEquals(FinishReason.STOP, stopped.done().finishReason());
            int[] ids = stopped.ids();
            assertArrayEquals(Arrays.copyOf(free.ids(), ids.length), ids, "the same tokens up to the stop");
        }
    }

    @Test
    void aStopIdOrEosEndsTheTurnAndShowsNoText() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            Events free = demo.run(engine, greedy("You will", 30).build());
            int[] ids = free.ids();
            int stopId = ids[6], at = 0;
            while (ids[at] != stopId) at++;
            Events stopped = demo.run(engine, greedy("You will", 30).stopTokenIds(stopId).build());
            assertArrayEquals(Arrays.copyOf(ids, at + 1), stopped.ids(), "up to and including the stop id");
            assertEquals(FinishReason.STOP, stopped.done().finishReason());
            assertEquals("", stopped.tokens.getLast().text(), "the stop id shows no text");

            int eos = demo.model().config().eosTokenIds().getFirst();
            int eosAt = Arrays.stream(ids).boxed().toList().indexOf(eos);
            assertTrue(eosAt > 0, "the demo model ends this fortune with EOS");
            Events atEos = demo.run(engine, greedy("You will", 30).stopAtEos(true).build());
            assertArrayEquals(Arrays.copyOf(ids, eosAt + 1), atEos.ids());
            assertEquals(FinishReason.STOP, atEos.done().finishReason());
            assertFalse(atEos.text().contains("<|endoftext|>"));
        }
    }

    @Test
    void maxTokensEndsWithLength() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            Events e = demo.run(engine, greedy("Life is", 7).build());
            assertEquals(7, e.ids().length);
            assertEquals(FinishReason.LENGTH, e.done().finishReason());
            assertEquals(7, e.done().usage().completionTokens());
            assertTrue(e.done().timings().timeToFirstTokenMs() > 0 && e.done().timings().decodeTokensPerSecond() > 0);
        }
    }

    @Test
    void everyTokenEventIsWholeCharactersEvenWhenSamplingWildly() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            List<RequestHandle> handles = new ArrayList<>();
            List<Events> events = new ArrayList<>();
            for (long seed = 0; seed < 4; seed++) {
                Events e = new Events();
                events.add(e);
                handles.add(engine.submit(GenerationRequest.builder().text("Zwölf Boxkämpfer jagen Viktor:").temperature(2.5f)
                        .seed(seed).maxTokens(48).stopAtEos(false).build(), e));
            }
            for (int i = 0; i < 4; i++) {
                events.get(i).await(handles.get(i));
                for (GenerationEvent.Token t : events.get(i).tokens)
                    assertTrue(TextStreamTest.wellFormed(t.text()), "a token event splits a character: " + t.text());
            }
        }
    }

    // ---- what is turned down ---------------------------------------------------------------------------------

    @Test
    void submitTurnsDownWhatItCanTellAtOnce() {
        try (Engine engine = demo.engine(EngineConfig.defaults().withMaxContextTokens(100))) {
            assertCode(EngineException.Code.INVALID_REQUEST, () -> engine.submit(greedy("Hi", 100).build(), e -> {}));
            assertCode(EngineException.Code.INVALID_REQUEST, () -> engine.submit(GenerationRequest.builder().ids(1, 4096).build(), e -> {}));
            assertCode(EngineException.Code.INVALID_REQUEST, () -> engine.submit(GenerationRequest.builder().ids(new int[100]).build(), e -> {}));
            assertCode(EngineException.Code.INVALID_REQUEST, () -> engine.submit(greedy("Hi", 5).stopTokenIds(5000).build(), e -> {}));
            assertCode(EngineException.Code.INVALID_REQUEST, () -> greedy("Hi", 5).sessionId("no spaces allowed").build());
            assertCode(EngineException.Code.INVALID_REQUEST, () -> greedy("Hi", 0).build());
            assertCode(EngineException.Code.INVALID_REQUEST, () -> greedy("Hi", 5).topP(0f).build());
            assertCode(EngineException.Code.INVALID_REQUEST, () -> greedy("Hi", 5).stop(List.of("")).build());
            assertCode(EngineException.Code.INVALID_REQUEST, () -> GenerationRequest.builder().text("").build());
            assertEquals(4, engine.stats().rejected(), "the engine counts what it turned down (not what the builder did)");
        }
    }

    @Test
    void aFullQueueSaysOverloaded() {
        try (Engine engine = demo.engine(EngineConfig.defaults().withMaxRunningSequences(1).withMaxQueuedRequests(2))) {
            List<RequestHandle> accepted = new ArrayList<>();
            EngineException overloaded = null;
            for (int i = 0; i < 6 && overloaded == null; i++) {
                try {
                    accepted.add(engine.submit(greedy("You will", 300).build(), e -> {}));
                } catch (EngineException e) {
                    overloaded = e;
                }
            }
            assertTrue(overloaded != null && overloaded.code() == EngineException.Code.OVERLOADED, "the queue filled up");
            assertTrue(accepted.size() >= 2 && accepted.size() <= 3, "2 queued, maybe 1 already running: " + accepted.size());
            accepted.forEach(RequestHandle::cancel);
            accepted.forEach(h -> new Events().await(h));
        }
    }

    @Test
    void anotherOwnersSessionIsForbidden() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            demo.run(engine, greedy("You will", 3).sessionId("alices").owner("alice").build()).done();
            assertCode(EngineException.Code.FORBIDDEN, () -> engine.submit(greedy(" Then", 3).sessionId("alices").owner("bob").build(), e -> {}));
            assertCode(EngineException.Code.FORBIDDEN, () -> engine.submit(greedy(" Then", 3).sessionId("alices").build(), e -> {}));
            CompletionException read = assertThrows(CompletionException.class, () -> engine.session("alices", "bob").join());
            assertEquals(EngineException.Code.FORBIDDEN, assertInstanceOf(EngineException.class, read.getCause()).code());
            assertTrue(demo.run(engine, greedy(" Then", 3).sessionId("alices").owner("alice").build()).done().usage().reusedTokens() > 0);
        }
    }

    @Test
    void aConversationOverTheContextLimitFailsWithAnError() {
        try (Engine engine = demo.engine(EngineConfig.defaults().withMaxContextTokens(40))) {
            demo.run(engine, greedy("You will", 20).sessionId("long").build()).done();
            Events tooLong = demo.run(engine, greedy(" and then,".repeat(10), 10).sessionId("long").build());
            assertEquals(EngineException.Code.INVALID_REQUEST, tooLong.error().code());
            assertTrue(tooLong.error().message().contains("context limit is 40"), tooLong.error().message());
            Events toTheLimit = demo.run(engine, greedy(" Then", 30).sessionId("long").build());
            assertEquals(FinishReason.LENGTH, toTheLimit.done().finishReason());
            assertEquals(40, toTheLimit.done().usage().sessionTokens(), "generation stopped at the context limit");
        }
    }

    // ---- one turn at a time per session ----------------------------------------------------------------------

    @Test
    void aSecondTurnOnABusySessionWaitsThenContinuesIt() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            Events first = new Events(), second = new Events();
            RequestHandle a = engine.submit(greedy("You will", 20).sessionId("busy").build(), first);
            RequestHandle b = engine.submit(greedy(" Then", 5).sessionId("busy").build(), second);
            first.await(a);
            second.await(b);
            int afterFirst = first.done().usage().sessionTokens();
            assertEquals(afterFirst - 1, second.done().usage().reusedTokens(), "it continued the first turn's conversation");
            assertEquals(afterFirst + demo.encode(" Then", false).length, second.done().usage().promptTokens());
        }
    }

    @Test
    void aTurnThatWaitsTooLongForItsSessionIsTurnedAway() {
        try (Engine engine = demo.engine(EngineConfig.defaults().withSessionWaitTimeout(Duration.ofMillis(100)))) {
            Events first = new Events(), second = new Events();
            RequestHandle a = engine.submit(greedy("You will", 300).sessionId("slow").build(), first);
            RequestHandle b = engine.submit(greedy(" Then", 5).sessionId("slow").build(), second);
            second.await(b);
            assertEquals(EngineException.Code.SESSION_BUSY, second.error().code());
            CompletionException busy = assertThrows(CompletionException.class, () -> engine.deleteSession("slow", null).join());
            assertEquals(EngineException.Code.SESSION_BUSY, assertInstanceOf(EngineException.class, busy.getCause()).code());
            a.cancel();
            first.await(a);
        }
    }

    @Test
    void aDeletedSessionStartsOverUnderItsName() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            demo.run(engine, greedy("You will", 5).sessionId("gone").build()).done();
            assertTrue(engine.deleteSession("gone", null).join());
            assertFalse(engine.deleteSession("gone", null).join());
            Events fresh = demo.run(engine, greedy("You will", 5).sessionId("gone").build());
            assertEquals(0, fresh.done().usage().reusedTokens());
            assertEquals(demo.encode("You will", true).length, fresh.done().usage().promptTokens(), "a new conversation: BOS again");
        }
    }

    static void assertCode(EngineException.Code code, org.junit.jupiter.api.function.Executable submit) {
        assertEquals(code, assertThrows(EngineException.class, submit).code());
    }
}
