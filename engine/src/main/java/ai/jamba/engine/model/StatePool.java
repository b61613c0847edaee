package ai.jamba.engine.model;

import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.CapacityException;
import ai.jamba.kernels.DType;
import ai.jamba.kernels.KvCache;
import ai.jamba.kernels.MambaState;

import java.util.BitSet;

/**
 * The per-sequence state of every layer, in numbered slots: conv + SSM state for each Mamba layer (fixed size,
 * whatever the length) and K/V for each attention layer (the only part that grows, paged). A running sequence
 * holds one slot; {@link #snapshot} and {@link #restore} move a slot's state to and from the host (sessions).
 * Sized by a {@link Sizing} (a memory plan), a pool refuses what it cannot hold with a {@link CapacityException}
 * before any work starts.
 */
public final class StatePool implements AutoCloseable {
    /**
     * How much state a pool holds: at most {@code slots} sequences (0: any number) and {@code kvTokens} cached
     * positions per attention layer over all of them (0: unbounded), K/V kept as {@code kvDType}.
     */
    public record Sizing(int slots, long kvTokens, DType kvDType) {
        /** Grows on demand, K/V in float32: tests, the CPU, tools. */
        public static final Sizing UNBOUNDED = new Sizing(0, 0, DType.F32);
    }

    private final JambaConfig config;
    private final Sizing sizing;
    private final MambaState[] mamba;
    private final KvCache[] kv;
    private final BitSet used = new BitSet();

    StatePool(JambaConfig config, Backend backend, Sizing sizing) {
        this.config = config;
        this.sizing = sizing;
        int layers = config.numHiddenLayers();
        mamba = new MambaState[layers];
        kv = new KvCache[layers];
        for (int i = 0; i < layers; i++) {
            if (config.isAttentionLayer(i)) kv[i] = backend.kvCache(config.numKeyValueHeads(), config.headDim(), sizing.kvDType(), sizing.kvTokens());
            else mamba[i] = backend.mambaState(config.dInner(), config.mambaDConv(), config.mambaDState(), sizing.slots());
        }
    }

    public Sizing sizing() {
        return sizing;
    }

    MambaState mamba(int layer) {
        return mamba[layer];
    }

    KvCache kv(int layer) {
        return kv[layer];
    }

    /** A free slot, emptied: a new sequence starts there. */
    public int acquire() {
        if (sizing.slots() > 0 && used.cardinality() >= sizing.slots())
            throw new CapacityException("all " + sizing.slots() + " sequence slots are in use");
        int slot = used.nextClearBit(0);
        used.set(slot);
        reset(slot);
        return slot;
    }

    public void release(int slot) {
        if (!used.get(slot)) throw new IllegalStateException("slot " + slot + " is not in use");
        reset(slot);
        used.clear(slot);
    }

    /** Slots held by sequences now. */
    public int inUse() {
        return used.cardinality();
    }

    private void reset(int slot) {
        for (MambaState m : mamba) if (m != null) m.reset(slot);
        for (KvCache c : kv) if (c != null) c.reset(slot);
    }

    /**
     * Makes room for a step's tokens in every attention layer before the step runs, so a sequence that does not
     * fit is refused (CapacityException) with its state untouched.
     */
    void reserve(Batch batch) {
        for (KvCache c : kv) {
            if (c == null) continue;
            for (int i = 0; i < batch.sequences(); i++) {
                int slot = batch.slots()[i];
                c.reserve(slot, c.length(slot) + batch.rowCount()[i]);
            }
        }
    }

    /**
     * Keeps the first {@code tokens} cached positions of a slot's attention layers (prefix reuse; the Mamba state is
     * recurrent and stays as it is).
     */
    public void truncate(int slot, int tokens) {
        for (KvCache c : kv) if (c != null) c.truncate(slot, tokens);
    }

    /** Tokens the slot's attention layers hold (0 for a model without attention). */
    public int cachedTokens(int slot) {
        for (KvCache c : kv) if (c != null) return c.length(slot);
        return 0;
    }

    /** Bytes of Mamba state per sequence (the same at any length). */
    public long mambaBytesPerSequence() {
        long b = 0;
        for (MambaState m : mamba) if (m != null) b += m.bytesPerSlot();
        return b;
    }

    /** Bytes of K/V per cached token, all attention layers together. */
    public long kvBytesPerToken() {
        long b = 0;
        for (KvCache c : kv) if (c != null) b += c.bytesPerToken();
        return b;
    }

    /** A copy of one slot's state on the host. */
    public StateSnapshot snapshot(int slot) {
        int layers = config.numHiddenLayers();
        float[][] m = new float[layers][], k = new float[layers][];
        for (int i = 0; i < layers; i++) {
            if (mamba[i] != null) m[i] = mamba[i].export(slot);
            if (kv[i] != null) k[i] = kv[i].export(slot);
        }
        return new StateSnapshot(cachedTokens(slot), m, k);
    }

    /** Puts a snapshot's state into a slot. */
    public void restore(int slot, StateSnapshot s) {
        int layers = config.numHiddenLayers();
        if (s.mamba().length != layers) throw new IllegalArgumentException("snapshot of " + s.mamba().length + " layers for a model of " + layers);
        for (int i = 0; i < layers; i++) {
            if (mamba[i] != null) mamba[i].restore(slot, s.mamba()[i]);
            if (kv[i] != null) kv[i].restore(slot, s.kv()[i], s.kvTokens());
        }
    }

    /** Gives the state's memory back to the backend. */
    @Override
    public void close() {
        for (MambaState m : mamba) if (m != null) m.close();
        for (KvCache c : kv) if (c != null) c.close();
        used.clear();
    }
}
