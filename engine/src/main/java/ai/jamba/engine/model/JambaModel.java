package ai.jamba.engine.model;

import ai.jamba.engine.checkpoint.Checkpoint;
import ai.jamba.engine.checkpoint.CheckpointException;
import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.engine.checkpoint.TensorSource;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Experts;
import ai.jamba.kernels.HostTensor;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.Weight;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Jamba's forward pass, as transformers' JambaForCausalLM computes it, composed from backend ops.
 *
 * <pre>
 * x = embed(ids)                                   no positional encoding anywhere
 * for each layer i:
 *   h = rmsnorm(x)                                 input_layernorm
 *   x = x + (mamba(h) | attention(h))             attention iff i % attn_layer_period == attn_layer_offset
 *   h = rmsnorm(x)                                 pre_ff_layernorm
 *   x = x + (moe(h) | mlp(h))                      MoE iff i % expert_layer_period == expert_layer_offset
 * logits = lm_head(rmsnorm(x))                     final_layernorm
 * </pre>
 *
 * Sections below: weights (one record per kind of block), loading, the per-step workspace, forward.
 */
public final class JambaModel implements AutoCloseable {

    // ---- weights ------------------------------------------------------------------------------------------

    /** A Mamba mixer: in_proj → conv1d → x_proj → (dt, B, C) norms → dt_proj → selective scan → out_proj. */
    record MambaWeights(Weight inProj, Weight inProjBias, Weight conv, Weight convBias, Weight xProj,
                        Weight dtNorm, Weight bNorm, Weight cNorm, Weight dtProj, Weight dtProjBias,
                        Weight aLog, Weight d, Weight outProj, Weight outProjBias) {}

    /** Grouped-query self-attention without positional encoding. */
    record AttentionWeights(Weight q, Weight k, Weight v, Weight o) {}

    /** A dense SiLU-gated MLP. */
    record MlpWeights(Weight gate, Weight up, Weight down) {}

    /** One decoder layer: exactly one mixer (mamba or attention) and one feed-forward (mlp or moe). */
    record Layer(int index, Weight inputNorm, Weight preFfNorm,
                 MambaWeights mamba, AttentionWeights attention, MlpWeights mlp, Experts moe) {}

    private final JambaConfig config;
    private final Backend backend;
    /** What the model owns besides its weights (the open checkpoint), or null. */
    private final AutoCloseable owned;
    private final Weight embedTokens, finalNorm, lmHead;
    private final Layer[] layers;

    private JambaModel(JambaConfig config, Backend backend, AutoCloseable owned, Weight embedTokens,
                       Weight finalNorm, Weight lmHead, Layer[] layers) {
        this.config = config;
        this.backend = backend;
        this.owned = owned;
        this.embedTokens = embedTokens;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.layers = layers;
    }

    public JambaConfig config() {
        return config;
    }

    public Backend backend() {
        return backend;
    }

    /** The checkpoint folder the weights were loaded from; empty for a model built from other weights (benchmarks). */
    public Optional<Path> checkpointDir() {
        return owned instanceof Checkpoint c ? Optional.of(c.dir()) : Optional.empty();
    }

    /** Every resident weight outside the MoE blocks (the head once when it is the embedding). */
    private List<Weight> denseWeights() {
        List<Weight> all = new ArrayList<>(List.of(embedTokens, finalNorm));
        if (lmHead != embedTokens) all.add(lmHead);
        for (Layer l : layers) {
            all.addAll(List.of(l.inputNorm, l.preFfNorm));
            if (l.mamba != null) all.addAll(Arrays.asList(l.mamba.inProj, l.mamba.inProjBias, l.mamba.conv, l.mamba.convBias,
                    l.mamba.xProj, l.mamba.dtNorm, l.mamba.bNorm, l.mamba.cNorm, l.mamba.dtProj, l.mamba.dtProjBias,
                    l.mamba.aLog, l.mamba.d, l.mamba.outProj, l.mamba.outProjBias));
            if (l.attention != null) all.addAll(List.of(l.attention.q, l.attention.k, l.attention.v, l.attention.o));
            if (l.mlp != null) all.addAll(List.of(l.mlp.gate, l.mlp.up, l.mlp.down));
        }
        all.removeIf(java.util.Objects::isNull); // absent biases
        return all;
    }

    /** Bytes of weights resident in the backend. */
    public long weightBytes() {
        long b = 0;
        for (Weight w : denseWeights()) b += w.bytes();
        for (Layer l : layers) if (l.moe != null) b += l.moe.bytes();
        return b;
    }

    /** Parameters of the checkpoint: every tensor, each expert's three matrices and every router. */
    public long parameters() {
        long p = 0;
        for (Weight w : denseWeights()) p += (long) w.rows() * w.cols();
        long expert = 3L * config.intermediateSize() * config.hiddenSize();
        for (Layer l : layers) if (l.moe != null) p += l.moe.numExperts() * (expert + config.hiddenSize());
        return p;
    }

    /**
     * Bytes of weights one decoded token reads: everything resident but the embedding table (one row of it), and
     * of each MoE block only the share of its top-k experts (routing spreads tokens evenly, on average).
     */
    public long weightBytesPerToken() {
        long b = weightBytes() - embedTokens.bytes() + embedTokens.bytes() / embedTokens.rows();
        for (Layer l : layers) if (l.moe != null) b -= l.moe.bytes() * (l.moe.numExperts() - l.moe.topK()) / l.moe.numExperts();
        return b;
    }

    /** Parameters one token is multiplied with, as {@link #weightBytesPerToken} counts them: 2 flops each. */
    public long parametersPerToken() {
        long expert = 3L * config.intermediateSize() * config.hiddenSize();
        long p = parameters() - embedTokens.rows() * (long) embedTokens.cols() + embedTokens.cols();
        for (Layer l : layers) if (l.moe != null) p -= expert * (l.moe.numExperts() - l.moe.topK());
        return p;
    }

    // ---- loading ------------------------------------------------------------------------------------------

    /** Options of loading: int8 experts (ExpertsInt8). */
    public record LoadOptions(boolean int8Experts) {
        public static final LoadOptions DEFAULT = new LoadOptions(false);
    }

    /** Reports loading progress: {@code done} of {@code total} layers. */
    @FunctionalInterface
    public interface Progress {
        void layerLoaded(int done, int total);

        Progress NONE = (d, t) -> {};
    }

    public static JambaModel load(Path dir, Backend backend, LoadOptions options, Progress progress) {
        Checkpoint ckpt = Checkpoint.open(dir);
        try {
            return load(ckpt, backend, options, progress);
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    /** Loads from an open tensor source (a checkpoint, weights made in memory), which the model then owns (and closes). */
    public static JambaModel load(TensorSource source, Backend backend, LoadOptions options, Progress progress) {
        return build(new HostWeights(source, backend, options), backend, progress, source);
    }

    /**
     * Where a model's weights come from, by checkpoint tensor name: host tensors (a checkpoint, weights made in
     * memory) made resident, or (benchmarks) weights made directly on a device. Shapes are what the config implies.
     */
    public interface WeightSource {
        JambaConfig config();

        boolean contains(String name);

        /** A weight made resident in the backend. */
        Weight weight(String name, long... shape);

        /** The MoE block whose tensors start with {@code prefix} ("model.layers.N.feed_forward."). */
        Experts experts(String prefix);
    }

    /** Host tensors (a checkpoint's, or made in memory) made resident as they are. */
    private record HostWeights(TensorSource source, Backend backend, LoadOptions options) implements WeightSource {
        @Override public JambaConfig config() { return source.config(); }

        @Override public boolean contains(String name) { return source.contains(name); }

        @Override
        public Weight weight(String name, long... shape) {
            return backend.weight(source.tensor(name, shape));
        }

        @Override
        public Experts experts(String f) {
            JambaConfig c = source.config();
            long hidden = c.hiddenSize(), inter = c.intermediateSize();
            List<HostTensor> gate = new ArrayList<>(), up = new ArrayList<>(), down = new ArrayList<>();
            for (int e = 0; e < c.numExperts(); e++) {
                String x = f + "experts." + e + ".";
                gate.add(source.tensor(x + "gate_proj.weight", inter, hidden));
                up.add(source.tensor(x + "up_proj.weight", inter, hidden));
                down.add(source.tensor(x + "down_proj.weight", hidden, inter));
            }
            return backend.experts(source.tensor(f + "router.weight", c.numExperts(), hidden), gate, up, down,
                    c.numExpertsPerTok(), options.int8Experts());
        }
    }

    /** Builds a model from any weight source; {@code owned} (may be null) is closed with the model. */
    public static JambaModel build(WeightSource w, Backend backend, Progress progress, AutoCloseable owned) {
        JambaConfig c = w.config();
        long hidden = c.hiddenSize(), vocab = c.vocabSize(), dInner = c.dInner(), inter = c.intermediateSize();
        Weight embed = w.weight("model.embed_tokens.weight", vocab, hidden);
        Weight head;
        if (w.contains("lm_head.weight")) head = w.weight("lm_head.weight", vocab, hidden);
        else if (c.tieWordEmbeddings()) head = embed;
        else throw new CheckpointException((owned instanceof TensorSource s ? s.origin() + ": " : "")
                + "missing tensor lm_head.weight (and tie_word_embeddings is false)");
        Weight finalNorm = w.weight("model.final_layernorm.weight", hidden);

        Layer[] layers = new Layer[c.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "model.layers." + i + ".";
            MambaWeights mamba = null;
            AttentionWeights attention = null;
            if (c.isAttentionLayer(i)) {
                long q = (long) c.numAttentionHeads() * c.headDim(), kv = (long) c.numKeyValueHeads() * c.headDim();
                attention = new AttentionWeights(
                        w.weight(p + "self_attn.q_proj.weight", q, hidden),
                        w.weight(p + "self_attn.k_proj.weight", kv, hidden),
                        w.weight(p + "self_attn.v_proj.weight", kv, hidden),
                        w.weight(p + "self_attn.o_proj.weight", hidden, q));
            } else {
                String m = p + "mamba.";
                long rank = c.mambaDtRank(), state = c.mambaDState();
                mamba = new MambaWeights(
                        w.weight(m + "in_proj.weight", 2 * dInner, hidden),
                        c.mambaProjBias() ? w.weight(m + "in_proj.bias", 2 * dInner) : null,
                        w.weight(m + "conv1d.weight", dInner, 1, c.mambaDConv()),
                        c.mambaConvBias() ? w.weight(m + "conv1d.bias", dInner) : null,
                        w.weight(m + "x_proj.weight", rank + 2 * state, dInner),
                        w.weight(m + "dt_layernorm.weight", rank),
                        w.weight(m + "b_layernorm.weight", state),
                        w.weight(m + "c_layernorm.weight", state),
                        w.weight(m + "dt_proj.weight", dInner, rank),
                        w.weight(m + "dt_proj.bias", dInner),
                        w.weight(m + "A_log", dInner, state),
                        w.weight(m + "D", dInner),
                        w.weight(m + "out_proj.weight", hidden, dInner),
                        c.mambaProjBias() ? w.weight(m + "out_proj.bias", hidden) : null);
            }
            MlpWeights mlp = null;
            Experts moe = null;
            String f = p + "feed_forward.";
            if (c.isExpertLayer(i)) {
                moe = w.experts(f);
            } else {
                mlp = new MlpWeights(
                        w.weight(f + "gate_proj.weight", inter, hidden),
                        w.weight(f + "up_proj.weight", inter, hidden),
                        w.weight(f + "down_proj.weight", hidden, inter));
            }
            layers[i] = new Layer(i, w.weight(p + "input_layernorm.weight", hidden), w.weight(p + "pre_ff_layernorm.weight", hidden),
                    mamba, attention, mlp, moe);
            progress.layerLoaded(i + 1, layers.length);
        }
        return new JambaModel(c, backend, owned, embed, finalNorm, head, layers);
    }

    // ---- state --------------------------------------------------------------------------------------------

    /** A pool of per-sequence state slots (conv + SSM per Mamba layer, K/V per attention layer), grown on demand. */
    public StatePool newStatePool() {
        return newStatePool(StatePool.Sizing.UNBOUNDED);
    }

    /** A pool of state slots sized up front (a {@link MemoryPlan}'s). */
    public StatePool newStatePool(StatePool.Sizing sizing) {
        return new StatePool(config, backend, sizing);
    }

    // ---- workspace ----------------------------------------------------------------------------------------

    /** Rows a step runs at most; a step with more is cut into steps of this many (chunked prefill). */
    public static final int DEFAULT_MAX_STEP_ROWS = 4096;
    private int maxStepRows = DEFAULT_MAX_STEP_ROWS;

    /**
     * Bounds the rows one pass runs, and so the activation memory: a 256K-token prompt then takes the memory of a
     * {@code rows}-token one (plus its K/V).
     */
    public void setMaxStepRows(int rows) {
        if (rows < 1) throw new IllegalArgumentException("a step needs at least one row, got " + rows);
        maxStepRows = rows;
    }

    public int maxStepRows() {
        return maxStepRows;
    }

    /**
     * Activation buffers for up to {@code capacity} rows, reused step after step and replaced by larger ones
     * when a step has more rows (never more than the largest step). A model is driven by one thread at a time
     * (the engine thread).
     */
    private final class Workspace {
        final int capacity;
        final Mat x, h, mixed, ffOut, xz, u, xdbl, dt, y, q, k, v, attn;

        Workspace(int capacity) {
            this.capacity = capacity;
            int hidden = config.hiddenSize(), dInner = config.dInner();
            int kvWidth = config.numKeyValueHeads() * config.headDim(), qWidth = config.numAttentionHeads() * config.headDim();
            x = backend.allocate(capacity, hidden);
            h = backend.allocate(capacity, hidden);
            mixed = backend.allocate(capacity, hidden);
            ffOut = backend.allocate(capacity, hidden);
            xz = backend.allocate(capacity, 2 * dInner);
            u = backend.allocate(capacity, dInner);
            xdbl = backend.allocate(capacity, config.mambaDtRank() + 2 * config.mambaDState());
            dt = backend.allocate(capacity, dInner);
            y = backend.allocate(capacity, dInner);
            q = backend.allocate(capacity, qWidth);
            k = backend.allocate(capacity, kvWidth);
            v = backend.allocate(capacity, kvWidth);
            attn = backend.allocate(capacity, qWidth);
        }

        void free() {
            for (Mat m : List.of(x, h, mixed, ffOut, xz, u, xdbl, dt, y, q, k, v, attn)) backend.free(m);
        }
    }

    private Workspace workspace;

    private Workspace workspace(int rows) {
        if (workspace == null || workspace.capacity < rows) {
            if (workspace != null) workspace.free();
            workspace = new Workspace(rows);
        }
        return workspace;
    }

    // ---- forward ------------------------------------------------------------------------------------------

    /** Sees the residual stream as transformers' output_hidden_states reports it (for tests and debugging). */
    @FunctionalInterface
    public interface HiddenStates {
        /**
         * index 0: embeddings; 1..L-1: output of layer index-1; L: final_layernorm of the last layer's output.
         * {@code rows} is [T, hidden] row-major.
         */
        void accept(int index, float[] rows);
    }

    /** Decode steps of up to this many sequences may be replayed as a recording ({@link Backend#repeatingStep}). */
    private static final int MAX_REPEATING_ROWS = 64;

    /**
     * One step over a batch: {@code ids} holds every sequence's tokens for this step, flattened in batch order.
     * Each sequence continues from its slot's state, which the step advances. Returns logits
     * [logitRows.length, vocab] for the given rows (usually {@link Batch#lastRows()}); the matrix is valid until
     * the next call. With no rows asked for (a step of prompt chunks that are not their prompt's last) the head is
     * skipped and the result is null. K/V room for the whole step is reserved first: a sequence that does not fit
     * gets a {@link ai.jamba.kernels.CapacityException} and no state changes. A step of more than
     * {@link #maxStepRows} rows runs as consecutive steps of at most that many (its logit rows must then be ascending).
     */
    public Mat forward(StatePool state, Batch batch, int[] ids, int[] logitRows, HiddenStates hidden) {
        int rows = batch.rows();
        if (ids.length != rows) throw new IllegalArgumentException(ids.length + " token ids for a batch of " + rows + " rows");
        state.reserve(batch);
        if (rows > maxStepRows) return chunked(state, batch, ids, logitRows, hidden);
        if (hidden == null && decode(batch, logitRows))
            return backend.repeatingStep(rows, () -> step(state, batch, ids, logitRows, null));
        return step(state, batch, ids, logitRows, hidden);
    }

    /** One token for each sequence and the logits of each: the shape that repeats step after step. */
    private static boolean decode(Batch batch, int[] logitRows) {
        if (batch.rows() > MAX_REPEATING_ROWS || batch.rows() != batch.sequences() || logitRows.length != batch.rows()) return false;
        for (int i = 0; i < logitRows.length; i++) if (logitRows[i] != i) return false;
        return true;
    }

    private Mat step(StatePool state, Batch batch, int[] ids, int[] logitRows, HiddenStates hidden) {
        Mat x = layers(state, batch, ids, hidden);
        if (logitRows.length == 0) return null;
        Mat out = logits(logitRows.length);
        head(x, logitRows, out);
        return out;
    }

    /** A step of more rows than {@link #maxStepRows}, as consecutive steps over pieces of its sequences. */
    private Mat chunked(StatePool state, Batch batch, int[] ids, int[] logitRows, HiddenStates hidden) {
        if (hidden != null) throw new IllegalArgumentException("hidden states are reported for steps of at most " + maxStepRows + " rows");
        for (int i = 1; i < logitRows.length; i++)
            if (logitRows[i] <= logitRows[i - 1]) throw new IllegalArgumentException("a step of more than " + maxStepRows + " rows needs ascending logit rows");
        Mat out = logitRows.length == 0 ? null : logits(logitRows.length);
        int rows = batch.rows(), next = 0;
        for (int r0 = 0; r0 < rows; r0 += maxStepRows) {
            int r1 = Math.min(rows, r0 + maxStepRows);
            List<Integer> slots = new ArrayList<>(), counts = new ArrayList<>();
            for (int i = 0; i < batch.sequences(); i++) {
                int from = Math.max(batch.rowStart()[i], r0), to = Math.min(batch.rowStart()[i] + batch.rowCount()[i], r1);
                if (to > from) {
                    slots.add(batch.slots()[i]);
                    counts.add(to - from);
                }
            }
            Batch piece = Batch.of(slots.stream().mapToInt(Integer::intValue).toArray(), counts.stream().mapToInt(Integer::intValue).toArray());
            Mat x = layers(state, piece, Arrays.copyOfRange(ids, r0, r1), null);
            int first = next;
            while (next < logitRows.length && logitRows[next] < r1) next++;
            if (next > first) {
                int[] local = new int[next - first];
                for (int i = 0; i < local.length; i++) local[i] = logitRows[first + i] - r0;
                head(x, local, out.rows(first, next));
            }
        }
        return out;
    }

    /** Embedding and every layer: the residual stream of the step's rows (a workspace view). */
    private Mat layers(StatePool state, Batch batch, int[] ids, HiddenStates hidden) {
        int rows = batch.rows();
        Workspace ws = workspace(rows);
        Mat x = ws.x.rows(0, rows), h = ws.h.rows(0, rows), mixed = ws.mixed.rows(0, rows), ff = ws.ffOut.rows(0, rows);
        float eps = config.rmsNormEps();

        backend.embedding(embedTokens, ids, x);
        if (hidden != null) hidden.accept(0, download(x));
        backend.rmsNorm(x, layers[0].inputNorm, eps, h);
        for (Layer layer : layers) {
            if (layer.mamba != null) mamba(layer.mamba, state.mamba(layer.index), batch, ws, h, mixed);
            else attention(layer.attention, state.kv(layer.index), batch, ws, h, mixed);
            backend.addRmsNorm(x, mixed, layer.preFfNorm, eps, h);
            if (layer.moe != null) backend.moe(h, layer.moe, ff);
            else backend.mlp(h, layer.mlp.gate, layer.mlp.up, layer.mlp.down, ff);
            boolean last = layer.index == layers.length - 1;
            if (last) backend.add(x, ff);
            else backend.addRmsNorm(x, ff, layers[layer.index + 1].inputNorm, eps, h);
            if (hidden != null && !last) hidden.accept(layer.index + 1, download(x));
        }
        if (hidden != null) {
            backend.rmsNorm(x, finalNorm, eps, h);
            hidden.accept(layers.length, download(h));
        }
        return x;
    }

    private void mamba(MambaWeights m, ai.jamba.kernels.MambaState state, Batch batch, Workspace ws, Mat h, Mat out) {
        int rows = batch.rows(), dInner = config.dInner();
        float eps = config.rmsNormEps();
        Mat xz = ws.xz.rows(0, rows), u = ws.u.rows(0, rows), xdbl = ws.xdbl.rows(0, rows);
        Mat dt = ws.dt.rows(0, rows), y = ws.y.rows(0, rows);
        backend.matmul(h, m.inProj, m.inProjBias, xz);
        Mat xs = xz.cols(0, dInner), z = xz.cols(dInner, 2 * dInner);
        backend.conv1d(state, batch, xs, m.conv, m.convBias, u);
        backend.matmul(u, m.xProj, null, xdbl);
        backend.selectiveScanOfXProj(state, batch, u, xdbl, m.dtNorm, m.bNorm, m.cNorm, eps, m.dtProj, m.dtProjBias, dt,
                m.aLog, m.d, z, y);
        backend.matmul(y, m.outProj, m.outProjBias, out);
    }

    private void attention(AttentionWeights a, ai.jamba.kernels.KvCache cache, Batch batch, Workspace ws, Mat h, Mat out) {
        int rows = batch.rows();
        Mat q = ws.q.rows(0, rows), k = ws.k.rows(0, rows), v = ws.v.rows(0, rows), o = ws.attn.rows(0, rows);
        backend.matmul(h, a.q, null, q);
        backend.matmul(h, a.k, null, k);
        backend.matmul(h, a.v, null, v);
        backend.attention(cache, batch, q, k, v, o);
        backend.matmul(o, a.o, null, out);
    }

    private Mat headRows, logits;

    /** The logits buffer, at least n rows (grown when a step wants more). */
    private Mat logits(int n) {
        if (logits == null || logits.rows() < n) {
            if (logits != null) backend.free(logits);
            logits = backend.allocate(Math.max(n, 1), config.vocabSize());
        }
        return logits.rows(0, n);
    }

    /** final_layernorm and lm_head, only for the rows whose next token is wanted, into out [rows.length, vocab]. */
    private void head(Mat x, int[] rows, Mat out) {
        int n = rows.length;
        if (headRows == null || headRows.rows() < n) {
            if (headRows != null) backend.free(headRows);
            headRows = backend.allocate(Math.max(n, 1), config.hiddenSize());
        }
        Mat g = headRows.rows(0, n);
        backend.gatherRows(x, rows, g);
        backend.rmsNorm(g, finalNorm, config.rmsNormEps(), g);
        backend.matmul(g, lmHead, null, out);
    }

    private float[] download(Mat m) {
        float[] f = new float[m.rows() * m.cols()];
        backend.download(m, f);
        return f;
    }

    @Override
    public void close() {
        if (owned == null) return;
        try {
            owned.close();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
