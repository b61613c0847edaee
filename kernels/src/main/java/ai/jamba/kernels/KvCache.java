package ai.jamba.kernels;

/**
 * Keys and values of one attention layer for every sequence slot, [length, kv_heads, head_dim] each, float32 or
 * (half the memory) bf16. The only per-sequence state of Jamba that grows with the sequence.
 */
public interface KvCache extends AutoCloseable {
    int kvHeads();

    int headDim();

    /** Element type of the cached keys and values (F32 or BF16). */
    DType dtype();

    /** Tokens cached for a slot. */
    int length(int slot);

    /**
     * Makes room for {@code tokens} positions in a slot before a step appends to it. Throws
     * {@link CapacityException} when the cache cannot hold them, leaving the slot as it was.
     */
    void reserve(int slot, int tokens);

    /** Empties a slot. */
    void reset(int slot);

    /** Drops everything after the first {@code length} tokens of a slot (prefix reuse). */
    void truncate(int slot, int length);

    /** The slot's keys then values, [length, kv_heads, head_dim] each, as float32 on the host. */
    float[] export(int slot);

    /** Replaces a slot's cache with {@code length} tokens {@link #export}ed earlier. */
    void restore(int slot, float[] keysThenValues, int length);

    /** Bytes one cached token takes (keys and values). */
    default long bytesPerToken() {
        return 2L * dtype().bytes * kvHeads() * headDim();
    }

    /** Gives the cache's memory back. */
    @Override
    void close();
}
