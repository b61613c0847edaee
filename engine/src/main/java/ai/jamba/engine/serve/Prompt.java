package ai.jamba.engine.serve;

import ai.jamba.engine.tokenizer.ChatMessage;

import java.util.List;
import java.util.Objects;

/**
 * What a request adds to its conversation: text, chat messages, or token ids. On a new session, text gets BOS in
 * front and chat messages are rendered by the model's chat template (BOS included); on a continuing session they are
 * appended after the stored tokens, without BOS. Token ids are used as given, in both cases.
 */
public sealed interface Prompt {

    record Text(String text) implements Prompt {
        public Text {
            if (text == null || text.isEmpty()) throw EngineException.invalid("the prompt text is empty");
        }
    }

    /**
     * Chat messages: the turn's new messages, or the whole conversation again (as stateless clients send it), in
     * which case the messages the session already has are recognised and skipped.
     */
    record Chat(List<ChatMessage> messages) implements Prompt {
        public Chat {
            if (messages == null || messages.isEmpty()) throw EngineException.invalid("the chat has no messages");
            for (ChatMessage m : messages)
                if (Objects.requireNonNull(m, "message").role().isBlank()) throw EngineException.invalid("a chat message has no role");
            messages = List.copyOf(messages);
        }
    }

    record Ids(int[] ids) implements Prompt {
        public Ids {
            if (ids == null || ids.length == 0) throw EngineException.invalid("the prompt has no token ids");
            for (int id : ids) if (id < 0) throw EngineException.invalid("token ids must be >= 0, got " + id);
            ids = ids.clone();
        }
    }

    static Prompt text(String text) {
        return new Text(text);
    }

    static Prompt chat(List<ChatMessage> messages) {
        return new Chat(messages);
    }

    static Prompt ids(int... ids) {
        return new Ids(ids);
    }
}
