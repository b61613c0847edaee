package ai.jamba.service.kafka;

import ai.jamba.engine.serve.EventSink;
import ai.jamba.engine.serve.GenerationEvent;
import ai.jamba.service.EventJson;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Writes a request's events to jamba.tokens (key: session id, else request id), numbered by {@code seq} from 0:
 * token records, then one done or error record. Records that cannot be served also go to jamba.errors with the
 * reason and the first 64 KB of their value. The idempotent producer writes a retried send once.
 */
public final class TokenWriter {
    static final int RAW_VALUE_LIMIT = 64 << 10;

    private final Producer<String, String> producer;
    private final Topics topics;

    public TokenWriter(Producer<String, String> producer, Topics topics) {
        this.producer = producer;
        this.topics = topics;
    }

    /**
     * A sink for one request. {@code acked} completes once the final event's record is acknowledged (or fails if
     * it cannot be written). {@code beforeFinal} hears every record of the request, in order, just before the
     * final one is sent (for the replay log).
     */
    public EventSink sink(String key, String requestId, String sessionId, CompletableFuture<Void> acked,
                          java.util.function.Consumer<List<String>> beforeFinal) {
        List<String> recorded = new ArrayList<>();
        int[] seq = {0};
        return event -> {
            ObjectNode n = EventJson.JSON.createObjectNode();
            boolean last = !(event instanceof GenerationEvent.Token);
            switch (event) {
                case GenerationEvent.Token t -> {
                    n.put("type", "token").put("request_id", requestId).put("session_id", sessionId);
                    n.put("seq", seq[0]++).set("ids", EventJson.ids(t.ids()));
                    n.put("text", t.text());
                }
                case GenerationEvent.Done d -> {
                    n.put("type", "done").put("request_id", requestId).put("session_id", d.sessionId()).put("seq", seq[0]++);
                    n.put("finish_reason", d.finishReason().wire());
                    n.set("usage", EventJson.usage(d.usage()));
                    n.set("timings", EventJson.timings(d.timings()));
                }
                case GenerationEvent.Error e -> {
                    n.put("type", "error").put("request_id", requestId).put("session_id", sessionId).put("seq", seq[0]++);
                    n.putObject("error").put("code", e.code().wire()).put("message", e.message());
                }
            }
            String value = n.toString();
            recorded.add(value);
            if (last) beforeFinal.accept(recorded);
            send(key, value, last ? acked : null);
        };
    }

    /** Writes records recorded earlier again (a redelivered request that had already finished). */
    public void replay(String key, List<String> records, CompletableFuture<Void> acked) {
        for (int i = 0; i < records.size(); i++) send(key, records.get(i), i == records.size() - 1 ? acked : null);
    }

    /** A record that cannot be served: an error event on jamba.tokens and the record itself on jamba.errors. */
    public CompletableFuture<Void> rejected(ConsumerRecord<String, byte[]> record, PromptRecord.Rejected why) {
        String key = why.sessionId != null ? why.sessionId : why.requestId != null ? why.requestId : record.key();
        ObjectNode event = EventJson.JSON.createObjectNode().put("type", "error");
        if (why.requestId != null) event.put("request_id", why.requestId);
        if (why.sessionId != null) event.put("session_id", why.sessionId);
        event.put("seq", 0);
        event.putObject("error").put("code", why.code).put("message", why.getMessage());

        ObjectNode error = EventJson.JSON.createObjectNode()
                .put("code", why.code).put("message", why.getMessage())
                .put("topic", record.topic()).put("partition", record.partition()).put("offset", record.offset())
                .put("key", record.key());
        if (why.requestId != null) error.put("request_id", why.requestId);
        byte[] raw = record.value() == null ? new byte[0] : record.value();
        byte[] head = Arrays.copyOf(raw, Math.min(raw.length, RAW_VALUE_LIMIT));
        error.put("value_bytes", raw.length).put("value_truncated", raw.length > head.length);
        if (why.code.equals("invalid_utf8")) error.put("value_base64", Base64.getEncoder().encodeToString(head));
        else error.put("value", new String(head, StandardCharsets.UTF_8));

        CompletableFuture<Void> both = new CompletableFuture<>(), first = new CompletableFuture<>(), second = new CompletableFuture<>();
        send(key, event.toString(), first);
        send(topics.errors(), key, error.toString(), second);
        CompletableFuture.allOf(first, second).whenComplete((v, t) -> {
            if (t != null) both.completeExceptionally(t);
            else both.complete(null);
        });
        return both;
    }

    private void send(String key, String value, CompletableFuture<Void> acked) {
        send(topics.tokens(), key, value, acked);
    }

    private void send(String topic, String key, String value, CompletableFuture<Void> acked) {
        producer.send(new ProducerRecord<>(topic, key, value), (meta, error) -> {
            if (acked == null) return;
            if (error != null) acked.completeExceptionally(error);
            else acked.complete(null);
        });
    }
}
