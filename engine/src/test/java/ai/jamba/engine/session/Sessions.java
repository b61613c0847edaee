package ai.jamba.engine.session;

import ai.jamba.engine.model.StateSnapshot;
import ai.jamba.engine.tokenizer.ChatMessage;

import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

/** Sessions made up for the store's tests: a model of three layers, Mamba, attention, Mamba. */
final class Sessions {
    private Sessions() {}

    static final String MODEL = "test-model";

    /** A session of {@code tokens} (1, 2, ...), its state covering all but the last, floats from {@code seed}. */
    static Session of(String id, String owner, int tokens, long seed) {
        return of(id, owner, IntStream.rangeClosed(1, tokens).toArray(), List.of(), seed);
    }

    static Session of(String id, String owner, int[] tokens, List<ChatMessage> conversation, long seed) {
        Random r = new Random(seed);
        int kvTokens = tokens.length - 1;
        float[][] mamba = {floats(r, 300), null, floats(r, 300)};
        float[][] kv = {null, floats(r, 2 * kvTokens * 8), null};
        long now = System.currentTimeMillis();
        return new Session(id, owner, tokens, conversation, new StateSnapshot(kvTokens, mamba, kv), kvTokens, now, now);
    }

    private static float[] floats(Random r, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) r.nextGaussian();
        return f;
    }
}
