package ai.jamba.engine.tokenizer;

import ai.jamba.engine.tokenizer.TokenizerFixtures.GoldenCase;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code fixtures/tokenizer/} must encode and decode every case of {@code tokenizer-golden.json} exactly. */
class TokenizerGoldenTest {
    private static JambaTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = JambaTokenizer.load(TokenizerFixtures.TOKENIZER_DIR);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    static List<GoldenCase> cases() throws IOException {
        return TokenizerFixtures.goldenCases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void encodesWithoutSpecialTokens(GoldenCase golden) {
        assertArrayEquals(golden.ids(), tokenizer.encode(golden.text(), false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void encodesWithBos(GoldenCase golden) {
        assertArrayEquals(golden.idsWithBos(), tokenizer.encode(golden.text(), true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void splitsIntoTokens(GoldenCase golden) {
        assertArrayEquals(golden.tokens(), tokenizer.tokens(golden.text()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void decodesKeepingSpecialTokens(GoldenCase golden) {
        assertEquals(golden.decoded(), tokenizer.decode(golden.ids()));
    }

    @Test
    void specialTokensAndVocabulary() {
        assertEquals(1, tokenizer.bosId());
        assertEquals(2, tokenizer.eosId());
        assertEquals("<|startoftext|>", tokenizer.bosToken());
        assertEquals("<|endoftext|>", tokenizer.eosToken());
        assertEquals(4096, tokenizer.vocabSize());
        assertEquals(OptionalInt.of(270), tokenizer.tokenId("▁the"));
        assertEquals(OptionalInt.of(4), tokenizer.tokenId("\n"));
        assertEquals(OptionalInt.empty(), tokenizer.tokenId("<|no such token|>"));
    }

    /** DJL truncates to 512 tokens unless told not to; a prompt must come through whole. */
    @Test
    void longTextIsNotTruncated() {
        String text = "A fortune a day. ".repeat(300);
        int[] ids = tokenizer.encode(text, false);
        assertTrue(ids.length > 1000, "got " + ids.length + " ids");
        assertEquals(text, tokenizer.decode(ids));
    }
}
