package ai.jamba.engine.serve;

import ai.jamba.engine.model.StatePool;
import ai.jamba.engine.session.Session;
import ai.jamba.engine.tokenizer.ChatMessage;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import ai.jamba.kernels.SamplingParams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * One request on its way through the engine, from submit to its final event: its conversation's tokens, how many
 * of them its state slot has seen, its random generator and its text output. The engine thread does everything here;
 * other threads only set {@link #cancelRequested}.
 */
final class Sequence {
    private static final Logger log = LoggerFactory.getLogger(Sequence.class);

    /** Where the request is. */
    enum Stage { ARRIVING, WAITING, PREPARING, READY, RUNNING, DONE }

    final GenerationRequest request;
    final String sessionId;
    final RequestHandle handle;
    private final EventSink sink;
    final long submittedNanos = System.nanoTime();
    volatile boolean cancelRequested;
    Stage stage = Stage.ARRIVING;
    /** Whether it holds its session in the {@link SessionGate}. */
    boolean holdsSession;

    // Set once prepared.
    private TurnPlanner.Turn turn;
    private int[] tokens;
    private int size;
    /** Leading tokens the slot's state has seen. */
    private int fed;
    private int slot = -1;
    private SplittableRandom random;
    private long seed;
    private SamplingParams params;
    private Set<Integer> stopIds;
    private int contextLimit;
    private TextStream text;
    private final StringBuilder completion = new StringBuilder();
    private int generated;
    private long admittedNanos, firstTokenNanos, lastTokenNanos;

    /** @param cancel asks the engine to cancel this sequence (what {@link RequestHandle#cancel} does) */
    Sequence(GenerationRequest request, String sessionId, EventSink sink, Consumer<Sequence> cancel) {
        this.request = request;
        this.sessionId = sessionId;
        this.sink = sink;
        this.handle = new RequestHandle(request.requestId(), sessionId, () -> cancel.accept(this));
    }

    /** Takes its turn: the tokens to feed, the stop rules, a random generator from the seed (or a random seed). */
    void prepared(TurnPlanner.Turn turn, JambaTokenizer tokenizer, List<Integer> eosIds, int contextLimit) {
        Sampling s = request.sampling();
        this.turn = turn;
        this.tokens = Arrays.copyOf(turn.tokens(), turn.tokens().length + Math.min(s.maxTokens(), contextLimit));
        this.size = turn.tokens().length;
        this.fed = turn.reused();
        this.seed = s.seed() != null ? s.seed() : ThreadLocalRandom.current().nextLong();
        this.random = new SplittableRandom(seed);
        this.params = s.params();
        this.stopIds = new HashSet<>();
        if (s.stopAtEos()) stopIds.addAll(eosIds);
        for (int id : s.stopTokenIds()) stopIds.add(id);
        this.contextLimit = contextLimit;
        this.text = new TextStream(tokenizer == null ? null : tokenizer.newDetokenizer(turn.tokens()), s.stop());
    }

    /** Takes a state slot, with the session's state restored into it when the turn starts from one. */
    void start(StatePool pool) {
        slot = pool.acquire();
        if (turn.restore() != null) pool.restore(slot, turn.restore());
        admittedNanos = System.nanoTime();
    }

    int slot() {
        return slot;
    }

    int reused() {
        return turn.reused();
    }

    boolean decoding() {
        return generated > 0;
    }

    /** Tokens not fed to the model yet: the rest of the prompt, or the one just sampled. */
    int unfed() {
        return size - fed;
    }

    /** Copies the next {@code n} unfed tokens into {@code ids} at {@code at}, and counts them as fed. */
    void feed(int[] ids, int at, int n) {
        System.arraycopy(tokens, fed, ids, at, n);
        fed += n;
    }

    SamplingParams params() {
        return params;
    }

    /** This sequence's next random draw, from its own generator: the same draws whatever else is in the batch. */
    double uniform() {
        return random.nextDouble();
    }

    /**
     * Takes the token sampled for this sequence and sends it on; returns why generation ends here, or null if it
     * goes on. A stop id ends with STOP (kept in the session, no text); a completed stop string ends with STOP (the
     * text is cut before it); max_tokens or the context limit ends with LENGTH.
     */
    FinishReason accept(int id) {
        long now = System.nanoTime();
        tokens[size++] = id;
        if (generated++ == 0) firstTokenNanos = now;
        lastTokenNanos = now;
        boolean stopId = stopIds.contains(id);
        String piece = stopId ? "" : text.push(id);
        FinishReason why = stopId || text.stopped() ? FinishReason.STOP
                : generated >= request.sampling().maxTokens() || size >= contextLimit ? FinishReason.LENGTH : null;
        if (why != null && !text.stopped()) {
            piece += text.finish();
            if (text.stopped()) why = FinishReason.STOP;
        }
        completion.append(piece);
        emit(new GenerationEvent.Token(request.requestId(), piece, new int[]{id}));
        return why;
    }

    /**
     * The session after this turn: every token, the state of all but the last (sampled, not yet fed: the next turn
     * feeds it first), and for a chat turn the conversation with the completion as the assistant's message.
     */
    Session toSession(StatePool pool) {
        List<ChatMessage> conversation = turn.conversation();
        if (turn.chat()) {
            conversation = new ArrayList<>(conversation);
            conversation.add(new ChatMessage("assistant", completion.toString()));
        }
        return new Session(sessionId, request.owner(), Arrays.copyOf(tokens, size), conversation, pool.snapshot(slot), fed,
                turn.createdMillis(), System.currentTimeMillis());
    }

    GenerationEvent.Done done(FinishReason reason, StatePool pool) {
        long now = System.nanoTime();
        GenerationEvent.Usage usage = turn == null
                ? new GenerationEvent.Usage(0, 0, 0, 0, 0, 0, 0)
                : new GenerationEvent.Usage(turn.tokens().length, generated, turn.reused(), size,
                        pool.mambaBytesPerSequence(), pool.kvBytesPerToken() * fed, seed);
        long admitted = admittedNanos != 0 ? admittedNanos : now;
        double decodeSeconds = (lastTokenNanos - firstTokenNanos) / 1e9;
        GenerationEvent.Timings timings = new GenerationEvent.Timings(
                ms(admitted - submittedNanos),
                firstTokenNanos == 0 ? 0 : ms(firstTokenNanos - admitted),
                firstTokenNanos == 0 ? 0 : ms(firstTokenNanos - submittedNanos),
                generated > 1 && decodeSeconds > 0 ? (generated - 1) / decodeSeconds : 0,
                ms(now - submittedNanos));
        return new GenerationEvent.Done(request.requestId(), sessionId, reason, usage, timings);
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    /** Sends an event; a sink that throws gets its request cancelled (the engine must not stop for it). */
    void emit(GenerationEvent event) {
        try {
            sink.accept(event);
        } catch (RuntimeException e) {
            log.warn("request {}: its event sink threw {}; cancelling it", request.requestId(), e.toString());
            cancelRequested = true;
        }
    }
}
