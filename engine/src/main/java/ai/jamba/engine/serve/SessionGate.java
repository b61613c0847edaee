package ai.jamba.engine.serve;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * One turn at a time per session: a turn holds its session from before it is prepared until its state is saved, and
 * later turns of the same session wait, in order, each until its deadline. Engine thread only.
 */
final class SessionGate<T> {
    private record Waiter<T>(T turn, long deadlineNanos) {}

    /** Busy sessions, each with the turns waiting for it. */
    private final Map<String, ArrayDeque<Waiter<T>>> busy = new HashMap<>();

    /** True: {@code turn} holds the session now. False: it waits until {@link #leave} hands it over, or its deadline. */
    boolean enter(String session, T turn, long deadlineNanos) {
        ArrayDeque<Waiter<T>> waiting = busy.get(session);
        if (waiting == null) {
            busy.put(session, new ArrayDeque<>());
            return true;
        }
        waiting.add(new Waiter<>(turn, deadlineNanos));
        return false;
    }

    /** The holder is done; returns the next turn, which now holds the session, or null. */
    T leave(String session) {
        ArrayDeque<Waiter<T>> waiting = busy.get(session);
        if (waiting == null) return null;
        Waiter<T> next = waiting.poll();
        if (next == null) busy.remove(session);
        return next == null ? null : next.turn;
    }

    boolean busy(String session) {
        return busy.containsKey(session);
    }

    /** Takes a waiting turn out (it was cancelled); false if it was not waiting. */
    boolean withdraw(String session, T turn) {
        ArrayDeque<Waiter<T>> waiting = busy.get(session);
        return waiting != null && waiting.removeIf(w -> w.turn == turn);
    }

    /** Takes out and returns the turns whose deadline has passed. */
    List<T> expired(long nowNanos) {
        List<T> out = new ArrayList<>();
        for (ArrayDeque<Waiter<T>> waiting : busy.values()) {
            for (Iterator<Waiter<T>> it = waiting.iterator(); it.hasNext(); ) {
                Waiter<T> w = it.next();
                if (w.deadlineNanos - nowNanos <= 0) {
                    out.add(w.turn);
                    it.remove();
                }
            }
        }
        return out;
    }

    /** The earliest deadline of a waiting turn, or {@code Long.MAX_VALUE}. */
    long nextDeadline() {
        long next = Long.MAX_VALUE;
        for (ArrayDeque<Waiter<T>> waiting : busy.values())
            for (Waiter<T> w : waiting) next = Math.min(next, w.deadlineNanos);
        return next;
    }

    /** Every waiting turn, taken out (shutdown). */
    List<T> drain() {
        List<T> out = new ArrayList<>();
        for (ArrayDeque<Waiter<T>> waiting : busy.values()) for (Waiter<T> w : waiting) out.add(w.turn);
        busy.clear();
        return out;
    }
}
