package ai.jamba.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A real Kafka cluster for the tests (Kafka's own KafkaClusterTestKit: one combined broker/controller), and the
 * client side of the service's topics: produce prompt records, read token and error records back.
 */
public final class TestKafka implements AutoCloseable {
    public static final ObjectMapper JSON = new ObjectMapper();

    private final KafkaClusterTestKit cluster;
    private final KafkaProducer<String, byte[]> producer;

    public TestKafka() throws Exception {
        cluster = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder().setCombined(true)
                .setNumBrokerNodes(1).setNumControllerNodes(1).build())
                .setConfigProp("message.max.bytes", "16777216")
                .setConfigProp("replica.fetch.max.bytes", "16777216")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .setConfigProp("offsets.topic.replication.factor", "1")
                .build();
        cluster.format();
        cluster.startup();
        cluster.waitForReadyBrokers();
        producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", cluster.bootstrapServers(),
                "max.request.size", 16 << 20, "enable.idempotence", true), new org.apache.kafka.common.serialization.StringSerializer(),
                new ByteArraySerializer());
    }

    public String bootstrap() {
        return cluster.bootstrapServers();
    }

    public void send(String topic, String key, byte[] value) {
        try {
            producer.send(new ProducerRecord<>(topic, key, value)).get();
        } catch (Exception e) {
            throw new IllegalStateException("cannot produce to " + topic, e);
        }
    }

    public void send(String topic, String key, String json) {
        send(topic, key, json.getBytes(StandardCharsets.UTF_8));
    }

    /** Reads a topic from the start in the background; {@link #await} waits for records to match. */
    public Reader reader(String topic) {
        return new Reader(topic);
    }

    public final class Reader implements AutoCloseable {
        private final List<JsonNode> records = java.util.Collections.synchronizedList(new ArrayList<>());
        private final Map<String, Integer> seen = new ConcurrentHashMap<>();
        private final Thread thread;
        private volatile boolean closed;

        Reader(String topic) {
            thread = new Thread(() -> {
                try (var c = new KafkaConsumer<>(Map.<String, Object>of("bootstrap.servers", bootstrap(),
                        "group.id", "test-" + UUID.randomUUID(), "auto.offset.reset", "earliest"),
                        new StringDeserializer(), new StringDeserializer())) {
                    c.subscribe(List.of(topic));
                    while (!closed) for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                        try {
                            records.add(JSON.readTree(r.value()));
                        } catch (Exception e) {
                            records.add(JSON.createObjectNode().put("unparseable", r.value()));
                        }
                    }
                }
            }, "test-reader-" + topic);
            thread.setDaemon(true);
            thread.start();
        }

        /** Records so far that match. */
        public List<JsonNode> matching(Predicate<JsonNode> p) {
            synchronized (records) {
                return records.stream().filter(p).toList();
            }
        }

        /** Waits until {@code count} records match (failing after {@code timeout}). */
        public List<JsonNode> await(Predicate<JsonNode> p, int count, Duration timeout, String what) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                List<JsonNode> m = matching(p);
                if (m.size() >= count) return m;
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            fail("timed out after " + timeout + " waiting for " + count + " " + what + "; have " + matching(p).size());
            return List.of();
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    /** Token records of one request, in seq order, and its final record. */
    public static Predicate<JsonNode> of(String requestId) {
        return n -> requestId.equals(n.path("request_id").asText(null));
    }

    public static Predicate<JsonNode> finalOf(String requestId) {
        return of(requestId).and(n -> n.path("type").asText().equals("done") || n.path("type").asText().equals("error"));
    }

    /** The text of a request's token records, concatenated in seq order. */
    public static String text(List<JsonNode> records) {
        StringBuilder b = new StringBuilder();
        records.stream().filter(n -> n.path("type").asText().equals("token"))
                .sorted(java.util.Comparator.comparingInt(n -> n.get("seq").asInt()))
                .forEach(n -> b.append(n.get("text").asText()));
        return b.toString();
    }

    @Override
    public void close() throws Exception {
        producer.close();
        cluster.close();
    }
}
