package ai.jamba.service;

import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.serve.Engine;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Backends;
import ai.jamba.service.http.Access;
import ai.jamba.service.http.ChatSocket;
import ai.jamba.service.http.Generations;
import ai.jamba.service.http.HttpApi;
import ai.jamba.service.http.OpenAiApi;
import ai.jamba.service.http.OpenAiRequest;
import ai.jamba.service.http.OriginPolicy;
import ai.jamba.service.kafka.CompletedRequests;
import ai.jamba.service.kafka.EmbeddedKafka;
import ai.jamba.service.kafka.PromptConsumer;
import ai.jamba.service.kafka.PromptRecord;
import ai.jamba.service.kafka.SessionReplicator;
import ai.jamba.service.kafka.TokenWriter;
import ai.jamba.service.kafka.Topics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * The running service, started in order: HTTP (so /health answers at once), the Kafka broker (embedded unless one
 * is configured) and topics, the model and its engine, the prompt consumer; /ready turns 200 when all are up.
 * {@link #close} undoes it in reverse: polling stops, running requests finish or are cancelled (each gets its
 * final event), offsets are committed, sessions are flushed.
 */
public final class JambaService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JambaService.class);

    private final ServiceConfig config;
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Vertx vertx;
    private HttpApi http;
    private EmbeddedKafka broker;
    private Backend backend;
    private JambaModel model;
    private JambaTokenizer tokenizer;
    private Engine engine;
    private KafkaProducer<String, String> producer;
    private CompletedRequests completed;
    private PromptConsumer consumer;
    private Thread consumerThread;
    private KafkaProducer<String, byte[]> sessionProducer;
    private SessionReplicator replicator;
    private Thread replicatorThread;
    private EngineMetrics metrics;
    private volatile boolean modelReady;

    private JambaService(ServiceConfig config) {
        this.config = config;
        this.vertx = Vertx.builder().with(new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)))
                .withMetrics(new MicrometerMetricsFactory(registry)).build();
    }

    public static JambaService start(ServiceConfig config) throws Exception {
        JambaService s = new JambaService(config);
        try {
            s.startAll();
            return s;
        } catch (Exception | Error e) {
            s.close();
            throw e;
        }
    }

    private void startAll() throws Exception {
        http = new HttpApi(vertx, registry, this::ready);
        http.listen(config.httpHost(), config.httpPort(), config.maxRequestBytes()).toCompletionStage().toCompletableFuture().get();
        log.info("http: listening on http://{}:{}/ (health at /health, readiness at /ready)", config.httpHost(), http.port());

        String bootstrap = config.kafkaBootstrap();
        if (bootstrap == null) {
            broker = EmbeddedKafka.start(config.dataDir().resolve("kafka"), config.kafkaPort());
            bootstrap = broker.bootstrap();
            log.info("kafka: no --kafka given: started an embedded broker at {} (log in {})", bootstrap, config.dataDir().resolve("kafka"));
        } else log.info("kafka: using the broker at {}", bootstrap);
        Topics topics = Topics.load(config.topicPartitions(), config.topicRetentionMs());
        try (Admin admin = Admin.create(clientProperties("admin", bootstrap))) {
            var created = topics.createMissing(admin);
            if (!created.isEmpty()) log.info("kafka: created topics {}", created);
        }

        backend = Backends.open(config.backend(), config.threads(), log::info);
        log.info("engine: {}", backend.describe());
        model = JambaModel.load(config.model(), backend, new JambaModel.LoadOptions(config.expertsInt8()),
                (done, total) -> { if (done == total || done % 8 == 0) log.info("model: loaded {}/{} layers", done, total); });
        tokenizer = JambaTokenizer.available(config.model()) ? JambaTokenizer.load(config.model()) : null;
        if (tokenizer == null) log.warn("model: {} has no tokenizer.json: only prompt_ids requests can be served", config.model());
        engine = Engine.start(model, tokenizer, config.engine());
        metrics = new EngineMetrics(engine, model, registry);
        serveChatAndApi();
        modelReady = true;
        log.info("model: {} ready ({} MB of weights)", config.model().getFileName(), model.weightBytes() >> 20);

        producer = new KafkaProducer<>(clientProperties("producer", bootstrap), new StringSerializer(), new StringSerializer());
        sessionProducer = new KafkaProducer<>(clientProperties("producer", bootstrap), new StringSerializer(), new ByteArraySerializer());
        Map<String, Object> sessionReader = clientProperties("consumer", bootstrap);
        sessionReader.remove("group.id"); // every instance reads every partition
        replicator = new SessionReplicator(engine.sessionStore(), sessionProducer,
                new KafkaConsumer<>(sessionReader, new StringDeserializer(), new ByteArrayDeserializer()),
                topics.sessions(), config.sessionSnapshotBytes());
        engine.sessionStore().setListener(replicator);
        replicatorThread = new Thread(replicator, "jamba-kafka-sessions");
        replicatorThread.start();
        completed = new CompletedRequests(config.dataDir().resolve("completed-requests.jsonl"), 10_000);
        Map<String, Object> consumerProps = clientProperties("consumer", bootstrap);
        consumerProps.put("group.id", config.groupId());
        consumer = new PromptConsumer(new KafkaConsumer<>(consumerProps, new StringDeserializer(), new ByteArrayDeserializer()),
                engine, new TokenWriter(producer, topics), completed, topics.prompts(),
                new PromptRecord.Limits(config.maxRequestBytes(), config.maxTokensLimit(), config.defaultMaxTokens()),
                config.queueHighWater(), config.queueLowWater());
        consumerThread = new Thread(consumer, "jamba-kafka-prompts");
        consumerThread.start();

        http.servePage();
    }

    /** The WebSocket chat and the OpenAI-style API, on the engine that is now up. */
    private void serveChatAndApi() {
        Generations generations = new Generations(engine, new Access(config.apiKeys(), config.requestsPerMinute(), config.concurrentPerKey()),
                new RequestMetrics(registry));
        String modelName = config.model().toAbsolutePath().normalize().getFileName().toString();
        http.routes(router -> ChatSocket.mount(router, generations, new OriginPolicy(config.allowedOrigins()),
                        new ChatSocket.Limits(config.maxTokensLimit(), config.defaultMaxTokens())))
                .routes(router -> OpenAiApi.mount(router, generations,
                        new OpenAiRequest.Limits(modelName, config.maxTokensLimit(), config.defaultMaxTokens()), config.maxRequestBytes()));
        log.info("http: chat page at /, WebSocket chat at /ws/chat, OpenAI-style API at /v1 (model \"{}\"; {})", modelName,
                config.apiKeys().isEmpty() ? "no API keys: open to anyone who can reach it" : config.apiKeys().size() + " API keys");
    }

    /** The model is loaded, the broker reachable and the consumer holds its partitions. */
    public boolean ready() {
        return modelReady && consumer != null && consumer.ready();
    }

    public int httpPort() {
        return http.port();
    }

    public Engine engine() {
        return engine;
    }

    /** The most sequences one forward step has carried so far. */
    public int maxBatchSequences() {
        return metrics == null ? 0 : metrics.maxBatchSequences();
    }

    /** Client properties: kafka-config's file for the role, then --config's kafka.client.* (SASL, TLS, ...). */
    private Map<String, Object> clientProperties(String role, String bootstrap) {
        Properties p = new Properties();
        if (!role.equals("admin")) {
            try (InputStream in = JambaService.class.getResourceAsStream("/kafka-config/" + role + ".properties")) {
                if (in != null) p.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        Map<String, Object> m = new HashMap<>();
        p.forEach((k, v) -> m.put((String) k, v));
        m.putAll(config.kafkaClient());
        m.put("bootstrap.servers", bootstrap);
        return m;
    }

    private static void join(Thread t) {
        try {
            t.join(TimeUnit.SECONDS.toMillis(60));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        modelReady = false;
        if (consumer != null) {
            consumer.stop();
            join(consumerThread);
        }
        if (engine != null) engine.close(); // flushes sessions, which the replicator publishes
        if (replicator != null) {
            replicator.stop();
            join(replicatorThread);
        }
        if (sessionProducer != null) sessionProducer.close();
        if (producer != null) producer.close();
        if (completed != null) completed.close();
        if (http != null) http.close().toCompletionStage().toCompletableFuture().join();
        vertx.close().toCompletionStage().toCompletableFuture().join();
        if (tokenizer != null) tokenizer.close();
        if (model != null) model.close();
        if (backend != null) backend.close();
        if (broker != null) broker.close();
        log.info("service: stopped");
    }
}
