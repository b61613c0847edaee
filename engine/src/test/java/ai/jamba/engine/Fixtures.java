package ai.jamba.engine;

import ai.jamba.engine.checkpoint.SafetensorsFile;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Where the test data lives in the repo, and the one way rows are compared against a reference. */
public final class Fixtures {
    private Fixtures() {}

    public static Path root() {
        Path root = Path.of(System.getProperty("jamba.root", ".."));
        if (!Files.isDirectory(root.resolve("fixtures"))) root = Path.of(".").toAbsolutePath().getParent();
        assertTrue(Files.isDirectory(root.resolve("fixtures")), "fixtures/ not found under " + root.toAbsolutePath());
        return root;
    }

    public static Path fixture(String name) {
        return root().resolve("fixtures").resolve(name);
    }

    public static Path demoModel() {
        return root().resolve("models/jamba-demo-fortunes");
    }

    /** What transformers computed for one fixture checkpoint (fixtures/README.md, golden.safetensors). */
    public record Golden(int[] promptIds, float[] prefillLogits, float[] hiddenStates, int[] greedyIds,
                         float[] greedyLogits, float[] greedyMargin, int hiddenLayers, int vocab, int hidden) {

        public static Golden load(Path checkpointDir) {
            try (SafetensorsFile f = SafetensorsFile.open(checkpointDir.resolve("golden.safetensors"))) {
                long[] hs = f.shapeOf("hidden_states");
                long[] logits = f.shapeOf("prefill_logits");
                return new Golden(ints(f, "prompt_ids"), floats(f, "prefill_logits"), floats(f, "hidden_states"),
                        ints(f, "greedy_ids"), floats(f, "greedy_logits"), floats(f, "greedy_margin"),
                        (int) hs[0] - 1, (int) logits[1], (int) hs[2]);
            }
        }

        /** hidden_states[index] as [T, hidden] rows. */
        public float[] hidden(int index) {
            int size = promptIds.length * hidden;
            float[] out = new float[size];
            System.arraycopy(hiddenStates, index * size, out, 0, size);
            return out;
        }

        private static int[] ints(SafetensorsFile f, String name) {
            MemorySegment s = f.bytes(name);
            if (!f.dtypeOf(name).equals("I64")) fail(name + " is " + f.dtypeOf(name) + ", expected I64");
            int[] out = new int[(int) (s.byteSize() / 8)];
            for (int i = 0; i < out.length; i++) out[i] = Math.toIntExact(s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i));
            return out;
        }

        private static float[] floats(SafetensorsFile f, String name) {
            MemorySegment s = f.bytes(name);
            if (!f.dtypeOf(name).equals("F32")) fail(name + " is " + f.dtypeOf(name) + ", expected F32");
            return s.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
        }
    }

    /**
     * The fixtures' measure, per row: max|ours - ref| / max|ref| must not exceed {@code tolerance}.
     * Returns the worst row's value, for reporting.
     */
    public static double assertRowsClose(String what, float[] ours, float[] ref, int cols, double tolerance) {
        if (ours.length != ref.length) fail(what + ": " + ours.length + " values, reference has " + ref.length);
        double worst = 0;
        for (int r = 0; r < ref.length / cols; r++) {
            double maxRef = 0, maxDiff = 0;
            for (int c = 0; c < cols; c++) {
                maxRef = Math.max(maxRef, Math.abs(ref[r * cols + c]));
                maxDiff = Math.max(maxDiff, Math.abs(ours[r * cols + c] - ref[r * cols + c]));
            }
            double rel = maxDiff / Math.max(maxRef, Float.MIN_NORMAL);
            worst = Math.max(worst, rel);
            if (!(rel <= tolerance))
                fail(String.format("%s, row %d: max|ours - ref| / max|ref| = %.3g, above the tolerance %.0e", what, r, rel, tolerance));
        }
        return worst;
    }
}
