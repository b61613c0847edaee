package ai.jamba.engine.model;

import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.KvCache;
import ai.jamba.kernels.MambaState;

import java.util.BitSet;

/**
 * The per-sequence state of every layer, in numbered slots: conv + SSM state for each Mamba layer (fixed size,
 * whatever the length) and K/V for each attention layer (the only part that grows). A running sequence holds
 * one slot; {@link #snapshot} and {@link #restore} move a slot's state to and from the host (sessions).
 */
public final class StatePool {
    private final JambaConfig config;
    private final MambaState[] mamba;
    private final KvCache[] kv;
    private final BitSet used = new BitSet();

    StatePool(JambaConfig config, Backend backend) {
        this.config = config;
        int layers = config.numHiddenLayers();
        mamba = new MambaState[layers];
        kv = new KvCache[layers];
        for (int i = 0; i < layers; i++) {
            if (config.isAttentionLayer(i)) kv[i] = backend.kvCache(config.numKeyValueHeads(), config.headDim());
            else mamba[i] = backend.mambaState(config.dInner(), config.mambaDConv(), config.mambaDState());
        }
    }

    MambaState mamba(int layer) {
        return mamba[layer];
    }

    KvCache kv(int layer) {
        return kv[layer];
    }

    /** A free slot, emptied: a new sequence starts there. */
    public int acquire() {
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
}
