package ai.jamba.bench;

import ai.jamba.engine.checkpoint.JambaConfig;

import java.util.List;

/**
 * Jamba-1.5-Mini's shape: hidden 4096, d_inner 8192, d_state 16, d_conv 4, dt_rank 256, 32 heads / 8 KV heads of
 * 128, dense MLP 14336 on even layers, 16 experts top-2 of 14336 on odd layers, attention at layer 4 of every 8,
 * vocab 65536. Its block is 8 layers; the whole model is 32 (4 attention, 16 MoE layers).
 */
final class MiniShape {
    private MiniShape() {}

    static final int BLOCK = 8, FULL = 32;

    static JambaConfig layers(int layers) {
        return new JambaConfig(65536, 4096, 14336, layers, 32, 8, 1e-6f, 16, 2, 2, 1, 8, 4, 16, 4, 2, 256,
                true, false, false, 1, List.of(2), 0, 262144);
    }

    /**
     * Weight bytes one decode step of {@code batch} tokens reads: every weight but the embedding table (a step
     * reads one row of it), with, per MoE layer, only the experts the batch touches: E·(1 − (1 − k/E)^batch) of
     * them for uniform routing.
     */
    static double stepWeightBytes(JambaConfig c, long weightBytes, double expertBytes, int batch) {
        double embedding = 2.0 * c.vocabSize() * c.hiddenSize();
        int moeLayers = 0;
        for (int i = 0; i < c.numHiddenLayers(); i++) if (c.isExpertLayer(i)) moeLayers++;
        double e = c.numExperts(), k = c.numExpertsPerTok();
        double touched = e * (1 - Math.pow(1 - k / e, batch));
        return weightBytes - embedding - moeLayers * e * expertBytes + moeLayers * touched * expertBytes;
    }
}
