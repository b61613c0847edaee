package ai.jamba.kernels;

/**
 * How one sequence picks its next token from its logits. temperature 0 means greedy (argmax);
 * otherwise logits / temperature are softmaxed, cut to the topK most likely (0 = all), then to the smallest
 * set whose probability reaches topP (1 = all), and one token is drawn with the caller's uniform number
 * (drawn on the host from the request's seeded generator, so a seed reproduces on every backend).
 */
public record SamplingParams(float temperature, int topK, float topP) {
    public static final SamplingParams GREEDY = new SamplingParams(0f, 0, 1f);

    public SamplingParams {
        if (!(temperature >= 0) || Float.isInfinite(temperature))
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }

    public boolean greedy() {
        return temperature == 0f;
    }
}
