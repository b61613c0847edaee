package ai.jamba.engine.tokenizer;

import ai.jamba.engine.tokenizer.ChatTemplate.Format;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A conversation becomes the checkpoint's own template, else Jamba 1.5's chat format, else plain text. */
class ChatTemplateTest {
    private static final List<String> JAMBA_1_5_TOKENS =
            List.of("<|bom|>", "<|eom|>", "<|system|>", "<|user|>", "<|assistant|>");

    /**
     * A Llama-2-style template using what checkpoint templates use: {@code {%- -%}}, trim_blocks and lstrip_blocks,
     * slicing, {@code loop}, filters, {@code raise_exception}.
     */
    private static final String LLAMA_STYLE_TEMPLATE = """
            {%- if messages[0]['role'] == 'system' %}
                {%- set system = messages[0]['content'] %}
                {%- set loop_messages = messages[1:] %}
            {%- else %}
                {%- set system = '' %}
                {%- set loop_messages = messages %}
            {%- endif %}
            {{ bos_token }}
            {%- for message in loop_messages %}
                {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
                    {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
                {%- endif %}
                {%- if loop.first and system %}
            <<SYS>>
            {{ system | trim }}
            <</SYS>>
                {% endif %}
                {%- if message['role'] == 'user' %}
            [INST] {{ message['content'] | trim }} [/INST]
                {%- else %}
             {{ message['content'] | trim }}{{ eos_token }}
                {%- endif %}
            {% endfor %}
            {%- if add_generation_prompt %}
            {{ '<assistant>' }}
            {% endif %}
            """;

    @Test
    void plainTextIsBosThenTheContents() {
        try (JambaTokenizer tokenizer = JambaTokenizer.load(TokenizerFixtures.DEMO_MODEL_DIR)) {
            ChatTemplate chat = ChatTemplate.of(tokenizer);
            assertEquals(Format.PLAIN_TEXT, chat.format());
            assertArrayEquals(tokenizer.encode("You will", true), chat.render(List.of(new ChatMessage("user", "You will"))));
            List<ChatMessage> two = List.of(new ChatMessage("system", "Fortune: "), new ChatMessage("user", "You will"));
            assertEquals("Fortune: You will", chat.renderText(two));
            assertArrayEquals(tokenizer.encode("Fortune: You will", true), chat.render(two));
        }
    }

    @Test
    void jamba15FormatWhenTheVocabularyHasItsTokens(@TempDir Path dir) throws IOException {
        TokenizerFixtures.tokenizerFolder(dir, JAMBA_1_5_TOKENS, Map.of("bos_token", "<|startoftext|>"));
        try (JambaTokenizer tokenizer = JambaTokenizer.load(dir)) {
            ChatTemplate chat = ChatTemplate.of(tokenizer);
            assertEquals(Format.JAMBA_1_5, chat.format());

            List<ChatMessage> conversation = List.of(new ChatMessage("system", "Be brief."),
                    new ChatMessage("user", "Hi"), new ChatMessage("assistant", "Hello!"), new ChatMessage("user", "Bye"));
            assertEquals("<|startoftext|><|bom|><|system|> Be brief.<|eom|><|bom|><|user|> Hi<|eom|>"
                    + "<|bom|><|assistant|> Hello!<|eom|><|bom|><|user|> Bye<|eom|><|bom|><|assistant|>",
                    chat.renderText(conversation));
            // Without a system message the system turn is still there, empty (as Jamba 1.5's own template does).
            assertEquals("<|startoftext|><|bom|><|system|> <|eom|><|bom|><|user|> Hi<|eom|><|bom|><|assistant|>",
                    chat.renderText(List.of(new ChatMessage("user", "Hi"))));

            int bom = 4096, eom = 4097, system = 4098, user = 4099, assistant = 4100;
            assertArrayEquals(concat(new int[] {tokenizer.bosId(), bom, system}, tokenizer.encode("Be brief.", false),
                            new int[] {eom, bom, user}, tokenizer.encode("Hi", false),
                            new int[] {eom, bom, assistant}),
                    chat.render(List.of(new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi"))));

            assertThrows(IllegalArgumentException.class, () -> chat.render(List.of(new ChatMessage("narrator", "Hi"))));
        }
    }

    /** The expected texts are what Python's jinja2 renders with transformers' settings. */
    @Test
    void checkpointTemplateIsRenderedLikeTransformers(@TempDir Path dir) throws IOException {
        TokenizerFixtures.tokenizerFolder(dir, JAMBA_1_5_TOKENS, Map.of("chat_template", LLAMA_STYLE_TEMPLATE));
        try (JambaTokenizer tokenizer = JambaTokenizer.load(dir)) {
            ChatTemplate chat = ChatTemplate.of(tokenizer);
            assertEquals(Format.CHECKPOINT_TEMPLATE, chat.format(), "the checkpoint's template comes first");

            List<ChatMessage> conversation = List.of(new ChatMessage("system", "  Be brief. "),
                    new ChatMessage("user", "Hi"), new ChatMessage("assistant", "Hello!"), new ChatMessage("user", "Bye"));
            String expected = "<|startoftext|><<SYS>>\nBe brief.\n<</SYS>>\n[INST] Hi [/INST] Hello!<|endoftext|>"
                    + "[INST] Bye [/INST]<assistant>\n";
            assertEquals(expected, chat.renderText(conversation));
            assertEquals("<|startoftext|>[INST] Hi [/INST]<assistant>\n",
                    chat.renderText(List.of(new ChatMessage("user", "Hi"))));

            // The template wrote BOS; encoding adds none (one BOS, not two).
            int[] ids = chat.render(conversation);
            assertArrayEquals(tokenizer.encode(expected, false), ids);
            assertEquals(tokenizer.bosId(), ids[0]);
            assertTrue(ids[1] != tokenizer.bosId());
        }
    }

    /**
     * Without the generation prompt, a conversation reads as it ends; the next turn's prompt continues that text. The
     * serving engine appends a session's new turns this way, without tokenizing the past again.
     */
    @Test
    void aFinishedConversationIsWhereTheNextTurnsPromptContinues(@TempDir Path dir) throws IOException {
        List<ChatMessage> past = List.of(new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi"),
                new ChatMessage("assistant", "Hello!"));
        List<ChatMessage> next = List.of(past.get(0), past.get(1), past.get(2), new ChatMessage("user", "Bye"));

        Files.createDirectories(dir.resolve("jamba"));
        TokenizerFixtures.tokenizerFolder(dir.resolve("jamba"), JAMBA_1_5_TOKENS, Map.of("bos_token", "<|startoftext|>"));
        try (JambaTokenizer tokenizer = JambaTokenizer.load(dir.resolve("jamba"))) {
            ChatTemplate chat = ChatTemplate.of(tokenizer);
            String finished = chat.renderText(past, false);
            assertEquals("<|startoftext|><|bom|><|system|> Be brief.<|eom|><|bom|><|user|> Hi<|eom|><|bom|><|assistant|> Hello!<|eom|>", finished);
            assertEquals(finished + "<|bom|><|user|> Bye<|eom|><|bom|><|assistant|>", chat.renderText(next, true));
        }
        Files.createDirectories(dir.resolve("llama"));
        TokenizerFixtures.tokenizerFolder(dir.resolve("llama"), List.of(), Map.of("chat_template", LLAMA_STYLE_TEMPLATE));
        try (JambaTokenizer tokenizer = JambaTokenizer.load(dir.resolve("llama"))) {
            ChatTemplate chat = ChatTemplate.of(tokenizer);
            String finished = chat.renderText(past, false);
            assertTrue(finished.endsWith("Hello!<|endoftext|>"), finished);
            assertTrue(chat.renderText(next, true).startsWith(finished));
        }
    }

    @Test
    void templateRejectingAConversationIsAnError(@TempDir Path dir) throws IOException {
        TokenizerFixtures.tokenizerFolder(dir, List.of(), Map.of("chat_template", LLAMA_STYLE_TEMPLATE));
        try (JambaTokenizer tokenizer = JambaTokenizer.load(dir)) {
            List<ChatMessage> twoUsers = List.of(new ChatMessage("user", "Hi"), new ChatMessage("user", "Hi"));
            TokenizerException e = assertThrows(TokenizerException.class, () -> ChatTemplate.of(tokenizer).render(twoUsers));
            assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
        }
    }

    /** Newer transformers save the template beside the config, as chat_template.jinja; it wins over the config's. */
    @Test
    void chatTemplateFileComesBeforeTheConfigs(@TempDir Path dir) throws IOException {
        TokenizerFixtures.tokenizerFolder(dir, List.of(), Map.of("chat_template", "from the config"));
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ bos_token }}{{ messages[0].content }} from the file");
        try (JambaTokenizer tokenizer = JambaTokenizer.load(dir)) {
            assertEquals("<|startoftext|>Hi from the file",
                    ChatTemplate.of(tokenizer).renderText(List.of(new ChatMessage("user", "Hi"))));
        }
    }

    /** A config may list named templates; the chat one is "default". */
    @Test
    void namedTemplatesUseTheDefaultOne(@TempDir Path dir) throws IOException {
        TokenizerFixtures.tokenizerFolder(dir, List.of(), Map.of("chat_template", List.of(
                Map.of("name", "tool_use", "template", "tools"),
                Map.of("name", "default", "template", "chat: {{ messages[0].content }}"))));
        try (JambaTokenizer tokenizer = JambaTokenizer.load(dir)) {
            assertEquals("chat: Hi", ChatTemplate.of(tokenizer).renderText(List.of(new ChatMessage("user", "Hi"))));
        }
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
    }
}
