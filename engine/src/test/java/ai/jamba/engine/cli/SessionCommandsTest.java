package ai.jamba.engine.cli;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code generate --session} and {@code chat}: conversations that a later command, or another process, continues. */
class SessionCommandsTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** What a command printed. */
    record Ran(String out, String err) {}

    /** Runs a command in this JVM, {@code stdin} as its input. */
    static Ran run(String stdin, String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = Main.run(argv, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, status, "jamba " + String.join(" ", argv) + " failed: " + err);
        return new Ran(out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    String[] generate(String... more) {
        List<String> argv = new ArrayList<>(List.of("generate", "--model", Fixtures.demoModel().toString(), "--max-tokens", "8", "--json"));
        argv.addAll(List.of(more));
        return argv.toArray(String[]::new);
    }

    static JsonNode json(Ran ran) throws IOException {
        return json(ran.out());
    }

    static JsonNode json(String stdout) throws IOException {
        return JSON.readTree(stdout.lines().findFirst().orElseThrow());
    }

    static int[] ints(JsonNode array) {
        return JSON.convertValue(array, int[].class);
    }

    static String csv(int[] ids) {
        return String.join(",", Arrays.stream(ids).mapToObj(Integer::toString).toList());
    }

    @Test
    void generateContinuesASessionAndAPlainRunOverItsPromptIdsAgrees() throws IOException {
        String dirArg = dir.toString();
        JsonNode first = json(run("", generate("--prompt", "You will", "--session", "s", "--session-dir", dirArg)));
        JsonNode second = json(run("", generate("--prompt", " Then", "--session", "s", "--session-dir", dirArg)));
        JsonNode third = json(run("", generate("--prompt-ids", "5,6", "--session", "s", "--session-dir", dirArg)));
        try (JambaTokenizer tokenizer = JambaTokenizer.load(Fixtures.demoModel())) {
            int[] afterFirst = concat(ints(first.get("prompt_ids")), ints(first.get("ids")));
            assertArrayEquals(tokenizer.encode("You will", true), ints(first.get("prompt_ids")));
            assertArrayEquals(concat(afterFirst, tokenizer.encode(" Then", false)), ints(second.get("prompt_ids")), "BOS only at the start");
            assertEquals(afterFirst.length - 1, second.get("reused_tokens").asInt());
            int[] afterSecond = concat(ints(second.get("prompt_ids")), ints(second.get("ids")));
            assertArrayEquals(concat(afterSecond, new int[]{5, 6}), ints(third.get("prompt_ids")), "ids are appended as given");
        }
        JsonNode plain = json(run("", generate("--prompt-ids", csv(ints(second.get("prompt_ids"))))));
        assertArrayEquals(ints(plain.get("ids")), ints(second.get("ids")), "the resumed turn = one greedy run over the whole conversation");
        List<String> keys = new ArrayList<>();
        plain.fieldNames().forEachRemaining(keys::add);
        assertEquals(List.of("prompt_ids", "ids", "text", "prefill_tok_s", "decode_tok_s"), keys, "without --session, --json is as it was");
        Iterator<String> sessionKeys = second.fieldNames();
        List<String> all = new ArrayList<>();
        sessionKeys.forEachRemaining(all::add);
        assertEquals(List.of("prompt_ids", "ids", "text", "prefill_tok_s", "decode_tok_s", "session_id", "reused_tokens"), all);
    }

    @Test
    void aSecondTurnInAnotherProcessEqualsOneUninterruptedRun() throws Exception {
        String dirArg = dir.toString();
        JsonNode first = json(inAnotherProcess(generate("--prompt", "You will", "--session", "p", "--session-dir", dirArg)));
        JsonNode second = json(inAnotherProcess(generate("--prompt", " And then the", "--session", "p", "--session-dir", dirArg)));
        assertArrayEquals(concat(ints(first.get("prompt_ids")), ints(first.get("ids")),
                JambaTokenizerHolder.encode(" And then the")), ints(second.get("prompt_ids")));
        JsonNode plain = json(run("", generate("--prompt-ids", csv(ints(second.get("prompt_ids"))))));
        assertArrayEquals(ints(plain.get("ids")), ints(second.get("ids")));
        assertTrue(second.get("reused_tokens").asInt() > 0);
    }

    @Test
    void chatKeepsTheConversationForTheNextChat() {
        String[] chat = {"chat", "--model", Fixtures.demoModel().toString(), "--session", "talk", "--session-dir", dir.toString(),
                "--max-tokens", "6"};
        Ran first = run("You will\n\n Then\n/exit\n", chat);
        assertTrue(first.err().contains("new conversation talk"), first.err());
        assertEquals(2, turns(first).size(), "two messages, two replies (the blank line is skipped): " + first.err());
        assertTrue(Files.exists(dir.resolve("talk.session")));
        Ran again = run(" More\n", chat);
        assertTrue(again.err().contains("continuing conversation talk"), again.err());
        assertTrue(turns(again).getFirst().matches(".*jamba: \\d+ tokens \\([1-9]\\d* reused, \\d+ new\\).*"), again.err());
    }

    /** The line chat prints after each reply. */
    static List<String> turns(Ran ran) {
        return ran.err().lines().filter(l -> l.contains(" tokens (")).toList();
    }

    /** {@code java ... ai.jamba.engine.cli.Main argv} in a new JVM with this test's classpath; returns its stdout. */
    static String inAnotherProcess(String... argv) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(argv));
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "the process finished");
        assertEquals(0, p.exitValue(), "jamba " + String.join(" ", argv));
        return out;
    }

    /** The demo tokenizer, for expected ids. */
    static final class JambaTokenizerHolder {
        static int[] encode(String text) {
            try (JambaTokenizer t = JambaTokenizer.load(Fixtures.demoModel())) {
                return t.encode(text, false);
            }
        }
    }

    static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
    }
}
