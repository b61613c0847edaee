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
import java.util.List;

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
    private final TensorSource source;
    private final Weight embedTokens, finalNorm, lmHead;
    private final Layer[] layers;
    /** Every resident weight outside the MoE blocks, and the parameter count of all tensors loaded. */
    private final List<Weight> weights;
    private final long parameters;

    private JambaModel(JambaConfig config, Backend backend, TensorSource source, Weight embedTokens,
                       Weight finalNorm, Weight lmHead, Layer[] layers, Loader loaded) {
        this.config = config;
        this.backend = backend;
        this.source = source;
        this.embedTokens = embedTokens;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.layers = layers;
        this.weights = List.copyOf(loaded.weights);
        this.parameters = loaded.parameters;
    }

    public JambaConfig config() {
        return config;
    }

    public Backend backend() {
        return backend;
    }

    /** Bytes of weights resident in the backend. */
    public long weightBytes() {
        long b = 0;
        for (Weight w : weights) b += w.bytes();
        for (Layer l : layers) if (l.moe != null) b += l.moe.bytes();
        return b;
    }

    /** Parameters of the checkpoint (every tensor loaded). */
    public long parameters() {
        return parameters;
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
        long p = parameters - embedTokens.rows() * (long) embedTokens.cols() + embedTokens.cols();
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
        JambaConfig c = source.config();
        long hidden = c.hiddenSize(), vocab = c.vocabSize(), dInner = c.dInner(), inter = c.intermediateSize();
        Loader w = new Loader(source, backend);
        Weight embed = w.get("model.embed_tokens.weight", vocab, hidden);
        Weight head;
        if (source.contains("lm_head.weight")) head = w.get("lm_head.weight", vocab, hidden);
        else if (c.tieWordEmbeddings()) head = embed;
        else throw new CheckpointException(source.origin() + ": missing tensor lm_head.weight (and tie_word_embeddings is false)");
        Weight finalNorm = w.get("model.final_layernorm.weight", hidden);

        Layer[] layers = new Layer[c.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "model.layers." + i + ".";
            MambaWeights mamba = null;
            AttentionWeights attention = null;
            if (c.isAttentionLayer(i)) {
                long q = (long) c.numAttentionHeads() * c.headDim(), kv = (long) c.numKeyValueHeads() * c.headDim();
                attention = new AttentionWeights(
                        w.get(p + "self_attn.q_proj.weight", q, hidden),
                        w.get(p + "self_attn.k_proj.weight", kv, hidden),
                        w.get(p + "self_attn.v_proj.weight", kv, hidden),
                        w.get(p + "self_attn.o_proj.weight", hidden, q));
            } else {
                String m = p + "mamba.";
                long rank = c.mambaDtRank(), state = c.mambaDState();
                mamba = new MambaWeights(
                        w.get(m + "in_proj.weight", 2 * dInner, hidden),
                        c.mambaProjBias() ? w.get(m + "in_proj.bias", 2 * dInner) : null,
                        w.get(m + "conv1d.weight", dInner, 1, c.mambaDConv()),
                        c.mambaConvBias() ? w.get(m + "conv1d.bias", dInner) : null,
                        w.get(m + "x_proj.weight", rank + 2 * state, dInner),
                        w.get(m + "dt_layernorm.weight", rank),
                        w.get(m + "b_layernorm.weight", state),
                        w.get(m + "c_layernorm.weight", state),
                        w.get(m + "dt_proj.weight", dInner, rank),
                        w.get(m + "dt_proj.bias", dInner),
                        w.get(m + "A_log", dInner, state),
                        w.get(m + "D", dInner),
                        w.get(m + "out_proj.weight", hidden, dInner),
                        c.mambaProjBias() ? w.get(m + "out_proj.bias", hidden) : null);
            }
            MlpWeights mlp = null;
            Experts moe = null;
            String f = p + "feed_forward.";
            if (c.isExpertLayer(i)) {
                List<HostTensor> gate = new ArrayList<>(), up = new ArrayList<>(), down = new ArrayList<>();
                for (int e = 0; e < c.numExperts(); e++) {
                    String x = f + "experts." + e + ".";
                    gate.add(w.tensor(x + "gate_proj.weight", inter, hidden));
                    up.add(w.tensor(x + "up_proj.weight", inter, hidden));
                    down.add(w.tensor(x + "down_proj.weight", hidden, inter));
                }
                moe = backend.experts(w.tensor(f + "router.weight", c.numExperts(), hidden), gate, up, down,
                        c.numExpertsPerTok(), options.int8Experts());
            } else {
                mlp = new MlpWeights(
                        w.get(f + "gate_proj.weight", inter, hidden),
                        w.get(f + "up_proj.weight", inter, hidden),
                        w.get(f + "down_proj.weight", hidden, inter));
            }
            layers[i] = new Layer(i, w.get(p + "input_layernorm.weight", hidden), w.get(p + "pre_ff_layernorm.weight", hidden),
                    mamba, attention, mlp, moe);
            progress.layerLoaded(i + 1, layers.length);
        }
        return new JambaModel(c, backend, source, embed, finalNorm, head, layers, w);
    }

    /** Fetches tensors with the shapes the config implies, makes them resident, and counts what it loaded. */
    private static final class Loader {
        final TensorSource source;
        final Backend backend;
        final List<Weight> weights = new ArrayList<>();
        long parameters;

        Loader(TensorSource source, Backend backend) {
            this.source = source;
            this.backend = backend;
        }

        /** A tensor left on the host (MoE blocks go to the backend whole). */
        HostTensor tensor(String name, long... shape) {
            HostTensor t = source.tensor(name, shape);
            parameters += t.elements();
            return t;
        }

        Weight get(String name, long... shape) {
            Weight w = backend.weight(tensor(name, shape));
            weights.add(w);
            return w;
        }
    }

    // ---- state --------------------------------------------------------------------------------------------

    /** A pool of per-sequence state slots (conv + SSM per Mamba layer, K/V per attention layer) for this model. */
    public StatePool newStatePool() {
        return new StatePool(config, backend);
    }

    // ---- workspace ----------------------------------------------------------------------------------------

    /**
     * Activation buffers for up to {@code capacity} rows, reused step after step and replaced by larger ones
     * when a step has more rows. A model is driven by one thread at a time (the engine thread).
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

    /**
     * One step over a batch: {@code ids} holds every sequence's tokens for this step, flattened in batch order.
     * Each sequence continues from its slot's state, which the step advances. Returns logits
     * [logitRows.length, vocab] for the given rows (usually {@link Batch#lastRows()}); the matrix is valid until
     * the next call.
     */
    public Mat forward(StatePool state, Batch batch, int[] ids, int[] logitRows, HiddenStates hidden) {
        int rows = batch.rows();
        if (ids.length != rows) throw new IllegalArgumentException(ids.length + " token ids for a batch of " + rows + " rows");
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
        return head(x, logitRows);
    }

    private void mamba(MambaWeights m, ai.jamba.kernels.MambaState state, Batch batch, Workspace ws, Mat h, Mat out) {
        int rows = batch.rows(), dInner = config.dInner(), rank = config.mambaDtRank(), n = config.mambaDState();
        float eps = config.rmsNormEps();
        Mat xz = ws.xz.rows(0, rows), u = ws.u.rows(0, rows), xdbl = ws.xdbl.rows(0, rows);
        Mat dt = ws.dt.rows(0, rows), y = ws.y.rows(0, rows);
        backend.matmul(h, m.inProj, m.inProjBias, xz);
        Mat xs = xz.cols(0, dInner), z = xz.cols(dInner, 2 * dInner);
        backend.conv1d(state, batch, xs, m.conv, m.convBias, u);
        backend.matmul(u, m.xProj, null, xdbl);
        Mat dtLow = xdbl.cols(0, rank), b = xdbl.cols(rank, rank + n), c = xdbl.cols(rank + n, rank + 2 * n);
        backend.rmsNorm(dtLow, m.dtNorm, eps, dtLow);
        backend.rmsNorm(b, m.bNorm, eps, b);
        backend.rmsNorm(c, m.cNorm, eps, c);
        backend.matmul(dtLow, m.dtProj, m.dtProjBias, dt);
        backend.selectiveScan(state, batch, u, dt, m.aLog, b, c, m.d, z, y);
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

    /** final_layernorm and lm_head, only for the rows whose next token is wanted. */
    private Mat head(Mat x, int[] rows) {
        int n = rows.length;
        if (logits == null || logits.rows() < n) {
            if (logits != null) {
                backend.free(logits);
                backend.free(headRows);
            }
            headRows = backend.allocate(Math.max(n, 1), config.hiddenSize());
            logits = backend.allocate(Math.max(n, 1), config.vocabSize());
        }
        Mat g = headRows.rows(0, n), out = logits.rows(0, n);
        backend.gatherRows(x, rows, g);
        backend.rmsNorm(g, finalNorm, config.rmsNormEps(), g);
        backend.matmul(g, lmHead, null, out);
        return out;
    }

    private float[] download(Mat m) {
        float[] f = new float[m.rows() * m.cols()];
        backend.download(m, f);
        return f;
    }

    @Override
    public void close() {
        source.close();
    }
}
