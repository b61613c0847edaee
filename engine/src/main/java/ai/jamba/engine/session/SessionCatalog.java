package ai.jamba.engine.session;

import ai.jamba.engine.tokenizer.ChatMessage;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Every session the store knows, wherever its state lies (memory, waiting to be written, or disk), with what it takes
 * to check ownership, find sessions by prefix, and end them (idle time, disk budget).
 *
 * <p>Prefix lookup: each session is listed under a hash of its whole token sequence (and of its whole conversation).
 * A request's sequence is hashed one prefix at a time, the same way, so each prefix length costs one map lookup;
 * hits are candidates, longest first, which the store confirms against the real tokens (a hash can collide).
 *
 * <p>Thread-safe: every method is synchronized, and each is a few map operations.
 */
final class SessionCatalog {
    /** What the catalog holds per session. {@code fileBytes} is 0 until the session is on disk. */
    record Entry(String id, String owner, int tokens, long tokenHash, int messages, long conversationHash,
                 long lastUsedMillis, long fileBytes) {
        Entry used(long now) {
            return new Entry(id, owner, tokens, tokenHash, messages, conversationHash, Math.max(now, lastUsedMillis), fileBytes);
        }

        Entry onDisk(long bytes) {
            return new Entry(id, owner, tokens, tokenHash, messages, conversationHash, lastUsedMillis, bytes);
        }
    }

    private final Map<String, Entry> entries = new HashMap<>();
    private final Map<Long, Set<String>> byTokens = new HashMap<>();
    private final Map<Long, Set<String>> byConversation = new HashMap<>();
    private long diskBytes;

    /** Lists (or relists) a session as it is now; keeps what is known of its file. */
    synchronized void put(String id, String owner, int[] tokens, List<ChatMessage> conversation, long lastUsedMillis) {
        Entry old = remove(id);
        Entry e = new Entry(id, owner, tokens.length, hashTokens(tokens, tokens.length), conversation.size(),
                hashMessages(conversation, conversation.size()), lastUsedMillis, old == null ? 0 : old.fileBytes);
        entries.put(id, e);
        diskBytes += e.fileBytes;
        byTokens.computeIfAbsent(e.tokenHash, h -> new HashSet<>()).add(id);
        if (e.messages > 0) byConversation.computeIfAbsent(e.conversationHash, h -> new HashSet<>()).add(id);
    }

    synchronized Entry get(String id) {
        return entries.get(id);
    }

    synchronized Entry remove(String id) {
        Entry e = entries.remove(id);
        if (e == null) return null;
        diskBytes -= e.fileBytes;
        unlist(byTokens, e.tokenHash, id);
        if (e.messages > 0) unlist(byConversation, e.conversationHash, id);
        return e;
    }

    private static void unlist(Map<Long, Set<String>> index, long hash, String id) {
        Set<String> ids = index.get(hash);
        if (ids != null && ids.remove(id) && ids.isEmpty()) index.remove(hash);
    }

    synchronized void touch(String id, long now) {
        entries.computeIfPresent(id, (k, e) -> e.used(now));
    }

    /** Records the size of a session's file (0: it has none). */
    synchronized void fileWritten(String id, long bytes) {
        Entry e = entries.get(id);
        if (e == null) return;
        diskBytes += bytes - e.fileBytes;
        entries.put(id, e.onDisk(bytes));
    }

    synchronized int size() {
        return entries.size();
    }

    synchronized long diskBytes() {
        return diskBytes;
    }

    /** Sessions unused since {@code cutoff}. */
    synchronized List<String> idleSince(long cutoff) {
        return entries.values().stream().filter(e -> e.lastUsedMillis < cutoff).map(Entry::id).toList();
    }

    /** The least recently used session with a file, other than {@code keep}; null if none. */
    synchronized String oldestOnDisk(String keep) {
        return entries.values().stream().filter(e -> e.fileBytes > 0 && !e.id.equals(keep))
                .min(Comparator.comparingLong(Entry::lastUsedMillis)).map(Entry::id).orElse(null);
    }

    /** Ids of {@code owner}'s sessions whose token hash matches a strict prefix of {@code tokens}, longest first. */
    synchronized List<String> tokenPrefixCandidates(String owner, int[] tokens) {
        long[] hashes = new long[tokens.length];
        long h = 0;
        for (int i = 0; i < tokens.length; i++) hashes[i] = h = step(h, tokens[i] + 1L);
        List<String> out = new ArrayList<>();
        for (int len = tokens.length - 1; len >= 1; len--) collect(byTokens, hashes[len - 1], owner, out);
        return out;
    }

    /** Ids of {@code owner}'s sessions whose conversation hash matches a strict prefix of {@code messages}, longest first. */
    synchronized List<String> conversationPrefixCandidates(String owner, List<ChatMessage> messages) {
        long[] hashes = new long[messages.size()];
        long h = 0;
        for (int i = 0; i < hashes.length; i++) hashes[i] = h = step(h, hashMessage(messages.get(i)));
        List<String> out = new ArrayList<>();
        for (int len = hashes.length - 1; len >= 1; len--) collect(byConversation, hashes[len - 1], owner, out);
        return out;
    }

    private void collect(Map<Long, Set<String>> index, long hash, String owner, List<String> out) {
        Set<String> ids = index.get(hash);
        if (ids == null) return;
        for (String id : ids) if (Objects.equals(entries.get(id).owner, owner)) out.add(id);
    }

    // A polynomial hash over the sequence, one element at a time; a prefix's hash is the running value at its end.
    private static final long MULTIPLIER = 0x9E3779B97F4A7C15L;

    private static long step(long h, long element) {
        return h * MULTIPLIER + element;
    }

    static long hashTokens(int[] tokens, int n) {
        long h = 0;
        for (int i = 0; i < n; i++) h = step(h, tokens[i] + 1L);
        return h;
    }

    static long hashMessages(List<ChatMessage> messages, int n) {
        long h = 0;
        for (int i = 0; i < n; i++) h = step(h, hashMessage(messages.get(i)));
        return h;
    }

    /** FNV-1a over the role, a separator, and the content. */
    private static long hashMessage(ChatMessage m) {
        long h = 0xcbf29ce484222325L;
        String s = m.role() + '\u0000' + m.content();
        for (int i = 0; i < s.length(); i++) h = (h ^ s.charAt(i)) * 0x100000001b3L;
        return h;
    }
}
