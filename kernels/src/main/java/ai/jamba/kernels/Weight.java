package ai.jamba.kernels;

/**
 * A weight matrix resident in a backend, kept in its checkpoint dtype: {@code rows} output features by
 * {@code cols} input features, as PyTorch's {@code nn.Linear.weight} is laid out ([out, in]).
 * Vectors (norm weights, biases) are 1 × n.
 */
public interface Weight {
    String name();

    DType dtype();

    int rows();

    int cols();

    /** Bytes this weight occupies in the backend's memory. */
    long bytes();
}
