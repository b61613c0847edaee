package ai.jamba.kernels.cpu;

import ai.jamba.kernels.CapacityException;
import ai.jamba.kernels.DType;
import ai.jamba.kernels.KvCache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Keys and values per slot on the heap, [position][kv_head][head_dim], grown by doubling. A bf16 cache keeps
 * float arrays holding bf16-rounded values, so it computes what a device's bf16 cache computes. A bounded cache
 * counts positions in blocks of {@link #BLOCK_TOKENS}, as the CUDA cache allocates them.
 */
final class CpuKvCache implements KvCache {
    static final int BLOCK_TOKENS = 64;
    private final int kvHeads, headDim, width;
    private final DType dtype;
    private final long capacityBlocks;
    private final List<float[]> keys = new ArrayList<>();
    private final List<float[]> values = new ArrayList<>();
    private int[] lengths = new int[0], blocks = new int[0];
    private long blocksUsed;

    CpuKvCache(int kvHeads, int headDim, DType dtype, long capacityTokens) {
        if (kvHeads <= 0 || headDim <= 0) throw new IllegalArgumentException("bad KV shape: " + kvHeads + " heads of " + headDim);
        if (dtype != DType.F32 && dtype != DType.BF16) throw new IllegalArgumentException("a KV cache is float32 or bf16, not " + dtype);
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.width = kvHeads * headDim;
        this.dtype = dtype;
        this.capacityBlocks = capacityTokens > 0 ? (capacityTokens + BLOCK_TOKENS - 1) / BLOCK_TOKENS : 0;
    }

    private void grow(int slot) {
        if (slot < 0) throw new IllegalArgumentException("negative slot " + slot);
        while (keys.size() <= slot) {
            keys.add(new float[0]);
            values.add(new float[0]);
        }
        if (lengths.length <= slot) {
            lengths = Arrays.copyOf(lengths, Math.max(slot + 1, lengths.length * 2));
            blocks = Arrays.copyOf(blocks, lengths.length);
        }
    }

    @Override
    public void reserve(int slot, int tokens) {
        grow(slot);
        int needBlocks = (tokens + BLOCK_TOKENS - 1) / BLOCK_TOKENS;
        if (needBlocks > blocks[slot]) {
            long more = needBlocks - blocks[slot];
            if (capacityBlocks > 0 && blocksUsed + more > capacityBlocks)
                throw new CapacityException(String.format("the KV cache is full: slot %d needs %d positions, %d more than it holds; "
                        + "%d of %d positions are free", slot, tokens, more * BLOCK_TOKENS,
                        (capacityBlocks - blocksUsed) * BLOCK_TOKENS, capacityBlocks * BLOCK_TOKENS));
            blocksUsed += more;
            blocks[slot] = needBlocks;
        }
        long need = (long) tokens * width;
        if (need > Integer.MAX_VALUE - 8) throw new IllegalStateException("KV cache of " + tokens + " tokens does not fit a Java array");
        float[] k = keys.get(slot);
        if (k.length < need) {
            int cap = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(need, 2L * k.length));
            keys.set(slot, Arrays.copyOf(k, cap));
            values.set(slot, Arrays.copyOf(values.get(slot), cap));
        }
    }

    /** Appends position {@code pos}'s key and value rows (from k and v at their offsets), rounded to the cache's dtype. */
    void store(int slot, int pos, float[] k, int kAt, float[] v, int vAt) {
        float[] ks = keys.get(slot), vs = values.get(slot);
        int at = pos * width;
        System.arraycopy(k, kAt, ks, at, width);
        System.arraycopy(v, vAt, vs, at, width);
        if (dtype == DType.BF16) {
            for (int i = at; i < at + width; i++) {
                ks[i] = bf16(ks[i]);
                vs[i] = bf16(vs[i]);
            }
        }
    }

    /** Round to nearest even bf16, widened back (finite values). */
    static float bf16(float f) {
        int u = Float.floatToRawIntBits(f);
        u += 0x7fff + ((u >>> 16) & 1);
        return Float.intBitsToFloat(u & 0xffff0000);
    }

    float[] keys(int slot) {
        return keys.get(slot);
    }

    float[] values(int slot) {
        return values.get(slot);
    }

    void setLength(int slot, int length) {
        grow(slot);
        lengths[slot] = length;
    }

    /** Sets a slot's length and gives back the blocks past it. */
    private void shrink(int slot, int length) {
        grow(slot);
        int keep = (length + BLOCK_TOKENS - 1) / BLOCK_TOKENS;
        if (keep < blocks[slot]) {
            blocksUsed -= blocks[slot] - keep;
            blocks[slot] = keep;
        }
        lengths[slot] = length;
    }

    @Override public int kvHeads() { return kvHeads; }

    @Override public int headDim() { return headDim; }

    @Override public DType dtype() { return dtype; }

    @Override
    public int length(int slot) {
        return slot < lengths.length ? lengths[slot] : 0;
    }

    @Override
    public void reset(int slot) {
        shrink(slot, 0);
    }

    @Override
    public void truncate(int slot, int length) {
        if (length < 0 || length > length(slot))
            throw new IllegalArgumentException("cannot truncate slot " + slot + " of " + length(slot) + " tokens to " + length);
        shrink(slot, length);
    }

    @Override
    public float[] export(int slot) {
        int n = length(slot) * width;
        float[] out = new float[2 * n];
        if (n > 0) {
            System.arraycopy(keys.get(slot), 0, out, 0, n);
            System.arraycopy(values.get(slot), 0, out, n, n);
        }
        return out;
    }

    @Override
    public void restore(int slot, float[] keysThenValues, int length) {
        int n = length * width;
        if (keysThenValues.length != 2 * n)
            throw new IllegalArgumentException("KV state of " + keysThenValues.length + " floats, expected " + 2 * n + " for " + length + " tokens");
        shrink(slot, 0);
        reserve(slot, length);
        for (int p = 0; p < length; p++) store(slot, p, keysThenValues, p * width, keysThenValues, n + p * width);
        lengths[slot] = length;
    }

    @Override
    public void close() {
        keys.clear();
        values.clear();
        lengths = blocks = new int[0];
        blocksUsed = 0;
    }
}
