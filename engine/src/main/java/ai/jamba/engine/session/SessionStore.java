package ai.jamba.engine.session;

import ai.jamba.engine.tokenizer.ChatMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Where sessions live between turns: a byte-weighed, least-recently-used tier in memory ({@link MemoryTier}), backed
 * by one file per session in a directory when one is configured.
 *
 * <ul>
 *   <li>{@link #put} keeps the session in memory at once and writes its file behind, on the store's own thread;
 *       until written, the session stays reachable even if memory evicts it.</li>
 *   <li>{@link #get} answers from memory, else reads the file. A damaged state section, or one saved by another
 *       model, is logged and dropped: the session comes back with its tokens only, and its next turn prefills them
 *       again. A file that cannot be used at all is moved aside ({@code *.corrupt}) and reported by exception.</li>
 *   <li>Sessions end after {@code idleTtl} unused, when the directory is over its byte budget (least recently used
 *       first), on {@link #delete}, and (with no directory) when memory evicts them.</li>
 * </ul>
 * Thread-safe. One store per directory: two processes writing the same directory at once are not coordinated.
 */
public final class SessionStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SessionStore.class);

    private final SessionStoreConfig config;
    private final String model;
    private final Path dir;
    private final MemoryTier memory;
    private final SessionCatalog catalog = new SessionCatalog();
    /** Sessions put but not yet on disk (the newest version of each). */
    private final ConcurrentHashMap<String, Session> unwritten = new ConcurrentHashMap<>();
    /** Writes, deletions and sweeps, in order, off the caller's thread. */
    private final ScheduledExecutorService housekeeping;
    /** A load from disk and a put of the same id must not interleave (the older version would win): one lock per stripe. */
    private final Object[] stripes = new Object[64];
    private volatile Thread housekeeper;
    private volatile Listener listener = Listener.NONE;
    private final AtomicLong hits = new AtomicLong(), diskLoads = new AtomicLong(), misses = new AtomicLong(),
            evictions = new AtomicLong(), ended = new AtomicLong(), droppedStates = new AtomicLong(), corruptFiles = new AtomicLong();

    private SessionStore(SessionStoreConfig config, String model) {
        this.config = config;
        this.model = model;
        this.dir = config.directory();
        Arrays.setAll(stripes, i -> new Object());
        memory = new MemoryTier(config.memoryBytes(), this::evicted);
        housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
            housekeeper = new Thread(r, "jamba-sessions");
            housekeeper.setDaemon(true);
            return housekeeper;
        });
    }

    /**
     * Opens a store; with a directory, indexes the sessions already there (their headers and token ids, not their
     * states) and ends those idle for longer than the time-to-live.
     *
     * @param model the {@link ModelFingerprint} of the model whose states this store holds
     */
    public static SessionStore open(SessionStoreConfig config, String model) {
        SessionStore store = new SessionStore(config, model);
        if (store.dir != null) store.index();
        store.sweep();
        long period = Math.clamp(config.idleTtl().toMillis() / 10, 1000L, 60_000L);
        store.housekeeping.scheduleWithFixedDelay(store::sweep, period, period, TimeUnit.MILLISECONDS);
        return store;
    }

    private void index() {
        try {
            Files.createDirectories(dir);
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (name.endsWith(SessionFile.SUFFIX + ".tmp") || name.endsWith(".export") || name.endsWith(".import"))
                        Files.deleteIfExists(f); // a write cut short
                    if (!name.endsWith(SessionFile.SUFFIX)) continue;
                    try {
                        SessionFile.Header h = SessionFile.readHeader(f);
                        if (!name.equals(h.id() + SessionFile.SUFFIX))
                            throw new SessionFileException(f + ": holds session " + h.id() + ", not the one its name says");
                        catalog.put(h.id(), h.owner(), h.tokens(), h.conversation(), h.updatedMillis());
                        catalog.fileWritten(h.id(), Files.size(f));
                    } catch (SessionFileException e) {
                        quarantine(f, e);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot use the session directory " + dir, e);
        }
        log.info("sessions: {} in {} ({} MB)", catalog.size(), dir, catalog.diskBytes() / 1_000_000);
    }

    // ---- lookups ------------------------------------------------------------------------------------------

    /** Whether a session of this id exists (in memory or on disk). */
    public boolean exists(String id) {
        return catalog.get(id) != null;
    }

    /** False when the session exists and belongs to another owner than {@code owner}. */
    public boolean mayUse(String id, String owner) {
        SessionCatalog.Entry e = catalog.get(id);
        return e == null || java.util.Objects.equals(e.owner(), owner);
    }

    /**
     * The session, from memory or disk; empty when there is none. Its state is null when it was lost (logged).
     *
     * @throws SessionFileException when its file cannot be used at all (it is moved aside, and the session ends)
     */
    public Optional<Session> get(String id) throws SessionFileException {
        synchronized (stripe(id)) {
            if (catalog.get(id) == null) {
                misses.incrementAndGet();
                return Optional.empty();
            }
            Session s = memory.get(id);
            if (s == null) s = unwritten.get(id);
            if (s != null) {
                hits.incrementAndGet();
            } else if (dir == null) {
                misses.incrementAndGet();
                return Optional.empty();
            } else {
                s = load(id);
                diskLoads.incrementAndGet();
                memory.put(id, s);
            }
            catalog.touch(id, System.currentTimeMillis());
            return Optional.of(s);
        }
    }

    private Session load(String id) throws SessionFileException {
        Path file = SessionFile.path(dir, id);
        SessionFile.Read read;
        try {
            read = SessionFile.read(file, model);
            if (!read.session().id().equals(id)) throw new SessionFileException(file + ": holds session " + read.session().id());
        } catch (SessionFileException e) {
            catalog.remove(id);
            quarantine(file, e);
            throw e;
        }
        if (read.stateProblem() == null) return read.session();
        droppedStates.incrementAndGet();
        log.warn("session {}: {}: its next turn prefills its {} tokens again", id, read.stateProblem(), read.session().tokens().length);
        return read.session();
    }

    /**
     * {@code owner}'s session with the longest token sequence that is a strict prefix of {@code tokens} and whose
     * state is intact: where a request that resends a conversation can resume.
     */
    public Optional<Session> longestTokenPrefix(String owner, int[] tokens) {
        for (String id : catalog.tokenPrefixCandidates(owner, tokens)) {
            Optional<Session> s = quietly(id);
            if (s.isPresent() && s.get().state() != null && s.get().ownedBy(owner)
                    && Arrays.equals(s.get().tokens(), 0, s.get().tokens().length, tokens, 0, s.get().tokens().length))
                return s;
        }
        return Optional.empty();
    }

    /** {@code owner}'s session whose conversation is the longest strict prefix of {@code messages}, state intact. */
    public Optional<Session> longestConversationPrefix(String owner, List<ChatMessage> messages) {
        for (String id : catalog.conversationPrefixCandidates(owner, messages)) {
            Optional<Session> s = quietly(id);
            if (s.isPresent() && s.get().state() != null && s.get().ownedBy(owner)
                    && s.get().conversation().equals(messages.subList(0, s.get().conversation().size())))
                return s;
        }
        return Optional.empty();
    }

    /** A candidate for prefix reuse; one whose file is unusable is simply not a candidate (and was reported). */
    private Optional<Session> quietly(String id) {
        try {
            return get(id);
        } catch (SessionFileException e) {
            return Optional.empty();
        }
    }

    // ---- changes ------------------------------------------------------------------------------------------

    /** Keeps {@code s} (replacing the session of its id) in memory now, and on disk soon. */
    public void put(Session s) {
        synchronized (stripe(s.id())) {
            catalog.put(s.id(), s.owner(), s.tokens(), s.conversation(), System.currentTimeMillis());
            if (dir != null) unwritten.put(s.id(), s);
            memory.put(s.id(), s);
        }
        if (dir != null) housekeeping.execute(() -> write(s.id()));
    }

    /** Ends a session; returns whether it existed. */
    public boolean delete(String id) {
        synchronized (stripe(id)) {
            boolean existed = catalog.remove(id) != null;
            unwritten.remove(id);
            memory.remove(id);
            if (dir != null) onHousekeeper(() -> deleteFile(id));
            if (existed) onHousekeeper(() -> listener.ended(id));
            return existed;
        }
    }

    private void write(String id) {
        Session s = unwritten.get(id);
        if (s == null) return; // a later write of the same session already wrote it, or it was deleted
        try {
            Path file = SessionFile.path(dir, id);
            long bytes = SessionFile.write(file, s, model);
            catalog.fileWritten(id, bytes);
            listener.written(s, file);
        } catch (IOException | RuntimeException e) {
            log.error("session {}: cannot write {}: {} (it stays in memory only)", id, SessionFile.path(dir, id), e.toString());
        } finally {
            unwritten.remove(id, s);
        }
        keepDirectoryBudget(id);
    }

    private void keepDirectoryBudget(String justWritten) {
        while (catalog.diskBytes() > config.directoryBytes()) {
            String victim = catalog.oldestOnDisk(justWritten);
            if (victim == null) {
                log.warn("session {} alone is larger than the directory budget of {} bytes", justWritten, config.directoryBytes());
                return;
            }
            log.info("session {} ends: the session directory is over its budget of {} bytes", victim, config.directoryBytes());
            ended.incrementAndGet();
            delete(victim);
        }
    }

    private void sweep() {
        long cutoff = System.currentTimeMillis() - config.idleTtl().toMillis();
        for (String id : catalog.idleSince(cutoff)) {
            log.info("session {} ends: unused for more than {}", id, config.idleTtl());
            ended.incrementAndGet();
            delete(id);
        }
    }

    private void deleteFile(String id) {
        try {
            Files.deleteIfExists(SessionFile.path(dir, id));
        } catch (IOException e) {
            log.error("session {}: cannot delete its file: {}", id, e.toString());
        }
    }

    private void evicted(String id, Session s) {
        evictions.incrementAndGet();
        if (dir != null) return; // it is on disk, or will be: the next turn reads it from there
        catalog.remove(id);
        log.info("session {} ends: it left the memory budget of {} bytes, and there is no session directory", id, config.memoryBytes());
    }

    private void quarantine(Path file, SessionFileException e) {
        corruptFiles.incrementAndGet();
        Path aside = file.resolveSibling(file.getFileName() + ".corrupt");
        log.warn("{} (moved to {}; the session is lost)", e.getMessage(), aside.getFileName());
        try {
            Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException moveFailed) {
            log.error("cannot move {} aside: {}", file, moveFailed.toString());
        }
    }

    /** Runs disk work in order on the store's thread (at once when already there: it may be closing). */
    private void onHousekeeper(Runnable work) {
        if (Thread.currentThread() == housekeeper) work.run();
        else housekeeping.execute(work);
    }

    private Object stripe(String id) {
        return stripes[Math.floorMod(id.hashCode(), stripes.length)];
    }

    // ---- replication: sessions shared with other processes ---------------------------------------------------

    /** Hears, on the store's own thread, of each session written to disk and each session that ended. */
    public interface Listener {
        void written(Session session, Path file);

        void ended(String id);

        Listener NONE = new Listener() {
            @Override public void written(Session session, Path file) {}

            @Override public void ended(String id) {}
        };
    }

    public void setListener(Listener l) {
        listener = l == null ? Listener.NONE : l;
    }

    /** The session as its file's bytes: with its state, or with its tokens only (a receiver prefills them again). */
    public byte[] encode(Session s, boolean withState) throws IOException {
        Path tmp = Files.createTempFile(dir != null ? dir : Path.of(System.getProperty("java.io.tmpdir")), s.id(), ".export");
        try {
            SessionFile.write(tmp, withState ? s : s.withoutState(), model);
            return Files.readAllBytes(tmp);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Takes a session file another process wrote (its {@link #encode}d bytes), unless this store already holds that
     * session at least as far along (a session's tokens only grow). The bytes are checked first (checksums; a
     * state saved by another model is dropped). Returns whether the session was taken. Listeners are not told: it
     * came from elsewhere.
     */
    public boolean adopt(byte[] bytes) throws SessionFileException, IOException {
        Path tmp = Files.createTempFile(dir != null ? dir : Path.of(System.getProperty("java.io.tmpdir")), "adopt", ".import");
        try {
            Files.write(tmp, bytes);
            SessionFile.Read read = SessionFile.read(tmp, model);
            Session s = read.session();
            synchronized (stripe(s.id())) {
                SessionCatalog.Entry local = catalog.get(s.id());
                if (local != null && local.tokens() >= s.tokens().length) return false;
                if (read.stateProblem() != null)
                    log.warn("session {} from another process: {}: its next turn prefills its tokens again", s.id(), read.stateProblem());
                catalog.put(s.id(), s.owner(), s.tokens(), s.conversation(), System.currentTimeMillis());
                memory.put(s.id(), s);
                if (dir != null) {
                    Path file = SessionFile.path(dir, s.id());
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                    catalog.fileWritten(s.id(), Files.size(file));
                }
                return true;
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    // ---- lifecycle ----------------------------------------------------------------------------------------

    /** Waits until every session put so far is on disk. */
    public void flush() {
        try {
            housekeeping.submit(() -> {}).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }

    public SessionStats stats() {
        return new SessionStats(catalog.size(), memory.bytes(), catalog.diskBytes(), hits.get(), diskLoads.get(), misses.get(),
                evictions.get(), ended.get(), droppedStates.get(), corruptFiles.get());
    }

    /** Writes what is still unwritten, then stops the store's thread. */
    @Override
    public void close() {
        housekeeping.shutdown();
        try {
            if (!housekeeping.awaitTermination(5, TimeUnit.MINUTES)) log.error("session writes did not finish in 5 minutes");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
