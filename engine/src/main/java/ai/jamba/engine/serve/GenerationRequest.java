package ai.jamba.engine.serve;

import ai.jamba.engine.session.SessionIds;
import ai.jamba.engine.tokenizer.ChatMessage;

import java.util.List;
import java.util.UUID;

/**
 * One turn to generate.
 *
 * @param requestId names the request in its events and the logs (random when null)
 * @param sessionId the conversation it continues or starts ({@code [A-Za-z0-9._-]{1,128}}); null: a new conversation
 *                  under a random 128-bit id, which the final event reports
 * @param owner     who is asking (an API-key identity), or null; a session created by one owner cannot be continued
 *                  or read by another
 * @param prompt    what the turn adds to the conversation
 * @param sampling  how tokens are chosen, and when to stop
 */
public record GenerationRequest(String requestId, String sessionId, String owner, Prompt prompt, Sampling sampling) {
    public static final int MAX_ID_LENGTH = 256;

    public GenerationRequest {
        if (requestId == null) requestId = UUID.randomUUID().toString();
        if (requestId.isEmpty() || requestId.length() > MAX_ID_LENGTH)
            throw EngineException.invalid("request_id must have 1 to " + MAX_ID_LENGTH + " characters");
        if (sessionId != null && !SessionIds.valid(sessionId))
            throw EngineException.invalid("session_id must match [A-Za-z0-9._-]{1,128}, got \"" + abbreviate(sessionId) + "\"");
        if (owner != null && (owner.isEmpty() || owner.length() > MAX_ID_LENGTH))
            throw EngineException.invalid("owner must have 1 to " + MAX_ID_LENGTH + " characters");
        if (prompt == null) throw EngineException.invalid("a request needs a prompt: text, chat messages or token ids");
        if (sampling == null) throw EngineException.invalid("a request needs sampling parameters");
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds a request field by field; sampling starts from {@link Sampling#defaults()} and is checked by build(). */
    public static final class Builder {
        private String requestId, sessionId, owner;
        private Prompt prompt;
        private int maxTokens;
        private float temperature, topP;
        private int topK;
        private Long seed;
        private List<String> stop;
        private int[] stopTokenIds;
        private boolean stopAtEos;

        private Builder() {
            sampling(Sampling.defaults());
        }

        public Builder requestId(String id) { requestId = id; return this; }

        public Builder sessionId(String id) { sessionId = id; return this; }

        public Builder owner(String who) { owner = who; return this; }

        public Builder prompt(Prompt p) { prompt = p; return this; }

        public Builder text(String text) { return prompt(Prompt.text(text)); }

        public Builder chat(List<ChatMessage> messages) { return prompt(Prompt.chat(messages)); }

        public Builder ids(int... ids) { return prompt(Prompt.ids(ids)); }

        public Builder maxTokens(int n) { maxTokens = n; return this; }

        public Builder temperature(float t) { temperature = t; return this; }

        public Builder greedy() { return temperature(0f); }

        public Builder topK(int k) { topK = k; return this; }

        public Builder topP(float p) { topP = p; return this; }

        public Builder seed(Long s) { seed = s; return this; }

        public Builder stop(List<String> strings) { stop = strings; return this; }

        public Builder stopTokenIds(int... ids) { stopTokenIds = ids; return this; }

        public Builder stopAtEos(boolean stop) { stopAtEos = stop; return this; }

        public Builder sampling(Sampling s) {
            maxTokens = s.maxTokens();
            temperature = s.temperature();
            topK = s.topK();
            topP = s.topP();
            seed = s.seed();
            stop = s.stop();
            stopTokenIds = s.stopTokenIds();
            stopAtEos = s.stopAtEos();
            return this;
        }

        public GenerationRequest build() {
            return new GenerationRequest(requestId, sessionId, owner, prompt,
                    new Sampling(maxTokens, temperature, topK, topP, seed, stop, stopTokenIds, stopAtEos));
        }
    }
}
