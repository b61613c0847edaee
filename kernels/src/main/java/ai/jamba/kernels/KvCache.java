package ai.jamba.kernels;

/**
 * Keys and values of one attention layer for every sequence slot, [length, kv_heads, head_dim] each,
 * float32. The only per-sequence state of Jamba that grows with the sequence.
 */
public interface KvCache {
    int kvHeads();

    int headDim();

    /** Tokens cached for a slot. */
    int length(int slot);

    /** Empties a slot. */
    void reset(int slot);

    /** Drops everything after the first {@code length} tokens of a slot (prefix reuse). */
    void truncate(int slot, int length);

    /** The slot's keys then values, [length, kv_heads, head_dim] each, copied to the host. */
    float[] export(int slot);

    /** Replaces a slot's cache with {@code length} tokens {@link #export}ed earlier. */
    void restore(int slot, float[] keysThenValues, int length);

    /** Bytes one cached token takes (keys and values). */
    default long bytesPerToken() {
        return 2L * 4 * kvHeads() * headDim();
    }
}
