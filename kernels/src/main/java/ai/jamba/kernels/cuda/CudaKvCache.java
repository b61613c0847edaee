package ai.jamba.kernels.cuda;

import ai.jamba.kernels.CapacityException;
import ai.jamba.kernels.DType;
import ai.jamba.kernels.KvCache;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Keys and values of one attention layer, paged: fixed-size blocks of {@link #BLOCK_TOKENS} positions (keys then
 * values, float32 or bf16) taken from one pool, and per slot a block table. Long and short sequences share the
 * pool without fragmentation; a sequence that outgrows it gets a {@link CapacityException} before any work of its
 * step is queued. The pool is either sized once (a memory plan) or, unplanned, grows by whole segments.
 *
 * <p>The kernels find a position through device tables (block addresses [slot][max_blocks], len [slot]); a step's
 * own blocks are reserved before it starts, so a captured decode graph stays valid while sequences grow (only
 * table entries change). The host keeps the lengths too (the kernels advance their copy in step).
 */
final class CudaKvCache implements KvCache {
    /** Positions per block (attention.cu BLOCK_TOKENS). */
    static final int BLOCK_TOKENS = 64;
    /** Table row length to start with (64K positions); rows double when a sequence outgrows them. */
    private static final int INITIAL_BLOCKS_PER_SLOT = 1024;
    /** Positions per export/import piece (bounds the device scratch a session copy takes). */
    private static final int COPY_TOKENS = 4096;

    private final Device device;
    private final int kvHeads, headDim, width;
    private final DType dtype;
    private final long blockBytes;
    /** Blocks the pool may hold; 0 for a pool that grows. */
    private final long capacityBlocks;
    private final List<Long> segments = new ArrayList<>();
    /** Addresses of the free blocks, a stack. */
    private long[] free = new long[0];
    private int freeCount;
    private long blocksMade;
    /** Per slot: its blocks (host copy of its table row) and length. */
    private long[][] slotBlocks = new long[0][];
    private int[] blockCount = new int[0], lengths = new int[0];
    /** Device tables: block addresses [tableSlots][maxBlocks], lengths [tableSlots]. */
    private long table, lenTable;
    private int tableSlots, maxBlocks;

    CudaKvCache(Device device, int kvHeads, int headDim, DType dtype, long capacityTokens) {
        if (kvHeads <= 0 || headDim <= 0) throw new IllegalArgumentException("bad KV shape: " + kvHeads + " heads of " + headDim);
        if (dtype != DType.F32 && dtype != DType.BF16) throw new IllegalArgumentException("a KV cache is float32 or bf16, not " + dtype);
        this.device = device;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.width = kvHeads * headDim;
        this.dtype = dtype;
        this.blockBytes = 2L * BLOCK_TOKENS * width * dtype.bytes;
        this.capacityBlocks = capacityTokens > 0 ? (capacityTokens + BLOCK_TOKENS - 1) / BLOCK_TOKENS : 0;
        if (capacityBlocks > 0) addSegment(capacityBlocks);
        tables(4, (int) Math.min(INITIAL_BLOCKS_PER_SLOT, capacityBlocks > 0 ? capacityBlocks : INITIAL_BLOCKS_PER_SLOT));
    }

    long table() { return table; }

    int maxBlocks() { return maxBlocks; }

    long lenTable() { return lenTable; }

    private void addSegment(long blocks) {
        if (blocksMade + blocks > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("a KV cache of " + (blocksMade + blocks) + " blocks is too many");
        long base = device.alloc(blocks * blockBytes, "KV cache (" + blocks * BLOCK_TOKENS + " positions)");
        segments.add(base);
        free = Arrays.copyOf(free, (int) (blocksMade + blocks));  // room for every block to come back
        for (long b = blocks - 1; b >= 0; b--) free[freeCount++] = base + b * blockBytes;  // lowest address on top
        blocksMade += blocks;
    }

    /** Device tables of at least this many slots and blocks per slot, holding what the host knows. */
    private void tables(int slots, int blocksPerSlot) {
        if (slots <= tableSlots && blocksPerSlot <= maxBlocks) return;
        int s = Math.max(slots, tableSlots), b = Math.max(blocksPerSlot, maxBlocks);
        if (table != 0) {
            device.free(table);
            device.free(lenTable);
        }
        table = device.alloc(8L * s * b, "KV block table");
        lenTable = device.alloc(4L * s, "KV length table");
        tableSlots = s;
        maxBlocks = b;
        slotBlocks = Arrays.copyOf(slotBlocks, s);
        blockCount = Arrays.copyOf(blockCount, s);
        lengths = Arrays.copyOf(lengths, s);
        long[] all = new long[s * b];
        for (int i = 0; i < s; i++) {
            if (slotBlocks[i] == null) slotBlocks[i] = new long[0];
            System.arraycopy(slotBlocks[i], 0, all, i * b, blockCount[i]);
        }
        device.upload(MemorySegment.ofArray(all), table);
        device.upload(lengths, s, lenTable);
    }

    private void slot(int slot) {
        if (slot < 0) throw new IllegalArgumentException("negative slot " + slot);
        if (slot >= tableSlots) tables(Math.max(slot + 1, 2 * tableSlots), maxBlocks);
    }

    @Override
    public void reserve(int slot, int tokens) {
        slot(slot);
        int need = (tokens + BLOCK_TOKENS - 1) / BLOCK_TOKENS, have = blockCount[slot];
        if (need <= have) return;
        int more = need - have;
        if (more > freeCount) {
            if (capacityBlocks > 0)
                throw new CapacityException(String.format("the KV cache is full: slot %d needs %d positions, %d more than it holds; "
                        + "%d of %d positions are free", slot, tokens, (long) more * BLOCK_TOKENS,
                        (long) freeCount * BLOCK_TOKENS, capacityBlocks * BLOCK_TOKENS));
            addSegment(Math.max(more - freeCount, Math.max(16, blocksMade)));
        }
        if (need > maxBlocks) tables(tableSlots, Math.max(need, 2 * maxBlocks));
        long[] row = slotBlocks[slot];
        if (row.length < need) row = slotBlocks[slot] = Arrays.copyOf(row, Math.max(need, 2 * row.length));
        for (int i = have; i < need; i++) row[i] = free[--freeCount];
        blockCount[slot] = need;
        device.upload(MemorySegment.ofArray(row).asSlice(8L * have, 8L * more), table + 8L * ((long) slot * maxBlocks + have));
    }

    /** Records a step's appended tokens on the host (the kv_advance kernel does it on the device). */
    void advance(int slot, int tokens) {
        lengths[slot] += tokens;
    }

    /** Sets a slot's length and gives back the blocks past it. */
    private void setLength(int slot, int length) {
        slot(slot);
        int keep = (length + BLOCK_TOKENS - 1) / BLOCK_TOKENS;
        for (int i = blockCount[slot] - 1; i >= keep; i--) free[freeCount++] = slotBlocks[slot][i];
        blockCount[slot] = Math.min(blockCount[slot], keep);
        lengths[slot] = length;
        device.upload(new int[]{length}, 1, lenTable + 4L * slot);
    }

    @Override public int kvHeads() { return kvHeads; }

    @Override public int headDim() { return headDim; }

    @Override public DType dtype() { return dtype; }

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

    private String defines() {
        return "KV_BF16=" + (dtype == DType.BF16 ? 1 : 0);
    }

    @Override
    public float[] export(int slot) {
        int length = length(slot);
        long n = (long) length * width;
        if (2 * n > Integer.MAX_VALUE - 8) throw new IllegalStateException(length + " positions do not fit one float[] export");
        float[] out = new float[(int) (2 * n)];
        MemorySegment all = MemorySegment.ofArray(out);
        long scratch = device.scratch("KV export", 2L * 4 * COPY_TOKENS * width);
        for (int from = 0; from < length; from += COPY_TOKENS) {
            int count = Math.min(COPY_TOKENS, length - from);
            long piece = 4L * count * width;
            device.launch(device.compiler.kernel("attention.cu", "kv_export", "HEAD_DIM=" + headDim, defines()), count, 1, 1, 256, 0,
                    device.args().ptr(table).i32(maxBlocks).i32(slot).i32(from).i32(width).ptr(scratch).ptr(scratch + piece));
            device.download(scratch, all.asSlice(4L * from * width, piece));
            device.download(scratch + piece, all.asSlice(4 * (n + (long) from * width), piece));
        }
        return out;
    }

    @Override
    public void restore(int slot, float[] keysThenValues, int length) {
        long n = (long) length * width;
        if (keysThenValues.length != 2 * n)
            throw new IllegalArgumentException("KV state of " + keysThenValues.length + " floats, expected " + 2 * n + " for " + length + " tokens");
        setLength(slot, 0);
        reserve(slot, length);
        MemorySegment all = MemorySegment.ofArray(keysThenValues);
        long scratch = device.scratch("KV export", 2L * 4 * COPY_TOKENS * width);
        for (int from = 0; from < length; from += COPY_TOKENS) {
            int count = Math.min(COPY_TOKENS, length - from);
            long piece = 4L * count * width;
            device.upload(all.asSlice(4L * from * width, piece), scratch);
            device.upload(all.asSlice(4 * (n + (long) from * width), piece), scratch + piece);
            device.launch(device.compiler.kernel("attention.cu", "kv_import", "HEAD_DIM=" + headDim, defines()), count, 1, 1, 256, 0,
                    device.args().ptr(table).i32(maxBlocks).i32(slot).i32(from).i32(width).ptr(scratch).ptr(scratch + piece));
        }
        setLength(slot, length);
    }

    @Override
    public void close() {
        for (long s : segments) device.free(s);
        segments.clear();
        freeCount = 0;
        if (table != 0) {
            device.free(table);
            device.free(lenTable);
            table = lenTable = 0;
        }
        tableSlots = maxBlocks = 0;
    }
}
