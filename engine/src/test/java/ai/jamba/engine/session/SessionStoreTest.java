package ai.jamba.engine.session;

import ai.jamba.engine.tokenizer.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where sessions live between turns, and how they end. */
class SessionStoreTest {
    @TempDir
    Path dir;

    SessionStoreConfig onDisk() {
        return SessionStoreConfig.defaults().withDirectory(dir);
    }

    @Test
    void aSessionEvictedFromMemoryComesBackFromDisk() throws Exception {
        Session s = Sessions.of("a", null, 40, 1);
        try (SessionStore store = SessionStore.open(onDisk().withMemoryBytes(0), Sessions.MODEL)) {
            store.put(s);
            store.flush();
            Session back = store.get("a").orElseThrow();
            assertArrayEquals(s.state().kv()[1], back.state().kv()[1]);
            assertEquals(1, store.stats().diskLoads());
            assertTrue(store.stats().evictions() >= 1);
        }
    }

    @Test
    void aRestartedStoreFindsItsSessionsOnDisk() throws Exception {
        try (SessionStore store = SessionStore.open(onDisk(), Sessions.MODEL)) {
            store.put(Sessions.of("a", "alice", 40, 1));
        }
        try (SessionStore store = SessionStore.open(onDisk(), Sessions.MODEL)) {
            assertTrue(store.exists("a"));
            assertFalse(store.mayUse("a", "bob"), "it still belongs to alice");
            assertArrayEquals(Sessions.of("a", "alice", 40, 1).state().mamba()[0], store.get("a").orElseThrow().state().mamba()[0]);
        }
    }

    @Test
    void withoutADirectoryASessionEvictedFromMemoryEnds() throws Exception {
        long oneSession = Sessions.of("a", null, 40, 1).bytes();
        try (SessionStore store = SessionStore.open(SessionStoreConfig.defaults().withMemoryBytes(oneSession * 3 / 2), Sessions.MODEL)) {
            store.put(Sessions.of("a", null, 40, 1));
            store.put(Sessions.of("b", null, 40, 2));
            assertFalse(store.exists("a"), "the least recently used went");
            assertEquals(Optional.empty(), store.get("a"));
            assertTrue(store.get("b").isPresent());
        }
    }

    @Test
    void anIdleSessionEnds() throws Exception {
        SessionStoreConfig config = onDisk().withIdleTtl(Duration.ofMillis(200));
        try (SessionStore store = SessionStore.open(config, Sessions.MODEL)) {
            store.put(Sessions.of("a", null, 10, 1));
        }
        Thread.sleep(300);
        try (SessionStore store = SessionStore.open(config, Sessions.MODEL)) {
            assertFalse(store.exists("a"));
            store.flush();
            assertFalse(Files.exists(dir.resolve("a.session")));
            assertEquals(1, store.stats().ended());
        }
    }

    @Test
    void theDirectoryKeepsItsBudgetByEndingTheLeastRecentlyUsed() throws Exception {
        try (SessionStore probe = SessionStore.open(SessionStoreConfig.defaults().withDirectory(dir.resolve("probe")), Sessions.MODEL)) {
            probe.put(Sessions.of("x", null, 40, 1));
            probe.flush();
        }
        long fileBytes = Files.size(dir.resolve("probe/x.session"));
        try (SessionStore store = SessionStore.open(onDisk().withDirectoryBytes(fileBytes * 5 / 2), Sessions.MODEL)) {
            store.put(Sessions.of("a", null, 40, 1));
            Thread.sleep(5);
            store.put(Sessions.of("b", null, 40, 2));
            Thread.sleep(5);
            store.get("a"); // a is used again: b is now the least recently used
            Thread.sleep(5);
            store.put(Sessions.of("c", null, 40, 3));
            store.flush();
            assertTrue(store.exists("a"));
            assertFalse(store.exists("b"));
            assertTrue(store.exists("c"));
            assertFalse(Files.exists(dir.resolve("b.session")));
            assertTrue(store.stats().diskBytes() <= fileBytes * 5 / 2);
        }
    }

    @Test
    void deleteEndsASessionEverywhere() throws Exception {
        try (SessionStore store = SessionStore.open(onDisk(), Sessions.MODEL)) {
            store.put(Sessions.of("a", null, 10, 1));
            assertTrue(store.delete("a"));
            store.flush();
            assertEquals(Optional.empty(), store.get("a"));
            assertFalse(Files.exists(dir.resolve("a.session")));
            assertFalse(store.delete("a"));
        }
    }

    @Test
    void theLongestStoredPrefixOfTheOwnersSessionsIsFound() {
        try (SessionStore store = SessionStore.open(onDisk(), Sessions.MODEL)) {
            store.put(Sessions.of("five", "alice", new int[]{1, 2, 3, 4, 5}, List.of(), 1));
            store.put(Sessions.of("eight", "alice", new int[]{1, 2, 3, 4, 5, 6, 7, 8}, List.of(), 2));
            store.put(Sessions.of("other", "alice", new int[]{1, 2, 3, 9}, List.of(), 3));
            store.put(Sessions.of("bobs", "bob", new int[]{1, 2, 3, 4, 5, 6, 7, 8, 9}, List.of(), 4));
            int[] ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
            assertEquals("eight", store.longestTokenPrefix("alice", ten).orElseThrow().id());
            assertEquals("five", store.longestTokenPrefix("alice", new int[]{1, 2, 3, 4, 5, 6, 7, 8}).orElseThrow().id(),
                    "a prefix is strict: a request needs a token of its own");
            assertEquals("bobs", store.longestTokenPrefix("bob", ten).orElseThrow().id());
            assertEquals(Optional.empty(), store.longestTokenPrefix(null, ten), "nobody else's");
            assertEquals(Optional.empty(), store.longestTokenPrefix("alice", new int[]{2, 3, 4, 5, 6, 7}));
        }
    }

    @Test
    void theLongestStoredConversationIsFound() {
        ChatMessage q1 = new ChatMessage("user", "Hi"), a1 = new ChatMessage("assistant", " Hello."),
                q2 = new ChatMessage("user", "How are you?");
        try (SessionStore store = SessionStore.open(onDisk(), Sessions.MODEL)) {
            store.put(Sessions.of("c", "alice", new int[]{1, 2, 3}, List.of(q1, a1), 1));
            assertEquals("c", store.longestConversationPrefix("alice", List.of(q1, a1, q2)).orElseThrow().id());
            assertEquals(Optional.empty(), store.longestConversationPrefix("alice", List.of(q1, new ChatMessage("assistant", "Hey"), q2)));
            assertEquals(Optional.empty(), store.longestConversationPrefix("bob", List.of(q1, a1, q2)));
        }
    }

    @Test
    void anUnusableFileIsSetAsideAndReported() throws Exception {
        try (SessionStore store = SessionStore.open(onDisk(), Sessions.MODEL)) {
            store.put(Sessions.of("a", null, 10, 1));
        }
        SessionFileTest.flipByte(dir.resolve("a.session"), SessionFileTest.tokenSectionStart(dir.resolve("a.session")));
        try (SessionStore store = SessionStore.open(onDisk(), Sessions.MODEL)) {
            assertFalse(store.exists("a"));
            assertEquals(1, store.stats().corruptFiles());
            assertTrue(Files.exists(dir.resolve("a.session.corrupt")));
        }
    }

    @Test
    void aFileDamagedWhileTheStoreRunsIsReportedOnUse() throws Exception {
        try (SessionStore store = SessionStore.open(onDisk().withMemoryBytes(0), Sessions.MODEL)) {
            store.put(Sessions.of("a", null, 10, 1));
            store.flush();
            SessionFileTest.flipByte(dir.resolve("a.session"), SessionFileTest.tokenSectionStart(dir.resolve("a.session")));
            assertThrows(SessionFileException.class, () -> store.get("a"));
            assertFalse(store.exists("a"), "the session is gone, and the file set aside");
        }
    }
}
