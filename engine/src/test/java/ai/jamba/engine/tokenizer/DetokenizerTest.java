package ai.jamba.engine.tokenizer;

import ai.jamba.engine.tokenizer.TokenizerFixtures.GoldenCase;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link StreamingDetokenizer}: fed one id at a time, its pieces add up to the decoding of the ids as they read after
 * their context, and no piece holds part of a character.
 */
class DetokenizerTest {
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

    /** Every golden case, streamed from the start of a text, reads as its golden decoding, in whole characters. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void streamsEachGoldenCaseToItsDecoding(GoldenCase golden) {
        List<String> pieces = stream(tokenizer.newDetokenizer(), golden.ids());
        assertEquals(golden.decoded(), String.join("", pieces));
        for (String piece : pieces) assertWholeCharacters(piece);
    }

    /** "€" is three byte-fallback tokens: nothing comes out until its last byte. */
    @Test
    void byteFallbackCharacterComesOutWhole() {
        int[] euro = {id("▁"), id("<0xE2>"), id("<0x82>"), id("<0xAC>")};
        List<String> pieces = stream(tokenizer.newDetokenizer(tokenizer.encode("Price:", true)), euro);
        assertEquals(List.of(" ", "", "", "€"), pieces);
    }

    @Test
    void emojiComesOutWhole() {
        int[] ids = tokenizer.encode("ok 😀🎉", false);
        List<String> pieces = stream(tokenizer.newDetokenizer(), ids);
        assertEquals(List.of("o", "k", " ", "", "", "", "😀", "", "", "", "🎉"), pieces);
    }

    /** Metaspace drops the space of a text's first word only: after a prompt, "▁a" reads " a". */
    @Test
    void firstGeneratedWordKeepsItsSpaceAfterAPrompt() {
        int[] prompt = tokenizer.encode("A fortune", true);
        int[] generated = {id("▁a"), id("▁day"), id(".")};
        assertEquals(" a day.", String.join("", stream(tokenizer.newDetokenizer(prompt), generated)));
        assertEquals("a day.", String.join("", stream(tokenizer.newDetokenizer(), generated)));
    }

    @Test
    void specialTokensAreWrittenOut() {
        StreamingDetokenizer detokenizer = tokenizer.newDetokenizer(tokenizer.encode("The end.", true));
        assertEquals("<|endoftext|>", detokenizer.push(tokenizer.eosId()));
    }

    @Test
    void flushGivesAnUnfinishedCharacterAsReplacementCharacters() {
        StreamingDetokenizer detokenizer = tokenizer.newDetokenizer();
        assertEquals("", detokenizer.push(id("<0xE2>")));
        assertEquals("", detokenizer.push(id("<0x82>")));
        assertEquals("\uFFFD\uFFFD", detokenizer.flush());
        assertEquals("", detokenizer.flush());
    }

    /**
     * All golden texts as one, split after a prompt at many places: the pieces always read as decode(prompt +
     * generated) with the prompt's text cut off.
     */
    @Test
    void anySplitReadsAsTheFullDecodingAfterThePrompt() throws IOException {
        String text = cases().stream().map(GoldenCase::text).collect(Collectors.joining("\n"));
        int[] ids = tokenizer.encode(text, true);
        String full = tokenizer.decode(ids);
        for (int split = 1; split < ids.length; split++) {
            int[] prompt = Arrays.copyOf(ids, split);
            String promptText = tokenizer.decode(prompt);
            if (!full.startsWith(promptText)) continue; // the split cuts a character's bytes: no clean prompt text
            int[] generated = Arrays.copyOfRange(ids, split, ids.length);
            List<String> pieces = stream(tokenizer.newDetokenizer(prompt), generated);
            assertEquals(full.substring(promptText.length()), String.join("", pieces), "split at " + split);
            for (String piece : pieces) assertWholeCharacters(piece);
        }
    }

    private static List<String> stream(StreamingDetokenizer detokenizer, int[] ids) {
        List<String> pieces = new ArrayList<>();
        for (int id : ids) pieces.add(detokenizer.push(id));
        assertEquals("", detokenizer.flush(), "nothing may be left once the last character is complete");
        return pieces;
    }

    private static void assertWholeCharacters(String piece) {
        assertFalse(piece.contains("\uFFFD"), "replacement character in " + piece);
        // A lone surrogate would be half of a character beyond the BMP, such as an emoji.
        assertTrue(piece.codePoints().noneMatch(c -> Character.getType(c) == Character.SURROGATE),
                "half a character in " + piece);
    }

    private static int id(String token) {
        return tokenizer.tokenId(token).orElseThrow();
    }
}
