package ai.jamba.engine.serve;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.generate.Generator;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.StatePool;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.SamplingParams;
import ai.jamba.kernels.cpu.CpuBackend;

import java.util.Arrays;

/**
 * The demo model for the engine's tests, and what they compare the engine with: the plain single-sequence loop
 * ({@link Generator}), one prompt at a time, nothing batched, nothing stored.
 *
 * <p>The serving tests run on the CPU backend whatever {@code -Djamba.test.backend} says: they hold the engine to
 * bit-exact agreement with the plain loop, which only the CPU backend promises (ai.jamba.bench.ServeAgreement measures
 * how often a GPU agrees). Opening it warms the JIT up: the CPU backend's Vector API code gives bit-identical rows
 * however they are batched or chunked once compiled, but its interpreted first calls round some transcendental
 * functions differently.
 */
record Demo(Backend backend, JambaModel model, JambaTokenizer tokenizer) implements AutoCloseable {

    static Demo open() {
        Backend backend = new CpuBackend(CpuBackend.defaultThreads());
        JambaModel model = JambaModel.load(Fixtures.demoModel(), backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE);
        Demo demo = new Demo(backend, model, JambaTokenizer.load(Fixtures.demoModel()));
        demo.greedy(demo.tokenizer.encode("A warm-up: the first forward passes run interpreted, then compiled. ".repeat(3), true), 96);
        return demo;
    }

    /** The plain loop's greedy ids after {@code prompt}: exactly {@code n}, EOS or not. */
    int[] greedy(int[] prompt, int n) {
        return sample(prompt, n, SamplingParams.GREEDY, 0);
    }

    /** The plain loop's ids after {@code prompt} under {@code params}, drawing from {@code seed}. */
    int[] sample(int[] prompt, int n, SamplingParams params, long seed) {
        StatePool pool = model.newStatePool();
        return Generator.generate(model, pool, pool.acquire(), prompt, n, params, seed, id -> false, id -> true).ids();
    }

    int[] encode(String text, boolean bos) {
        return tokenizer.encode(text, bos);
    }

    Engine engine(EngineConfig config) {
        return Engine.start(model, tokenizer, config);
    }

    /** Submits {@code r} and waits for its final event. */
    Events run(Engine engine, GenerationRequest r) {
        Events events = new Events();
        events.await(engine.submit(r, events));
        return events;
    }

    static int[] concat(int[]... parts) {
        int[] out = new int[0];
        for (int[] p : parts) {
            int at = out.length;
            out = Arrays.copyOf(out, at + p.length);
            System.arraycopy(p, 0, out, at, p.length);
        }
        return out;
    }

    @Override
    public void close() {
        tokenizer.close();
        model.close();
        backend.close();
    }
}
