package ai.jamba.bench;

import ai.jamba.engine.cli.Args;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.serve.Engine;
import ai.jamba.engine.serve.EngineConfig;
import ai.jamba.engine.serve.GenerationEvent;
import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.engine.serve.RequestHandle;
import ai.jamba.engine.session.SessionStoreConfig;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.cpu.CpuBackend;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The serving engine on the CPU: aggregate decode throughput and time to first token at 1, 4, 16 and 64 concurrent
 * requests, and the time to resume a long conversation from its stored state (in memory, and from disk in a fresh
 * engine) against prefilling it all again. Results are Markdown tables on stdout; progress goes to stderr.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp 'target/lib/*' ai.jamba.bench.ServeBench \
 *     [--model DIR] [--threads N] [--concurrency 1,4,16,64] [--max-tokens 64] [--conversation-tokens 4000]
 * </pre>
 */
public final class ServeBench {
    private ServeBench() {}

    public static void main(String[] argv) throws Exception {
        Args args = Args.parse(argv, Set.of("model", "threads", "concurrency", "max-tokens", "conversation-tokens"), Set.of());
        int[] concurrency = args.has("concurrency") ? args.ints("concurrency") : new int[]{1, 4, 16, 64};
        int maxTokens = args.integer("max-tokens", 64);
        int conversation = args.integer("conversation-tokens", 4000);
        Path model = args.model();
        try (Backend backend = new CpuBackend(args.integer("threads", CpuBackend.defaultThreads()));
             JambaModel m = JambaModel.load(model, backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE);
             JambaTokenizer tokenizer = JambaTokenizer.load(model)) {
            System.err.println("serve bench: " + model.getFileName() + " on " + backend.describe());
            System.err.println("serve bench: warming up");
            // one and several sequences take different kernels: both compiled before anything is timed
            double s = WarmUp.untilJitQuiet(() -> {
                load(m, tokenizer, 1, 32);
                load(m, tokenizer, 8, 32);
            });
            System.err.printf("serve bench: warm-up %.0f s, until the JIT had been quiet for 2 s%n", s);

            System.out.printf("%n%s, %s, greedy, %d new tokens per request, prompts of 3-10 tokens%n%n", model.getFileName(),
                    backend.describe(), maxTokens);
            System.out.println("| concurrent requests | aggregate decode tok/s | ms per decode step | end-to-end tok/s | TTFT p50 ms | TTFT max ms |");
            System.out.println("|---:|---:|---:|---:|---:|---:|");
            for (int c : concurrency) {
                System.err.println("serve bench: " + c + " concurrent requests");
                Load l = load(m, tokenizer, c, maxTokens);
                System.out.printf("| %d | %.0f | %.1f | %.0f | %.0f | %.0f |%n", c, l.decodeTokS, l.decodeStepMs, l.endToEndTokS, l.ttftP50Ms, l.ttftMaxMs);
            }
            resume(m, tokenizer, conversation);
        }
    }

    // ---- throughput and time to first token ----------------------------------------------------------------

    record Load(double decodeTokS, double decodeStepMs, double endToEndTokS, double ttftP50Ms, double ttftMaxMs) {}

    static final String[] PROMPTS = {"You will", "A friend", "The best way to", "Love", "Never trust a", "He who laughs",
            "Today is", "The secret of happiness is", "Money", "If at first you", "Life is", "Beware of"};

    /**
     * {@code c} requests submitted at once, each generating {@code maxTokens}. Decode throughput comes from the steps in
     * which all {@code c} decode together: c tokens per step time.
     */
    static Load load(JambaModel model, JambaTokenizer tokenizer, int c, int maxTokens) {
        EngineConfig config = EngineConfig.defaults().withMaxRunningSequences(Math.max(64, c)).withStepTokenBudget(512);
        List<Long> fullDecodeSteps = new CopyOnWriteArrayList<>();
        List<GenerationEvent.Done> done = new ArrayList<>();
        long t0, t1;
        try (Engine engine = Engine.start(model, tokenizer, config)) {
            engine.setStepListener(s -> {
                if (s.prefillTokens() == 0 && s.decodeTokens() == c) fullDecodeSteps.add(s.nanos());
            });
            t0 = System.nanoTime();
            List<RequestHandle> handles = new ArrayList<>();
            for (int i = 0; i < c; i++)
                handles.add(engine.submit(GenerationRequest.builder().text(PROMPTS[i % PROMPTS.length]).greedy().maxTokens(maxTokens)
                        .stopAtEos(false).build(), e -> {}));
            for (RequestHandle h : handles) done.add((GenerationEvent.Done) h.completion().join());
            t1 = System.nanoTime();
        }
        double stepNanos = fullDecodeSteps.stream().mapToLong(Long::longValue).average().orElse(Double.NaN);
        double[] ttft = done.stream().mapToDouble(d -> d.timings().timeToFirstTokenMs()).sorted().toArray();
        long tokens = done.stream().mapToLong(d -> d.usage().completionTokens()).sum();
        return new Load(c * 1e9 / stepNanos, stepNanos / 1e6, tokens * 1e9 / (t1 - t0), ttft[ttft.length / 2], ttft[ttft.length - 1]);
    }

    // ---- resuming a long conversation ----------------------------------------------------------------------

    /**
     * A conversation of {@code length} tokens is stored; then its next turn (a short message, one token out) runs three
     * ways: resumed from memory, resumed from disk by a fresh engine, and with everything prefilled again (another
     * owner, so nothing stored can be used). Each is timed to its first token, best of three.
     */
    static void resume(JambaModel model, JambaTokenizer tokenizer, int length) throws IOException {
        System.err.println("serve bench: a conversation of " + length + " tokens");
        Path dir = Files.createTempDirectory("jamba-serve-bench");
        EngineConfig config = EngineConfig.defaults()
                .withSessions(SessionStoreConfig.defaults().withDirectory(dir).withMemoryBytes(1L << 30));
        double[] fromMemory = new double[3], fromDisk = new double[3], fromScratch = new double[3];
        GenerationEvent.Done resumed = null;
        try (Engine engine = Engine.start(model, tokenizer, config)) {
            turn(engine, GenerationRequest.builder().sessionId("long").ids(longText(tokenizer, length - 8)).greedy()
                    .maxTokens(8).stopAtEos(false).build());
            for (int i = 0; i < 3; i++) {
                resumed = turn(engine, nextTurn());
                fromMemory[i] = resumed.timings().timeToFirstTokenMs();
            }
        }
        for (int i = 0; i < 3; i++)
            try (Engine fresh = Engine.start(model, tokenizer, config)) {
                fromDisk[i] = turn(fresh, nextTurn()).timings().timeToFirstTokenMs();
            }
        int[] everything;
        try (Engine engine = Engine.start(model, tokenizer, config)) {
            everything = engine.session("long", null).join().orElseThrow().tokens();
            for (int i = 0; i < 3; i++)
                fromScratch[i] = turn(engine, GenerationRequest.builder().owner("someone-else").ids(everything).greedy()
                        .maxTokens(1).build()).timings().timeToFirstTokenMs();
        }
        GenerationEvent.Usage u = resumed.usage();
        System.out.printf("%nThe next turn of a %d-token conversation (%d new tokens), time to its first token, best of 3:%n%n",
                u.promptTokens(), u.promptTokens() - u.reusedTokens() - 1);
        System.out.println("| next turn | TTFT ms |");
        System.out.println("|---|---:|");
        System.out.printf("| resumed from memory | %.0f |%n", best(fromMemory));
        System.out.printf("| resumed from disk by a fresh engine | %.0f |%n", best(fromDisk));
        System.out.printf("| all %d tokens prefilled again | %.0f |%n", everything.length, best(fromScratch));
        System.out.printf("%nThe session: %.0f KB of Mamba state + %.0f KB of K/V; its file %.0f KB.%n",
                u.mambaStateBytes() / 1e3, u.kvBytes() / 1e3, Files.size(dir.resolve("long.session")) / 1e3);
    }

    /** A short message continuing the stored conversation, one token out. */
    private static GenerationRequest nextTurn() {
        return GenerationRequest.builder().sessionId("long").text(" And so the story goes on.").greedy().maxTokens(1).build();
    }

    /** BOS and {@code n} tokens of varied English. */
    private static int[] longText(JambaTokenizer tokenizer, int n) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; tokenizer.encode(text.toString(), true).length < n; i++)
            text.append(PROMPTS[i % PROMPTS.length]).append(" the ").append(i).append("th time, and that is a fortune. ");
        return Arrays.copyOf(tokenizer.encode(text.toString(), true), n);
    }

    private static GenerationEvent.Done turn(Engine engine, GenerationRequest r) {
        GenerationEvent last = engine.submit(r, e -> {}).completion().join();
        if (!(last instanceof GenerationEvent.Done done)) throw new IllegalStateException("the turn failed: " + last);
        return done;
    }

    private static double best(double[] ms) {
        return Arrays.stream(ms).min().orElseThrow();
    }
}
