package ai.jamba.service;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Starts the service in this JVM on the demo model, against a given broker, with test-sized settings. */
public final class TestService {
    private TestService() {}

    public static Path root() {
        Path root = Path.of(System.getProperty("jamba.root", ".."));
        if (!Files.isDirectory(root.resolve("models"))) root = Path.of("..");
        return root;
    }

    public static Path demoModel() {
        return root().resolve("models/jamba-demo-fortunes");
    }

    /** Settings for a test: the demo model on the CPU, an HTTP port of the system's choosing, data under {@code dataDir}. */
    public static Map<String, String> settings(String bootstrap, Path dataDir) {
        Map<String, String> s = new HashMap<>();
        s.put("model", demoModel().toString());
        s.put("backend", "cpu");
        if (bootstrap != null) s.put("kafka", bootstrap);
        s.put("http-port", "0");
        s.put("data-dir", dataDir.toString());
        s.put("max-context", "512");
        s.put("kafka-partitions", "3");
        return s;
    }

    public static JambaService start(Map<String, String> settings) throws Exception {
        return JambaService.start(ServiceConfig.from(Settings.of(settings)));
    }
}
