package ai.jamba.service.docker;

import ai.jamba.service.ServiceConfig;
import ai.jamba.service.Settings;
import ai.jamba.service.TestService;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * docker/compose.yaml and docker/Dockerfile say what the launcher understands: the image's entry point is
 * ./jamba, the service's command is a subcommand the launcher dispatches with options `serve` accepts, and its
 * --kafka names the compose broker's internal listener.
 */
class ComposeFileTest {
    static final Path DOCKER = TestService.root().resolve("docker");

    @Test
    void composeCommandIsALauncherCommandWithValidOptions() throws IOException {
        JsonNode compose = new ObjectMapper(new YAMLFactory()).readTree(DOCKER.resolve("compose.yaml").toFile());
        JsonNode jamba = compose.at("/services/jamba");
        assertTrue(jamba.isObject(), "compose.yaml has a jamba service");
        List<String> command = new ArrayList<>();
        jamba.get("command").forEach(n -> command.add(n.asText()));
        assertLauncherCommand(command);

        String kafka = option(command, "--kafka");
        String listeners = compose.at("/services/kafka/environment/KAFKA_ADVERTISED_LISTENERS").asText();
        assertTrue(listeners.contains("INTERNAL://" + kafka), "--kafka " + kafka + " is the broker's internal listener (" + listeners + ")");
        assertEquals("nvidia", jamba.at("/deploy/resources/reservations/devices/0/driver").asText(), "the service gets a GPU");
        assertEquals("docker/Dockerfile", jamba.at("/build/dockerfile").asText(), "built from this repo's Dockerfile");
    }

    @Test
    void dockerfileRunsTheLauncherWithADefaultServeCommand() throws IOException {
        String dockerfile = Files.readString(DOCKER.resolve("Dockerfile"));
        Matcher entry = Pattern.compile("(?m)^ENTRYPOINT\\s+(\\[.*])").matcher(dockerfile);
        assertTrue(entry.find(), "the Dockerfile has an ENTRYPOINT");
        assertEquals(List.of("./jamba"), jsonList(entry.group(1)));
        Matcher cmd = Pattern.compile("(?m)^CMD\\s+(\\[.*])").matcher(dockerfile);
        assertTrue(cmd.find(), "the Dockerfile has a CMD");
        assertLauncherCommand(jsonList(cmd.group(1)));
    }

    /** The launcher dispatches the subcommand to the service, and `serve` accepts every option given. */
    static void assertLauncherCommand(List<String> command) throws IOException {
        String launcher = Files.readString(TestService.root().resolve("jamba"));
        assertEquals("serve", command.getFirst());
        assertTrue(Pattern.compile("(?m)^\\s*serve\\|kafka\\) main=ai\\.jamba\\.service\\.Main").matcher(launcher).find(),
                "./jamba sends `serve` to ai.jamba.service.Main");
        String[] options = command.subList(1, command.size()).toArray(String[]::new);
        ServiceConfig config = ServiceConfig.from(Settings.load(options, Map.of(), ServiceConfig.OPTIONS, ServiceConfig.FLAGS));
        assertTrue(config.httpPort() > 0);
    }

    static String option(List<String> command, String name) {
        int i = command.indexOf(name);
        assertTrue(i >= 0 && i + 1 < command.size(), "the command gives " + name);
        return command.get(i + 1);
    }

    static List<String> jsonList(String json) throws IOException {
        List<String> out = new ArrayList<>();
        new ObjectMapper().readTree(json).forEach(n -> out.add(n.asText()));
        return out;
    }
}
