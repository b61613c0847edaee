package ai.jamba.engine.session;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Where sessions are kept and when they end.
 *
 * @param memoryBytes    budget of the in-memory tier; least recently used sessions leave it first (to disk, when
 *                       there is a directory; otherwise they end)
 * @param directory      where sessions persist (one file each), or null to keep them in memory only
 * @param directoryBytes budget of the directory; past it, the least recently used sessions end
 * @param idleTtl        a session unused this long ends
 */
public record SessionStoreConfig(long memoryBytes, Path directory, long directoryBytes, Duration idleTtl) {
    public static final long MiB = 1L << 20;

    public SessionStoreConfig {
        if (memoryBytes < 0) throw new IllegalArgumentException("memoryBytes must be >= 0, got " + memoryBytes);
        if (directoryBytes <= 0) throw new IllegalArgumentException("directoryBytes must be > 0, got " + directoryBytes);
        Objects.requireNonNull(idleTtl, "idleTtl");
        if (idleTtl.isNegative() || idleTtl.isZero()) throw new IllegalArgumentException("idleTtl must be positive, got " + idleTtl);
    }

    /** 512 MiB in memory, no directory, 8 GiB on disk once one is given, sessions end after a day unused. */
    public static SessionStoreConfig defaults() {
        return new SessionStoreConfig(512 * MiB, null, 8192 * MiB, Duration.ofDays(1));
    }

    public SessionStoreConfig withDirectory(Path dir) {
        return new SessionStoreConfig(memoryBytes, dir, directoryBytes, idleTtl);
    }

    public SessionStoreConfig withMemoryBytes(long bytes) {
        return new SessionStoreConfig(bytes, directory, directoryBytes, idleTtl);
    }

    public SessionStoreConfig withDirectoryBytes(long bytes) {
        return new SessionStoreConfig(memoryBytes, directory, bytes, idleTtl);
    }

    public SessionStoreConfig withIdleTtl(Duration ttl) {
        return new SessionStoreConfig(memoryBytes, directory, directoryBytes, ttl);
    }
}
