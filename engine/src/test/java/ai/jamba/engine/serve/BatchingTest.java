package ai.jamba.engine.serve;

import ai.jamba.kernels.SamplingParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Continuous batching changes nothing a sequence computes: sequences batched with others, their prompts chunked
 * between others' decode steps, give exactly the ids each gives alone (bit-exact on the CPU backend, which computes
 * every row the same way whatever the batch), greedy or seeded.
 */
class BatchingTest {
    static Demo demo;

    @BeforeAll
    static void open() {
        demo = Demo.open();
    }

    @AfterAll
    static void close() {
        demo.close();
    }

    static final String[] PROMPTS = {
            "You will", "A friend", "The best way to", "Love", "Never trust a", "He who laughs", "Today is",
            "The secret of happiness is", "Money", "If at first you", "Life is", "Beware of",
            "An old man once said that ".repeat(6), "Do not", "Everything you", "Q: What is the meaning of life? A:"};

    @Test
    void sixteenConcurrentRequestsGiveWhatEachGivesAlone() {
        List<EngineStats.Step> steps = new CopyOnWriteArrayList<>();
        int budget = 24;
        // 8 slots for 16 requests: half wait and are admitted as others finish; a small budget chunks the prompts
        EngineConfig config = EngineConfig.defaults().withMaxRunningSequences(8).withStepTokenBudget(budget);
        List<Events> events = new ArrayList<>();
        try (Engine engine = demo.engine(config)) {
            engine.setStepListener(steps::add);
            List<RequestHandle> handles = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                Events e = new Events();
                events.add(e);
                handles.add(engine.submit(GenerationRequest.builder().text(PROMPTS[i]).greedy().maxTokens(6 + 3 * i)
                        .stopAtEos(false).build(), e));
            }
            for (int i = 0; i < handles.size(); i++) events.get(i).await(handles.get(i));
        }
        for (int i = 0; i < PROMPTS.length; i++)
            assertArrayEquals(demo.greedy(demo.encode(PROMPTS[i], true), 6 + 3 * i), events.get(i).ids(), "request " + i + ": \"" + PROMPTS[i] + "\"");
        assertTrue(steps.stream().allMatch(s -> s.prefillTokens() + s.decodeTokens() <= budget), "every step kept to the budget");
        assertTrue(steps.stream().anyMatch(s -> s.prefillTokens() > 0 && s.decodeTokens() > 0), "prompt chunks rode along with decodes");
        assertTrue(steps.stream().mapToInt(EngineStats.Step::sequences).max().orElse(0) == 8, "up to 8 sequences a step");
    }

    @Test
    void aLongPromptIsChunkedWhileOthersKeepDecoding() throws InterruptedException {
        List<EngineStats.Step> steps = new CopyOnWriteArrayList<>();
        try (Engine engine = demo.engine(EngineConfig.defaults().withStepTokenBudget(64))) {
            engine.setStepListener(steps::add);
            Events decoding = new Events(), longPrompt = new Events();
            RequestHandle a = engine.submit(GenerationRequest.builder().text("You will").greedy().maxTokens(200).stopAtEos(false).build(), decoding);
            decoding.awaitFirstToken();
            RequestHandle b = engine.submit(GenerationRequest.builder().text("Once upon a time there was a king. ".repeat(40))
                    .greedy().maxTokens(1).build(), longPrompt);
            longPrompt.await(b);
            a.cancel();
            decoding.await(a);
        }
        // from the step that sampled A's first token on, prompt tokens are B's
        List<EngineStats.Step> afterA = steps.subList(1, steps.size());
        List<EngineStats.Step> prefilling = afterA.stream().filter(s -> s.prefillTokens() > 0).toList();
        assertTrue(prefilling.size() >= 5, "the prompt took several steps: " + prefilling);
        for (EngineStats.Step s : prefilling)
            assertEquals(1, s.decodeTokens(), "the decoding sequence fed its token in every step of the prefill: " + prefilling);
        for (EngineStats.Step s : prefilling.subList(0, prefilling.size() - 1))
            assertEquals(64, s.prefillTokens() + s.decodeTokens(), "the prompt took the rest of the budget: " + prefilling);
    }

    @Test
    void seededSamplingReproducesAcrossRunsAndBatchCompositions() {
        SamplingParams params = new SamplingParams(0.9f, 40, 0.95f);
        GenerationRequest r = GenerationRequest.builder().text("The secret of").temperature(0.9f).topK(40).topP(0.95f)
                .seed(1234L).maxTokens(24).stopAtEos(false).build();
        int[] plainLoop = demo.sample(demo.encode("The secret of", true), 24, params, 1234);
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            assertArrayEquals(plainLoop, demo.run(engine, r).ids(), "alone, the engine draws as the plain loop does");
            assertArrayEquals(plainLoop, demo.run(engine, r).ids(), "run again");
            for (int composition = 0; composition < 2; composition++) {
                List<RequestHandle> others = new ArrayList<>();
                for (int i = 0; i < 6; i++) // other sampled requests, some ahead of it, some behind, different lengths
                    others.add(engine.submit(GenerationRequest.builder().text(PROMPTS[i + 7 * composition]).temperature(1.2f)
                            .seed((long) i).maxTokens(10 + 7 * i).stopAtEos(false).build(), e -> {}));
                Events batched = new Events();
                batched.await(engine.submit(r, batched));
                others.forEach(h -> new Events().await(h));
                assertArrayEquals(plainLoop, batched.ids(), "in batch composition " + composition);
                assertEquals(1234L, batched.done().usage().seed());
            }
        }
    }
}
