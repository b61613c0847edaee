package ai.jamba.kernels;

/**
 * A float32 activation matrix in a backend's memory: {@code rows} tokens by {@code cols} features, rows
 * {@code stride} elements apart. Views share storage, so a projection's output can be split into its parts
 * (x and z of in_proj; dt, B and C of x_proj) without copies.
 */
public interface Mat {
    int rows();

    int cols();

    /** Columns [from, to) of every row. */
    Mat cols(int from, int to);

    /** Rows [from, to). */
    Mat rows(int from, int to);
}
