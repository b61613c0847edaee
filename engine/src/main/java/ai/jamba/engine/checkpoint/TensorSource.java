package ai.jamba.engine.checkpoint;

import ai.jamba.kernels.HostTensor;

/**
 * Where a model's config and weights come from: a checkpoint folder ({@link Checkpoint}), or weights made in
 * memory (benchmarks of a shape no file exists for). The model asks for each tensor by its transformers name
 * with the shape the config implies.
 */
public interface TensorSource extends AutoCloseable {
    JambaConfig config();

    boolean contains(String name);

    /** The named tensor, which must have exactly {@code shape}. */
    HostTensor tensor(String name, long... shape);

    /** Says where the tensors come from, for messages: the folder, or what made them. */
    String origin();

    /** Releases the tensors' memory (a mapping, an arena); tensors handed out are invalid afterwards. */
    @Override
    void close();
}
