package ai.jamba.bench;

import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.MemoryPlan;
import ai.jamba.engine.model.StatePool;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.DType;
import ai.jamba.kernels.Mat;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import ai.jamba.kernels.cuda.CudaBackend;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * The whole Jamba-1.5-Mini shape ({@link MiniShape}, 32 layers: 4 attention, 16 MoE layers of 16 experts) on one
 * GPU with int8 experts, random weights made on the device (experts quantised by the path a checkpoint's take).
 * Plans memory ({@link MemoryPlan}), runs one long prompt (default 262,144 tokens, fed in pieces so progress shows;
 * the engine runs each piece in steps of {@code --chunk} rows), then decodes: at the full context, and at 128K,
 * 32K and 1K by truncating the same sequence's K/V (what a decode step costs depends on the context length, not on
 * the tokens). Then batches of 1..64 sequences of a 1K prompt, decoded together. {@code --json FILE} writes the
 * numbers for the plots.
 *
 * <pre>usage: FullModelBench [--context 262144] [--chunk 4096] [--fraction 0.92] [--slots 64] [--steps 32]
 *                       [--contexts 1024,32768,131072] [--batches 1,8,32,64] [--json FILE]</pre>
 */
public final class FullModelBench {
    private FullModelBench() {}

    public static void main(String[] args) throws IOException {
        int context = 262144, chunk = 4096, slots = 64, steps = 32;
        double fraction = 0.92;
        int[] contexts = {131072, 32768, 1024}, batches = {1, 8, 32, 64};
        Path json = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--context" -> context = Integer.parseInt(args[++i]);
                case "--chunk" -> chunk = Integer.parseInt(args[++i]);
                case "--fraction" -> fraction = Double.parseDouble(args[++i]);
                case "--slots" -> slots = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--contexts" -> contexts = GpuBench.ints(args[++i]);
                case "--batches" -> batches = GpuBench.ints(args[++i]);
                case "--json" -> json = Path.of(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        ObjectNode out = new ObjectMapper().createObjectNode();
        try (CudaBackend cuda = CudaBackend.open(System.out::println)) {
            run(cuda, out, context, chunk, fraction, slots, steps, contexts, batches);
        } finally {
            if (json != null) new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(json.toFile(), out);
        }
    }

    static void run(CudaBackend cuda, ObjectNode out, int context, int chunk, double fraction, int slots, int steps,
                    int[] contexts, int[] batches) {
        JambaConfig c = MiniShape.layers(MiniShape.FULL);
        System.out.println(cuda.describe());
        out.put("gpu", cuda.deviceName());
        long t0 = System.nanoTime();
        JambaModel model = JambaModel.build(new DeviceRandomWeights(c, cuda, true), cuda,
                (done, total) -> System.out.print(done == total ? "\n" : "\rbuilding layer " + done + "/" + total), null);
        cuda.synchronize();
        double build = (System.nanoTime() - t0) / 1e9;
        System.out.printf("built Jamba-1.5-Mini's shape, %d layers, int8 experts: %.2f GiB of weights in %.1f s (%s)%n",
                c.numHiddenLayers(), model.weightBytes() / (double) (1L << 30), build, cuda.memoryLine());
        out.put("weight_bytes", model.weightBytes()).put("build_s", build);
        double bandwidth = cuda.copyBandwidth(2L << 30);
        out.put("bandwidth_bytes_per_s", bandwidth);
        System.out.printf("device-to-device copy: %.2f TB/s%n", bandwidth / 1e12);

        model.setMaxStepRows(chunk);
        MemoryPlan plan = MemoryPlan.make(model, fraction, slots, DType.BF16);
        System.out.println(plan.describe());
        out.put("plan", plan.describe());
        out.putPOJO("plan_numbers", plan);
        out.put("kv_bytes_per_token", plan.kvBytesPerToken());
        double expertBytes = 3.0 * c.intermediateSize() * c.hiddenSize() + 4.0 * (2 * c.intermediateSize() + c.hiddenSize());
        Random random = new Random(7);
        try (StatePool pool = model.newStatePool(plan.sizing())) {
            int slot = pool.acquire();
            int[] prompt = random.ints(context, 3, c.vocabSize()).toArray();
            ArrayNode pieces = out.putArray("prefill_pieces");
            int piece = 16384;
            long start = System.nanoTime();
            Mat logits = null;
            for (int from = 0; from < context; from += piece) {
                int n = Math.min(piece, context - from);
                Batch b = Batch.of(new int[]{slot}, n);
                logits = model.forward(pool, b, Arrays.copyOfRange(prompt, from, from + n), b.lastRows(), null);
                cuda.synchronize();
                double s = (System.nanoTime() - start) / 1e9;
                pieces.addObject().put("tokens", from + n).put("s", s);
                System.out.printf("prefill: %,d tokens in %.1f s%n", from + n, s);
            }
            double prefill = (System.nanoTime() - start) / 1e9;
            out.putObject("prefill").put("tokens", context).put("s", prefill).put("tok_s", context / prefill);
            System.out.printf("prefill of %,d tokens: %.1f s = %.0f tok/s; K/V held: %,d tokens x %d B = %.2f GiB (%s)%n", context, prefill,
                    context / prefill, pool.cachedTokens(slot), plan.kvBytesPerToken(), pool.cachedTokens(slot) * (double) plan.kvBytesPerToken() / (1L << 30),
                    cuda.memoryLine());
            out.put("kv_bytes_at_context", (long) pool.cachedTokens(slot) * plan.kvBytesPerToken());

            ArrayNode byContext = out.putArray("decode_by_context");
            GpuBench.Decoder one = new GpuBench.Decoder(model, cuda, pool, new int[]{slot}, logits);
            for (int ctx : concat(context, contexts)) {
                if (ctx < pool.cachedTokens(slot)) pool.truncate(slot, ctx);
                double ms = one.medianMillis(steps);
                double bytes = MiniShape.stepWeightBytes(c, model.weightBytes(), expertBytes, 1) + (double) ctx * plan.kvBytesPerToken();
                System.out.printf("decode at %,7d context: %6.2f ms/token = %6.1f tok/s; reads %.1f GB -> floor %.2f ms (%.0f%% of the roofline)%n",
                        ctx, ms, 1e3 / ms, bytes / 1e9, bytes / bandwidth * 1e3, 100 * bytes / bandwidth / (ms / 1e3));
                byContext.addObject().put("context", ctx).put("ms", ms).put("tok_s", 1e3 / ms).put("bytes", bytes).put("floor_ms", bytes / bandwidth * 1e3);
            }
            GpuBench.printBreakdown(cuda.kernelTimes(one::step), "batch 1 at " + pool.cachedTokens(slot) + " context", out.putArray("breakdown"));
            pool.release(slot);
        }

        int most = Arrays.stream(batches).max().orElse(1);
        try (StatePool pool = model.newStatePool(plan.sizing())) {
            ArrayNode byBatch = out.putArray("decode_by_batch");
            GpuBench.Decoder all = GpuBench.Decoder.afterPrompts(model, cuda, pool, most, 1024, random);
            for (int b : batches) {
                GpuBench.Decoder some = all.first(b);
                double ms = some.medianMillis(Math.max(8, steps / 2));
                double bytes = MiniShape.stepWeightBytes(c, model.weightBytes(), expertBytes, b) + (double) b * 1024 * plan.kvBytesPerToken();
                System.out.printf("decode batch %2d at 1K context: %6.2f ms/step = %7.0f tok/s; floor %.2f ms%n", b, ms, b * 1e3 / ms, bytes / bandwidth * 1e3);
                byBatch.addObject().put("batch", b).put("ms", ms).put("tok_s", b * 1e3 / ms).put("floor_ms", bytes / bandwidth * 1e3);
            }
        }
        System.out.println("GPU: " + cuda.deviceName() + "; decode graphs captured: " + cuda.decodeGraphs());
        model.close();
    }

    private static int[] concat(int first, int[] rest) {
        int[] all = new int[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }
}
