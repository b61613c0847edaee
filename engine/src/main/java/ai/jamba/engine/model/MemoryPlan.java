package ai.jamba.engine.model;

import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.CapacityException;
import ai.jamba.kernels.DType;

import java.util.Random;

/**
 * How a device's memory is shared out at start-up: a budget of {@code fraction} of its memory holds the weights
 * (as loaded), the activations and scratch of the largest step (measured by running one), and the rest is
 * sequence state: {@code slots} Mamba state slots, and paged K/V for as many positions as remain. Every number of
 * the plan is in its {@link #describe() log line}.
 */
public record MemoryPlan(long totalBytes, double fraction, long weightBytes, long workspaceBytes, int stepRows,
                         int slots, long mambaBytesPerSlot, DType kvDType, long kvBytesPerToken, long kvTokens) {

    /**
     * Plans for a model whose weights are resident: runs one step of {@link JambaModel#maxStepRows} tokens on a
     * scratch pool to measure what activations take, then sizes the state from what the budget leaves. Throws
     * {@link CapacityException} when the budget does not reach the weights, the workspace and {@code slots}
     * sequences of one step each.
     */
    public static MemoryPlan make(JambaModel model, double fraction, int slots, DType kvDType) {
        if (!(fraction > 0 && fraction <= 1)) throw new IllegalArgumentException("the GPU memory fraction must be in (0, 1], got " + fraction);
        if (slots < 1) throw new IllegalArgumentException("a plan needs at least one sequence slot, got " + slots);
        Backend backend = model.backend();
        long[] before = backend.deviceMemory();
        if (before == null) throw new IllegalArgumentException("the " + backend.name() + " backend has no device memory to plan");
        int rows = model.maxStepRows();
        try (StatePool probe = model.newStatePool(new StatePool.Sizing(1, rows, kvDType))) {
            int slot = probe.acquire();
            int[] ids = new Random(1).ints(rows, 0, model.config().vocabSize()).toArray();
            Batch one = Batch.of(new int[]{slot}, rows);
            model.forward(probe, one, ids, one.lastRows(), null);
            backend.synchronize();
        }
        long[] after = backend.deviceMemory();
        long total = after[1], used = total - after[0];
        long weights = model.weightBytes();
        long workspace = Math.max(0, before[0] - after[0]);
        long budget = (long) (total * fraction);
        JambaConfig c = model.config();
        long mamba = 0, kvPerToken = 0;
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            if (c.isAttentionLayer(i)) kvPerToken += 2L * kvDType.bytes * c.numKeyValueHeads() * c.headDim();
            else mamba += 4L * c.dInner() * (c.mambaDConv() - 1 + c.mambaDState());
        }
        long left = budget - used - slots * mamba;
        long kvTokens = kvPerToken == 0 ? 0 : left / kvPerToken;
        MemoryPlan plan = new MemoryPlan(total, fraction, weights, workspace, rows, slots, mamba, kvDType, kvPerToken, kvTokens);
        if (kvPerToken > 0 && kvTokens < (long) slots * Math.min(rows, 1024))
            throw new CapacityException("memory plan does not fit: " + plan.describe());
        return plan;
    }

    /** The pool this plan sizes. */
    public StatePool.Sizing sizing() {
        return new StatePool.Sizing(slots, kvTokens, kvDType);
    }

    /** The plan in one line for the start-up log. */
    public String describe() {
        return String.format("memory plan: %.1f GiB device, budget %.0f%% = %.1f GiB: weights %.2f GiB, activations for steps of %d rows %.2f GiB, "
                        + "%d sequence slots x %.1f MiB Mamba state = %.2f GiB, K/V %s %.1f KiB/token x %,d tokens = %.2f GiB",
                gib(totalBytes), 100 * fraction, gib((long) (totalBytes * fraction)), gib(weightBytes), stepRows, gib(workspaceBytes),
                slots, mambaBytesPerSlot / 1048576.0, gib((long) slots * mambaBytesPerSlot), kvDType, kvBytesPerToken / 1024.0,
                kvTokens, gib(kvTokens * kvBytesPerToken));
    }

    private static double gib(long bytes) {
        return bytes / (double) (1L << 30);
    }
}
