package ai.jamba.engine.session;

/**
 * Counters of a {@link SessionStore} since it opened, for metrics.
 *
 * @param sessions      sessions known (memory or disk)
 * @param memoryBytes   bytes of sessions in memory (as {@link Session#bytes()} estimates them)
 * @param diskBytes     bytes of session files
 * @param hits          lookups answered from memory
 * @param diskLoads     lookups answered from disk
 * @param misses        lookups of a session that does not exist (a new conversation)
 * @param evictions     sessions moved out of memory for the memory budget
 * @param ended         sessions ended by the idle time-to-live or the directory budget
 * @param droppedStates sessions whose saved state was damaged or from another model (re-prefilled from their tokens)
 * @param corruptFiles  session files that could not be used at all (moved aside as *.corrupt)
 */
public record SessionStats(long sessions, long memoryBytes, long diskBytes, long hits, long diskLoads, long misses,
                           long evictions, long ended, long droppedStates, long corruptFiles) {}
