package ai.jamba.kernels;

/**
 * The recurrent state of one Mamba layer for every sequence slot: the conv state (the last d_conv - 1
 * inputs of each of d_inner channels) and the SSM state [d_inner, d_state], both float32. Its size does not
 * depend on how many tokens a sequence has seen.
 */
public interface MambaState extends AutoCloseable {
    int dInner();

    int dConv();

    int dState();

    /** Zeroes a slot: a new sequence starts from nothing. */
    void reset(int slot);

    /** Floats in one slot's export: d_inner * (d_conv - 1) conv values, then d_inner * d_state SSM values. */
    default int exportSize() {
        return dInner() * (dConv() - 1) + dInner() * dState();
    }

    /** Copies a slot's state to the host (conv state [d_inner, d_conv-1], then SSM state [d_inner, d_state]). */
    float[] export(int slot);

    /** Replaces a slot's state with one {@link #export}ed earlier. */
    void restore(int slot, float[] state);

    /** Bytes of one slot's state. */
    default long bytesPerSlot() {
        return 4L * exportSize();
    }

    /** Gives the state's memory back. */
    @Override
    void close();
}
