package ai.jamba.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The plots of bench/README.md, drawn from the results files the GPU runs wrote: {@code gpu-bench.json} (one
 * Mini-shaped block, {@link GpuBench}), {@code hf.json} (transformers on that block, bench_hf.py's RESULT line)
 * and {@code full-model.json} ({@link FullModelBench}), all in one folder; the PNGs go beside them. A folder of CPU
 * rounds beside llama.cpp gets {@link CpuRoundsPlot}'s.
 *
 * <pre>usage: Plots DIR</pre>
 */
public final class Plots {
    private Plots() {}

    public static void main(String[] args) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Path dir = Path.of(args.length > 0 ? args[0] : ".");
        if (CpuRoundsPlot.applies(dir)) {
            CpuRoundsPlot.write(dir);
            return;
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode block = json.readTree(dir.resolve("gpu-bench.json").toFile());
        JsonNode hf = json.readTree(dir.resolve("hf.json").toFile());
        Path fullFile = dir.resolve("full-model.json");
        JsonNode full = Files.exists(fullFile) ? json.readTree(fullFile.toFile()) : null;
        String gpu = block.get("gpu").asText();

        if (full != null && full.has("decode_by_context")) {
            JsonNode rows = full.get("decode_by_context");
            double[] ctx = new double[rows.size()], ours = new double[rows.size()], floor = new double[rows.size()];
            for (int i = 0; i < rows.size(); i++) {
                JsonNode r = rows.get(rows.size() - 1 - i);
                ctx[i] = r.get("context").asDouble();
                ours[i] = r.get("tok_s").asDouble();
                floor[i] = 1e3 / r.get("floor_ms").asDouble();
            }
            new Chart("Jamba-1.5-Mini shape, int8 experts, batch 1: decode speed vs context",
                    "context length (tokens)", "decode tokens/s", true, false).subtitle(gpu + ", K/V bf16, random weights")
                    .add(new Chart.Series("this engine", Chart.OURS, ctx, ours, false))
                    .add(new Chart.Series("bandwidth roofline", Chart.FLOOR, ctx, floor, true))
                    .write(dir.resolve("decode-vs-context.png"));
        }

        if (full != null && full.has("decode_by_batch")) {
            JsonNode rows = full.get("decode_by_batch");
            double[] b = new double[rows.size()], ours = new double[rows.size()], floor = new double[rows.size()];
            for (int i = 0; i < rows.size(); i++) {
                JsonNode r = rows.get(i);
                b[i] = r.get("batch").asDouble();
                ours[i] = r.get("tok_s").asDouble();
                floor[i] = b[i] * 1e3 / r.get("floor_ms").asDouble();
            }
            JsonNode brows = block.get("decode");
            double[] bb = new double[brows.size()], blockOurs = new double[brows.size()];
            for (int i = 0; i < brows.size(); i++) {
                bb[i] = brows.get(i).get("batch").asDouble();
                blockOurs[i] = brows.get(i).get("tok_s").asDouble() / 4;  // a full model is 4 blocks
            }
            double[] hb = {1, 8}, hfTok = {1e3 / (4 * hf.get("decode_b1_ms_per_step").asDouble()),
                    8e3 / (4 * hf.get("decode_b8_ms_per_step").asDouble())};
            new Chart("Aggregate decode throughput vs batch size, 1K context", "sequences decoded together",
                    "tokens/s (all sequences)", true, true).subtitle(gpu + "; a full model is 4 blocks, so block rates are divided by 4")
                    .add(new Chart.Series("full model, int8 experts", Chart.OURS, b, ours, false))
                    .add(new Chart.Series("full model roofline", Chart.FLOOR, b, floor, true))
                    .add(new Chart.Series("bf16 block / 4", Chart.OTHER, bb, blockOurs, false))
                    .add(new Chart.Series("transformers block / 4", Chart.PEER, hb, hfTok, false))
                    .write(dir.resolve("throughput-vs-batch.png"));
        }

        JsonNode decode = block.get("decode");
        double b1 = 0, b8 = 0, f1 = 0, f8 = 0, pre = 0;
        for (JsonNode r : decode) {
            if (r.get("batch").asInt() == 1) {
                b1 = r.get("tok_s").asDouble();
                f1 = 1e3 / r.get("floor_ms").asDouble();
            }
            if (r.get("batch").asInt() == 8) {
                b8 = r.get("tok_s").asDouble();
                f8 = 8e3 / r.get("floor_ms").asDouble();
            }
        }
        for (JsonNode r : block.get("prefill")) if (r.get("tokens").asInt() == 1024) pre = r.get("tok_s").asDouble();
        double hfPre = 1024 / hf.get("prefill_1024_s").asDouble();
        double hf1 = 1e3 / hf.get("decode_b1_ms_per_step").asDouble(), hf8 = 8e3 / hf.get("decode_b8_ms_per_step").asDouble();
        new Chart("One Jamba-1.5-Mini block (8 layers, bf16): ours vs transformers vs roofline", "",
                "tokens/s (log scale)", false, true).subtitle(gpu + ", both measured in the same device call")
                .bars("prefill, 1K tokens", "decode, batch 1", "decode, batch 8")
                .add(new Chart.Series("transformers 5.17", Chart.PEER, null, new double[]{hfPre, hf1, hf8}, false))
                .add(new Chart.Series("this engine", Chart.OURS, null, new double[]{pre, b1, b8}, false))
                .add(new Chart.Series("bandwidth roofline", Chart.FLOOR, null, new double[]{Double.NaN, f1, f8}, false))
                .write(dir.resolve("ours-vs-transformers.png"));
        System.out.println("plots written to " + dir.toAbsolutePath());
    }
}
