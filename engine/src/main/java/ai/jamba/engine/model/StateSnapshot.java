package ai.jamba.engine.model;

/**
 * One sequence's state copied to the host: per layer, the Mamba state (conv then SSM, float32) or the K/V
 * (keys then values for {@code kvTokens} tokens); null where the layer has the other kind.
 */
public record StateSnapshot(int kvTokens, float[][] mamba, float[][] kv) {
    public long bytes() {
        long b = 0;
        for (float[] m : mamba) if (m != null) b += 4L * m.length;
        for (float[] k : kv) if (k != null) b += 4L * k.length;
        return b;
    }
}
