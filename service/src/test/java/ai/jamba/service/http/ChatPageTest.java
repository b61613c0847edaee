package ai.jamba.service.http;

import ai.jamba.service.TestKafka;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The chat page in headless Chromium ({@code src/test/browser/chat.e2e.mjs}): open it, send a message, see the
 * reply stream in, reload, resume the session, send another. The screenshot stays in
 * {@code target/chat-e2e.png}. Needs node, Debian's chromium and {@code npm ci} in src/test/browser (.ci/run
 * installs them); without them the test is skipped, saying which is missing.
 */
@ExtendWith(LiveServer.Extension.class)
class ChatPageTest {
    static final Path SCRIPT = Path.of("src/test/browser/chat.e2e.mjs");
    static final Path SCREENSHOT = Path.of("target/chat-e2e.png");

    @Test
    void theChatPageStreamsARepliesAndResumesItsSessionAfterAReload(LiveServer server) throws IOException, InterruptedException {
        String node = onPath("node");
        assumeTrue(node != null, "node is not installed: skipping the browser test (.ci/run installs it)");
        assumeTrue(Files.isExecutable(Path.of(System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium"))),
                "no /usr/bin/chromium: skipping the browser test (apt-get install -y chromium)");
        assumeTrue(Files.isDirectory(SCRIPT.resolveSibling("node_modules/playwright-core")),
                "no playwright-core: skipping the browser test (npm ci in service/src/test/browser)");

        Files.deleteIfExists(SCREENSHOT);
        Process p = new ProcessBuilder(node, SCRIPT.toString(), server.url(), SCREENSHOT.toString(), LiveServer.PAGE_KEY)
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8); // ends when the script does
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the browser script did not end");
        List<String> lines = output.strip().lines().toList();
        JsonNode result = TestKafka.JSON.readTree(lines.getLast());
        assertTrue(result.path("ok").asBoolean(), "the page test failed: " + output);
        assertEquals(0, p.exitValue(), output);
        assertTrue(result.get("session").asText().matches("[0-9a-f]{32}"), result.toString());
        assertTrue(Files.size(SCREENSHOT) > 0, "a screenshot was kept");
    }

    private static String onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, program);
            if (Files.isExecutable(p)) return p.toString();
        }
        return null;
    }
}
