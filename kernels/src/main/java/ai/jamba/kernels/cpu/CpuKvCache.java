package ai.jamba.kernels.cpu;

import ai.jamba.kernels.KvCache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Keys and values per slot on the heap, [position][kv_head][head_dim], grown by doubling. */
final class CpuKvCache implements KvCache {
    private final int kvHeads, headDim, width;
    private final List<float[]> keys = new ArrayList<>();
    private final List<float[]> values = new ArrayList<>();
    private int[] lengths = new int[0];

    CpuKvCache(int kvHeads, int headDim) {
        if (kvHeads <= 0 || headDim <= 0) throw new IllegalArgumentException("bad KV shape: " + kvHeads + " heads of " + headDim);
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.width = kvHeads * headDim;
    }

    private void grow(int slot) {
        if (slot < 0) throw new IllegalArgumentException("negative slot " + slot);
        while (keys.size() <= slot) {
            keys.add(new float[0]);
            values.add(new float[0]);
        }
        if (lengths.length <= slot) lengths = Arrays.copyOf(lengths, Math.max(slot + 1, lengths.length * 2));
    }

    /** Makes room for {@code tokens} positions in a slot. */
    void reserve(int slot, int tokens) {
        grow(slot);
        long need = (long) tokens * width;
        if (need > Integer.MAX_VALUE - 8) throw new IllegalStateException("KV cache of " + tokens + " tokens does not fit a Java array");
        float[] k = keys.get(slot);
        if (k.length < need) {
            int cap = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(need, 2L * k.length));
            keys.set(slot, Arrays.copyOf(k, cap));
            values.set(slot, Arrays.copyOf(values.get(slot), cap));
        }
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

    @Override public int kvHeads() { return kvHeads; }

    @Override public int headDim() { return headDim; }

    @Override
    public int length(int slot) {
        return slot < lengths.length ? lengths[slot] : 0;
    }

    @Override
    public void reset(int slot) {
        grow(slot);
        lengths[slot] = 0;
    }

    @Override
    public void truncate(int slot, int length) {
        if (length < 0 || length > length(slot))
            throw new IllegalArgumentException("cannot truncate slot " + slot + " of " + length(slot) + " tokens to " + length);
        lengths[slot] = length;
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
        reserve(slot, length);
        System.arraycopy(keysThenValues, 0, keys.get(slot), 0, n);
        System.arraycopy(keysThenValues, n, values.get(slot), 0, n);
        lengths[slot] = length;
    }
}
