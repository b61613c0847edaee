package ai.jamba.kernels.cuda;

import ai.jamba.kernels.KvCache;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Keys and values of one attention layer in device memory: per slot two buffers [capacity][kv_heads][head_dim]
 * float32, grown by doubling. The kernels find a slot's buffers and length through device tables (k_ptr, v_ptr,
 * len, indexed by slot), so a captured decode graph stays valid when a buffer moves: only the tables change.
 * The host keeps the lengths too (the kernels advance their copy in step).
 */
final class CudaKvCache implements KvCache {
    private final Device device;
    private final int kvHeads, headDim, width;
    private long[] keys = new long[0], values = new long[0];
    private int[] capacity = new int[0], lengths = new int[0];
    private long kTable, vTable, lenTable;
    private int tableSlots;

    CudaKvCache(Device device, int kvHeads, int headDim) {
        if (kvHeads <= 0 || headDim <= 0) throw new IllegalArgumentException("bad KV shape: " + kvHeads + " heads of " + headDim);
        this.device = device;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.width = kvHeads * headDim;
    }

    long kTable() { return kTable; }

    long vTable() { return vTable; }

    long lenTable() { return lenTable; }

    private void grow(int slot) {
        if (slot < 0) throw new IllegalArgumentException("negative slot " + slot);
        if (slot < keys.length) return;
        int n = Math.max(slot + 1, Math.max(4, 2 * keys.length));
        keys = Arrays.copyOf(keys, n);
        values = Arrays.copyOf(values, n);
        capacity = Arrays.copyOf(capacity, n);
        lengths = Arrays.copyOf(lengths, n);
        if (tableSlots > 0) {
            device.free(kTable);
            device.free(vTable);
            device.free(lenTable);
        }
        kTable = device.alloc(8L * n, "KV pointer table");
        vTable = device.alloc(8L * n, "KV pointer table");
        lenTable = device.alloc(4L * n, "KV length table");
        tableSlots = n;
        device.upload(MemorySegment.ofArray(keys), kTable);
        device.upload(MemorySegment.ofArray(values), vTable);
        device.upload(lengths, n, lenTable);
    }

    /** Makes room for {@code tokens} positions in a slot (before a step appends to it). */
    void reserve(int slot, int tokens) {
        grow(slot);
        if (capacity[slot] >= tokens) return;
        int cap = Math.max(tokens, Math.max(64, 2 * capacity[slot]));
        long bytes = 4L * cap * width;
        long k = device.alloc(bytes, "KV cache (" + cap + " tokens)"), v = device.alloc(bytes, "KV cache (" + cap + " tokens)");
        if (capacity[slot] > 0) {
            long used = 4L * lengths[slot] * width;
            device.copy(k, keys[slot], used);
            device.copy(v, values[slot], used);
            device.free(keys[slot]);
            device.free(values[slot]);
        }
        keys[slot] = k;
        values[slot] = v;
        capacity[slot] = cap;
        device.upload(MemorySegment.ofArray(new long[]{k}), kTable + 8L * slot);
        device.upload(MemorySegment.ofArray(new long[]{v}), vTable + 8L * slot);
    }

    /** Records a step's appended tokens on the host (the kv_advance kernel does it on the device). */
    void advance(int slot, int tokens) {
        lengths[slot] += tokens;
    }

    private void setLength(int slot, int length) {
        grow(slot);
        lengths[slot] = length;
        device.upload(new int[]{length}, 1, lenTable + 4L * slot);
    }

    @Override public int kvHeads() { return kvHeads; }

    @Override public int headDim() { return headDim; }

    @Override
    public int length(int slot) {
        return slot < lengths.length && slot >= 0 ? lengths[slot] : 0;
    }

    @Override
    public void reset(int slot) {
        setLength(slot, 0);
    }

    @Override
    public void truncate(int slot, int length) {
        if (length < 0 || length > length(slot))
            throw new IllegalArgumentException("cannot truncate slot " + slot + " of " + length(slot) + " tokens to " + length);
        setLength(slot, length);
    }

    @Override
    public float[] export(int slot) {
        int n = length(slot) * width;
        float[] out = new float[2 * n];
        if (n > 0) {
            MemorySegment all = MemorySegment.ofArray(out);
            device.download(keys[slot], all.asSlice(0, 4L * n));
            device.download(values[slot], all.asSlice(4L * n, 4L * n));
        }
        return out;
    }

    @Override
    public void restore(int slot, float[] keysThenValues, int length) {
        int n = length * width;
        if (keysThenValues.length != 2 * n)
            throw new IllegalArgumentException("KV state of " + keysThenValues.length + " floats, expected " + 2 * n + " for " + length + " tokens");
        reserve(slot, length);
        if (n > 0) {
            MemorySegment all = MemorySegment.ofArray(keysThenValues);
            device.upload(all.asSlice(0, 4L * n), keys[slot]);
            device.upload(all.asSlice(4L * n, 4L * n), values[slot]);
        }
        setLength(slot, length);
    }

    void close() {
        for (int s = 0; s < keys.length; s++) {
            if (capacity[s] > 0) {
                device.free(keys[s]);
                device.free(values[s]);
            }
        }
        if (tableSlots > 0) {
            device.free(kTable);
            device.free(vTable);
            device.free(lenTable);
        }
        keys = values = new long[0];
        capacity = lengths = new int[0];
        tableSlots = 0;
    }
}
