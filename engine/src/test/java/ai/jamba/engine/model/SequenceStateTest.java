package ai.jamba.engine.model;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.TestBackend;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.CapacityException;
import ai.jamba.kernels.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What a sequence's state does beyond one step: a prompt longer than a step is cut into steps (chunked prefill)
 * and ends where one step would; a sized pool refuses a sequence it cannot hold before touching any state; a
 * slot's state goes to the host and back (sessions) and decoding goes on as if it never left; a device's memory
 * plan sizes a pool.
 */
class SequenceStateTest {
    static Backend backend;

    @BeforeAll
    static void start() {
        backend = TestBackend.open();
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    static float[] logits(JambaModel model, StatePool pool, int slot, int[] ids, int[] rows) {
        ai.jamba.kernels.Mat m = model.forward(pool, Batch.of(new int[]{slot}, ids.length), ids, rows, null);
        float[] f = new float[m.rows() * m.cols()];
        backend.download(m, f);
        return f;
    }

    static JambaModel load(String name) {
        var dir = name.equals("demo") ? Fixtures.demoModel() : Fixtures.fixture(name);
        return JambaModel.load(dir, backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"jamba-tiny-a", "jamba-tiny-b", "demo"})
    void aPromptLongerThanAStepRunsInStepsAndEndsWhereOneStepWould(String name) {
        try (JambaModel model = load(name)) {
            int vocab = model.config().vocabSize();
            int[] prompt = SelfConsistencyTest.tokens(40, vocab, 3);
            int[] rows = SelfConsistencyTest.lastRows(5, prompt.length);
            StatePool pool = model.newStatePool();
            float[] whole = logits(model, pool, pool.acquire(), prompt, rows);
            model.setMaxStepRows(7);
            int slot = pool.acquire();
            float[] chunked = logits(model, pool, slot, prompt, rows);
            model.setMaxStepRows(JambaModel.DEFAULT_MAX_STEP_ROWS);
            Fixtures.assertRowsClose(name + ": prompt of 40 in steps of 7 vs one step", chunked, whole, vocab, SelfConsistencyTest.REGROUPED);
            assertEquals(40, pool.cachedTokens(slot));
        }
    }

    @Test
    void aSizedPoolRefusesWhatItCannotHoldAndTheOthersCarryOn() {
        try (JambaModel model = load("jamba-tiny-b")) {
            int vocab = model.config().vocabSize();
            StatePool pool = model.newStatePool(new StatePool.Sizing(2, 192, DType.F32));
            int a = pool.acquire(), b = pool.acquire();
            CapacityException noSlot = assertThrows(CapacityException.class, pool::acquire);
            System.out.println(noSlot.getMessage());
            logits(model, pool, a, SelfConsistencyTest.tokens(100, vocab, 1), new int[]{99});
            CapacityException full = assertThrows(CapacityException.class,
                    () -> logits(model, pool, b, SelfConsistencyTest.tokens(100, vocab, 2), new int[]{99}));
            System.out.println(full.getMessage());
            assertTrue(full.getMessage().startsWith("the KV cache is full"), full.getMessage());
            assertEquals(0, pool.cachedTokens(b), "the refused sequence's state is untouched");
            // a still decodes as if nothing happened beside it
            StatePool fresh = model.newStatePool();
            int c = fresh.acquire();
            logits(model, fresh, c, SelfConsistencyTest.tokens(100, vocab, 1), new int[]{99});
            float[] next = logits(model, pool, a, new int[]{7}, new int[]{0});
            float[] ref = logits(model, fresh, c, new int[]{7}, new int[]{0});
            assertArrayEquals(ref, next, "the sequence beside the refused one");
            pool.close();
            fresh.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"jamba-tiny-b", "demo"})
    void aSessionLeavesForTheHostAndComesBackWithoutPrefill(String name) {
        try (JambaModel model = load(name)) {
            int vocab = model.config().vocabSize();
            int[] prompt = SelfConsistencyTest.tokens(70, vocab, 5);
            StatePool pool = model.newStatePool(new StatePool.Sizing(4, 4096, DType.BF16));
            int slot = pool.acquire();
            logits(model, pool, slot, prompt, new int[]{69});
            StateSnapshot saved = pool.snapshot(slot);
            float[] stayed = logits(model, pool, slot, new int[]{11}, new int[]{0});
            pool.release(slot);
            int back = pool.acquire();
            pool.acquire();  // another sequence in between: the restored slot need not be the old one
            pool.restore(back, saved);
            assertEquals(70, pool.cachedTokens(back));
            float[] returned = logits(model, pool, back, new int[]{11}, new int[]{0});
            assertArrayEquals(stayed, returned, name + ": the next logits after a trip to the host");
            System.out.printf("%s: session of 70 tokens, %d KiB on the host%n", name, saved.bytes() / 1024);
            pool.close();
        }
    }

    @Test
    void aDeviceMemoryPlanSizesThePool() {
        assumeTrue(backend.deviceMemory() != null, "the " + backend.name() + " backend has no device memory to plan");
        try (JambaModel model = load("jamba-tiny-b")) {
            model.setMaxStepRows(512);
            MemoryPlan plan = MemoryPlan.make(model, 0.5, 16, DType.BF16);
            System.out.println(plan.describe());
            assertTrue(plan.kvTokens() > 100_000, plan.describe());
            try (StatePool pool = model.newStatePool(plan.sizing())) {
                int slot = pool.acquire();
                int[] ids = SelfConsistencyTest.tokens(300, model.config().vocabSize(), 9);
                model.forward(pool, Batch.of(new int[]{slot}, ids.length), ids, new int[]{299}, null);
                assertEquals(300, pool.cachedTokens(slot));
            }
        }
    }
}
