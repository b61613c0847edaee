package ai.jamba.service.http;

import ai.jamba.service.JambaService;
import ai.jamba.service.TestKafka;
import ai.jamba.service.TestService;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The service as the HTTP and WebSocket tests meet it: on a free port, with API keys, the demo model on the CPU
 * and a real broker. One instance serves every test class of the run (a broker and a model per class would cost more
 * than the tests): a test method takes it as a parameter ({@code @ExtendWith(LiveServer.Extension.class)}), and
 * JUnit closes it after the last test.
 *
 * <p>Each test class uses its own API key, so the per-key rate limit of one does not spill into another.
 */
public final class LiveServer implements AutoCloseable {
    public static final int REQUESTS_PER_MINUTE = 30;
    public static final int MAX_REQUEST_BYTES = 64 << 10;
    public static final String CHAT_KEY = "key-chat", API_KEY = "key-api", ACCESS_KEY = "key-access",
            OTHER_KEY = "key-other", RATE_KEY = "key-rate", PAGE_KEY = "key-page";
    static final Duration WAIT = Duration.ofSeconds(120);

    private final Path data;
    private final TestKafka kafka;
    private final JambaService service;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private LiveServer() throws Exception {
        data = Files.createTempDirectory("jamba-web-test");
        kafka = new TestKafka();
        Map<String, String> s = TestService.settings(kafka.bootstrap(), data);
        s.put("api-keys", String.join(",", CHAT_KEY, API_KEY, ACCESS_KEY, OTHER_KEY, RATE_KEY, PAGE_KEY));
        s.put("requests-per-minute", Integer.toString(REQUESTS_PER_MINUTE));
        s.put("max-request-bytes", Integer.toString(MAX_REQUEST_BYTES));
        service = TestService.start(s);
    }

    /** Resolves {@code LiveServer} parameters to the run's one instance, started on first use. */
    public static final class Extension implements ParameterResolver {
        @Override
        public boolean supportsParameter(ParameterContext p, ExtensionContext c) {
            return p.getParameter().getType() == LiveServer.class;
        }

        @Override
        public Object resolveParameter(ParameterContext p, ExtensionContext c) {
            return c.getRoot().getStore(ExtensionContext.Namespace.GLOBAL).getOrComputeIfAbsent(LiveServer.class, k -> {
                try {
                    return new LiveServer();
                } catch (Exception e) {
                    throw new IllegalStateException("cannot start the service", e);
                }
            }, LiveServer.class);
        }
    }

    public JambaService service() {
        return service;
    }

    public String url() {
        return "http://127.0.0.1:" + service.httpPort();
    }

    /** The chat socket's address, with {@code query} (e.g. "token=KEY") when not null. */
    public URI ws(String query) {
        return URI.create("ws://127.0.0.1:" + service.httpPort() + "/ws/chat" + (query == null ? "" : "?" + query));
    }

    public WsClient chat(String key) {
        return WsClient.open(client, ws(null), "Authorization", "Bearer " + key);
    }

    /** A request to {@code path} with {@code Authorization: Bearer key} (none when null) and extra header pairs. */
    public HttpRequest.Builder request(String path, String key, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url() + path)).timeout(WAIT);
        if (key != null) b.header("Authorization", "Bearer " + key);
        for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        return b;
    }

    public HttpResponse<String> send(HttpRequest request) {
        try {
            return client.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** POSTs a JSON body. */
    public HttpResponse<String> post(String path, String key, String json, String... headers) {
        return send(request(path, key, headers).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    public static JsonNode json(HttpResponse<String> r) {
        try {
            return TestKafka.JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON (HTTP " + r.statusCode() + "): " + r.body(), e);
        }
    }

    public HttpClient client() {
        return client;
    }

    @Override
    public void close() throws Exception {
        client.close();
        service.close();
        kafka.close();
        try (var files = Files.walk(data)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
