package ai.jamba.service.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * {@code ./jamba kafka send} and {@code ./jamba kafka tail}: enough to try the service with no other Kafka tools.
 * send writes one request to jamba.prompts (and with --follow prints the reply as it streams);
 * tail prints jamba.tokens records as JSON lines, optionally only one request's, until its final event.
 */
public final class KafkaCli {
    private KafkaCli() {}

    static final String USAGE = """
            usage: ./jamba kafka send [--bootstrap HOST:PORT] (--prompt TEXT | --messages JSON | --prompt-ids 1,2,3)
                                      [--session ID] [--request ID] [--max-tokens N] [--temperature T] [--follow]
                   ./jamba kafka tail [--bootstrap HOST:PORT] [--request ID] [--from-beginning]
              --bootstrap defaults to 127.0.0.1:9092 (the service's embedded broker).""";

    public static int run(String[] argv, PrintStream out, PrintStream err) throws IOException, InterruptedException {
        if (argv.length == 0 || (!argv[0].equals("send") && !argv[0].equals("tail"))) {
            err.println(USAGE);
            return 2;
        }
        Map<String, String> opts = new HashMap<>();
        for (int i = 1; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument \"" + a + "\"");
            String name = a.substring(2);
            if (List.of("follow", "from-beginning").contains(name)) opts.put(name, "true");
            else if (List.of("bootstrap", "prompt", "messages", "prompt-ids", "session", "request", "max-tokens", "temperature").contains(name)) {
                if (i + 1 >= argv.length) throw new IllegalArgumentException("--" + name + " needs a value");
                opts.put(name, argv[++i]);
            } else throw new IllegalArgumentException("unknown option --" + name + "\n" + USAGE);
        }
        String bootstrap = opts.getOrDefault("bootstrap", "127.0.0.1:9092");
        Topics topics = Topics.load(0, 0);
        if (argv[0].equals("send")) {
            String requestId = send(bootstrap, topics.prompts(), opts, out);
            if (opts.containsKey("follow")) return tail(bootstrap, topics.tokens(), requestId, false, out, true);
            return 0;
        }
        return tail(bootstrap, topics.tokens(), opts.get("request"), opts.containsKey("from-beginning"), out, false);
    }

    private static String send(String bootstrap, String topic, Map<String, String> opts, PrintStream out) throws IOException {
        ObjectMapper m = new ObjectMapper();
        ObjectNode req = m.createObjectNode();
        String requestId = opts.getOrDefault("request", UUID.randomUUID().toString());
        req.put("request_id", requestId);
        if (opts.containsKey("session")) req.put("session_id", opts.get("session"));
        int given = 0;
        if (opts.containsKey("prompt")) {
            req.put("prompt", opts.get("prompt"));
            given++;
        }
        if (opts.containsKey("messages")) {
            req.set("messages", m.readTree(opts.get("messages")));
            given++;
        }
        if (opts.containsKey("prompt-ids")) {
            var ids = req.putArray("prompt_ids");
            for (String s : opts.get("prompt-ids").split(",")) ids.add(Integer.parseInt(s.trim()));
            given++;
        }
        if (given != 1) throw new IllegalArgumentException("give exactly one of --prompt, --messages and --prompt-ids");
        if (opts.containsKey("max-tokens")) req.put("max_tokens", Integer.parseInt(opts.get("max-tokens")));
        if (opts.containsKey("temperature")) req.put("temperature", Double.parseDouble(opts.get("temperature")));
        String key = opts.getOrDefault("session", requestId);
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", bootstrap, "enable.idempotence", true,
                "acks", "all", "max.request.size", 16 << 20), new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(topic, key, req.toString())).get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("cannot send to " + topic + " at " + bootstrap + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        if (!opts.containsKey("follow")) out.println(m.createObjectNode().put("request_id", requestId).put("topic", topic).put("key", key));
        return requestId;
    }

    /**
     * Prints token records (all, or one request's) as JSON lines; with {@code textOnly}, just the streamed text.
     * Stops after the request's final event when following one request.
     */
    private static int tail(String bootstrap, String topic, String requestId, boolean fromBeginning, PrintStream out, boolean textOnly) {
        ObjectMapper m = new ObjectMapper();
        Map<String, Object> props = Map.of("bootstrap.servers", bootstrap, "group.id", "jamba-tail-" + UUID.randomUUID(),
                "enable.auto.commit", false, "auto.offset.reset", fromBeginning || requestId != null ? "earliest" : "latest");
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            while (true) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    JsonNode n;
                    try {
                        n = m.readTree(r.value());
                    } catch (IOException e) {
                        continue; // not ours to judge: tail shows the service's records
                    }
                    if (requestId != null && !requestId.equals(n.path("request_id").asText(null))) continue;
                    String type = n.path("type").asText();
                    if (textOnly) {
                        if (type.equals("token")) out.print(n.path("text").asText(""));
                        else if (type.equals("error")) out.println("\nerror: " + n.path("error"));
                        else if (type.equals("done")) out.println();
                        out.flush();
                    } else out.println(n);
                    if (requestId != null && (type.equals("done") || type.equals("error"))) return type.equals("done") ? 0 : 1;
                }
            }
        }
    }
}
