package ai.jamba.engine.session;

import ai.jamba.engine.model.StateSnapshot;
import ai.jamba.engine.tokenizer.ChatMessage;

import java.util.List;
import java.util.Objects;

/**
 * A conversation as the engine keeps it between turns.
 *
 * <ul>
 *   <li>{@code tokens}: every token of the conversation so far, prompts and generated ids (EOS included when it was
 *       generated), BOS only at the very start. They are the ground truth: the state can always be rebuilt from them.</li>
 *   <li>{@code state}: the model's state after the first {@code stateTokens} tokens, or null when it was lost (a
 *       corrupt or incompatible file), in which case the next turn prefills every token again. The last generated
 *       token has been sampled but not yet run through the model, so {@code stateTokens} is normally
 *       {@code tokens.length - 1}: the next turn feeds it first, along with its new tokens.</li>
 *   <li>{@code conversation}: the chat messages so far, the assistant's replies included as the text that was
 *       streamed; empty for a session driven by text or token ids. The next chat turn renders against it.</li>
 *   <li>{@code owner}: who may continue or read it (an API-key identity; null for none).</li>
 * </ul>
 * Immutable by convention: nothing writes into the arrays once a session is built, so one session may be read by
 * several turns (prefix reuse) while the store holds it.
 */
public record Session(String id, String owner, int[] tokens, List<ChatMessage> conversation, StateSnapshot state,
                      int stateTokens, long createdMillis, long updatedMillis) {

    public Session {
        if (!SessionIds.valid(id)) throw new IllegalArgumentException("invalid session id: " + id);
        Objects.requireNonNull(tokens, "tokens");
        conversation = List.copyOf(conversation);
        if (state == null && stateTokens != 0) throw new IllegalArgumentException("a session without state covers 0 tokens");
        if (stateTokens < 0 || stateTokens > tokens.length)
            throw new IllegalArgumentException("state covers " + stateTokens + " tokens of " + tokens.length);
    }

    /** The same conversation with its state dropped: the next turn prefills it from the tokens. */
    public Session withoutState() {
        return new Session(id, owner, tokens, conversation, null, 0, createdMillis, updatedMillis);
    }

    public boolean ownedBy(String who) {
        return Objects.equals(owner, who);
    }

    /** Bytes it takes in memory, roughly: the state, the token ids and the conversation's text. */
    public long bytes() {
        long b = 256 + 4L * tokens.length;
        if (state != null) b += state.bytes();
        for (ChatMessage m : conversation) b += 2L * (m.role().length() + m.content().length()) + 32;
        return b;
    }
}
