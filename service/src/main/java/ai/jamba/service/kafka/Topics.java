package ai.jamba.service.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;

/**
 * The service's topics, as kafka-config/topics.json defines them: prompts in, tokens out, errors, and compacted
 * session snapshots. Missing ones are created at start; existing ones are left as they are.
 */
public record Topics(String prompts, String tokens, String errors, String sessions, List<NewTopic> definitions) {

    /**
     * Reads the definitions; {@code partitions} (if > 0) and {@code retentionMs} (if > 0) override the file for
     * the prompts, tokens and sessions topics.
     */
    public static Topics load(int partitions, long retentionMs) {
        JsonNode root;
        try (InputStream in = Topics.class.getResourceAsStream("/kafka-config/topics.json")) {
            if (in == null) throw new IllegalStateException("kafka-config/topics.json is missing from the classpath");
            root = new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("kafka-config/topics.json: " + e.getMessage(), e);
        }
        Map<String, String> byRole = new LinkedHashMap<>();
        List<NewTopic> defs = new ArrayList<>();
        for (JsonNode t : root.get("topics")) {
            String name = t.get("name").asText(), role = t.get("role").asText();
            int parts = partitions > 0 && !role.equals("errors") ? partitions : t.get("partitions").asInt();
            Map<String, String> configs = new LinkedHashMap<>();
            t.path("configs").fields().forEachRemaining(e -> configs.put(e.getKey(), e.getValue().asText()));
            if (retentionMs > 0 && (role.equals("prompts") || role.equals("tokens"))) configs.put("retention.ms", Long.toString(retentionMs));
            defs.add(new NewTopic(name, parts, (short) t.get("replication_factor").asInt()).configs(configs));
            byRole.put(role, name);
        }
        for (String role : List.of("prompts", "tokens", "errors", "sessions"))
            if (!byRole.containsKey(role)) throw new IllegalStateException("kafka-config/topics.json defines no \"" + role + "\" topic");
        return new Topics(byRole.get("prompts"), byRole.get("tokens"), byRole.get("errors"), byRole.get("sessions"), defs);
    }

    /** Creates the topics the cluster lacks; returns their names. */
    public List<String> createMissing(Admin admin) throws InterruptedException {
        try {
            Set<String> existing = admin.listTopics().names().get();
            List<NewTopic> missing = definitions.stream().filter(t -> !existing.contains(t.name())).toList();
            if (missing.isEmpty()) return List.of();
            try {
                admin.createTopics(missing).all().get();
            } catch (ExecutionException e) {
                // another instance may have created one between our list and create
                if (!(e.getCause() instanceof TopicExistsException)) throw e;
            }
            return missing.stream().map(NewTopic::name).toList();
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot create Kafka topics: " + e.getCause().getMessage(), e.getCause());
        }
    }
}
