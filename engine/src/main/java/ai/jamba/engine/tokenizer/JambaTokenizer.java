package ai.jamba.engine.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A checkpoint's tokenizer: its {@code tokenizer.json} run by the Hugging Face {@code tokenizers} library (through
 * DJL's binding), with the BOS/EOS tokens and chat template of {@code tokenizer_config.json}.
 *
 * <p>Encoding never lets the tokenizer's post-processor add special tokens; BOS is added here, and only when asked,
 * so the ids are transformers' {@code encode(text, add_special_tokens=False)}, with BOS in front on request.
 * Decoding keeps special tokens ({@code "<|endoftext|>"} reads as itself). {@code clean_up_tokenization_spaces} is
 * not applied (Jamba sets it false).
 *
 * <p>Thread safety: {@link #encode}, {@link #tokens}, {@link #decode} and the lookups may run on several threads at
 * once. The native tokenizer is never changed after loading (truncation and padding are fixed when DJL builds it,
 * and Rust's encode and decode only read it), and the vocabulary map is read-only. {@link #close()} must not race
 * with them: it frees the native tokenizer.
 */
public final class JambaTokenizer implements AutoCloseable {
    public static final String TOKENIZER_FILE = "tokenizer.json";

    static {
        // On its first use DJL calls home (EC2 telemetry) and, on a machine with CUDA, tries to download a CUDA build
        // of its native library. The CPU build bundled in its jar is all a tokenizer needs: stay offline unless the
        // user chose otherwise.
        if (System.getenv("DJL_OFFLINE") == null && System.getProperty("ai.djl.offline") == null)
            System.setProperty("ai.djl.offline", "true");
    }

    /** Exactly the text's tokens: no special tokens, and none of DJL's defaults (truncation at 512, padding). */
    private static final Map<String, String> DJL_OPTIONS =
            Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");

    private final HuggingFaceTokenizer tokenizer;
    private final Map<String, Integer> vocabulary;
    private final int vocabSize;
    private final String bosToken;
    private final String eosToken;
    private final int bosId;
    private final int eosId;
    private final Optional<String> chatTemplate;

    private JambaTokenizer(HuggingFaceTokenizer tokenizer, Map<String, Integer> vocabulary, TokenizerConfig config,
                           int bosId, int eosId) {
        this.tokenizer = tokenizer;
        this.vocabulary = vocabulary;
        this.vocabSize = vocabulary.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        this.bosToken = config.bosToken();
        this.eosToken = config.eosToken();
        this.bosId = bosId;
        this.eosId = eosId;
        this.chatTemplate = config.chatTemplate();
    }

    /** Whether {@code dir} has a {@code tokenizer.json}. */
    public static boolean available(Path dir) {
        return Files.isRegularFile(dir.resolve(TOKENIZER_FILE));
    }

    /**
     * Loads the tokenizer of the checkpoint folder {@code dir}.
     *
     * @throws TokenizerException naming the file, when {@code tokenizer.json} is missing or unusable, when
     *     {@code tokenizer_config.json} is not valid JSON, or when its BOS/EOS token is not in the vocabulary
     */
    public static JambaTokenizer load(Path dir) {
        Path file = dir.resolve(TOKENIZER_FILE);
        if (!Files.isRegularFile(file)) throw new TokenizerException("no tokenizer: " + file + " does not exist");
        byte[] json;
        try {
            json = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + file + ": " + e.getMessage(), e);
        }
        Map<String, Integer> vocabulary = readVocabulary(json, file);
        TokenizerConfig config = TokenizerConfig.read(dir);
        int bosId = specialId(vocabulary, "bos_token", config.bosToken(), file);
        int eosId = specialId(vocabulary, "eos_token", config.eosToken(), file);

        HuggingFaceTokenizer tokenizer;
        try {
            // From a stream, not the folder: given the folder DJL would also apply its own reading of
            // tokenizer_config.json (add_prefix_space, clean-up), which transformers does not do for Jamba.
            tokenizer = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json), DJL_OPTIONS);
        } catch (IOException | RuntimeException e) {
            throw new TokenizerException(file + " cannot be loaded by the tokenizers library: " + e.getMessage(), e);
        }
        return new JambaTokenizer(tokenizer, vocabulary, config, bosId, eosId);
    }

    /** Token text to id: the model's vocabulary plus the added tokens (specials, {@code \n}, {@code \t}, ...). */
    private static Map<String, Integer> readVocabulary(byte[] json, Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new TokenizerException(file + " is not valid JSON: " + e.getMessage(), e);
        }
        JsonNode vocab = root == null ? null : root.path("model").path("vocab");
        if (vocab == null || vocab.isMissingNode())
            throw new TokenizerException(file + " has no model.vocab: not a tokenizers tokenizer.json");
        Map<String, Integer> ids = new HashMap<>();
        if (vocab.isObject()) {
            vocab.properties().forEach(e -> ids.put(e.getKey(), e.getValue().asInt()));
        } else {
            // A Unigram model lists [piece, score] pairs; a piece's id is its position.
            for (int id = 0; id < vocab.size(); id++) ids.put(vocab.get(id).path(0).asText(), id);
        }
        for (JsonNode added : root.path("added_tokens")) ids.put(added.path("content").asText(), added.path("id").asInt());
        return Map.copyOf(ids);
    }

    private static int specialId(Map<String, Integer> vocabulary, String field, String token, Path file) {
        Integer id = vocabulary.get(token);
        if (id == null)
            throw new TokenizerException(field + " '" + token + "' (from " + TokenizerConfig.CONFIG_FILE
                    + ", or Jamba's default) is not a token of " + file);
        return id;
    }

    /**
     * The ids of {@code text}, exactly as written: no special token is added, except BOS in front when
     * {@code addBos}. Special-token texts inside {@code text} (e.g. {@code "<|endoftext|>"}) become their ids.
     */
    public int[] encode(String text, boolean addBos) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int offset = addBos ? 1 : 0;
        int[] result = new int[ids.length + offset];
        if (addBos) result[0] = bosId;
        for (int i = 0; i < ids.length; i++) result[i + offset] = Math.toIntExact(ids[i]);
        return result;
    }

    /** The token strings of {@code text} (no special tokens added), e.g. {@code ["▁Hell", "o", "▁world"]}. */
    public String[] tokens(String text) {
        return tokenizer.encode(text, false, false).getTokens();
    }

    /**
     * The text of {@code ids}, special tokens written out. The Metaspace decoder drops the space that starts a text,
     * so {@code decode} of {@code "▁the"} alone is {@code "the"}: to turn generated ids into text as they follow a
     * prompt, use {@link #newDetokenizer(int[])}.
     */
    public String decode(int[] ids) {
        long[] longs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) longs[i] = ids[i];
        return tokenizer.decode(longs, false);
    }

    /** A detokenizer for text generated from the very start (no prompt before it). */
    public StreamingDetokenizer newDetokenizer() {
        return new StreamingDetokenizer(this, new int[0]);
    }

    /** A detokenizer for text generated after {@code context} (the prompt's ids): its first word keeps its space. */
    public StreamingDetokenizer newDetokenizer(int[] context) {
        return new StreamingDetokenizer(this, context);
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    /** Number of token ids: one more than the largest id of the vocabulary and the added tokens. */
    public int vocabSize() {
        return vocabSize;
    }

    /** The id of a token, by its text in the vocabulary (e.g. {@code "▁the"}, {@code "<|endoftext|>"}). */
    public OptionalInt tokenId(String token) {
        Integer id = vocabulary.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The checkpoint's Jinja chat template, when it has one. */
    public Optional<String> chatTemplate() {
        return chatTemplate;
    }

    /** Frees the native tokenizer; the instance is unusable afterwards. */
    @Override
    public void close() {
        tokenizer.close();
    }
}
