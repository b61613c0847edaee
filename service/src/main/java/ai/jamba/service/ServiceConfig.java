package ai.jamba.service;

import ai.jamba.engine.serve.EngineConfig;
import ai.jamba.engine.session.SessionStoreConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Everything {@code ./jamba serve} is told, resolved from {@link Settings} (options, environment, config file).
 * README.md's "Configuration" table lists each setting; this record is where they are read.
 */
public record ServiceConfig(
        Path model, String backend, int threads, boolean expertsInt8,
        String kafkaBootstrap, int kafkaPort, String groupId, Map<String, String> kafkaClient,
        int topicPartitions, long topicRetentionMs,
        String httpHost, int httpPort, Path dataDir,
        int maxRequestBytes, int maxTokensLimit, int defaultMaxTokens,
        int queueHighWater, int queueLowWater, int sessionSnapshotBytes,
        Set<String> apiKeys, List<String> allowedOrigins, int requestsPerMinute, int concurrentPerKey,
        EngineConfig engine) {

    /** Options that take a value. */
    public static final Set<String> OPTIONS = Set.of(
            "model", "backend", "threads", "kafka", "kafka-port", "kafka-group", "kafka-partitions", "kafka-retention-ms",
            "http-host", "http-port", "data-dir", "max-request-bytes", "max-tokens-limit", "default-max-tokens",
            "max-sequences", "max-queued", "step-tokens", "max-context", "queue-high-water", "queue-low-water",
            "session-cache-mb", "session-dir-mb", "session-ttl-minutes", "session-snapshot-bytes",
            "api-keys-file", "api-keys", "allowed-origins", "requests-per-minute", "concurrent-per-key");
    /** Options that take none. */
    public static final Set<String> FLAGS = Set.of("experts-int8");

    public static ServiceConfig from(Settings s) {
        Path dataDir = Path.of(s.string("data-dir", "./data"));
        int maxSequences = s.integer("max-sequences", 64);
        int maxQueued = s.integer("max-queued", 1024);
        SessionStoreConfig sessions = SessionStoreConfig.defaults()
                .withDirectory(dataDir.resolve("sessions"))
                .withMemoryBytes(s.longValue("session-cache-mb", 512) * SessionStoreConfig.MiB)
                .withDirectoryBytes(s.longValue("session-dir-mb", 4096) * SessionStoreConfig.MiB)
                .withIdleTtl(Duration.ofMinutes(s.longValue("session-ttl-minutes", 24 * 60)));
        EngineConfig engine = EngineConfig.defaults()
                .withMaxRunningSequences(maxSequences)
                .withMaxQueuedRequests(maxQueued)
                .withStepTokenBudget(Math.max(maxSequences, s.integer("step-tokens", 512)))
                .withMaxContextTokens(s.integer("max-context", 32768))
                .withSessions(sessions);
        int high = s.integer("queue-high-water", Math.max(1, maxQueued / 2));
        return new ServiceConfig(
                Path.of(s.string("model", Path.of(System.getProperty("jamba.home", ".")).resolve("models/jamba-demo-fortunes").toString())),
                s.string("backend", "auto"), s.integer("threads", 0), s.bool("experts-int8"),
                blankToNull(s.string("kafka", null)), s.integer("kafka-port", 9092), s.string("kafka-group", "jamba"),
                s.withPrefix("kafka.client."), s.integer("kafka-partitions", 0), s.longValue("kafka-retention-ms", 0),
                s.string("http-host", "127.0.0.1"), s.integer("http-port", 8080), dataDir,
                s.integer("max-request-bytes", 1 << 20), s.integer("max-tokens-limit", 4096), s.integer("default-max-tokens", 256),
                high, s.integer("queue-low-water", high / 2), s.integer("session-snapshot-bytes", 8 << 20),
                apiKeys(s), list(s.string("allowed-origins", "")),
                s.integer("requests-per-minute", 600), s.integer("concurrent-per-key", 32),
                engine);
    }

    /** Keys from --api-keys-file (one per line, # comments) and --api-keys / JAMBA_API_KEYS (comma-separated). */
    private static Set<String> apiKeys(Settings s) {
        Set<String> keys = new LinkedHashSet<>(list(s.string("api-keys", "")));
        String file = s.string("api-keys-file", null);
        if (file != null) {
            try {
                for (String line : Files.readAllLines(Path.of(file))) {
                    String k = line.strip();
                    if (!k.isEmpty() && !k.startsWith("#")) keys.add(k);
                }
            } catch (IOException e) {
                throw new Settings.SettingsException("cannot read api-keys-file " + file + ": " + e.getMessage());
            }
        }
        return Set.copyOf(keys);
    }

    private static List<String> list(String csv) {
        return Arrays.stream(csv.split(",")).map(String::strip).filter(x -> !x.isEmpty()).toList();
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
