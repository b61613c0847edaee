package ai.jamba.service.kafka;

import ai.jamba.engine.serve.Engine;
import ai.jamba.engine.serve.EngineException;
import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.engine.serve.RequestHandle;
import ai.jamba.engine.session.SessionIds;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The jamba.prompts consumer, on its own thread. Each record becomes an engine request; its offset is committed
 * only once the request's final event is acknowledged by the broker, and only up to the oldest request of its
 * partition still running (at-least-once). The loop never stops polling, so a long generation cannot exceed
 * max.poll.interval.ms: when the engine's queue passes its high-water mark the partitions are paused instead, and
 * resumed below the low one.
 */
public final class PromptConsumer implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(PromptConsumer.class);

    /** A request whose final event the broker has acknowledged. */
    private record Finished(TopicPartition partition, long offset) {}

    private final Consumer<String, byte[]> consumer;
    private final Engine engine;
    private final TokenWriter writer;
    private final CompletedRequests completed;
    private final String topic;
    private final PromptRecord.Limits limits;
    private final int highWater, lowWater;

    private final ConcurrentLinkedQueue<Finished> finished = new ConcurrentLinkedQueue<>();
    private final Map<TopicPartition, TreeSet<Long>> inFlight = new HashMap<>();
    private final Map<TopicPartition, Long> polledUpTo = new HashMap<>();
    private final Map<TopicPartition, Long> committed = new HashMap<>();
    private final Set<TopicPartition> overloaded = new HashSet<>();
    private final Map<String, RequestHandle> running = new ConcurrentHashMap<>();
    private volatile boolean stopping, ready;
    private volatile Thread thread;
    private boolean paused;

    public PromptConsumer(Consumer<String, byte[]> consumer, Engine engine, TokenWriter writer, CompletedRequests completed,
                          String topic, PromptRecord.Limits limits, int highWater, int lowWater) {
        this.consumer = consumer;
        this.engine = engine;
        this.writer = writer;
        this.completed = completed;
        this.topic = topic;
        this.limits = limits;
        this.highWater = highWater;
        this.lowWater = lowWater;
    }

    /** Whether the consumer has joined its group and holds partitions. */
    public boolean ready() {
        return ready;
    }

    public int running() {
        return running.size();
    }

    @Override
    public void run() {
        thread = Thread.currentThread();
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                commitFinished(true);
                // requests still running finish and write their events; the partition's new owner redelivers them
                // (consumers deduplicate by request_id and seq)
                for (TopicPartition p : partitions) {
                    inFlight.remove(p);
                    polledUpTo.remove(p);
                    committed.remove(p);
                    overloaded.remove(p);
                }
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                if (!partitions.isEmpty()) log.info("kafka: consuming {} partitions of {}", consumer.assignment().size(), topic);
                ready = !consumer.assignment().isEmpty();
                if (paused) consumer.pause(partitions);
            }
        });
        try {
            while (!stopping) {
                try {
                    for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) handle(r);
                } catch (WakeupException e) {
                    if (!stopping) throw e;
                }
                commitFinished(false);
                flowControl();
            }
            drain();
        } catch (RuntimeException e) {
            log.error("kafka: the prompt consumer stopped: {}", e.toString(), e);
            throw e;
        } finally {
            consumer.close();
        }
    }

    private void handle(ConsumerRecord<String, byte[]> r) {
        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
        if (overloaded.contains(tp)) return; // we seeked back; this record comes again once resumed
        inFlight.computeIfAbsent(tp, p -> new TreeSet<>()).add(r.offset());
        polledUpTo.put(tp, r.offset() + 1);
        GenerationRequest request;
        try {
            request = PromptRecord.parse(r.value(), limits);
        } catch (PromptRecord.Rejected why) {
            log.warn("kafka: {}-{}@{} rejected ({}): {}", r.topic(), r.partition(), r.offset(), why.code, why.getMessage());
            whenAcked(writer.rejected(r, why), tp, r.offset());
            return;
        }
        String key = request.sessionId() != null ? request.sessionId() : request.requestId();
        if (request.sessionId() == null) // named now, so every record of the request can say which session it made
            request = new GenerationRequest(request.requestId(), SessionIds.random(), request.owner(), request.prompt(), request.sampling());
        CompletableFuture<Void> acked = new CompletableFuture<>();
        var replay = completed.get(request.requestId());
        if (replay.isPresent()) {
            log.info("kafka: request {} finished before; writing its recorded events again", request.requestId());
            writer.replay(key, replay.get(), acked);
            whenAcked(acked, tp, r.offset());
            return;
        }
        String requestId = request.requestId();
        // recorded before the final record goes out: once it is acknowledged (and the offset committed), a crash
        // cannot run the turn a second time
        var sink = writer.sink(key, requestId, request.sessionId(), acked, records -> completed.add(requestId, records));
        try {
            RequestHandle h = engine.submit(request, sink);
            running.put(requestId, h);
            h.completion().whenComplete((last, error) -> running.remove(requestId, h)); // at once if already over
            whenAcked(acked, tp, r.offset());
        } catch (EngineException e) {
            if (e.code() == EngineException.Code.OVERLOADED) {
                // not this request's fault: take it again later
                inFlight.get(tp).remove(r.offset());
                overloaded.add(tp);
                consumer.seek(tp, r.offset());
                consumer.pause(List.of(tp));
                log.info("kafka: engine queue full; pausing {} at offset {}", tp, r.offset());
                return;
            }
            whenAcked(writer.rejected(r, new PromptRecord.Rejected(e.code().wire(), e.getMessage(),
                    request.requestId(), request.sessionId())), tp, r.offset());
        }
    }

    private void whenAcked(CompletableFuture<Void> acked, TopicPartition tp, long offset) {
        acked.whenComplete((v, error) -> {
            if (error == null) finished.add(new Finished(tp, offset));
            else log.error("kafka: the final event of {}@{} was not written ({}); its offset stays uncommitted", tp, offset, error.toString());
        });
    }

    /** Commits, per partition, up to the oldest request still running (or all polled, when none is). */
    private void commitFinished(boolean sync) {
        Finished f;
        while ((f = finished.poll()) != null) {
            TreeSet<Long> set = inFlight.get(f.partition());
            if (set != null) set.remove(f.offset());
        }
        Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
        for (Map.Entry<TopicPartition, Long> e : polledUpTo.entrySet()) {
            TreeSet<Long> open = inFlight.get(e.getKey());
            long upTo = open == null || open.isEmpty() ? e.getValue() : open.first();
            if (!Long.valueOf(upTo).equals(committed.get(e.getKey()))) commit.put(e.getKey(), new OffsetAndMetadata(upTo));
        }
        if (commit.isEmpty()) return;
        if (sync) consumer.commitSync(commit);
        else consumer.commitAsync(commit, (offsets, error) -> {
            if (error != null) log.warn("kafka: offset commit failed ({}); it is retried with the next one", error.toString());
        });
        commit.forEach((tp, o) -> committed.put(tp, o.offset()));
    }

    private void flowControl() {
        int queued = engine.stats().queueDepth();
        if (!paused && queued >= highWater) {
            consumer.pause(consumer.assignment());
            paused = true;
            log.info("kafka: engine queue at {} (high-water {}): pausing {}", queued, highWater, topic);
        } else if ((paused || !overloaded.isEmpty()) && queued <= lowWater) {
            consumer.resume(consumer.paused());
            paused = false;
            overloaded.clear();
            log.info("kafka: engine queue at {} (low-water {}): resuming {}", queued, lowWater, topic);
        }
    }

    /** After the loop: running requests finish (or are cancelled once the grace period ends), then a last commit. */
    private void drain() {
        consumer.pause(consumer.assignment()); // from here on, polls only keep the membership alive
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!running.isEmpty() && System.nanoTime() < deadline) commitThenWait();
        if (!running.isEmpty()) {
            log.info("kafka: cancelling {} running requests", running.size());
            running.values().forEach(RequestHandle::cancel);
            long cancelDeadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!running.isEmpty() && System.nanoTime() < cancelDeadline) commitThenWait();
        }
        try {
            Thread.sleep(200); // the last final events' acknowledgements
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        commitFinished(true);
    }

    private void commitThenWait() {
        commitFinished(false);
        consumer.poll(Duration.ofMillis(50)); // paused: returns nothing, keeps the group membership alive
    }

    /** Stops polling; running requests finish or are cancelled, offsets are committed, the consumer closes. */
    public void stop() {
        stopping = true;
        consumer.wakeup();
    }
}
