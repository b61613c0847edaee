package ai.jamba.bench;

import ai.jamba.engine.checkpoint.Checkpoint;
import ai.jamba.engine.checkpoint.TensorSource;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.StatePool;
import ai.jamba.engine.model.StateSnapshot;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.SamplingParams;
import ai.jamba.kernels.cpu.CpuBackend;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * {@code jamba bench cpu [--model DIR] [--threads N] [--pack] [--json]}: prefill and decode speed of the CPU backend, measured
 * as ../shared/peers/llamacpp/run.mjs measures llama.cpp, so the two compare side by side:
 * <ul>
 *   <li>prefill: one 512-token prompt in one forward step, tokens/s and GFLOP/s (2 per weight per token) against
 *       the machine's FMA peak;</li>
 *   <li>decode at batch 1: 32 single-token steps (greedy) after a 64-token prompt; at batch 8 the same for 8
 *       sequences stepped together;</li>
 *   <li>each the median of 3 runs, after a warm-up that runs until the JIT has compiled everything it will;</li>
 *   <li>the read bandwidth of a 1 GiB buffer, sampled before each decode run (it jumps between levels on a shared
 *       VM), and the roofline ratio: decode tokens/s × weight bytes per token / bandwidth.</li>
 * </ul>
 * Without {@code --model} it times the jamba-3b-dense shape with random bf16 weights made in memory. Progress, the
 * report and per-op breakdowns of a prefill and of decode steps at batch 1 and 8 go to stderr; {@code --json} prints one line of results on stdout.
 * {@code --pack} packs the bf16 matrices in 12 bits ({@code jamba.cpu.pack}, see Backends.CPU_PACK).
 */
public final class CpuBench {
    private CpuBench() {}

    private static final int PREFILL_TOKENS = 512, PROMPT_TOKENS = 64, DECODE_STEPS = 32, BATCH = 8, REPS = 3;

    private record Options(Path model, int threads, boolean pack, boolean json) {
        static Options parse(String[] args) {
            Path model = null;
            int threads = 0;
            boolean json = false, pack = false;
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--model" -> model = Path.of(value(args, ++i, "--model"));
                    case "--threads" -> threads = Integer.parseInt(value(args, ++i, "--threads"));
                    case "--json" -> json = true;
                    case "--pack" -> pack = true;
                    case "-h", "--help" -> throw new IllegalArgumentException(USAGE);
                    default -> throw new IllegalArgumentException("unknown option " + args[i] + "\n" + USAGE);
                }
            }
            if (threads < 0) throw new IllegalArgumentException("--threads must be >= 1 (or 0 for one per core)");
            return new Options(model, threads, pack, json);
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) throw new IllegalArgumentException(option + " needs a value\n" + USAGE);
            return args[i];
        }
    }

    private static final String USAGE = "usage: jamba bench cpu [--model DIR] [--threads N] [--pack] [--json]";

    public static void main(String[] args) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        System.out.println(run(o));
    }

    private static void log(String line) {
        System.err.println(line);
    }

    /** What one run measured; the JSON line has the fields of issue 3, in its order. */
    private record Results(String shape, int threads, boolean packed, long params, long bytesPerToken, double readGBs, double fmaPeak,
                           double prefill, double prefillGflops, double decode1, double decode8) {
        double roofline() {
            return decode1 * bytesPerToken / (readGBs * 1e9);
        }

        String summary() {
            return String.format("%s%s, %d threads: prefill %.2f tok/s (%.0f GFLOP/s, %.0f%% of the FMA peak %.0f), decode b1 %.2f tok/s, "
                            + "b%d %.2f tok/s (%.1fx b1), roofline b1 %.2f (of %.1f GB/s)", shape, packed ? " (bf16 packed in 12 bits)" : "", threads, prefill, prefillGflops,
                    100 * prefillGflops / fmaPeak, fmaPeak, decode1, BATCH, decode8, decode8 / decode1, roofline(), readGBs);
        }

        String json() {
            return String.format(Locale.ROOT, "{\"shape\":\"%s\",\"params\":%d,\"weight_bytes_per_token\":%d,\"read_gb_s\":%.2f,"
                            + "\"prefill_tok_s\":%.3f,\"prefill_gflop_s\":%.2f,\"decode_tok_s_b1\":%.3f,\"decode_tok_s_b8\":%.3f,"
                            + "\"roofline_ratio_b1\":%.3f,\"bf16_packed\":%b}", shape, params, bytesPerToken, readGBs, prefill, prefillGflops, decode1,
                    decode8, roofline(), packed);
        }
    }

    /** Runs every measurement; returns the JSON line, or the one-line summary without --json. */
    private static String run(Options o) {
        TensorSource source = o.model == null ? RandomWeights.jamba3bDense() : Checkpoint.open(o.model);
        String shape = o.model == null ? ((RandomWeights) source).shape() : o.model.getFileName().toString();
        int threads = o.threads > 0 ? o.threads : CpuBackend.defaultThreads();
        try (OpProfile backend = new OpProfile(new CpuBackend(threads, o.pack()));
             MachineProbe probe = new MachineProbe(threads)) {
            log("backend " + backend.describe());
            log((o.model == null ? "building " : "loading ") + source.origin());
            long t0 = System.nanoTime();
            JambaModel model = JambaModel.load(source, backend, JambaModel.LoadOptions.DEFAULT,
                    (done, total) -> System.err.print("\r  layer " + done + "/" + total + (done == total ? "\n" : "")));
            log(String.format("  %.2f B parameters, %.2f GB of weights, %.2f GB read per decoded token (%.1f s)",
                    model.parameters() / 1e9, model.weightBytes() / 1e9, model.weightBytesPerToken() / 1e9, (System.nanoTime() - t0) / 1e9));
            try {
                Results r = measure(model, backend, probe, shape, threads, o.pack());
                log(r.summary());
                return o.json ? r.json() : r.summary();
            } finally {
                model.close();
            }
        }
    }

    /** The timed runs, the probes beside them, and the per-op breakdowns (to stderr). */
    private static Results measure(JambaModel model, OpProfile backend, MachineProbe probe, String shape, int threads, boolean packed) {
        List<Double> bandwidth = new ArrayList<>();
        bandwidth.add(probe.readGBs(5));
        double peak = probe.fmaGflops(); // a capability: the best sample counts (others ran on our cores at times)
        log(String.format("machine: read bandwidth %.1f GB/s (1 GiB buffer), float32 FMA peak %.0f GFLOP/s", bandwidth.getFirst(), peak));

        Phases p = new Phases(model, new SplittableRandom(42));
        log("prompts: " + BATCH + " x " + (PROMPT_TOKENS - 1) + " tokens in one step (also warms up the kernels)");
        p.preparePrompts();
        warmUp(p);

        double[] b1 = new double[REPS], b8 = new double[REPS], prefill = new double[REPS];
        for (int r = 0; r < REPS; r++) {
            bandwidth.add(probe.readGBs(3));
            b1[r] = p.decode(1, DECODE_STEPS);
            log(String.format("decode b1  run %d/%d: %8.2f tok/s   (read bandwidth just before: %.1f GB/s)", r + 1, REPS, b1[r], bandwidth.getLast()));
        }
        for (int r = 0; r < REPS; r++) {
            b8[r] = p.decode(BATCH, DECODE_STEPS);
            log(String.format("decode b%d  run %d/%d: %8.2f tok/s", BATCH, r + 1, REPS, b8[r]));
        }
        for (int r = 0; r < REPS; r++) {
            peak = Math.max(peak, probe.fmaGflops());
            boolean last = r == REPS - 1; // timed op by op too: each op is synchronous, so this costs nothing
            backend.reset();
            backend.enable(last);
            prefill[r] = p.prefill(PREFILL_TOKENS);
            backend.enable(false);
            log(String.format("prefill %d run %d/%d: %8.2f tok/s", PREFILL_TOKENS, r + 1, REPS, prefill[r]));
        }
        log("where a prefill of " + PREFILL_TOKENS + " tokens goes (its last run):");
        backend.report(1, CpuBench::log);

        int steps = 8;
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long allocated = mx.getTotalThreadAllocatedBytes();
        p.decode(1, steps);
        log(String.format("heap allocated per decode step (batch 1, all threads): %.1f KB",
                (mx.getTotalThreadAllocatedBytes() - allocated) / 1024.0 / steps));
        for (int batch : new int[]{1, BATCH}) {
            backend.reset();
            backend.enable(true);
            p.decode(batch, steps);
            backend.enable(false);
            log("where a decode step (batch " + batch + ") goes:");
            backend.report(steps, CpuBench::log);
        }

        double pre = MachineProbe.median(prefill);
        return new Results(shape, threads, packed, model.parameters(), model.weightBytesPerToken(),
                MachineProbe.median(bandwidth.stream().mapToDouble(Double::doubleValue).toArray()), peak,
                pre, 2.0 * model.parametersPerToken() * pre / 1e9, MachineProbe.median(b1), MachineProbe.median(b8));
    }

    /** Decode steps of batch 1 and 8 until the JIT is quiet ({@link WarmUp}). */
    private static void warmUp(Phases p) {
        double s = WarmUp.untilJitQuiet(() -> {
            p.decode(1, 2);
            p.decode(BATCH, 1);
        });
        log(String.format("warm-up: %.0f s, until the JIT had been quiet for 2 s", s));
    }

    /** The timed phases over one model, with the prompts' states kept to restart each decode run from. */
    private static final class Phases {
        private final JambaModel model;
        private final SplittableRandom random;
        private final StatePool pool;
        private final int vocab;
        /** State after each prompt but its last token, and that token. */
        private final StateSnapshot[] prompted = new StateSnapshot[BATCH];
        private final int[] lastPromptToken = new int[BATCH];
        private final int[] slots = new int[BATCH];
        private int prefillSlot;

        Phases(JambaModel model, SplittableRandom random) {
            this.model = model;
            this.random = random;
            this.pool = model.newStatePool();
            this.vocab = model.config().vocabSize();
            for (int i = 0; i < BATCH; i++) slots[i] = pool.acquire();
            prefillSlot = pool.acquire();
        }

        int[] tokens(int n) {
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) ids[i] = 3 + random.nextInt(vocab - 3);
            return ids;
        }

        /** Prefills BATCH prompts but their last token, as llama.cpp's bench does before it times the decode. */
        void preparePrompts() {
            int[] counts = new int[BATCH];
            int[] ids = new int[0];
            for (int i = 0; i < BATCH; i++) {
                int[] prompt = tokens(PROMPT_TOKENS);
                lastPromptToken[i] = prompt[PROMPT_TOKENS - 1];
                counts[i] = PROMPT_TOKENS - 1;
                int at = ids.length;
                ids = Arrays.copyOf(ids, at + counts[i]);
                System.arraycopy(prompt, 0, ids, at, counts[i]);
            }
            Batch batch = Batch.of(slots, counts);
            model.forward(pool, batch, ids, batch.lastRows(), null);
            for (int i = 0; i < BATCH; i++) prompted[i] = pool.snapshot(slots[i]);
        }

        /** {@code steps} greedy steps of {@code n} sequences from their prompts' states; tokens/s. */
        double decode(int n, int steps) {
            int[] s = Arrays.copyOf(slots, n), ids = Arrays.copyOf(lastPromptToken, n);
            for (int i = 0; i < n; i++) pool.restore(s[i], prompted[i]);
            Batch batch = Batch.of(s, ones(n));
            int[] rows = batch.lastRows();
            SamplingParams[] greedy = new SamplingParams[n];
            Arrays.fill(greedy, SamplingParams.GREEDY);
            double[] uniforms = new double[n];
            long t0 = System.nanoTime();
            for (int step = 0; step < steps; step++) {
                Mat logits = model.forward(pool, batch, ids, rows, null);
                ids = model.backend().sample(logits, greedy, uniforms);
            }
            return (double) n * steps / ((System.nanoTime() - t0) / 1e9);
        }

        /** One prompt of {@code n} tokens in one step, from an empty state; tokens/s. */
        double prefill(int n) {
            pool.release(prefillSlot);
            prefillSlot = pool.acquire();
            int[] ids = tokens(n);
            Batch batch = Batch.of(new int[]{prefillSlot}, n);
            long t0 = System.nanoTime();
            model.forward(pool, batch, ids, batch.lastRows(), null);
            return n / ((System.nanoTime() - t0) / 1e9);
        }

        private static int[] ones(int n) {
            int[] a = new int[n];
            Arrays.fill(a, 1);
            return a;
        }
    }
}
