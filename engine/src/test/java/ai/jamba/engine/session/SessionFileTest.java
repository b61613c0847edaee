package ai.jamba.engine.session;

import ai.jamba.engine.tokenizer.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A session on disk: everything comes back bit for bit, and damage costs the state at most, never a wrong one. */
class SessionFileTest {
    @TempDir
    Path dir;

    final Session session = Sessions.of("chat-1", "alice", new int[]{1, 726, 505, 311, 2},
            List.of(new ChatMessage("user", "You will"), new ChatMessage("assistant", " be happy.")), 7);

    Path written() throws IOException {
        Path file = SessionFile.path(dir, session.id());
        SessionFile.write(file, session, Sessions.MODEL);
        return file;
    }

    @Test
    void everythingComesBackBitForBit() throws Exception {
        SessionFile.Read read = SessionFile.read(written(), Sessions.MODEL);
        Session back = read.session();
        assertNull(read.stateProblem());
        assertEquals(session.id(), back.id());
        assertEquals(session.owner(), back.owner());
        assertArrayEquals(session.tokens(), back.tokens());
        assertEquals(session.conversation(), back.conversation());
        assertEquals(session.stateTokens(), back.stateTokens());
        assertEquals(session.state().kvTokens(), back.state().kvTokens());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(session.state().mamba()[i], back.state().mamba()[i], "Mamba state of layer " + i);
            assertArrayEquals(session.state().kv()[i], back.state().kv()[i], "K/V of layer " + i);
        }
        assertEquals(List.of(session.id() + ".session"), Files.list(dir).map(p -> p.getFileName().toString()).toList(),
                "no temporary file is left behind");
    }

    @Test
    void aDamagedStateCostsTheStateButKeepsTheTokens() throws Exception {
        Path file = written();
        flipByte(file, Files.size(file) - 20); // inside the last section, STAT
        SessionFile.Read read = SessionFile.read(file, Sessions.MODEL);
        assertNull(read.session().state());
        assertTrue(read.stateProblem().contains("STAT fails its checksum"), read.stateProblem());
        assertArrayEquals(session.tokens(), read.session().tokens());
        assertEquals(session.conversation(), read.session().conversation());
    }

    @Test
    void aTruncatedStateCostsTheStateButKeepsTheTokens() throws Exception {
        Path file = written();
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(f.length() - 100);
        }
        SessionFile.Read read = SessionFile.read(file, Sessions.MODEL);
        assertNull(read.session().state());
        assertNotNull(read.stateProblem());
        assertArrayEquals(session.tokens(), read.session().tokens());
    }

    @Test
    void aStateSavedByAnotherModelIsNotUsed() throws Exception {
        SessionFile.Read read = SessionFile.read(written(), "another-model");
        assertNull(read.session().state());
        assertTrue(read.stateProblem().contains("another model"), read.stateProblem());
        assertArrayEquals(session.tokens(), read.session().tokens());
    }

    @Test
    void damagedTokensMakeTheFileUnusable() throws Exception {
        Path file = written();
        flipByte(file, tokenSectionStart(file) + 4);
        SessionFileException e = assertThrows(SessionFileException.class, () -> SessionFile.read(file, Sessions.MODEL));
        assertTrue(e.getMessage().contains("TOKN fails its checksum"), e.getMessage());
    }

    @Test
    void anotherFormatVersionIsRefused() throws Exception {
        Path file = written();
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(8);
            f.write(new byte[]{2, 0, 0, 0});
        }
        SessionFileException e = assertThrows(SessionFileException.class, () -> SessionFile.read(file, Sessions.MODEL));
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
    }

    /** Where TOKN's payload starts: after the 12-byte header and META (12-byte section header, payload, checksum). */
    static long tokenSectionStart(Path file) throws IOException {
        byte[] head = new byte[24];
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            f.readFully(head);
        }
        long metaLength = ByteBuffer.wrap(head, 16, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return 12 + 12 + metaLength + 4 + 12;
    }

    static void flipByte(Path file, long at) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x55);
        }
    }
}
