package ai.jamba.bench;

import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.StatePool;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.DType;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.SamplingParams;
import ai.jamba.kernels.cuda.CudaBackend;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * {@code ./jamba bench gpu}: one Jamba-1.5-Mini-shaped block ({@link MiniShape}, 8 layers) with random bf16
 * weights made on the GPU, through the engine's own forward pass, K/V in bf16. Prints prefill tok/s at 1K and 4K
 * tokens, decode ms/step at batch 1, 8, 32, 64 (greedy sampling on the device included; CUDA graphs, and batch 1
 * once more without them), the weight bytes a decode step reads, the device bandwidth measured in the same run,
 * the ratio (the roofline), and where one decode step's device time goes, kernel by kernel. {@code --json FILE}
 * writes the numbers for the plots.
 *
 * <pre>usage: GpuBench [--layers N] [--prefill 1024,4096] [--batches 1,8,32,64] [--steps 20] [--json FILE]</pre>
 */
public final class GpuBench {
    private GpuBench() {}

    public static void main(String[] args) throws IOException {
        int layers = MiniShape.BLOCK, steps = 20;
        int[] prefill = {1024, 4096}, batches = {1, 8, 32, 64};
        Path json = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--prefill" -> prefill = ints(args[++i]);
                case "--batches" -> batches = ints(args[++i]);
                case "--json" -> json = Path.of(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i] + "; usage: bench gpu [--layers N] [--prefill 1024,4096] [--batches 1,8,32,64] [--steps 20] [--json FILE]");
                    System.exit(2);
                }
            }
        }
        try (CudaBackend cuda = CudaBackend.open(System.out::println)) {
            ObjectNode results = run(cuda, MiniShape.layers(layers), prefill, batches, steps);
            if (json != null) new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(json.toFile(), results);
        }
    }

    static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    /** K/V in bf16 (the serving default on a GPU), slots and positions as the run needs them. */
    static final StatePool.Sizing STATE = new StatePool.Sizing(0, 0, DType.BF16);

    static ObjectNode run(CudaBackend cuda, JambaConfig c, int[] prefill, int[] batches, int steps) {
        ObjectNode out = new ObjectMapper().createObjectNode();
        System.out.println(cuda.describe());
        out.put("gpu", cuda.deviceName());
        out.put("layers", c.numHiddenLayers());
        long t0 = System.nanoTime();
        JambaModel model = JambaModel.build(new DeviceRandomWeights(c, cuda, false), cuda, JambaModel.Progress.NONE, null);
        cuda.synchronize();
        System.out.printf("built %d layers, %.2f GB of bf16 weights on the GPU, in %.1f s%n", c.numHiddenLayers(),
                model.weightBytes() / 1e9, (System.nanoTime() - t0) / 1e9);
        out.put("weight_bytes", model.weightBytes());
        double bandwidth = cuda.copyBandwidth(2L << 30);
        System.out.printf("device-to-device copy: %.2f TB/s (bytes read + written)%n", bandwidth / 1e12);
        out.put("bandwidth_bytes_per_s", bandwidth);
        Random random = new Random(1);
        List<String> table = new ArrayList<>();

        ArrayNode prefills = out.putArray("prefill");
        for (int tokens : prefill) {
            try (StatePool pool = model.newStatePool(STATE)) {
                int[] ids = random.ints(tokens, 3, c.vocabSize()).toArray();
                double best = Double.MAX_VALUE;
                for (int rep = 0; rep < 3; rep++) {  // the first pays compilation and allocation
                    int slot = pool.acquire();
                    Batch b = Batch.of(new int[]{slot}, tokens);
                    long s = System.nanoTime();
                    model.forward(pool, b, ids, b.lastRows(), null);
                    cuda.synchronize();
                    if (rep > 0) best = Math.min(best, (System.nanoTime() - s) / 1e9);
                    pool.release(slot);
                }
                String line = String.format("prefill %5d tokens: %8.1f ms  %9.0f tok/s", tokens, best * 1e3, tokens / best);
                System.out.println(line);
                table.add(line);
                prefills.addObject().put("tokens", tokens).put("ms", best * 1e3).put("tok_s", tokens / best);
            }
        }

        double expertBytes = 3.0 * 2 * c.intermediateSize() * c.hiddenSize();
        ArrayNode decodes = out.putArray("decode");
        ObjectNode breakdown = out.putObject("breakdown");
        for (int batch : batches) {
            try (StatePool pool = model.newStatePool(STATE)) {
                Decoder d = Decoder.afterPrompts(model, cuda, pool, batch, 64, random);
                double median = d.medianMillis(steps);
                double bytes = MiniShape.stepWeightBytes(c, model.weightBytes(), expertBytes, batch);
                String line = String.format("decode batch %3d: %7.2f ms/step  %8.0f tok/s  reads %.2f GB/step -> floor %.2f ms at %.2f TB/s: %.0f%% of the roofline",
                        batch, median, batch / (median / 1e3), bytes / 1e9, bytes / bandwidth * 1e3, bandwidth / 1e12, 100 * bytes / bandwidth / (median / 1e3));
                System.out.println(line);
                table.add(line);
                ObjectNode row = decodes.addObject().put("batch", batch).put("ms", median).put("tok_s", batch / (median / 1e3))
                        .put("weight_bytes", bytes).put("floor_ms", bytes / bandwidth * 1e3);
                if (batch == 1 || batch == 8) {
                    cuda.useDecodeGraphs(false);
                    double plain = d.medianMillis(steps);
                    cuda.useDecodeGraphs(true);
                    String p = String.format("decode batch %3d without CUDA graphs: %7.2f ms/step", batch, plain);
                    System.out.println(p);
                    table.add(p);
                    row.put("ms_without_graphs", plain);
                    printBreakdown(cuda.kernelTimes(d::step), "batch " + batch, breakdown.putArray("batch" + batch));
                }
            }
        }
        System.out.println();
        System.out.println("GPU: " + cuda.deviceName() + ", " + c.numHiddenLayers() + " layers, decode graphs captured: " + cuda.decodeGraphs());
        table.forEach(System.out::println);
        model.close();
        return out;
    }

    /** Prints where one step's device time went, kernel by kernel, and adds the rows to {@code json}. */
    static void printBreakdown(List<CudaBackend.KernelShare> shares, String what, ArrayNode json) {
        double total = shares.stream().mapToDouble(CudaBackend.KernelShare::millis).sum();
        System.out.printf("one decode step at %s, kernel by kernel (events around each launch, %.2f ms in all):%n", what, total);
        for (CudaBackend.KernelShare s : shares) {
            System.out.printf("  %-28s %4d launches %8.3f ms %5.1f%%%n", s.kernel(), s.launches(), s.millis(), 100 * s.millis() / total);
            json.addObject().put("kernel", s.kernel()).put("launches", s.launches()).put("ms", s.millis());
        }
    }

    /** Sequences decoded greedily together, one token each a step, sampling on the device. */
    static final class Decoder {
        private final JambaModel model;
        private final CudaBackend cuda;
        private final StatePool pool;
        private final int[] slots;
        private final Batch step;
        private final int[] rows;
        private final SamplingParams[] greedy;
        private Mat logits;

        /** The sequences in {@code slots}, whose next-token logits are the rows of {@code logits}. */
        Decoder(JambaModel model, CudaBackend cuda, StatePool pool, int[] slots, Mat logits) {
            this.model = model;
            this.cuda = cuda;
            this.pool = pool;
            this.slots = slots;
            this.logits = logits;
            int batch = slots.length;
            greedy = new SamplingParams[batch];
            Arrays.fill(greedy, SamplingParams.GREEDY);
            int[] ones = new int[batch];
            Arrays.fill(ones, 1);
            step = Batch.of(slots, ones);
            rows = new int[batch];
            for (int i = 0; i < batch; i++) rows[i] = i;
        }

        /** {@code batch} new sequences, each after a random prompt of {@code promptTokens} (prefilled together). */
        static Decoder afterPrompts(JambaModel model, CudaBackend cuda, StatePool pool, int batch, int promptTokens, Random random) {
            int[] slots = new int[batch], counts = new int[batch];
            for (int i = 0; i < batch; i++) {
                slots[i] = pool.acquire();
                counts[i] = promptTokens;
            }
            Batch prompt = Batch.of(slots, counts);
            Mat logits = model.forward(pool, prompt, random.ints((long) promptTokens * batch, 3, model.config().vocabSize()).toArray(),
                    prompt.lastRows(), null);
            return new Decoder(model, cuda, pool, slots, logits);
        }

        /** The first n of these sequences, decoded without the others. */
        Decoder first(int n) {
            return new Decoder(model, cuda, pool, Arrays.copyOf(slots, n), logits.rows(0, n));
        }

        /** One step: sample each sequence's next token, then run it. */
        void step() {
            int[] next = cuda.sample(logits, greedy, new double[rows.length]);
            logits = model.forward(pool, step, next, rows, null);
        }

        /** The median of {@code steps} timed steps, after three untimed ones (a graph is captured in the first). */
        double medianMillis(int steps) {
            double[] ms = new double[steps];
            for (int s = -3; s < steps; s++) {
                long t = System.nanoTime();
                step();
                cuda.synchronize();
                if (s >= 0) ms[s] = (System.nanoTime() - t) / 1e6;
            }
            Arrays.sort(ms);
            return ms[steps / 2];
        }
    }
}
