package ai.jamba.service;

import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.serve.Engine;
import ai.jamba.engine.serve.EngineStats;
import ai.jamba.engine.session.SessionStats;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToDoubleFunction;

/**
 * The engine as metrics: batch sizes per step, queue depth, running sequences, token counters, the session cache
 * (hits, disk loads, misses, evictions, bytes in memory and on disk), memory (the model's weights, the JVM's heap and
 * buffers, where the CPU backend keeps everything); and a log line every few seconds while it is busy, so batching
 * shows in the log. The backends do not report device memory, so there is no GPU memory gauge.
 */
public final class EngineMetrics {
    private static final Logger log = LoggerFactory.getLogger("jamba.engine");
    private static final long LOG_EVERY_NANOS = 5_000_000_000L;

    private final AtomicInteger maxBatch = new AtomicInteger();
    private long lastLog, stepsSinceLog, tokensSinceLog;
    private int maxSinceLog;

    public EngineMetrics(Engine engine, JambaModel model, MeterRegistry registry) {
        DistributionSummary batchSequences = DistributionSummary.builder("jamba.batch.sequences")
                .description("sequences in one forward step").register(registry);
        DistributionSummary batchTokens = DistributionSummary.builder("jamba.batch.tokens")
                .description("tokens in one forward step (decodes and prompt chunks)").register(registry);
        engine.setStepListener(step -> {
            batchSequences.record(step.sequences());
            batchTokens.record(step.prefillTokens() + step.decodeTokens());
            maxBatch.accumulateAndGet(step.sequences(), Math::max);
            logNow(step);
        });
        Gauge.builder("jamba.queue.depth", engine, e -> e.stats().queueDepth()).description("requests waiting").register(registry);
        Gauge.builder("jamba.sequences.active", engine, e -> e.stats().runningSequences()).description("sequences running").register(registry);
        counter(registry, "jamba.tokens.prompt", "prompt tokens computed", engine, s -> s.prefilledTokens());
        counter(registry, "jamba.tokens.reused", "prompt tokens restored from sessions", engine, s -> s.reusedTokens());
        counter(registry, "jamba.tokens.completion", "tokens generated", engine, s -> s.generatedTokens());

        counter(registry, "jamba.sessions.hits", "session lookups answered from memory", engine, s -> s.sessions().hits());
        counter(registry, "jamba.sessions.disk.loads", "session lookups answered from disk", engine, s -> s.sessions().diskLoads());
        counter(registry, "jamba.sessions.misses", "lookups of sessions that do not exist (new conversations)", engine, s -> s.sessions().misses());
        counter(registry, "jamba.sessions.evictions", "sessions moved out of memory for its budget", engine, s -> s.sessions().evictions());
        counter(registry, "jamba.sessions.ended", "sessions ended by their idle time or the directory's budget", engine, s -> s.sessions().ended());
        sessionGauge(registry, "jamba.sessions.memory.bytes", "bytes of sessions in memory", engine, SessionStats::memoryBytes);
        sessionGauge(registry, "jamba.sessions.disk.bytes", "bytes of session files", engine, SessionStats::diskBytes);
        sessionGauge(registry, "jamba.sessions.stored", "sessions in memory or on disk", engine, SessionStats::sessions);

        Gauge.builder("jamba.model.weight.bytes", model, JambaModel::weightBytes).description("bytes of the model's weights").register(registry);
        new JvmMemoryMetrics().bindTo(registry);
    }

    private static void counter(MeterRegistry r, String name, String help, Engine engine, ToDoubleFunction<EngineStats> f) {
        FunctionCounter.builder(name, engine, e -> f.applyAsDouble(e.stats())).description(help).register(r);
    }

    private static void sessionGauge(MeterRegistry r, String name, String help, Engine engine, ToDoubleFunction<SessionStats> f) {
        Gauge.builder(name, engine, e -> f.applyAsDouble(e.stats().sessions())).description(help).register(r);
    }

    /** The most sequences any one step has carried. */
    public int maxBatchSequences() {
        return maxBatch.get();
    }

    private void logNow(EngineStats.Step step) {
        stepsSinceLog++;
        tokensSinceLog += step.decodeTokens();
        maxSinceLog = Math.max(maxSinceLog, step.sequences());
        long now = System.nanoTime();
        if (now - lastLog < LOG_EVERY_NANOS) return;
        if (lastLog != 0)
            log.info("engine: {} steps, up to {} sequences a step, {} tokens decoded ({} tok/s)", stepsSinceLog, maxSinceLog,
                    tokensSinceLog, Math.round(tokensSinceLog / ((now - lastLog) / 1e9)));
        lastLog = now;
        stepsSinceLog = tokensSinceLog = 0;
        maxSinceLog = 0;
    }
}
