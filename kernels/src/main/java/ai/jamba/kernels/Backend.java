package ai.jamba.kernels;

import java.util.List;
import java.util.function.Supplier;

/**
 * A compute backend: where weights live and the ops of a Jamba forward pass run. It knows op shapes, not the
 * model: the engine composes these ops into layers. Activations are float32 {@link Mat}s, weights stay in their
 * checkpoint dtype, and every op accumulates in float32.
 *
 * <p>Ops that run along a sequence (conv, scan, attention) take a {@link Batch} naming which rows belong to
 * which sequence and which state slot it uses; all other ops treat rows as independent tokens. A backend must
 * compute each row the same way whatever else is in the batch (same reduction order), so a sequence decoded in a
 * batch gives what it gives alone.
 */
public interface Backend extends AutoCloseable {

    /** Short name: "cpu", "cuda". */
    String name();

    /** One line for logs: threads, SIMD width, device model. */
    String describe();

    // ---- memory -------------------------------------------------------------------------------------------

    /** Makes a weight resident, in its own dtype. The host tensor may be a memory-mapped checkpoint slice. */
    Weight weight(HostTensor tensor);

    /**
     * Makes a mixture-of-experts block resident: router [E, hidden]; per expert gate/up [I, hidden] and
     * down [hidden, I]. With {@code int8}, expert weights are quantised per output row (scale = max|row| / 127).
     */
    Experts experts(HostTensor router, List<HostTensor> gate, List<HostTensor> up, List<HostTensor> down,
                    int topK, boolean int8);

    /** A zeroed float32 matrix. */
    Mat allocate(int rows, int cols);

    /** Gives a matrix from {@link #allocate} back (views are not freed). */
    void free(Mat m);

    /** Host rows into a matrix (row-major, {@code rows * cols} floats). */
    void upload(float[] src, Mat dst);

    /** A matrix's rows to the host (row-major, {@code rows * cols} floats). */
    void download(Mat src, float[] dst);

    /** Conv and SSM state of one Mamba layer, with room for {@code slots} slots made now (more on demand). */
    MambaState mambaState(int dInner, int dConv, int dState, int slots);

    /**
     * Key/value cache of one attention layer for any number of slots, its elements of {@code dtype} (F32 or BF16),
     * holding at most {@code capacityTokens} positions in all, its memory taken now; 0: unbounded, grown on demand.
     */
    KvCache kvCache(int kvHeads, int headDim, DType dtype, long capacityTokens);

    /** {free, total} bytes of the backend's own device memory, or null where it has none (the CPU: the heap). */
    default long[] deviceMemory() {
        return null;
    }

    // ---- ops ----------------------------------------------------------------------------------------------

    /** out[t] = table[ids[t]]. */
    void embedding(Weight table, int[] ids, Mat out);

    /** out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight. {@code out} may be {@code x}. */
    void rmsNorm(Mat x, Weight weight, float eps, Mat out);

    /** residual += delta, then out = rmsNorm(residual): the residual add and the next layer's norm in one pass. */
    default void addRmsNorm(Mat residual, Mat delta, Weight weight, float eps, Mat out) {
        add(residual, delta);
        rmsNorm(residual, weight, eps, out);
    }

    /** acc += x. */
    void add(Mat acc, Mat x);

    /** out = x · wᵀ (+ bias): x [T, in], w [out, in], bias 1 × out or null. */
    void matmul(Mat x, Weight w, Weight bias, Mat out);

    /**
     * Causal depthwise conv1d over each sequence's rows of x [T, d_inner], continuing from and updating the
     * slot's conv state, plus bias, then SiLU: out[t, c] = silu(bias[c] + Σ_k w[c, k] · x[t - d_conv + 1 + k, c]).
     * w is [d_inner, 1, d_conv] (seen as d_inner × d_conv).
     */
    void conv1d(MambaState state, Batch batch, Mat x, Weight w, Weight bias, Mat out);

    /**
     * The selective scan with its gate, over each sequence's rows, from and into the slot's SSM state h [d_inner, d_state]:
     * Δ = softplus(dt), A = -exp(A_log), h = exp(Δ·A) ⊙ h + Δ·B·u, y = C·h + D·u, out = y · silu(z).
     * u, dt, z are [T, d_inner]; B, C are [T, d_state]; A_log [d_inner, d_state]; D 1 × d_inner.
     */
    void selectiveScan(MambaState state, Batch batch, Mat u, Mat dt, Weight aLog, Mat b, Mat c, Weight d, Mat z, Mat out);

    /**
     * Jamba's Mamba from x_proj's output to the gated scan: xdbl [T, dt_rank + 2·d_state] holds dt's low-rank
     * columns, then B, then C; each is RMS-normed with its weight (dt_layernorm, b_layernorm, c_layernorm), dt =
     * dtProj · dt (+ dtProjBias) [T, d_inner], then {@link #selectiveScan}. {@code dt} is room for that projection;
     * xdbl's columns are normed in place. Afterwards both hold what the backend left there (a backend may run it
     * all in one pass and touch neither).
     */
    default void selectiveScanOfXProj(MambaState state, Batch batch, Mat u, Mat xdbl, Weight dtNorm, Weight bNorm,
                                      Weight cNorm, float eps, Weight dtProj, Weight dtProjBias, Mat dt, Weight aLog,
                                      Weight d, Mat z, Mat out) {
        int rank = dtProj.cols(), n = state.dState();
        Mat dtLow = xdbl.cols(0, rank), b = xdbl.cols(rank, rank + n), c = xdbl.cols(rank + n, rank + 2 * n);
        rmsNorm(dtLow, dtNorm, eps, dtLow);
        rmsNorm(b, bNorm, eps, b);
        rmsNorm(c, cNorm, eps, c);
        matmul(dtLow, dtProj, dtProjBias, dt);
        selectiveScan(state, batch, u, dt, aLog, b, c, d, z, out);
    }

    /**
     * Grouped-query causal attention without positional encoding: appends each sequence's k, v rows
     * [T, kv_heads · head_dim] to its slot's cache, then each query row attends to every cached position up to
     * its own, scaled by 1/sqrt(head_dim). q and out are [T, heads · head_dim].
     */
    void attention(KvCache cache, Batch batch, Mat q, Mat k, Mat v, Mat out);

    /** out = down(silu(gate · x) ⊙ (up · x)), the dense SiLU-gated MLP. */
    void mlp(Mat x, Weight gate, Weight up, Weight down, Mat out);

    /**
     * out = Σ over each token's top-k experts of p_e · mlp_e(x), where p = softmax(router · x) over all experts
     * and the top-k probabilities are used as they are (not renormalised), as transformers' Jamba does.
     */
    void moe(Mat x, Experts experts, Mat out);

    /** out[i] = x[rows[i]]. */
    void gatherRows(Mat x, int[] rows, Mat out);

    /**
     * Next token of each row of logits [n, vocab] under its params; uniforms[i] in [0, 1) is row i's random draw.
     * Only token ids need to leave the device.
     */
    default int[] sample(Mat logits, SamplingParams[] params, double[] uniforms) {
        int n = logits.rows(), vocab = logits.cols();
        float[] host = new float[n * vocab];
        download(logits, host);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = Sampler.sample(host, i * vocab, vocab, params[i], uniforms[i]);
        return ids;
    }

    /**
     * Runs {@code step}, a forward step whose ops repeat from step to step for the same {@code shape} (decode: one
     * token for each of the same number of sequences). A backend may record such a step's work once and replay
     * the recording (CUDA graphs); it still runs the step's host code each time, so results and state are exactly
     * those of running it plainly.
     */
    default <T> T repeatingStep(int shape, Supplier<T> step) {
        return step.get();
    }

    /** Waits for queued work (a no-op where ops are synchronous). */
    default void synchronize() {}

    @Override
    void close();
}
