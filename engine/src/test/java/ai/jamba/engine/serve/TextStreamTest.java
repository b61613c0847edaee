package ai.jamba.engine.serve;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a client sees of generated ids: whole characters, cut exactly before a stop string. */
class TextStreamTest {
    static JambaTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = JambaTokenizer.load(Fixtures.demoModel());
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    /**
     * The pieces a stream releases for {@code text}'s ids, pushed one at a time after BOS, then its finish. After BOS
     * the text's first word keeps the space the tokenizer marked it with: it reads " " + text.
     */
    static List<String> stream(String text, List<String> stops) {
        TextStream s = new TextStream(tokenizer.newDetokenizer(new int[]{tokenizer.bosId()}), stops);
        List<String> pieces = new ArrayList<>();
        for (int id : tokenizer.encode(text, false)) {
            pieces.add(s.push(id));
            if (s.stopped()) return pieces;
        }
        pieces.add(s.finish());
        return pieces;
    }

    @Test
    void charactersSpreadOverByteTokensComeOutWholeOrNotAtAll() {
        String text = "Grüße aus 日本 🎉 for 5€";
        assertTrue(tokenizer.tokens(text).length > text.split(" ").length + 8, "the text needs byte-fallback tokens to test anything");
        List<String> pieces = stream(text, List.of());
        for (String piece : pieces) {
            assertFalse(piece.contains("\uFFFD"), "a piece holds part of a character: " + pieces);
            assertTrue(wellFormed(piece), "a piece splits a surrogate pair: " + pieces);
        }
        assertTrue(pieces.contains(""), "some byte tokens were held back until their character was complete");
        assertEquals(" " + text, String.join("", pieces));
    }

    @Test
    void aStopStringIsCutExactlyEvenWhenItSpansTokens() {
        String text = "You will find a way to be happy.";
        List<String> pieces = stream(text, List.of("way to"));
        assertEquals(" You will find a ", String.join("", pieces));
    }

    @Test
    void aStopStringMadeOfMultiByteCharactersIsCutExactly() {
        List<String> pieces = stream("Grüße aus 日本 und 🎉", List.of("日本"));
        assertEquals(" Grüße aus ", String.join("", pieces));
    }

    @Test
    void textThatOnlyStartsLikeAStopStringIsHeldBackThenReleased() {
        List<String> pieces = stream("Be happy.", List.of(" happy end"));
        assertEquals(List.of(" Be", "", " happy.", ""), pieces, "' happy' waits: it could have become the stop string");
    }

    @Test
    void theEarliestStopStringWins() {
        assertEquals(" One, ", String.join("", stream("One, two, three.", List.of("three", "two"))));
    }

    static boolean wellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
            else if (Character.isSurrogate(c)) return false;
        }
        return true;
    }
}
