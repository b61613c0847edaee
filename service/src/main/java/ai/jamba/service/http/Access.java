package ai.jamba.service.http;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Who may call, and how much. With API keys configured, every request must carry one ({@code Authorization:
 * Bearer KEY}, or {@code ?token=KEY} on a WebSocket), and its owner identity (a hash of the key, never the key
 * itself) is what sessions are bound to. Each owner is held to a number of concurrent requests and of requests
 * per minute. Without keys the service is open and everyone is the anonymous owner (null).
 */
public final class Access {
    private final Set<String> ownersByKeyHash;
    private final boolean enabled;
    private final int perMinute, concurrent;
    private final Map<String, Usage> usage = new ConcurrentHashMap<>();

    /** Requests under way and recent start times of one owner. */
    private static final class Usage {
        final AtomicInteger running = new AtomicInteger();
        final ArrayDeque<Long> recent = new ArrayDeque<>();
    }

    /** An admitted request: closing it gives its concurrency slot back. */
    public interface Permit extends AutoCloseable {
        @Override
        void close();
    }

    public Access(Set<String> apiKeys, int requestsPerMinute, int concurrentPerOwner) {
        this.enabled = !apiKeys.isEmpty();
        this.ownersByKeyHash = apiKeys.stream().map(Access::owner).collect(java.util.stream.Collectors.toUnmodifiableSet());
        this.perMinute = requestsPerMinute;
        this.concurrent = concurrentPerOwner;
    }

    public boolean enabled() {
        return enabled;
    }

    /**
     * The owner a request acts for: null (anonymous) when no keys are configured; else the key's owner identity.
     * No key or an unknown key → 401.
     */
    public String authenticate(String authorizationHeader, String tokenParameter) {
        if (!enabled) return null;
        String key = null;
        if (authorizationHeader != null && authorizationHeader.regionMatches(true, 0, "Bearer ", 0, 7))
            key = authorizationHeader.substring(7).trim();
        else if (tokenParameter != null) key = tokenParameter;
        if (key == null || key.isEmpty()) throw new ApiError(401, "missing_api_key", "an API key is required: Authorization: Bearer KEY");
        String owner = owner(key);
        if (!ownersByKeyHash.contains(owner)) throw new ApiError(401, "invalid_api_key", "the API key is not valid");
        return owner;
    }

    /** Admits one request of {@code owner}, or refuses it with 429 when it is over its concurrency or rate. */
    public Permit admit(String owner) {
        String id = owner == null ? "" : owner;
        Usage u = usage.computeIfAbsent(id, k -> new Usage());
        long now = System.nanoTime();
        synchronized (u.recent) {
            while (!u.recent.isEmpty() && now - u.recent.peekFirst() > 60_000_000_000L) u.recent.pollFirst();
            if (perMinute > 0 && u.recent.size() >= perMinute)
                throw new ApiError(429, "rate_limited", "more than " + perMinute + " requests in the last minute; retry later");
            if (concurrent > 0 && u.running.get() >= concurrent)
                throw new ApiError(429, "too_many_concurrent_requests", "already " + concurrent + " requests running; wait for one to finish");
            u.recent.addLast(now);
            u.running.incrementAndGet();
        }
        boolean[] closed = {false};
        return () -> {
            synchronized (u.recent) {
                if (!closed[0]) {
                    closed[0] = true;
                    u.running.decrementAndGet();
                }
            }
        };
    }

    /** The identity a key stands for: a short SHA-256 of it, so neither logs nor session files hold keys. */
    static String owner(String key) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return "key-" + HexFormat.of().formatHex(d, 0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
