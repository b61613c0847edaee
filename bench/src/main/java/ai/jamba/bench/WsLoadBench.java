package ai.jamba.bench;

import ai.jamba.engine.cli.Args;
import ai.jamba.service.JambaService;
import ai.jamba.service.ServiceConfig;
import ai.jamba.service.Settings;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * WebSocket load: many chats at once against the service, each its own socket and one user frame, as browsers on the
 * chat page would send them. Reports how many completed, time to first token (the user frame sent to the first token
 * frame received, as a user sees it: queueing, prefill and the network included) at p50/p99/max, and aggregate
 * tok/s (every generated token over the wall time from the first frame sent to the last reply done).
 *
 * <p>Without {@code --url} it starts the service in this process (embedded broker on a free port, a temporary data
 * directory, the service's defaults but for the per-key concurrency limit, raised to the number of chats, and
 * {@code --max-sequences} when given). With
 * {@code --url} it loads a running server, whose {@code --concurrent-per-key} must allow that many chats.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp 'target/lib/*' ai.jamba.bench.WsLoadBench \
 *     [--chats 100] [--max-tokens 64] [--temperature 0.8] [--max-sequences N] [--model DIR]
 *     [--url http://127.0.0.1:8080] [--key API_KEY]
 * </pre>
 */
public final class WsLoadBench {
    private WsLoadBench() {}

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Openings in the style of the demo model's fortunes; chat i sends PROMPTS[i % n] with seed i. */
    private static final List<String> PROMPTS = List.of("You will", "The meaning of life is", "A programmer walks into a bar",
            "Never trust a", "Q: Why did the chicken", "It is a truth universally", "Love is", "The early bird", "In the beginning",
            "Computers are");

    /** One chat as its client saw it; times in nanoseconds from System.nanoTime(). */
    record Chat(long sent, long firstToken, long done, int tokens, String finish) {}

    public static void main(String[] argv) throws Exception {
        Args args = Args.parse(argv, Set.of("chats", "max-tokens", "temperature", "url", "key", "model", "max-sequences"), Set.of());
        int chats = args.integer("chats", 100);
        int maxTokens = args.integer("max-tokens", 64);
        float temperature = args.number("temperature", 0.8f);
        JambaService service = args.has("url") ? null : startService(args.model(), chats, args.string("max-sequences", null));
        String url = service != null ? "http://127.0.0.1:" + service.httpPort() : args.string("url", null);
        URI ws = URI.create(url.replaceFirst("^http", "ws") + "/ws/chat");
        try (HttpClient client = HttpClient.newHttpClient()) {
            System.err.println("ws load: warming up (8 chats)");
            run(client, ws, args.string("key", null), 8, maxTokens, temperature);
            System.err.println("ws load: " + chats + " concurrent chats against " + ws);
            long t0 = System.nanoTime();
            List<Chat> results = run(client, ws, args.string("key", null), chats, maxTokens, temperature);
            report(results, t0, chats, maxTokens, temperature, service);
        } finally {
            if (service != null) service.close();
        }
    }

    /** @param maxSequences the engine's batch limit, or null for the service's default */
    private static JambaService startService(Path model, int chats, String maxSequences) throws Exception {
        Path data = Files.createTempDirectory("jamba-ws-load");
        Map<String, String> s = new HashMap<>();
        s.put("model", model.toString());
        s.put("http-port", "0");
        s.put("kafka-port", Integer.toString(freePort()));
        s.put("data-dir", data.toString());
        s.put("concurrent-per-key", Integer.toString(chats));
        if (maxSequences != null) s.put("max-sequences", maxSequences);
        System.err.println("ws load: starting the service in this process (data in " + data + ")");
        return JambaService.start(ServiceConfig.from(Settings.of(s)));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Opens every socket first, then sends every user frame at once, and waits for every reply. */
    private static List<Chat> run(HttpClient client, URI uri, String key, int chats, int maxTokens, float temperature) {
        List<Client> clients = new ArrayList<>();
        for (int i = 0; i < chats; i++) clients.add(new Client(client, uri, key));
        CompletableFuture.allOf(clients.stream().map(c -> c.opened).toArray(CompletableFuture[]::new)).join();
        for (int i = 0; i < chats; i++) {
            String frame = JSON.createObjectNode().put("type", "user").put("content", PROMPTS.get(i % PROMPTS.size()))
                    .set("params", JSON.createObjectNode().put("max_tokens", maxTokens).put("temperature", temperature).put("seed", i))
                    .toString();
            clients.get(i).send(frame);
        }
        List<Chat> out = new ArrayList<>();
        for (Client c : clients) {
            try {
                out.add(c.result.get(10, TimeUnit.MINUTES));
            } catch (Exception e) {
                out.add(new Chat(c.sent, 0, 0, 0, "failed: " + e));
            }
            c.close();
        }
        return out;
    }

    /** One socket: sends one user frame and records when its first token and its done frame came. */
    private static final class Client implements WebSocket.Listener {
        final CompletableFuture<WebSocket> opened;
        final CompletableFuture<Chat> result = new CompletableFuture<>();
        private final StringBuilder partial = new StringBuilder();
        private volatile long sent;
        private long firstToken;
        private int tokens;

        Client(HttpClient client, URI uri, String key) {
            WebSocket.Builder b = client.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(30));
            if (key != null) b.header("Authorization", "Bearer " + key);
            opened = b.buildAsync(uri, this);
        }

        void send(String frame) {
            sent = System.nanoTime();
            opened.join().sendText(frame, true);
        }

        @Override
        public CompletableFuture<?> onText(WebSocket socket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                onFrame(partial.toString());
                partial.setLength(0);
            }
            socket.request(1);
            return null;
        }

        private void onFrame(String text) {
            JsonNode f;
            try {
                f = JSON.readTree(text);
            } catch (IOException e) {
                result.complete(new Chat(sent, firstToken, System.nanoTime(), tokens, "unparseable frame"));
                return;
            }
            switch (f.path("type").asText()) {
                case "token" -> {
                    if (firstToken == 0) firstToken = System.nanoTime();
                    tokens += f.get("ids").size();
                }
                case "done" -> result.complete(new Chat(sent, firstToken, System.nanoTime(), tokens, f.get("finish_reason").asText()));
                case "error" -> result.complete(new Chat(sent, firstToken, System.nanoTime(), tokens, "error " + f.get("code").asText()));
                default -> { } // the session frame
            }
        }

        @Override
        public void onError(WebSocket socket, Throwable error) {
            result.completeExceptionally(error);
        }

        void close() {
            opened.thenAccept(s -> s.sendClose(WebSocket.NORMAL_CLOSURE, "done"));
        }
    }

    private static void report(List<Chat> chats, long t0, int n, int maxTokens, float temperature, JambaService service) {
        List<Chat> ok = chats.stream().filter(c -> c.finish.equals("stop") || c.finish.equals("length")).toList();
        chats.stream().filter(c -> !ok.contains(c)).limit(5).forEach(c -> System.err.println("ws load: a chat ended with " + c.finish));
        double[] ttftMs = ok.stream().mapToDouble(c -> (c.firstToken - c.sent) / 1e6).sorted().toArray();
        long tokens = ok.stream().mapToLong(Chat::tokens).sum();
        long end = ok.stream().mapToLong(Chat::done).max().orElse(t0);
        double wallS = (end - chats.stream().mapToLong(Chat::sent).min().orElse(t0)) / 1e9;
        System.out.printf("%n%d concurrent chats, one user frame each (max_tokens %d, temperature %.1f, seed = chat number)%n%n", n, maxTokens, temperature);
        System.out.println("| chats | completed | tokens | wall s | aggregate tok/s | TTFT p50 ms | TTFT p99 ms | TTFT max ms |"
                + (service != null ? " largest batch |" : ""));
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|" + (service != null ? "---:|" : ""));
        System.out.printf("| %d | %d | %d | %.2f | %.0f | %.0f | %.0f | %.0f |%s%n", n, ok.size(), tokens, wallS, tokens / wallS,
                percentile(ttftMs, 0.50), percentile(ttftMs, 0.99), ttftMs.length == 0 ? 0 : ttftMs[ttftMs.length - 1],
                service != null ? " " + service.maxBatchSequences() + " |" : "");
    }

    /** Nearest-rank percentile of sorted values. */
    private static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) return 0;
        return sorted[Math.max(0, (int) Math.ceil(p * sorted.length) - 1)];
    }
}
