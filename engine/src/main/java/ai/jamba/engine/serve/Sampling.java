package ai.jamba.engine.serve;

import ai.jamba.kernels.SamplingParams;

import java.util.List;
import java.util.Objects;

/**
 * How a request's tokens are chosen and when generation ends.
 *
 * @param maxTokens    most tokens to generate (at least 1; the engine also caps it at its context limit)
 * @param temperature  0 = greedy; otherwise logits / temperature are softmaxed
 * @param topK         keep the k most likely tokens (0 = all)
 * @param topP         then the smallest set reaching this probability (1 = all)
 * @param seed         seeds the request's random draws; the same seed gives the same tokens, alone or batched
 *                     with others (exactly on the CPU backend). Null: a random seed, reported in the usage.
 * @param stop         generation stops before any of these texts; it is not part of the output
 * @param stopTokenIds generation stops at any of these ids (kept in the session, not shown as text)
 * @param stopAtEos    stop at the model's end-of-sequence ids
 */
public record Sampling(int maxTokens, float temperature, int topK, float topP, Long seed, List<String> stop,
                       int[] stopTokenIds, boolean stopAtEos) {
    public static final int MAX_STOP_STRINGS = 16;
    public static final int MAX_STOP_LENGTH = 256;
    public static final int MAX_STOP_TOKEN_IDS = 64;

    public Sampling {
        if (maxTokens < 1) throw EngineException.invalid("max_tokens must be at least 1, got " + maxTokens);
        if (!(temperature >= 0) || Float.isInfinite(temperature))
            throw EngineException.invalid("temperature must be a finite number >= 0, got " + temperature);
        if (topK < 0) throw EngineException.invalid("top_k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw EngineException.invalid("top_p must be in (0, 1], got " + topP);
        stop = List.copyOf(Objects.requireNonNull(stop, "stop"));
        if (stop.size() > MAX_STOP_STRINGS) throw EngineException.invalid("at most " + MAX_STOP_STRINGS + " stop strings, got " + stop.size());
        for (String s : stop) {
            if (s.isEmpty() || s.length() > MAX_STOP_LENGTH)
                throw EngineException.invalid("a stop string must have 1 to " + MAX_STOP_LENGTH + " characters, got " + s.length());
            if (!wellFormed(s)) throw EngineException.invalid("a stop string has an unpaired surrogate (not valid Unicode)");
        }
        stopTokenIds = Objects.requireNonNull(stopTokenIds, "stopTokenIds").clone();
        if (stopTokenIds.length > MAX_STOP_TOKEN_IDS)
            throw EngineException.invalid("at most " + MAX_STOP_TOKEN_IDS + " stop token ids, got " + stopTokenIds.length);
        for (int id : stopTokenIds) if (id < 0) throw EngineException.invalid("stop token ids must be >= 0, got " + id);
    }

    /** 256 tokens at temperature 1, no cut-offs, a random seed, stop at EOS: OpenAI's defaults, with a bound. */
    public static Sampling defaults() {
        return new Sampling(256, 1f, 0, 1f, null, List.of(), new int[0], true);
    }

    /** Greedy (argmax) decoding of up to {@code maxTokens}, stopping at EOS. */
    public static Sampling greedy(int maxTokens) {
        return new Sampling(maxTokens, 0f, 0, 1f, null, List.of(), new int[0], true);
    }

    /** What the backend's sampler needs. */
    public SamplingParams params() {
        return new SamplingParams(temperature, topK, topP);
    }

    private static boolean wellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
            else if (Character.isSurrogate(c)) return false;
        }
        return true;
    }
}
