package ai.jamba.engine.serve;

import ai.jamba.engine.model.StateSnapshot;
import ai.jamba.engine.session.Session;
import ai.jamba.engine.session.SessionFileException;
import ai.jamba.engine.session.SessionStore;
import ai.jamba.engine.tokenizer.ChatMessage;
import ai.jamba.engine.tokenizer.ChatTemplate;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import ai.jamba.engine.tokenizer.TokenizerException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Makes a request concrete: the conversation's tokens for this turn, and where to start computing them.
 *
 * <p><b>Tokens.</b> A session's tokens only grow: a turn appends to what the model saw and generated, and never
 * tokenizes the past again (a re-tokenized reply can differ from the ids the model produced, and Jamba's Mamba state
 * cannot be rewound to where they differ).
 * <ul>
 *   <li>Text: BOS + text on a new session, the text alone (no BOS) on a continuing one. Token ids: as given.</li>
 *   <li>Chat: on a new session, the chat template's rendering of the messages (the template writes BOS). On a
 *       continuing one, the messages are this turn's new messages (or the whole conversation again, whose known part
 *       is skipped), and what they add is what the template adds: the text of rendering the conversation with them
 *       and a generation prompt, minus the text of rendering it without them (the stored conversation, replies
 *       included), tokenized without BOS. For a model without a chat format (the demo model) that is the new
 *       contents, appended as they are. A template that does not render a conversation as an extension of its
 *       earlier turns gets the whole conversation rendered again instead, which starts over.</li>
 * </ul>
 * <p><b>Where to start.</b> A state can only be restored where it was saved, at the end of a stored session. The turn
 * starts from its session's state; or, for a request without a stored session, from the {@code owner}'s stored
 * session with the longest conversation (chat) or token sequence that the request extends, a copy of which it
 * continues under its own session id; or from scratch. Restoring covers the session's tokens but its last, which the
 * model has not seen yet (it was the last one sampled); {@code reused} counts them. A request that only shares part
 * of a stored sequence starts from scratch ({@code reused} = 0).
 *
 * <p>Runs on the engine's preparing thread: it may read sessions from disk and tokenizes.
 */
final class TurnPlanner {

    /**
     * A request made concrete.
     *
     * @param tokens        the whole conversation up to the completion
     * @param restore       the state to start from (covering {@code reused} tokens), or null to start from scratch
     * @param reused        leading tokens the restored state covers
     * @param conversation  the chat messages so far, this turn's included
     * @param chat          whether the completion becomes an assistant message of the conversation
     * @param createdMillis when the session began
     */
    record Turn(int[] tokens, StateSnapshot restore, int reused, List<ChatMessage> conversation, boolean chat,
                long createdMillis) {}

    private final SessionStore store;
    private final JambaTokenizer tokenizer;
    private final ChatTemplate template;
    private final int contextLimit;

    TurnPlanner(SessionStore store, JambaTokenizer tokenizer, int contextLimit) {
        this.store = store;
        this.tokenizer = tokenizer;
        this.template = tokenizer == null ? null : ChatTemplate.of(tokenizer);
        this.contextLimit = contextLimit;
    }

    Turn plan(GenerationRequest r, String sessionId) {
        Session named = r.sessionId() == null ? null : load(sessionId, r.owner());
        long created = named == null ? System.currentTimeMillis() : named.createdMillis();
        Turn turn;
        try {
            turn = switch (r.prompt()) {
                case Prompt.Text t -> raw(r.owner(), named, tokenizer.encode(t.text(), named == null), created);
                case Prompt.Ids ids -> raw(r.owner(), named, ids.ids(), created);
                case Prompt.Chat c -> chat(r.owner(), named, c.messages(), created);
            };
        } catch (TokenizerException | IllegalArgumentException e) { // the chat template rejects the conversation
            throw EngineException.invalid("the chat template cannot render this conversation: " + e.getMessage());
        }
        if (turn.tokens.length >= contextLimit)
            throw EngineException.invalid("the conversation has " + turn.tokens.length + " tokens with this prompt; the context limit is "
                    + contextLimit + " (prompt and completion together)");
        return turn;
    }

    private Session load(String id, String owner) {
        Optional<Session> s;
        try {
            s = store.get(id);
        } catch (SessionFileException e) {
            throw new EngineException(EngineException.Code.SESSION_CORRUPT, "session " + id
                    + " could not be read and was set aside (the server log says why); start a new conversation");
        }
        if (s.isPresent() && !s.get().ownedBy(owner))
            throw new EngineException(EngineException.Code.FORBIDDEN, "session " + id + " belongs to someone else");
        return s.orElse(null);
    }

    /** Text or token ids: appended to the session, or looked up as the continuation of a stored sequence. */
    private Turn raw(String owner, Session named, int[] added, long created) {
        if (named != null) return turn(named, concat(named.tokens(), added), named.conversation(), false, created);
        Session base = store.longestTokenPrefix(owner, added).orElse(null);
        return turn(base, added, base == null ? List.of() : base.conversation(), false, created);
    }

    private Turn chat(String owner, Session named, List<ChatMessage> messages, long created) {
        Session base = named != null ? named : store.longestConversationPrefix(owner, messages).orElse(null);
        if (base == null) {
            int[] tokens = template.render(messages);
            return turn(store.longestTokenPrefix(owner, tokens).orElse(null), tokens, messages, true, created);
        }
        List<ChatMessage> history = base.conversation();
        boolean resent = messages.size() > history.size() && messages.subList(0, history.size()).equals(history);
        List<ChatMessage> all = new ArrayList<>(history);
        all.addAll(resent ? messages.subList(history.size(), messages.size()) : messages);
        String past = template.renderText(history, false), full = template.renderText(all, true);
        int[] tokens = full.startsWith(past)
                ? concat(base.tokens(), tokenizer.encode(full.substring(past.length()), false))
                : template.render(all);
        return turn(base, tokens, all, true, created);
    }

    /** Starts from {@code base}'s state when {@code tokens} extends its tokens, else from scratch. */
    private static Turn turn(Session base, int[] tokens, List<ChatMessage> conversation, boolean chat, long created) {
        boolean extendsBase = base != null && base.state() != null && base.stateTokens() < tokens.length
                && base.tokens().length <= tokens.length
                && Arrays.equals(base.tokens(), 0, base.tokens().length, tokens, 0, base.tokens().length);
        return extendsBase
                ? new Turn(tokens, base.state(), base.stateTokens(), conversation, chat, created)
                : new Turn(tokens, null, 0, conversation, chat, created);
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
