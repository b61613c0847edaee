package ai.jamba.service.kafka;

import ai.jamba.engine.session.SessionStore;
import ai.jamba.engine.session.SessionStoreConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sessions reader on a broker that has just created the topic and does not list its partitions yet. */
class SessionReplicatorTest {
    private static final String TOPIC = "jamba.sessions";
    private static final long WAIT_MS = 10_000;

    @Test
    void theReaderWaitsForTheTopicsPartitionsThenReadsThem() throws Exception {
        MockConsumer<String, byte[]> consumer = new MockConsumer<>("earliest");
        TopicPartition partition = new TopicPartition(TOPIC, 0);
        consumer.updateBeginningOffsets(Map.of(partition, 0L));
        try (SessionStore store = SessionStore.open(SessionStoreConfig.defaults(), "test-model")) {
            SessionReplicator replicator = new SessionReplicator(store, new MockProducer<>(), consumer, TOPIC, 1 << 20);
            Thread reader = new Thread(replicator, "test-sessions-reader");
            reader.start();
            Thread.sleep(300); // the reader's first look finds no partitions
            consumer.updatePartitions(TOPIC, List.of(new PartitionInfo(TOPIC, 0, Node.noNode(), new Node[0], new Node[0])));
            assertTrue(within(() -> consumer.assignment().contains(partition)), "the reader never took the partition the broker listed later");
            consumer.addRecord(new ConsumerRecord<>(TOPIC, 0, 0, "s1/0", new byte[]{1, 2, 3}));
            assertTrue(within(() -> consumer.position(partition) == 1), "the reader did not read the record on the partition");
            replicator.stop();
            reader.join(WAIT_MS);
            assertFalse(reader.isAlive(), "the reader did not stop");
        }
    }

    private static boolean within(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            if (condition.getAsBoolean()) return true;
            Thread.sleep(20);
        }
        return false;
    }
}
