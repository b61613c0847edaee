package ai.jamba.bench;

import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.kernels.Experts;
import ai.jamba.kernels.Weight;
import ai.jamba.kernels.cuda.CudaBackend;

/**
 * A model's weights made on the GPU, no file: random bf16 matrices (std 0.02, as the models initialise), float32
 * norms, A_log, D and biases; experts bf16 or int8 (quantised by the same path a checkpoint's experts take).
 */
record DeviceRandomWeights(JambaConfig config, CudaBackend cuda, boolean int8Experts) implements JambaModel.WeightSource {
    @Override public boolean contains(String name) { return true; }

    @Override
    public Weight weight(String name, long... shape) {
        long rows = 1;
        for (int i = 0; i < shape.length - 1; i++) rows *= shape[i];
        int cols = (int) shape[shape.length - 1];
        if (name.endsWith("layernorm.weight") || name.endsWith("norm.weight")) return cuda.constantWeight(name, (int) rows, cols, 1f);
        if (name.endsWith("A_log")) return cuda.constantWeight(name, (int) rows, cols, 0.5f);
        if (name.endsWith(".D") || name.endsWith("bias")) return cuda.constantWeight(name, (int) rows, cols, 0.1f);
        return cuda.randomWeight(name, (int) rows, cols, 0.02f, name.hashCode());
    }

    @Override
    public Experts experts(String prefix) {
        return cuda.randomExperts(prefix, config.numExperts(), config.intermediateSize(), config.hiddenSize(),
                config.numExpertsPerTok(), 0.02f, prefix.hashCode(), int8Experts);
    }
}
