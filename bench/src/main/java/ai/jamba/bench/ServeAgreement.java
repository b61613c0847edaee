package ai.jamba.bench;

import ai.jamba.engine.cli.Args;
import ai.jamba.engine.generate.Generator;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.StatePool;
import ai.jamba.engine.serve.Engine;
import ai.jamba.engine.serve.EngineConfig;
import ai.jamba.engine.serve.GenerationEvent;
import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.engine.serve.RequestHandle;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Backends;
import ai.jamba.kernels.SamplingParams;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Does batching change what a sequence computes on a backend? Sixteen requests (the demo model's golden prompts,
 * combined into prompts of 3 to about 60 tokens) run alone through the plain loop, then all at once through the
 * serving engine (batched, prompts chunked between decodes), greedy and seeded. Reported: how many come out identical,
 * and how many tokens agree before the first difference. The CPU backend computes every row the same way whatever the
 * batch, so everything agrees; a GPU backend may pick kernels by row count, regrouping float sums, so a near tie can
 * flip and the sequences part from there. Token ids only: no tokenizer needed.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp 'target/lib/*' ai.jamba.bench.ServeAgreement \
 *     [--backend cpu|cuda] [--model DIR] [--threads N]
 * </pre>
 */
public final class ServeAgreement {
    private ServeAgreement() {}

    static final int REQUESTS = 16;

    public static void main(String[] argv) throws IOException {
        Args args = Args.parse(argv, Set.of("backend", "model", "threads"), Set.of());
        Path dir = args.model();
        try (Backend backend = Backends.open(args.string("backend", "cpu"), args.integer("threads", 0), System.err::println);
             JambaModel model = JambaModel.load(dir, backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE)) {
            List<int[]> prompts = prompts(dir.resolveSibling(dir.getFileName() + "-golden.json"));
            SamplingParams greedy = SamplingParams.GREEDY, seeded = new SamplingParams(0.8f, 40, 0.95f);
            System.err.println("serve agreement: " + backend.describe() + ", warming up");
            alone(model, prompts, greedy);

            List<int[]> greedyAlone = alone(model, prompts, greedy), seededAlone = alone(model, prompts, seeded);
            List<int[]> greedyBatched = batched(model, prompts, greedy), greedyAgain = batched(model, prompts, greedy);
            List<int[]> seededBatched = batched(model, prompts, seeded);

            System.out.printf("%n%s, %s: %d requests, prompts of %d-%d tokens, %d-%d new tokens each; the engine runs them%n"
                            + "all at once with a budget of 64 tokens a step%n%n", dir.getFileName(), backend.describe(), REQUESTS,
                    prompts.stream().mapToInt(p -> p.length).min().orElse(0), prompts.stream().mapToInt(p -> p.length).max().orElse(0),
                    maxTokens(0), maxTokens(REQUESTS - 1));
            System.out.println("| compared | identical sequences | tokens agreeing before the first difference |");
            System.out.println("|---|---:|---:|");
            report("greedy: batched vs alone", greedyBatched, greedyAlone);
            report("greedy: batched, run 1 vs run 2", greedyBatched, greedyAgain);
            report("seeded (T 0.8, top-k 40, top-p 0.95): batched vs alone", seededBatched, seededAlone);
        }
    }

    /** Golden prompts alone, each joined with the next, and all six joined in turn (BOS only in front). */
    static List<int[]> prompts(Path golden) throws IOException {
        List<int[]> cases = new ArrayList<>();
        for (JsonNode c : new ObjectMapper().readTree(golden.toFile()).get("cases"))
            cases.add(new ObjectMapper().convertValue(c.get("prompt_ids"), int[].class));
        int n = cases.size();
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < REQUESTS; i++) {
            int joined = i < n ? 1 : i < 2 * n ? 2 : n;
            int[] p = cases.get(i % n);
            for (int j = 1; j < joined; j++) {
                int[] next = cases.get((i + j) % n);
                p = IntStream.concat(Arrays.stream(p), Arrays.stream(next, 1, next.length)).toArray(); // next without its BOS
            }
            prompts.add(p);
        }
        return prompts;
    }

    static int maxTokens(int request) {
        return 24 + 2 * request;
    }

    static long seed(int request) {
        return 100 + request;
    }

    /** Each prompt through the plain single-sequence loop. */
    static List<int[]> alone(JambaModel model, List<int[]> prompts, SamplingParams p) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            StatePool pool = model.newStatePool();
            out.add(Generator.generate(model, pool, pool.acquire(), prompts.get(i), maxTokens(i), p, seed(i), id -> false, id -> true).ids());
        }
        return out;
    }

    /** All prompts at once through the engine; each request's ids as its token events bring them. */
    static List<int[]> batched(JambaModel model, List<int[]> prompts, SamplingParams p) {
        List<List<Integer>> ids = new ArrayList<>();
        try (Engine engine = Engine.start(model, null, EngineConfig.defaults().withMaxRunningSequences(REQUESTS).withStepTokenBudget(64))) {
            List<RequestHandle> handles = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                List<Integer> mine = new ArrayList<>();
                ids.add(mine);
                handles.add(engine.submit(GenerationRequest.builder().ids(prompts.get(i)).temperature(p.temperature()).topK(p.topK())
                        .topP(p.topP()).seed(seed(i)).maxTokens(maxTokens(i)).stopAtEos(false).build(), e -> {
                    if (e instanceof GenerationEvent.Token t) for (int id : t.ids()) mine.add(id);
                }));
            }
            for (RequestHandle h : handles)
                if (!(h.completion().join() instanceof GenerationEvent.Done)) throw new IllegalStateException("a request failed");
        }
        return ids.stream().map(l -> l.stream().mapToInt(Integer::intValue).toArray()).toList();
    }

    static void report(String what, List<int[]> a, List<int[]> b) {
        int identical = 0, agreeing = 0, total = 0;
        for (int i = 0; i < a.size(); i++) {
            int same = 0;
            while (same < a.get(i).length && same < b.get(i).length && a.get(i)[same] == b.get(i)[same]) same++;
            if (Arrays.equals(a.get(i), b.get(i))) identical++;
            agreeing += same;
            total += b.get(i).length;
        }
        System.out.printf("| %s | %d / %d | %d / %d (%.1f%%) |%n", what, identical, a.size(), agreeing, total, 100.0 * agreeing / total);
    }
}
