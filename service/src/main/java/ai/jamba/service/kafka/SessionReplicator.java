package ai.jamba.service.kafka;

import ai.jamba.engine.session.Session;
import ai.jamba.engine.session.SessionFileException;
import ai.jamba.engine.session.SessionStore;
import ai.jamba.service.EventJson;
import com.fasterxml.jackson.databind.JsonNode;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Sessions shared through the compacted topic jamba.sessions, so that when a partition of jamba.prompts moves to
 * another instance, that instance resumes the session rather than starting it over.
 *
 * <p>After each turn a session's file is published as chunks (key {@code <id>/<n>}, under the broker's record-size
 * limit), then a manifest (key {@code <id>}: chunk count, size, SHA-256). A session over {@code maxStateBytes}
 * travels with its token ids only, and the receiver prefills them again. An ended session gets tombstones.
 * Every instance reads the whole topic and adopts sessions it does not have as far along (a session's tokens
 * only grow); compaction keeps the newest record of each key. A session's tombstone ends it on every instance,
 * and an instance that ended a session ignores the copies it published before, until its tombstone comes back.
 */
public final class SessionReplicator implements SessionStore.Listener, Runnable {
    private static final Logger log = LoggerFactory.getLogger(SessionReplicator.class);
    static final int CHUNK_BYTES = 512 << 10;
    private static final long PARTITIONS_RETRY_MS = 200;

    private final SessionStore store;
    private final Producer<String, byte[]> producer;
    private final Consumer<String, byte[]> consumer;
    private final String topic;
    private final long maxStateBytes;
    private final ExecutorService publisher = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "jamba-session-publish");
        t.setDaemon(true);
        return t;
    });
    /** Sessions this instance ended whose tombstone it has not read back yet: their earlier copies are stale. */
    private final java.util.Set<String> endedHere = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Chunks published per session, so its end can tombstone them all. */
    private final Map<String, Integer> published = new java.util.concurrent.ConcurrentHashMap<>();
    /** Sessions being received: manifest and chunks, in any order; the oldest assemblies are dropped past a bound. */
    private final Map<String, Assembly> receiving = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Assembly> eldest) {
            return size() > 256;
        }
    };
    private volatile boolean stopping;

    private static final class Assembly {
        JsonNode manifest;
        final Map<Integer, byte[]> chunks = new java.util.HashMap<>();
    }

    public SessionReplicator(SessionStore store, Producer<String, byte[]> producer, Consumer<String, byte[]> consumer,
                             String topic, long maxStateBytes) {
        this.store = store;
        this.producer = producer;
        this.consumer = consumer;
        this.topic = topic;
        this.maxStateBytes = maxStateBytes;
    }

    // ---- publishing (the store tells us) --------------------------------------------------------------------

    @Override
    public void written(Session session, Path file) {
        publisher.execute(() -> publish(session));
    }

    @Override
    public void ended(String id) {
        endedHere.add(id);
        publisher.execute(() -> {
            Integer chunks = published.remove(id);
            for (int i = 0; chunks != null && i < chunks; i++) producer.send(new ProducerRecord<>(topic, id + "/" + i, null));
            producer.send(new ProducerRecord<>(topic, id, null));
        });
    }

    private void publish(Session s) {
        try {
            byte[] bytes = store.encode(s, true);
            boolean withState = bytes.length <= maxStateBytes;
            if (!withState) bytes = store.encode(s, false);
            int chunks = Math.max(1, (bytes.length + CHUNK_BYTES - 1) / CHUNK_BYTES);
            for (int i = 0; i < chunks; i++)
                producer.send(new ProducerRecord<>(topic, s.id() + "/" + i,
                        Arrays.copyOfRange(bytes, i * CHUNK_BYTES, Math.min(bytes.length, (i + 1) * CHUNK_BYTES))));
            var manifest = EventJson.JSON.createObjectNode().put("id", s.id()).put("tokens", s.tokens().length)
                    .put("chunks", chunks).put("bytes", bytes.length).put("sha256", sha256(bytes)).put("with_state", withState);
            producer.send(new ProducerRecord<>(topic, s.id(), manifest.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            Integer before = published.put(s.id(), chunks);
            for (int i = chunks; before != null && i < before; i++) producer.send(new ProducerRecord<>(topic, s.id() + "/" + i, null));
        } catch (IOException | RuntimeException e) {
            log.warn("session {}: not published to {}: {}", s.id(), topic, e.toString());
        }
    }

    // ---- receiving (our own thread) -------------------------------------------------------------------------

    @Override
    public void run() {
        try {
            List<TopicPartition> partitions = partitions();
            if (partitions.isEmpty()) return; // stopped before the topic showed up
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (!stopping) {
                try {
                    for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) receive(r);
                } catch (WakeupException e) {
                    if (!stopping) throw e;
                }
            }
        } catch (RuntimeException e) {
            log.error("sessions: the {} reader stopped: {}", topic, e.toString());
        } finally {
            consumer.close();
        }
    }

    /**
     * The topic's partitions, once the broker reports them: just after the topic is created (an instance's first
     * start) the consumer's metadata may not list it yet, and assigning no partitions would stop the reader for good.
     */
    private List<TopicPartition> partitions() {
        for (int attempt = 0; !stopping; attempt++) {
            List<TopicPartition> found = consumer.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            if (!found.isEmpty()) return found;
            if (attempt == 0) log.info("sessions: waiting for the broker to list the partitions of {}", topic);
            try {
                Thread.sleep(PARTITIONS_RETRY_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return List.of();
    }

    private void receive(ConsumerRecord<String, byte[]> r) {
        String key = r.key();
        if (key == null) return;
        int slash = key.lastIndexOf('/');
        String id = slash < 0 ? key : key.substring(0, slash);
        if (r.value() == null) {
            if (slash < 0) ended(id, r);
            return;
        }
        if (endedHere.contains(id)) return; // a copy published before this instance ended the session
        Assembly a = receiving.computeIfAbsent(id, k -> new Assembly());
        try {
            if (slash < 0) a.manifest = EventJson.JSON.readTree(r.value());
            else a.chunks.put(Integer.parseInt(key.substring(slash + 1)), r.value());
        } catch (IOException | NumberFormatException e) {
            log.warn("sessions: record {} of {} is not ours to read; skipped", key, topic);
            return;
        }
        if (a.manifest == null || a.chunks.size() < a.manifest.path("chunks").asInt(Integer.MAX_VALUE)) return;
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (int i = 0; i < a.manifest.get("chunks").asInt(); i++) {
            byte[] c = a.chunks.get(i);
            if (c == null) return;
            all.writeBytes(c);
        }
        byte[] bytes = all.toByteArray();
        if (!sha256(bytes).equals(a.manifest.path("sha256").asText())) return; // chunks of another version: wait for the rest
        receiving.remove(id);
        try {
            if (store.adopt(bytes))
                log.info("session {}: taken from {} ({} tokens{})", id, topic, a.manifest.path("tokens").asInt(),
                        a.manifest.path("with_state").asBoolean() ? "" : ", without state: its next turn prefills them");
        } catch (SessionFileException | IOException e) {
            log.warn("session {}: the copy on {} cannot be used: {}", id, topic, e.getMessage());
        }
    }

    /** A tombstone: the session ended on some instance, so it ends here too. */
    private void ended(String id, ConsumerRecord<String, byte[]> tombstone) {
        receiving.remove(id);
        if (endedHere.remove(id)) return; // our own: already gone here
        if (store.delete(id)) log.info("session {}: ended elsewhere ({} offset {})", id, topic, tombstone.offset());
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stops reading; what is queued for publishing is sent first. */
    public void stop() {
        stopping = true;
        consumer.wakeup();
        publisher.shutdown();
        try {
            publisher.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
