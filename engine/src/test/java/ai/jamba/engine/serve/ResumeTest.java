package ai.jamba.engine.serve;

import ai.jamba.engine.session.SessionStoreConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A conversation resumed by its session id computes what one uninterrupted run computes: turn 1 (P1, greedy N → O1),
 * then turn 2 in a fresh engine over the same session directory (P2 → O2), gives the ids a single greedy run over
 * P1 + O1 + P2 gives. Also when the session had left memory and came back from disk, and when its file was damaged
 * (the state is dropped, with a warning, and the turn prefills everything again).
 */
class ResumeTest {
    static final String P1 = "You will", P2 = " And then the";
    static final int N = 12;

    static Demo demo;

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        demo = Demo.open();
    }

    @AfterAll
    static void close() {
        demo.close();
    }

    Engine engine(SessionStoreConfig sessions) {
        return demo.engine(EngineConfig.defaults().withSessions(sessions));
    }

    SessionStoreConfig onDisk() {
        return SessionStoreConfig.defaults().withDirectory(dir);
    }

    Events turn(Engine engine, String text) {
        return demo.run(engine, GenerationRequest.builder().sessionId("conversation").text(text).greedy().maxTokens(N)
                .stopAtEos(false).build());
    }

    /** What one greedy run over the whole conversation gives: BOS + P1, O1, P2 (no BOS: it is not the start). */
    int[] uninterrupted(int[] o1) {
        return demo.greedy(Demo.concat(demo.encode(P1, true), o1, demo.encode(P2, false)), N);
    }

    @Test
    void aResumedTurnGivesWhatOneUninterruptedRunGives() {
        int[] o1;
        try (Engine first = engine(onDisk())) {
            Events t1 = turn(first, P1);
            o1 = t1.ids();
            assertEquals(0, t1.done().usage().reusedTokens());
            assertArrayEquals(demo.greedy(demo.encode(P1, true), N), o1, "turn 1 is the plain greedy run");
        }
        try (Engine second = engine(onDisk())) {
            Events t2 = turn(second, P2);
            assertArrayEquals(uninterrupted(o1), t2.ids());
            int before = demo.encode(P1, true).length + N;
            GenerationEvent.Usage u = t2.done().usage();
            assertEquals(before + demo.encode(P2, false).length, u.promptTokens());
            assertEquals(before - 1, u.reusedTokens(), "all of turn 1 but its last token (sampled, never fed) was restored");
            assertEquals(1, second.stats().sessions().diskLoads());
        }
    }

    @Test
    void aSessionEvictedFromMemoryResumesFromDisk() throws InterruptedException {
        try (Engine engine = engine(onDisk().withMemoryBytes(0))) {
            int[] o1 = turn(engine, P1).ids();
            awaitWritten(engine); // until then it is still in memory, in the write-behind queue
            Events t2 = turn(engine, P2);
            assertArrayEquals(uninterrupted(o1), t2.ids());
            assertTrue(t2.done().usage().reusedTokens() > 0);
            assertTrue(engine.stats().sessions().evictions() >= 1);
            assertEquals(1, engine.stats().sessions().diskLoads());
        }
    }

    static void awaitWritten(Engine engine) throws InterruptedException {
        for (int i = 0; i < 1000 && engine.stats().sessions().diskBytes() == 0; i++) Thread.sleep(10);
        assertTrue(engine.stats().sessions().diskBytes() > 0, "the session file was written");
    }

    @Test
    void aDamagedSessionFileIsReportedAndItsTokensPrefilledAgain() throws Exception {
        int[] o1;
        try (Engine first = engine(onDisk())) {
            o1 = turn(first, P1).ids();
        }
        Path file = dir.resolve("conversation.session");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) { // a byte of the state section, flipped
            f.seek(Files.size(file) - 100);
            int b = f.read();
            f.seek(Files.size(file) - 100);
            f.write(b ^ 0xff);
        }
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        Events t2;
        try (Engine second = engine(onDisk())) {
            System.setErr(new PrintStream(log, true));
            t2 = turn(second, P2);
            assertEquals(1, second.stats().sessions().droppedStates());
        } finally {
            System.setErr(stderr);
        }
        assertArrayEquals(uninterrupted(o1), t2.ids());
        assertEquals(0, t2.done().usage().reusedTokens(), "nothing restored: the whole conversation was prefilled");
        assertTrue(log.toString().contains("WARN") && log.toString().contains("session conversation")
                && log.toString().contains("fails its checksum"), "a warning was logged: " + log);
    }
}
