package ai.jamba.service.kafka;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * A real single-node Kafka cluster (KRaft: broker and controller in one) inside this JVM, for when no broker is
 * configured. Its log lives under the data directory and survives restarts: the same cluster id, nothing
 * produced is lost.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private final KafkaRaftServer server;
    private final String bootstrap;

    private EmbeddedKafka(KafkaRaftServer server, String bootstrap) {
        this.server = server;
        this.bootstrap = bootstrap;
    }

    /** Formats {@code logDir} on first use, then starts the broker on 127.0.0.1:{@code port}. */
    public static EmbeddedKafka start(Path logDir, int port) {
        requireFree(port, "--kafka-port");
        int controllerPort = freePort();
        Properties props = brokerProperties();
        props.put("node.id", "1");
        props.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        props.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        props.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        props.put("log.dirs", logDir.toAbsolutePath().toString());
        try {
            Files.createDirectories(logDir);
            if (!Files.exists(logDir.resolve("meta.properties"))) format(logDir, props);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the embedded Kafka log directory " + logDir, e);
        }
        KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
        server.startup();
        return new EmbeddedKafka(server, "127.0.0.1:" + port);
    }

    /** The bootstrap address clients connect to. */
    public String bootstrap() {
        return bootstrap;
    }

    /** kafka-storage format: writes meta.properties with a new cluster id (once; restarts keep it). */
    private static void format(Path logDir, Properties props) throws IOException {
        Path config = logDir.resolve("server.properties");
        try (var out = Files.newBufferedWriter(config)) {
            props.store(out, "embedded broker, written by jamba for kafka-storage format");
        }
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int code = StorageTool.execute(new String[]{"format", "-t", Uuid.randomUuid().toString(), "-c", config.toString()},
                new PrintStream(log, true, StandardCharsets.UTF_8));
        if (code != 0) throw new IllegalStateException("formatting the embedded Kafka log " + logDir + " failed: " + log.toString(StandardCharsets.UTF_8));
    }

    private static Properties brokerProperties() {
        Properties p = new Properties();
        try (InputStream in = EmbeddedKafka.class.getResourceAsStream("/kafka-config/broker.properties")) {
            if (in == null) throw new IllegalStateException("kafka-config/broker.properties is missing from the classpath");
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    private static void requireFree(int port, String option) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", port));
        } catch (IOException e) {
            throw new IllegalStateException("port " + port + " (" + option + ") is in use: is another broker running? "
                    + "Pass --kafka HOST:PORT to use it, or choose another " + option);
        }
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
    }
}
