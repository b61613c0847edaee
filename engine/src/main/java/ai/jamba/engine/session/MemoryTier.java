package ai.jamba.engine.session;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Sessions in memory, weighed in bytes ({@link Session#bytes()}), the least recently used leaving first when the
 * budget is passed: an access-ordered {@link LinkedHashMap}.
 *
 * <p>Why not Caffeine: its W-TinyLFU policy keeps entries that were used often over new ones, and with large entries
 * and few hits it keeps the old ones and turns new arrivals away (its author: no promise of LRU order,
 * ben-manes/caffeine#507, #583). For conversations that is backwards: the one that just finished a turn is the one most
 * likely to continue. Measured: with room for 10 sessions and 40 written, Caffeine kept the first ones and refused
 * every new one. Sessions are few and large, so one lock costs nothing here.
 */
final class MemoryTier {
    private final long budget;
    private final BiConsumer<String, Session> evicted;
    private final LinkedHashMap<String, Session> sessions = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;

    /** @param evicted told of each session the budget pushes out, under this tier's lock (keep it quick) */
    MemoryTier(long budget, BiConsumer<String, Session> evicted) {
        this.budget = budget;
        this.evicted = evicted;
    }

    /** The session, now the most recently used; null if not in memory. */
    synchronized Session get(String id) {
        return sessions.get(id);
    }

    /** Keeps {@code s} as the most recently used, then evicts from the least recently used end (it too, if it alone is over). */
    synchronized void put(String id, Session s) {
        Session old = sessions.put(id, s);
        if (old != null) bytes -= old.bytes();
        bytes += s.bytes();
        for (Iterator<Map.Entry<String, Session>> it = sessions.entrySet().iterator(); bytes > budget && it.hasNext(); ) {
            Map.Entry<String, Session> e = it.next();
            it.remove();
            bytes -= e.getValue().bytes();
            evicted.accept(e.getKey(), e.getValue());
        }
    }

    synchronized void remove(String id) {
        Session old = sessions.remove(id);
        if (old != null) bytes -= old.bytes();
    }

    synchronized long bytes() {
        return bytes;
    }
}
