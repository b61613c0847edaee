package ai.jamba.service.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import ai.jamba.service.EventJson;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The records written for recently finished requests, by request id, kept in a file that survives a crash.
 * Kafka delivers at least once: a request whose offset was not committed before a crash comes again, and
 * re-running it would apply its turn to its session a second time. Instead its recorded events are written again
 * (the same records, the same seq numbers), which consumers deduplicate.
 */
public final class CompletedRequests implements AutoCloseable {
    private final Path file;
    private final int capacity;
    private final Map<String, List<String>> byRequest;
    private BufferedWriter out;
    private int lines;

    public CompletedRequests(Path file, int capacity) {
        this.file = file;
        this.capacity = capacity;
        this.byRequest = new LinkedHashMap<>(16, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, List<String>> eldest) {
                return size() > CompletedRequests.this.capacity;
            }
        };
        try {
            Files.createDirectories(file.getParent());
            if (Files.exists(file)) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    try {
                        JsonNode n = EventJson.JSON.readTree(line);
                        List<String> records = new ArrayList<>();
                        n.get("records").forEach(r -> records.add(r.asText()));
                        byRequest.put(n.get("request_id").asText(), records);
                    } catch (IOException | RuntimeException e) {
                        // a line cut short by a crash: the request it described runs again
                    }
                }
            }
            rewrite();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the completed-request log " + file, e);
        }
    }

    public synchronized Optional<List<String>> get(String requestId) {
        return Optional.ofNullable(byRequest.get(requestId));
    }

    /** Records a finished request before its final record is acknowledged, so a crash cannot lose it. */
    public synchronized void add(String requestId, List<String> records) {
        byRequest.put(requestId, List.copyOf(records));
        ObjectNode n = EventJson.JSON.createObjectNode().put("request_id", requestId);
        ArrayNode a = n.putArray("records");
        records.forEach(a::add);
        try {
            out.write(n.toString());
            out.newLine();
            out.flush();
            if (++lines > 2 * capacity) rewrite();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + file, e);
        }
    }

    /** Writes the entries kept in memory to a fresh file, atomically, and appends from there. */
    private void rewrite() throws IOException {
        if (out != null) out.close();
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            for (Map.Entry<String, List<String>> e : byRequest.entrySet()) {
                ObjectNode n = EventJson.JSON.createObjectNode().put("request_id", e.getKey());
                ArrayNode a = n.putArray("records");
                e.getValue().forEach(a::add);
                w.write(n.toString());
                w.newLine();
            }
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        lines = byRequest.size();
        out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    @Override
    public synchronized void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
