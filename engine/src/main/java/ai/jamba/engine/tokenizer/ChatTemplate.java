package ai.jamba.engine.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Turns a conversation into the prompt a checkpoint expects, in the first of three formats that the checkpoint has:
 * <ol>
 *   <li>{@link Format#CHECKPOINT_TEMPLATE}: its own Jinja {@code chat_template}, rendered like transformers'
 *       {@code apply_chat_template} (variables {@code messages}, {@code bos_token}, {@code eos_token},
 *       {@code add_generation_prompt} = true; {@code trim_blocks} and {@code lstrip_blocks} on);</li>
 *   <li>{@link Format#JAMBA_1_5}, when the vocabulary has Jamba 1.5's chat tokens: what Jamba 1.5's template renders,
 *       {@code <|startoftext|><|bom|><|system|> {system}<|eom|><|bom|><|user|> {content}<|eom|><|bom|><|assistant|>}
 *       (the system turn is always there, empty when the conversation has none);</li>
 *   <li>{@link Format#PLAIN_TEXT}: BOS, then the messages' contents run together with nothing added, for a base
 *       model such as the demo one.</li>
 * </ol>
 *
 * <p>Token ids: as in transformers, the rendered text of formats 1 and 2 is encoded with no special tokens added
 * (the template writes BOS itself). Plain text is encoded with BOS added as an id, not as text: after a
 * {@code "<|startoftext|>"} text the Metaspace pre-tokenizer would not mark the first word as word-initial.
 *
 * <p>Thread safety: one instance may render on several threads at once.
 */
public final class ChatTemplate {
    /** Where the prompt format comes from; worth a line in the logs. */
    public enum Format { CHECKPOINT_TEMPLATE, JAMBA_1_5, PLAIN_TEXT }

    private static final String BOM = "<|bom|>";
    private static final String EOM = "<|eom|>";
    private static final List<String> JAMBA_1_5_TOKENS =
            List.of(BOM, EOM, "<|system|>", "<|user|>", "<|assistant|>");

    private final JambaTokenizer tokenizer;
    private final Format format;
    private final String jinjaSource;
    private final Jinjava jinjava;

    private ChatTemplate(JambaTokenizer tokenizer, Format format, String jinjaSource, Jinjava jinjava) {
        this.tokenizer = tokenizer;
        this.format = format;
        this.jinjaSource = jinjaSource;
        this.jinjava = jinjava;
    }

    /** The chat format of {@code tokenizer}'s checkpoint. */
    public static ChatTemplate of(JambaTokenizer tokenizer) {
        if (tokenizer.chatTemplate().isPresent())
            return new ChatTemplate(tokenizer, Format.CHECKPOINT_TEMPLATE, tokenizer.chatTemplate().get(), newJinjava());
        if (JAMBA_1_5_TOKENS.stream().allMatch(t -> tokenizer.tokenId(t).isPresent()))
            return new ChatTemplate(tokenizer, Format.JAMBA_1_5, null, null);
        return new ChatTemplate(tokenizer, Format.PLAIN_TEXT, null, null);
    }

    public Format format() {
        return format;
    }

    /**
     * The prompt's token ids, ending where the assistant's answer starts.
     *
     * @throws TokenizerException when the checkpoint's template fails (it may reject a conversation itself)
     * @throws IllegalArgumentException in the Jamba 1.5 format, for a role that has no {@code <|role|>} token
     */
    public int[] render(List<ChatMessage> messages) {
        return switch (format) {
            case CHECKPOINT_TEMPLATE, JAMBA_1_5 -> tokenizer.encode(renderText(messages), false);
            case PLAIN_TEXT -> tokenizer.encode(renderText(messages), true);
        };
    }

    /** The prompt as text; for {@link Format#PLAIN_TEXT} without its BOS, which {@link #render} adds as an id. */
    public String renderText(List<ChatMessage> messages) {
        return renderText(messages, true);
    }

    /**
     * The conversation as text: with {@code addGenerationPrompt}, the prompt ({@link #renderText(List)}); without,
     * how the conversation reads once its last message is over. The serving engine compares the two to find what a
     * new turn adds to a stored conversation.
     */
    public String renderText(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return switch (format) {
            case CHECKPOINT_TEMPLATE -> renderJinja(messages, addGenerationPrompt);
            case JAMBA_1_5 -> renderJamba15(messages, addGenerationPrompt);
            case PLAIN_TEXT -> messages.stream().map(ChatMessage::content).collect(Collectors.joining());
        };
    }

    private String renderJamba15(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder prompt = new StringBuilder(tokenizer.bosToken());
        boolean leadingSystem = !messages.isEmpty() && messages.getFirst().role().equals("system");
        prompt.append(BOM).append("<|system|> ").append(leadingSystem ? messages.getFirst().content() : "");
        for (ChatMessage message : messages.subList(leadingSystem ? 1 : 0, messages.size()))
            prompt.append(EOM).append(BOM).append(roleToken(message.role())).append(' ').append(message.content());
        prompt.append(EOM);
        return addGenerationPrompt ? prompt.append(BOM).append("<|assistant|>").toString() : prompt.toString();
    }

    private String roleToken(String role) {
        String token = "<|" + role + "|>";
        if (tokenizer.tokenId(token).isEmpty())
            throw new IllegalArgumentException("role '" + role + "' has no token " + token + " in the vocabulary");
        return token;
    }

    private String renderJinja(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> messageMaps = new ArrayList<>();
        for (ChatMessage m : messages) messageMaps.add(Map.of("role", m.role(), "content", m.content()));
        Map<String, Object> variables = new HashMap<>();
        variables.put("messages", messageMaps);
        variables.put("bos_token", tokenizer.bosToken());
        variables.put("eos_token", tokenizer.eosToken());
        variables.put("add_generation_prompt", addGenerationPrompt);

        RenderResult result = jinjava.renderForResult(jinjaSource, variables);
        List<String> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL)
                .map(ChatTemplate::describe)
                .toList();
        if (!fatal.isEmpty())
            throw new TokenizerException("the checkpoint's chat template failed: " + String.join("; ", fatal));
        return result.getOutput();
    }

    private static String describe(TemplateError error) {
        StringBuilder text = new StringBuilder(error.getMessage()).append(" (line ").append(error.getLineno()).append(')');
        Throwable cause = error.getException();
        while (cause != null && cause.getCause() != null) cause = cause.getCause();
        if (cause != null && cause.getMessage() != null) text.append(": ").append(cause.getMessage());
        return text.toString();
    }

    /**
     * Jinjava set up to render like Python's Jinja as transformers configures it: {@code trim_blocks} and
     * {@code lstrip_blocks}, {@code {{- -}}} trimming, Python's operator precedence and printing, and the
     * {@code raise_exception} function templates call to reject a conversation. (Jinjava's "legacy overrides" are
     * its Jinja-compatibility switches: all on, except one that would stop {@code {##}} from parsing as a comment.)
     */
    private static Jinjava newJinjava() {
        LegacyOverrides jinjaCompatible =
                LegacyOverrides.Builder.from(LegacyOverrides.ALL).withWhitespaceRequiredWithinTokens(false).build();
        Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withLegacyOverrides(jinjaCompatible)
                .build());
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        return jinjava;
    }

    /** {@code raise_exception(message)} for templates; public only because Jinjava calls it by reflection. */
    public static String raiseException(String message) {
        throw new TokenizerException(message);
    }
}
