package ai.jamba.bench;

import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.StatePool;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Experts;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.SamplingParams;
import ai.jamba.kernels.Weight;
import ai.jamba.kernels.cuda.CudaBackend;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * {@code ./jamba bench gpu}: one Jamba-1.5-Mini-shaped block (8 layers: hidden 4096, d_inner 8192, d_state 16,
 * d_conv 4, dt_rank 256, 32 heads / 8 KV heads, dense MLP 14336 on even layers, 16 experts top-2 on odd ones,
 * attention at layer 4, vocab 65536) with random bf16 weights made on the GPU, through the engine's own forward
 * pass. Prints prefill tok/s at 1K and 4K tokens, decode ms/step at batch 1, 8, 32, 64, the weight bytes a
 * decode step reads, the device bandwidth measured in the same run, and the ratio (the roofline).
 *
 * <pre>usage: GpuBench [--layers N] [--prefill 1024,4096] [--batches 1,8,32,64] [--steps 20]</pre>
 */
public final class GpuBench {
    private GpuBench() {}

    public static void main(String[] args) {
        int layers = 8, steps = 20;
        int[] prefill = {1024, 4096}, batches = {1, 8, 32, 64};
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--prefill" -> prefill = ints(args[++i]);
                case "--batches" -> batches = ints(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i] + "; usage: bench gpu [--layers N] [--prefill 1024,4096] [--batches 1,8,32,64] [--steps 20]");
                    System.exit(2);
                }
            }
        }
        try (CudaBackend cuda = CudaBackend.open(System.out::println)) {
            run(cuda, miniBlock(layers), prefill, batches, steps);
        }
    }

    static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    /** Jamba-1.5-Mini's shape with {@code layers} layers (its block is 8: attention at 4, MoE on odd layers). */
    static JambaConfig miniBlock(int layers) {
        return new JambaConfig(65536, 4096, 14336, layers, 32, 8, 1e-6f, 16, 2, 2, 1, 8, 4, 16, 4, 2, 256,
                true, false, false, 1, List.of(2), 0, 262144);
    }

    /** Random bf16 matrices (std 0.02, as the models initialise) and float32 norms, A_log, D, made on the GPU. */
    record DeviceRandomWeights(JambaConfig config, CudaBackend cuda) implements JambaModel.WeightSource {
        @Override public boolean contains(String name) { return true; }

        @Override
        public Weight weight(String name, long... shape) {
            long rows = 1;
            for (int i = 0; i < shape.length - 1; i++) rows *= shape[i];
            int cols = (int) shape[shape.length - 1];
            if (name.endsWith("layernorm.weight") || name.endsWith("norm.weight")) return cuda.constantWeight(name, (int) rows, cols, 1f);
            if (name.endsWith("A_log")) return cuda.constantWeight(name, (int) rows, cols, 0.5f);
            if (name.endsWith(".D") || name.endsWith("bias")) return cuda.constantWeight(name, (int) rows, cols, 0.1f);
            return cuda.randomWeight(name, (int) rows, cols, 0.02f, name.hashCode());
        }

        @Override
        public Experts experts(String prefix) {
            return cuda.randomExperts(prefix, config.numExperts(), config.intermediateSize(), config.hiddenSize(),
                    config.numExpertsPerTok(), 0.02f, prefix.hashCode());
        }
    }

    static void run(CudaBackend cuda, JambaConfig c, int[] prefill, int[] batches, int steps) {
        System.out.println(cuda.describe());
        long t0 = System.nanoTime();
        JambaModel model = JambaModel.build(new DeviceRandomWeights(c, cuda), cuda, JambaModel.Progress.NONE, null);
        cuda.synchronize();
        System.out.printf("built %d layers, %.2f GB of bf16 weights on the GPU, in %.1f s%n", c.numHiddenLayers(),
                model.weightBytes() / 1e9, (System.nanoTime() - t0) / 1e9);
        double bandwidth = cuda.copyBandwidth(2L << 30);
        System.out.printf("device-to-device copy: %.2f TB/s (bytes read + written)%n", bandwidth / 1e12);
        Random random = new Random(1);
        List<String> table = new ArrayList<>();

        for (int tokens : prefill) {
            StatePool pool = model.newStatePool();
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
        }

        for (int batch : batches) {
            StatePool pool = model.newStatePool();
            int[] slots = new int[batch];
            int[] counts = new int[batch];
            for (int i = 0; i < batch; i++) {
                slots[i] = pool.acquire();
                counts[i] = 64;
            }
            Batch prompt = Batch.of(slots, counts);
            Mat logits = model.forward(pool, prompt, random.ints(64 * batch, 3, c.vocabSize()).toArray(), prompt.lastRows(), null);
            SamplingParams[] greedy = new SamplingParams[batch];
            Arrays.fill(greedy, SamplingParams.GREEDY);
            Batch step = Batch.of(slots, ones(batch));
            int[] rows = new int[batch];
            for (int i = 0; i < batch; i++) rows[i] = i;
            double[] ms = new double[steps];
            for (int s = -3; s < steps; s++) {  // three untimed steps first
                long t = System.nanoTime();
                int[] next = cuda.sample(logits, greedy, new double[batch]);
                logits = model.forward(pool, step, next, rows, null);
                cuda.synchronize();
                if (s >= 0) ms[s] = (System.nanoTime() - t) / 1e6;
            }
            Arrays.sort(ms);
            double median = ms[steps / 2];
            double bytes = stepBytes(model, c, batch);
            String line = String.format("decode batch %3d: %7.2f ms/step  %8.0f tok/s  reads %.2f GB/step -> floor %.2f ms at %.2f TB/s: %.0f%% of the roofline",
                    batch, median, batch / (median / 1e3), bytes / 1e9, bytes / bandwidth * 1e3, bandwidth / 1e12, 100 * bytes / bandwidth / (median / 1e3));
            System.out.println(line);
            table.add(line);
        }
        System.out.println();
        System.out.println("GPU: " + cuda.deviceName() + ", " + c.numHiddenLayers() + " layers");
        table.forEach(System.out::println);
        model.close();
    }

    static int[] ones(int n) {
        int[] a = new int[n];
        Arrays.fill(a, 1);
        return a;
    }

    /**
     * Weight bytes one decode step of {@code batch} tokens reads: every dense weight (the head included, the
     * embedding table not: a step reads one row of it) plus, per MoE layer, the experts its tokens touch,
     * E·(1 − (1 − k/E)^batch) of them for uniform routing.
     */
    static double stepBytes(JambaModel model, JambaConfig c, int batch) {
        double embedding = 2.0 * c.vocabSize() * c.hiddenSize();
        double perExpert = 3.0 * 2 * c.intermediateSize() * c.hiddenSize();
        int moeLayers = 0;
        for (int i = 0; i < c.numHiddenLayers(); i++) if (c.isExpertLayer(i)) moeLayers++;
        double allExperts = moeLayers * c.numExperts() * perExpert;
        double e = c.numExperts(), k = c.numExpertsPerTok();
        double touched = e * (1 - Math.pow(1 - k / e, batch));
        return model.weightBytes() - embedding - allExperts + moeLayers * touched * perExpert;
    }
}
