package ai.jamba.service.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The embedded broker is a real Kafka: records produced before a restart are there after it. */
class EmbeddedKafkaTest {
    @TempDir
    Path dir;

    @Test
    void recordsSurviveARestartWithTheSameClusterId() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String clusterId;
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir, port)) {
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrap()))) {
                admin.createTopics(List.of(new NewTopic("t", 1, (short) 1))).all().get();
                clusterId = admin.describeCluster().clusterId().get();
            }
            try (var p = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", kafka.bootstrap()), new StringSerializer(), new StringSerializer())) {
                p.send(new ProducerRecord<>("t", "k", "before restart")).get();
            }
        }
        String props = Files.readString(dir.resolve("meta.properties"));
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir, port)) {
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrap()))) {
                assertEquals(clusterId, admin.describeCluster().clusterId().get());
            }
            try (var c = new KafkaConsumer<>(Map.<String, Object>of("bootstrap.servers", kafka.bootstrap(), "group.id", "g",
                    "auto.offset.reset", "earliest"), new StringDeserializer(), new StringDeserializer())) {
                c.subscribe(List.of("t"));
                ConsumerRecords<String, String> records = ConsumerRecords.empty();
                for (int i = 0; i < 50 && records.isEmpty(); i++) records = c.poll(Duration.ofMillis(200));
                assertEquals("before restart", records.iterator().next().value());
            }
        }
        assertEquals(props, Files.readString(dir.resolve("meta.properties")));
    }
}
