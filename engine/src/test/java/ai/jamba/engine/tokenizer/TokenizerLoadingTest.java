package ai.jamba.engine.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which files a tokenizer is loaded from, and the errors that name them. */
class TokenizerLoadingTest {

    @Test
    void missingTokenizerJsonIsNamed(@TempDir Path dir) {
        assertFalse(JambaTokenizer.available(dir));
        TokenizerException e = assertThrows(TokenizerException.class, () -> JambaTokenizer.load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("tokenizer.json").toString()), e.getMessage());
    }

    @Test
    void invalidTokenizerJsonIsNamed(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{ not json");
        TokenizerException e = assertThrows(TokenizerException.class, () -> JambaTokenizer.load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("tokenizer.json").toString()), e.getMessage());
    }

    @Test
    void invalidTokenizerConfigIsNamed(@TempDir Path dir) throws IOException {
        TokenizerFixtures.tokenizerFolder(dir, List.of(), null);
        Files.writeString(dir.resolve("tokenizer_config.json"), "[1, 2");
        TokenizerException e = assertThrows(TokenizerException.class, () -> JambaTokenizer.load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("tokenizer_config.json").toString()), e.getMessage());
    }

    @Test
    void demoModelHasTheFixtureTokenizer() {
        assertTrue(JambaTokenizer.available(TokenizerFixtures.DEMO_MODEL_DIR));
        try (JambaTokenizer demo = JambaTokenizer.load(TokenizerFixtures.DEMO_MODEL_DIR);
             JambaTokenizer fixture = JambaTokenizer.load(TokenizerFixtures.TOKENIZER_DIR)) {
            assertArrayEquals(fixture.encode("You will meet a tall stranger.", true),
                    demo.encode("You will meet a tall stranger.", true));
            assertEquals(Optional.empty(), demo.chatTemplate());
        }
    }

    /** transformers may write a special token as an AddedToken object rather than as its text. */
    @Test
    void specialTokensMayBeObjects(@TempDir Path dir) throws IOException {
        TokenizerFixtures.tokenizerFolder(dir, List.of(), Map.of(
                "bos_token", Map.of("__type", "AddedToken", "content", "<|endoftext|>"),
                "eos_token", Map.of("__type", "AddedToken", "content", "<|pad|>")));
        try (JambaTokenizer tokenizer = JambaTokenizer.load(dir)) {
            assertEquals(2, tokenizer.bosId());
            assertEquals(0, tokenizer.eosId());
        }
    }

    @Test
    void withoutTokenizerConfigTheSpecialTokensAreJambas(@TempDir Path dir) throws IOException {
        TokenizerFixtures.tokenizerFolder(dir, List.of(), null);
        try (JambaTokenizer tokenizer = JambaTokenizer.load(dir)) {
            assertEquals("<|startoftext|>", tokenizer.bosToken());
            assertEquals(1, tokenizer.bosId());
            assertEquals(2, tokenizer.eosId());
        }
    }

    @Test
    void specialTokenOutsideTheVocabularyIsAnError(@TempDir Path dir) throws IOException {
        TokenizerFixtures.tokenizerFolder(dir, List.of(), Map.of("bos_token", "<s>"));
        TokenizerException e = assertThrows(TokenizerException.class, () -> JambaTokenizer.load(dir));
        assertTrue(e.getMessage().contains("bos_token '<s>'"), e.getMessage());
    }
}
