package ai.jamba.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CPU plots of bench/README.md, drawn from a folder {@code bench/cpu/side-by-side.sh} filled: for each round N,
 * {@code ours-3b-N.json} ({@code jamba bench cpu --json}) and {@code llama-3b-bf16-N.log} (llama.cpp's JSON line,
 * medians of its runs). One point per round where both are there; the PNGs go beside them.
 */
final class CpuRoundsPlot {
    private CpuRoundsPlot() {}

    /** llama.cpp F16's prefill of 512 tokens measured in issue 3: the prefill floor. */
    private static final double LLAMA_F16_PREFILL = 14.1;
    private static final Pattern OURS = Pattern.compile("ours-3b-(\\d+)\\.json");

    /** Whether {@code dir} holds side-by-side rounds. */
    static boolean applies(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.anyMatch(f -> OURS.matcher(f.getFileName().toString()).matches());
        }
    }

    static void write(Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<double[]> rows = new ArrayList<>(); // round, ours prefill, b1, b8, llama prefill, llama b1
        boolean packed = false; // any round run with bf16 packed in 12 bits (jamba bench cpu --pack)
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files.sorted()::iterator) {
                Matcher m = OURS.matcher(f.getFileName().toString());
                Path peer = dir.resolve("llama-3b-bf16-" + (m.matches() ? m.group(1) : "") + ".log");
                if (!m.matches() || !Files.exists(peer)) continue;
                JsonNode ours = json.readTree(f.toFile()), llama = null;
                for (String line : Files.readAllLines(peer)) if (line.startsWith("{")) llama = json.readTree(line);
                if (llama == null) continue; // a llama.cpp run that failed
                packed |= ours.path("bf16_packed").asBoolean(false);
                rows.add(new double[]{Integer.parseInt(m.group(1)), ours.get("prefill_tok_s").asDouble(), ours.get("decode_tok_s_b1").asDouble(),
                        ours.get("decode_tok_s_b8").asDouble(), llama.get("pp_tok_s").get("median").asDouble(),
                        llama.get("tg_tok_s").get("median").asDouble()});
            }
        }
        rows.sort((a, b) -> Double.compare(a[0], b[0]));
        double[] round = column(rows, 0), prefill = column(rows, 1), b1 = column(rows, 2), b8 = column(rows, 3),
                llamaPrefill = column(rows, 4), llamaB1 = column(rows, 5), ratio = new double[rows.size()],
                three = new double[rows.size()], f16 = new double[rows.size()];
        for (int i = 0; i < ratio.length; i++) {
            ratio[i] = b8[i] / b1[i];
            three[i] = 3;
            f16[i] = LLAMA_F16_PREFILL;
        }
        String sub = "jamba-3b-dense, random bf16 weights" + (packed ? " (ours packed in 12 bits, lossless)" : "")
                + ", 2 threads; each round ours then llama.cpp, medians of 3 runs";
        new Chart("CPU decode, batch 1: ours vs llama.cpp BF16, round by round", "round", "tokens/s", false, false).wholeX().subtitle(sub)
                .add(new Chart.Series("this engine", Chart.OURS, round, b1, false))
                .add(new Chart.Series("llama.cpp BF16", Chart.PEER, round, llamaB1, false))
                .write(dir.resolve("cpu-decode-b1.png"));
        new Chart("CPU decode: batch 8 over batch 1, round by round", "round", "b8 tok/s ÷ b1 tok/s", false, false).wholeX().subtitle(sub)
                .add(new Chart.Series("this engine", Chart.OURS, round, ratio, false))
                .add(new Chart.Series("floor: 3x", Chart.FLOOR, round, three, true))
                .write(dir.resolve("cpu-b8-over-b1.png"));
        new Chart("CPU prefill of 512 tokens: ours vs llama.cpp, round by round", "round", "tokens/s", false, false).wholeX().subtitle(sub)
                .add(new Chart.Series("this engine", Chart.OURS, round, prefill, false))
                .add(new Chart.Series("llama.cpp BF16 (AVX512-BF16)", Chart.PEER, round, llamaPrefill, false))
                .add(new Chart.Series("floor: llama.cpp F16", Chart.FLOOR, round, f16, true))
                .write(dir.resolve("cpu-prefill.png"));
        System.out.println(rows.size() + " rounds plotted in " + dir.toAbsolutePath());
    }

    private static double[] column(List<double[]> rows, int c) {
        return rows.stream().mapToDouble(r -> r[c]).toArray();
    }
}
