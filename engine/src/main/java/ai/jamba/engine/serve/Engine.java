package ai.jamba.engine.serve;

import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.StatePool;
import ai.jamba.engine.session.ModelFingerprint;
import ai.jamba.engine.session.Session;
import ai.jamba.engine.session.SessionFileException;
import ai.jamba.engine.session.SessionIds;
import ai.jamba.engine.session.SessionStore;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.SamplingParams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The serving engine: requests in, token events out, many sequences batched on one model.
 *
 * <pre>
 * submit ─► mailbox ─► session gate (one turn per session) ─► preparing thread: tokenize, load the session
 *        ─► ready queue ─► admitted when a slot is free (state restored) ─► running
 * engine thread, each step: Scheduler picks every running sequence's next token(s) under the token budget
 *        ─► one forward pass ─► sample the sequences that finished their prompt or are decoding
 *        ─► token events; a finished turn saves its session, frees its slot at once, and lets the next turn in
 * </pre>
 *
 * One engine thread owns the model, the state slots and all scheduling state; other threads reach it through its
 * mailbox, so nothing there needs a lock. Session files are read on the preparing thread and written by the session
 * store's own thread, so disk I/O never holds up a step.
 */
public final class Engine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Engine.class);

    private final JambaModel model;
    private final JambaTokenizer tokenizer;
    private final EngineConfig config;
    private final int contextLimit;
    private final StatePool pool;
    private final SessionStore sessions;
    private final TurnPlanner planner;
    private final ExecutorService preparer;
    private final Thread thread;
    private final LinkedBlockingQueue<Runnable> mailbox = new LinkedBlockingQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicLong requests = new AtomicLong(), rejected = new AtomicLong();
    private volatile boolean closed;
    private volatile Consumer<EngineStats.Step> stepListener = step -> {};
    private volatile EngineStats published;

    // Engine thread only.
    private final SessionGate<Sequence> gate = new SessionGate<>();
    private final ArrayDeque<Sequence> ready = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private boolean stopping;
    private int lastBatchSequences, lastBatchTokens;
    private long steps, completed, cancelled, failed, prefilledTokens, reusedTokens, generatedTokens;

    private Engine(JambaModel model, JambaTokenizer tokenizer, EngineConfig config, SessionStore sessions) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.config = config;
        this.contextLimit = Math.min(config.maxContextTokens(), model.config().maxPositionEmbeddings());
        this.pool = model.newStatePool();
        this.sessions = sessions;
        this.planner = new TurnPlanner(sessions, tokenizer, contextLimit);
        this.preparer = Executors.newSingleThreadExecutor(r -> daemon(r, "jamba-prepare"));
        this.thread = daemon(this::run, "jamba-engine");
        publish();
    }

    /**
     * Starts an engine on {@code model} (which it drives from now on; the caller still owns and closes it).
     *
     * @param tokenizer the model's tokenizer, or null for token ids only (no text prompts, chat, text or stop strings)
     */
    public static Engine start(JambaModel model, JambaTokenizer tokenizer, EngineConfig config) {
        SessionStore sessions = SessionStore.open(config.sessions(), ModelFingerprint.of(model));
        Engine engine = new Engine(model, tokenizer, config, sessions);
        log.info("engine: up to {} sequences of up to {} tokens, {} tokens a step; a sequence holds {} KB of Mamba state"
                        + " and {} bytes of K/V per token", config.maxRunningSequences(), engine.contextLimit,
                config.stepTokenBudget(), engine.pool.mambaBytesPerSequence() / 1000, engine.pool.kvBytesPerToken());
        engine.thread.start();
        return engine;
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    // ---- the API ------------------------------------------------------------------------------------------

    /**
     * Queues a request; never blocks. Its events go to {@code sink} on the engine thread.
     *
     * @throws EngineException {@code overloaded} when the queue is full, {@code invalid_request} for parameters
     *     this engine cannot serve, {@code forbidden} for another owner's session, {@code unavailable} once closed
     */
    public RequestHandle submit(GenerationRequest request, EventSink sink) {
        try {
            check(request);
        } catch (EngineException e) {
            rejected.incrementAndGet();
            throw e;
        }
        String sessionId = request.sessionId() != null ? request.sessionId() : SessionIds.random();
        Sequence seq = new Sequence(request, sessionId, sink, this::requestCancel);
        synchronized (mailbox) { // an accepted request arrives before the engine's stop, so it always gets a final event
            if (closed) throw new EngineException(EngineException.Code.UNAVAILABLE, "the engine is shut down");
            if (queued.get() >= config.maxQueuedRequests()) {
                rejected.incrementAndGet();
                throw new EngineException(EngineException.Code.OVERLOADED,
                        "the engine has " + config.maxQueuedRequests() + " requests waiting already; retry later");
            }
            queued.incrementAndGet();
            requests.incrementAndGet();
            post(() -> arrive(seq));
        }
        return seq.handle;
    }

    private void requestCancel(Sequence s) {
        s.cancelRequested = true;
        post(() -> cancel(s));
    }

    /** What submit can tell at once, without tokenizing or reading sessions. */
    private void check(GenerationRequest r) {
        Sampling s = r.sampling();
        int vocab = model.config().vocabSize();
        if (tokenizer == null && !(r.prompt() instanceof Prompt.Ids))
            throw EngineException.invalid("this model has no tokenizer: give the prompt as token ids");
        if (tokenizer == null && !s.stop().isEmpty())
            throw EngineException.invalid("this model has no tokenizer: stop strings cannot be matched; use stop token ids");
        if (s.maxTokens() >= contextLimit)
            throw EngineException.invalid("max_tokens must be below the context limit of " + contextLimit + ", got " + s.maxTokens());
        for (int id : s.stopTokenIds())
            if (id >= vocab) throw EngineException.invalid("stop token id " + id + " is outside the vocabulary [0, " + vocab + ")");
        if (r.prompt() instanceof Prompt.Ids(int[] ids)) {
            if (ids.length >= contextLimit)
                throw EngineException.invalid("the prompt has " + ids.length + " tokens; the context limit is " + contextLimit);
            for (int id : ids)
                if (id >= vocab) throw EngineException.invalid("prompt token id " + id + " is outside the vocabulary [0, " + vocab + ")");
        }
        if (r.sessionId() != null && !sessions.mayUse(r.sessionId(), r.owner()))
            throw new EngineException(EngineException.Code.FORBIDDEN, "session " + r.sessionId() + " belongs to someone else");
    }

    /**
     * A stored session, as the next turn would find it (may read it from disk: not for an event loop thread).
     * Fails with {@code forbidden} for another owner's session and {@code session_corrupt} for an unreadable file.
     */
    public CompletableFuture<Optional<Session>> session(String id, String owner) {
        return CompletableFuture.supplyAsync(() -> {
            if (!SessionIds.valid(id)) throw EngineException.invalid("invalid session id");
            try {
                Optional<Session> s = sessions.get(id);
                if (s.isPresent() && !s.get().ownedBy(owner))
                    throw new EngineException(EngineException.Code.FORBIDDEN, "session " + id + " belongs to someone else");
                return s;
            } catch (SessionFileException e) {
                throw new CompletionException(new EngineException(EngineException.Code.SESSION_CORRUPT, "session " + id + " could not be read"));
            }
        }, preparer);
    }

    /** Ends a session; completes with whether it existed. Fails with {@code session_busy} while a turn of it runs. */
    public CompletableFuture<Boolean> deleteSession(String id, String owner) {
        CompletableFuture<Boolean> result = new CompletableFuture<>();
        if (!SessionIds.valid(id)) result.completeExceptionally(EngineException.invalid("invalid session id"));
        else if (!sessions.mayUse(id, owner))
            result.completeExceptionally(new EngineException(EngineException.Code.FORBIDDEN, "session " + id + " belongs to someone else"));
        else post(() -> {
            if (gate.busy(id)) result.completeExceptionally(new EngineException(EngineException.Code.SESSION_BUSY, "a turn of session " + id + " is running"));
            else result.complete(sessions.delete(id));
        });
        return result;
    }

    /** Where sessions are kept (for replication to other processes). */
    public SessionStore sessionStore() {
        return sessions;
    }

    /** The counters now. */
    public EngineStats stats() {
        EngineStats p = published; // the engine thread's counters as of its last step; the rest is read live
        return new EngineStats(queued.get(), p.runningSequences(), p.lastBatchSequences(), p.lastBatchTokens(), p.steps(),
                requests.get(), rejected.get(), p.completed(), p.cancelled(), p.failed(), p.prefilledTokens(),
                p.reusedTokens(), p.generatedTokens(), sessions.stats());
    }

    /** Called on the engine thread after every forward step (keep it quick). */
    public void setStepListener(Consumer<EngineStats.Step> listener) {
        stepListener = listener == null ? step -> {} : listener;
    }

    /** The longest conversation it serves: the configured limit, capped by the model's. */
    public int contextLimit() {
        return contextLimit;
    }

    /**
     * Stops: running requests end cancelled (their sessions as before the turn), waiting ones with
     * {@code unavailable}; then waits for session files to be written.
     */
    @Override
    public void close() {
        synchronized (mailbox) {
            if (closed) return;
            closed = true;
            post(() -> stopping = true);
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sessions.close();
    }

    private void post(Runnable task) {
        mailbox.add(task);
    }

    // ---- the engine thread --------------------------------------------------------------------------------

    private void run() {
        try {
            while (!stopping) {
                takeMail();
                for (Sequence s : gate.expired(System.nanoTime()))
                    fail(s, EngineException.Code.SESSION_BUSY, "another turn of session " + s.sessionId + " was still running after "
                            + config.sessionWaitTimeout().toMillis() + " ms");
                admit();
                if (!running.isEmpty()) step();
                publish();
            }
            shutDown();
        } catch (Throwable t) {
            log.error("the engine thread stopped on an unexpected error", t);
            synchronized (mailbox) {
                closed = true;
            }
            shutDown();
        }
    }

    /** Runs posted tasks; when there is nothing to compute, first sleeps until one comes or a waiter's deadline. */
    private void takeMail() throws InterruptedException {
        if (running.isEmpty() && ready.isEmpty()) {
            long deadline = gate.nextDeadline();
            long wait = deadline == Long.MAX_VALUE ? TimeUnit.SECONDS.toNanos(1) : Math.max(0, deadline - System.nanoTime());
            Runnable task = mailbox.poll(wait, TimeUnit.NANOSECONDS);
            if (task != null) task.run();
        }
        for (Runnable task; (task = mailbox.poll()) != null; ) task.run();
    }

    private void arrive(Sequence s) {
        if (stopping) {
            fail(s, EngineException.Code.UNAVAILABLE, "the engine is shutting down");
        } else if (s.cancelRequested) {
            finish(s, s.done(FinishReason.CANCELLED, pool));
        } else if (gate.enter(s.sessionId, s, System.nanoTime() + config.sessionWaitTimeout().toNanos())) {
            prepare(s);
        } else {
            s.stage = Sequence.Stage.WAITING;
        }
    }

    /** The turn holds its session: tokenize and load it on the preparing thread, then come back ready. */
    private void prepare(Sequence s) {
        s.holdsSession = true;
        if (stopping) {
            fail(s, EngineException.Code.UNAVAILABLE, "the engine is shutting down");
            return;
        }
        s.stage = Sequence.Stage.PREPARING;
        preparer.execute(() -> {
            try {
                TurnPlanner.Turn turn = planner.plan(s.request, s.sessionId);
                post(() -> prepared(s, turn));
            } catch (EngineException e) {
                post(() -> fail(s, e.code(), e.getMessage()));
            } catch (RuntimeException e) {
                log.error("request {}: preparing it failed", s.request.requestId(), e);
                post(() -> fail(s, EngineException.Code.INTERNAL, "preparing the request failed: " + e));
            }
        });
    }

    private void prepared(Sequence s, TurnPlanner.Turn turn) {
        if (stopping) {
            fail(s, EngineException.Code.UNAVAILABLE, "the engine is shutting down");
        } else if (s.cancelRequested) {
            finish(s, s.done(FinishReason.CANCELLED, pool));
        } else {
            s.prepared(turn, tokenizer, model.config().eosTokenIds(), contextLimit);
            s.stage = Sequence.Stage.READY;
            ready.add(s);
        }
    }

    private void cancel(Sequence s) {
        switch (s.stage) {
            case RUNNING -> retire(s, FinishReason.CANCELLED);
            case READY -> {
                ready.remove(s);
                finish(s, s.done(FinishReason.CANCELLED, pool));
            }
            case WAITING -> {
                gate.withdraw(s.sessionId, s);
                finish(s, s.done(FinishReason.CANCELLED, pool));
            }
            default -> {} // arriving or preparing: it looks at cancelRequested when it gets here; done: nothing to do
        }
    }

    /** Ready turns take free slots, oldest first. */
    private void admit() {
        while (running.size() < config.maxRunningSequences() && !ready.isEmpty()) {
            Sequence s = ready.poll();
            try {
                s.start(pool);
            } catch (RuntimeException e) {
                log.error("request {}: restoring its session's state failed", s.request.requestId(), e);
                if (s.slot() >= 0) pool.release(s.slot());
                fail(s, EngineException.Code.INTERNAL, "restoring the session's state failed: " + e);
                continue;
            }
            queued.decrementAndGet();
            s.stage = Sequence.Stage.RUNNING;
            reusedTokens += s.reused();
            running.add(s);
        }
    }

    /** One forward pass over every running sequence's next tokens; then sampling, events, and finished turns out. */
    private void step() {
        long t0 = System.nanoTime();
        int n = running.size();
        int[] unfed = new int[n];
        for (int i = 0; i < n; i++) unfed[i] = running.get(i).unfed();
        int[] take = Scheduler.plan(unfed, config.stepTokenBudget());

        int sequences = 0, rows = 0;
        for (int t : take) if (t > 0) { sequences++; rows += t; }
        int[] slots = new int[sequences], counts = new int[sequences], ids = new int[rows];
        List<Sequence> sampled = new ArrayList<>();
        List<Integer> logitRows = new ArrayList<>();
        int prefill = 0, decode = 0;
        for (int i = 0, k = 0, row = 0; i < n; i++) {
            if (take[i] == 0) continue;
            Sequence s = running.get(i);
            if (s.decoding()) decode += take[i];
            else prefill += take[i];
            slots[k] = s.slot();
            counts[k++] = take[i];
            s.feed(ids, row, take[i]);
            row += take[i];
            if (take[i] == unfed[i]) { // all of its tokens are in: its next token comes out of this step
                sampled.add(s);
                logitRows.add(row - 1);
            }
        }

        int[] next;
        try {
            Mat logits = model.forward(pool, Batch.of(slots, counts), ids, logitRows.stream().mapToInt(Integer::intValue).toArray(), null);
            SamplingParams[] params = new SamplingParams[sampled.size()];
            double[] uniforms = new double[sampled.size()];
            for (int j = 0; j < params.length; j++) {
                params[j] = sampled.get(j).params();
                uniforms[j] = sampled.get(j).uniform();
            }
            next = params.length == 0 ? new int[0] : model.backend().sample(logits, params, uniforms);
        } catch (RuntimeException e) {
            // The states of everything in the step are now in doubt: fail them all rather than continue wrongly.
            log.error("a forward step failed; failing its {} sequences", sequences, e);
            for (Sequence s : List.copyOf(running)) {
                running.remove(s);
                pool.release(s.slot());
                fail(s, EngineException.Code.INTERNAL, "the forward step failed: " + e);
            }
            return;
        }
        steps++;
        prefilledTokens += prefill;
        lastBatchSequences = sequences;
        lastBatchTokens = rows;

        for (int j = 0; j < next.length; j++) {
            Sequence s = sampled.get(j);
            generatedTokens++;
            FinishReason why = s.accept(next[j]);
            if (why != null) retire(s, why);
        }
        for (Sequence s : List.copyOf(running)) if (s.cancelRequested) retire(s, FinishReason.CANCELLED);
        stepListener.accept(new EngineStats.Step(sequences, prefill, decode, System.nanoTime() - t0));
    }

    /** A running sequence ends: its session is saved (unless cancelled), its slot freed, and its final event sent. */
    private void retire(Sequence s, FinishReason reason) {
        running.remove(s);
        try {
            if (reason != FinishReason.CANCELLED) sessions.put(s.toSession(pool));
        } catch (RuntimeException e) {
            log.error("request {}: saving session {} failed", s.request.requestId(), s.sessionId, e);
            pool.release(s.slot());
            fail(s, EngineException.Code.INTERNAL, "saving the session failed: " + e);
            return;
        }
        GenerationEvent.Done done = s.done(reason, pool);
        pool.release(s.slot());
        finish(s, done);
    }

    private void fail(Sequence s, EngineException.Code code, String message) {
        finish(s, new GenerationEvent.Error(s.request.requestId(), code, message));
    }

    /** The request's last event; its session goes to the next turn waiting for it. */
    private void finish(Sequence s, GenerationEvent last) {
        if (s.stage == Sequence.Stage.DONE) return;
        if (s.stage.ordinal() < Sequence.Stage.RUNNING.ordinal()) queued.decrementAndGet();
        s.stage = Sequence.Stage.DONE;
        switch (last) {
            case GenerationEvent.Done d when d.finishReason() == FinishReason.CANCELLED -> cancelled++;
            case GenerationEvent.Done d -> completed++;
            default -> failed++;
        }
        publish(); // counters already right when the client sees its final event
        s.emit(last);
        s.handle.complete(last);
        if (s.holdsSession) {
            Sequence next = gate.leave(s.sessionId);
            if (next != null) prepare(next);
        }
    }

    private void shutDown() {
        stopping = true;
        for (Sequence s : List.copyOf(running)) retire(s, FinishReason.CANCELLED);
        for (Sequence s : List.copyOf(ready)) fail(s, EngineException.Code.UNAVAILABLE, "the engine is shutting down");
        ready.clear();
        for (Sequence s : gate.drain()) fail(s, EngineException.Code.UNAVAILABLE, "the engine is shutting down");
        preparer.shutdown();
        try {
            preparer.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Runnable task; (task = mailbox.poll()) != null; ) task.run(); // prepared turns and arrivals: failed above
        publish();
    }

    private void publish() {
        published = new EngineStats(queued.get(), running.size(), lastBatchSequences, lastBatchTokens, steps, requests.get(),
                rejected.get(), completed, cancelled, failed, prefilledTokens, reusedTokens, generatedTokens, null);
    }
}
