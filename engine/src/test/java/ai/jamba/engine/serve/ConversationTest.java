package ai.jamba.engine.serve;

import ai.jamba.engine.session.Session;
import ai.jamba.engine.tokenizer.ChatMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * How a conversation maps to tokens, and when stored state is reused. The demo model has no chat format: a chat is its
 * messages' contents, BOS first, each turn's new content appended as it is.
 */
class ConversationTest {
    static Demo demo;
    static final int N = 10;

    @BeforeAll
    static void open() {
        demo = Demo.open();
    }

    @AfterAll
    static void close() {
        demo.close();
    }

    static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    static GenerationRequest chat(String sessionId, ChatMessage... messages) {
        return GenerationRequest.builder().sessionId(sessionId).chat(List.of(messages)).greedy().maxTokens(N).stopAtEos(false).build();
    }

    static int[] tokens(Engine engine, String sessionId) {
        return engine.session(sessionId, null).join().map(Session::tokens).orElseThrow();
    }

    @Test
    void chatOnANewSessionIsWhatGenerateWithThatPromptIs() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            Events e = demo.run(engine, chat("c", user("You will")));
            int[] prompt = demo.encode("You will", true); // ./jamba generate --prompt "You will"
            assertArrayEquals(prompt, Arrays.copyOf(tokens(engine, "c"), prompt.length));
            assertEquals(prompt.length, e.done().usage().promptTokens());
            assertArrayEquals(demo.greedy(prompt, N), e.ids());
        }
    }

    @Test
    void aNewMessageIsAppendedAsItIs() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            demo.run(engine, chat("c", user("You will")));
            int[] before = tokens(engine, "c");
            Events second = demo.run(engine, chat("c", user(" Then")));
            int[] context = Demo.concat(before, demo.encode(" Then", false));
            assertArrayEquals(Demo.concat(context, second.ids()), tokens(engine, "c"));
            assertEquals(before.length - 1, second.done().usage().reusedTokens());
            assertArrayEquals(demo.greedy(context, N), second.ids());
        }
    }

    @Test
    void aClientThatResendsTheWholeConversationGetsTheSameTurn() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            demo.run(engine, chat("new-only", user("You will")));
            Events second = demo.run(engine, chat("new-only", user(" Then")));

            Events first = demo.run(engine, chat("resends", user("You will")));
            Events resent = demo.run(engine, chat("resends", user("You will"), new ChatMessage("assistant", first.text()), user(" Then")));
            assertArrayEquals(second.ids(), resent.ids());
            assertArrayEquals(tokens(engine, "new-only"), tokens(engine, "resends"));
            assertEquals(second.done().usage().reusedTokens(), resent.done().usage().reusedTokens());
        }
    }

    @Test
    void aStatelessClientContinuesTheConversationItResends() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            Events first = demo.run(engine, chat(null, user("You will")));
            String firstSession = first.done().sessionId();
            int[] firstTokens = tokens(engine, firstSession);
            Events second = demo.run(engine, chat(null, user("You will"), new ChatMessage("assistant", first.text()), user(" Then")));
            assertEquals(firstTokens.length - 1, second.done().usage().reusedTokens(), "it picked up the stored conversation");
            assertNotEquals(firstSession, second.done().sessionId(), "under a session of its own");
            assertArrayEquals(firstTokens, tokens(engine, firstSession), "the stored conversation is untouched");
            assertArrayEquals(demo.greedy(Demo.concat(firstTokens, demo.encode(" Then", false)), N), second.ids());
        }
    }

    @Test
    void tokensThatExtendAStoredSequenceReuseItsState() {
        try (Engine engine = demo.engine(EngineConfig.defaults())) {
            int[] prompt = demo.encode("Life is", true);
            Events first = demo.run(engine, GenerationRequest.builder().ids(prompt).greedy().maxTokens(N).stopAtEos(false).build());
            int[] stored = tokens(engine, first.done().sessionId());
            int[] longer = Demo.concat(stored, demo.encode(" So", false));
            Events extended = demo.run(engine, GenerationRequest.builder().ids(longer).greedy().maxTokens(N).stopAtEos(false).build());
            assertEquals(stored.length - 1, extended.done().usage().reusedTokens());
            assertArrayEquals(demo.greedy(longer, N), extended.ids());

            int[] diverging = Demo.concat(Arrays.copyOf(stored, stored.length - 2), demo.encode(" So", false));
            Events fresh = demo.run(engine, GenerationRequest.builder().ids(diverging).greedy().maxTokens(N).stopAtEos(false).build());
            assertEquals(0, fresh.done().usage().reusedTokens(), "a state restores only where it was saved: this one starts over");
            assertArrayEquals(demo.greedy(diverging, N), fresh.ids());
        }
    }
}
