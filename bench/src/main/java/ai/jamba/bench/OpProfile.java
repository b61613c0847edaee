package ai.jamba.bench;

import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.DType;
import ai.jamba.kernels.Experts;
import ai.jamba.kernels.HostTensor;
import ai.jamba.kernels.KvCache;
import ai.jamba.kernels.MambaState;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.SamplingParams;
import ai.jamba.kernels.Weight;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A backend that times every op of the one it wraps: where a forward step's time goes. Matrix products are told
 * apart by their weight's role (a layer's "mamba.in_proj", "feed_forward.down_proj", "lm_head"), the other ops
 * by name. Each op waits for the device, so the times add up to the step.
 */
final class OpProfile implements Backend {
    private final Backend inner;
    private final Map<String, long[]> spent = new LinkedHashMap<>(); // op -> {nanos, calls}
    private final Map<Weight, String> roles = new java.util.IdentityHashMap<>();
    private boolean enabled;

    /** Wraps {@code inner}; ops are passed through untimed until {@link #enable}d. */
    OpProfile(Backend inner) {
        this.inner = inner;
    }

    /** Starts or stops timing ops. */
    void enable(boolean on) {
        enabled = on;
    }

    /** Forgets what was timed so far. */
    void reset() {
        spent.clear();
    }

    /** One line per op, most time first: share of the total, ms per step, calls per step. */
    void report(int steps, Consumer<String> out) {
        long total = 0;
        for (long[] v : spent.values()) total += v[0];
        List<Map.Entry<String, long[]>> rows = new ArrayList<>(spent.entrySet());
        rows.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
        out.accept(String.format("%-34s %7s %10s %9s", "op", "share", "ms/step", "calls"));
        for (Map.Entry<String, long[]> e : rows)
            out.accept(String.format("%-34s %6.1f%% %10.3f %9.1f", e.getKey(), 100.0 * e.getValue()[0] / total,
                    e.getValue()[0] / 1e6 / steps, (double) e.getValue()[1] / steps));
        out.accept(String.format("%-34s %6.1f%% %10.3f", "total", 100.0, total / 1e6 / steps));
    }

    private void time(String op, Runnable body) {
        if (!enabled) {
            body.run();
            return;
        }
        long t0 = System.nanoTime();
        body.run();
        inner.synchronize();
        long[] v = spent.computeIfAbsent(op, k -> new long[2]);
        v[0] += System.nanoTime() - t0;
        v[1]++;
    }

    /** "model.layers.3.mamba.in_proj.weight" -> "matmul mamba.in_proj": the same role in every layer adds up. */
    private String role(Weight w) {
        return roles.computeIfAbsent(w, k -> "matmul " + k.name().replaceFirst("^model\\.layers\\.\\d+\\.", "")
                .replaceFirst("\\.weight$", "").replaceFirst("^self_attn\\.", "attn."));
    }

    @Override public String name() { return inner.name(); }

    @Override public String describe() { return inner.describe(); }

    @Override public Weight weight(HostTensor tensor) { return inner.weight(tensor); }

    @Override
    public Experts experts(HostTensor router, List<HostTensor> gate, List<HostTensor> up, List<HostTensor> down, int topK, boolean int8) {
        return inner.experts(router, gate, up, down, topK, int8);
    }

    @Override public Mat allocate(int rows, int cols) { return inner.allocate(rows, cols); }

    @Override public void free(Mat m) { inner.free(m); }

    @Override public void upload(float[] src, Mat dst) { inner.upload(src, dst); }

    @Override public void download(Mat src, float[] dst) { inner.download(src, dst); }

    @Override
    public MambaState mambaState(int dInner, int dConv, int dState, int slots) {
        return inner.mambaState(dInner, dConv, dState, slots);
    }

    @Override
    public KvCache kvCache(int kvHeads, int headDim, DType dtype, long capacityTokens) {
        return inner.kvCache(kvHeads, headDim, dtype, capacityTokens);
    }

    @Override public long[] deviceMemory() { return inner.deviceMemory(); }

    @Override public <T> T repeatingStep(int shape, Supplier<T> step) { return inner.repeatingStep(shape, step); }

    @Override
    public void embedding(Weight table, int[] ids, Mat out) {
        time("embedding", () -> inner.embedding(table, ids, out));
    }

    @Override
    public void rmsNorm(Mat x, Weight weight, float eps, Mat out) {
        time("rmsNorm", () -> inner.rmsNorm(x, weight, eps, out));
    }

    @Override
    public void addRmsNorm(Mat residual, Mat delta, Weight weight, float eps, Mat out) {
        time("addRmsNorm", () -> inner.addRmsNorm(residual, delta, weight, eps, out));
    }

    @Override
    public void add(Mat acc, Mat x) {
        time("add", () -> inner.add(acc, x));
    }

    @Override
    public void matmul(Mat x, Weight w, Weight bias, Mat out) {
        time(role(w), () -> inner.matmul(x, w, bias, out));
    }

    @Override
    public void conv1d(MambaState state, Batch batch, Mat x, Weight w, Weight bias, Mat out) {
        time("conv1d", () -> inner.conv1d(state, batch, x, w, bias, out));
    }

    @Override
    public void selectiveScan(MambaState state, Batch batch, Mat u, Mat dt, Weight aLog, Mat b, Mat c, Weight d, Mat z, Mat out) {
        time("selectiveScan", () -> inner.selectiveScan(state, batch, u, dt, aLog, b, c, d, z, out));
    }

    @Override
    public void attention(KvCache cache, Batch batch, Mat q, Mat k, Mat v, Mat out) {
        time("attention", () -> inner.attention(cache, batch, q, k, v, out));
    }

    @Override
    public void mlp(Mat x, Weight gate, Weight up, Weight down, Mat out) {
        time("mlp (gate, up, down)", () -> inner.mlp(x, gate, up, down, out));
    }

    @Override
    public void moe(Mat x, Experts experts, Mat out) {
        time("moe", () -> inner.moe(x, experts, out));
    }

    @Override
    public void gatherRows(Mat x, int[] rows, Mat out) {
        time("gatherRows", () -> inner.gatherRows(x, rows, out));
    }

    @Override
    public int[] sample(Mat logits, SamplingParams[] params, double[] uniforms) {
        int[][] ids = new int[1][];
        time("sample", () -> ids[0] = inner.sample(logits, params, uniforms));
        return ids[0];
    }

    @Override public void synchronize() { inner.synchronize(); }

    @Override public void close() { inner.close(); }
}
