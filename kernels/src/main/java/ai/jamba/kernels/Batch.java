package ai.jamba.kernels;

/**
 * Which sequences one forward step carries, as the backend needs to know it for the ops that run along a
 * sequence (conv, scan, attention). The step's tokens are flattened: sequence i owns rows
 * [rowStart[i], rowStart[i] + rowCount[i]) of every activation matrix, and its recurrent state lives in
 * state slot {@code slots[i]}. A prefill chunk has many rows, a decode step one; both mix freely.
 */
public record Batch(int[] slots, int[] rowStart, int[] rowCount) {

    public Batch {
        if (slots.length != rowStart.length || slots.length != rowCount.length)
            throw new IllegalArgumentException("slots, rowStart and rowCount differ in length");
        int expect = 0;
        for (int i = 0; i < slots.length; i++) {
            if (rowStart[i] != expect) throw new IllegalArgumentException("sequence " + i + " does not start where the previous one ends");
            if (rowCount[i] <= 0) throw new IllegalArgumentException("sequence " + i + " has no tokens");
            expect += rowCount[i];
        }
    }

    /** A batch of sequences with these token counts, in slots 0..n-1 unless given. */
    public static Batch of(int[] slots, int... rowCounts) {
        int[] start = new int[rowCounts.length];
        for (int i = 1; i < rowCounts.length; i++) start[i] = start[i - 1] + rowCounts[i - 1];
        return new Batch(slots.clone(), start, rowCounts.clone());
    }

    public int sequences() {
        return slots.length;
    }

    /** Total rows (tokens) in the step. */
    public int rows() {
        int n = slots.length;
        return n == 0 ? 0 : rowStart[n - 1] + rowCount[n - 1];
    }

    /** The last row of each sequence: where its next-token logits come from. */
    public int[] lastRows() {
        int[] last = new int[slots.length];
        for (int i = 0; i < last.length; i++) last[i] = rowStart[i] + rowCount[i] - 1;
        return last;
    }
}
