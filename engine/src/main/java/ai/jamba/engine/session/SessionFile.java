package ai.jamba.engine.session;

import ai.jamba.engine.model.StateSnapshot;
import ai.jamba.engine.tokenizer.ChatMessage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * One session on disk. Little-endian throughout:
 *
 * <pre>
 * file    = "JAMBASES" · u32 version (1) · META · TOKN · [STAT]
 * section = u32 tag · u64 length · payload · u32 CRC32C(payload)
 * META    UTF-8 JSON {id, owner, created, updated, model, tokens, state_tokens, conversation: [{role, content}]}
 * TOKN    tokens × i32
 * STAT    i32 kv_tokens · i32 layers · per layer: u8 kind (0 none, 1 Mamba, 2 K/V) · i32 n · n × f32
 * </pre>
 *
 * Each section has its own checksum so that the token ids survive a damaged state: a bad STAT, or one saved by
 * another model ({@code model} is the {@link ModelFingerprint}), costs a re-prefill, never a wrong answer. A bad
 * META or TOKN makes the whole file unusable ({@link SessionFileException}). Writes go to a temporary file that is
 * forced to disk and then renamed over the old one, so a reader sees the old file or the new one, never half.
 */
final class SessionFile {
    private SessionFile() {}

    static final String SUFFIX = ".session";
    static final int VERSION = 1;
    private static final byte[] MAGIC = "JAMBASES".getBytes(StandardCharsets.US_ASCII);
    private static final int META = tag("META"), TOKN = tag("TOKN"), STAT = tag("STAT");
    private static final byte NONE = 0, MAMBA = 1, KV = 2;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the first two sections say: enough to index a session without reading its state. */
    record Header(String id, String owner, long createdMillis, long updatedMillis, String model, int stateTokens,
                  int[] tokens, List<ChatMessage> conversation) {}

    /** A session read back; {@code stateProblem} says why its state was dropped (null when it was not). */
    record Read(Session session, String stateProblem) {}

    static Path path(Path dir, String id) {
        return dir.resolve(id + SUFFIX);
    }

    // ---- writing ------------------------------------------------------------------------------------------

    /** Writes {@code s} atomically to {@code file}; returns the bytes written. */
    static long write(Path file, Session s, String model) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer head = le(MAGIC.length + 4).put(MAGIC).putInt(VERSION).flip();
            writeFully(ch, head);
            Section meta = new Section(ch, META, 0);
            byte[] json = metaJson(s, model);
            meta.length = json.length;
            meta.begin();
            meta.put(ByteBuffer.wrap(json));
            meta.end();

            Section tokens = new Section(ch, TOKN, 4L * s.tokens().length);
            tokens.begin();
            ByteBuffer ids = le(4 * s.tokens().length);
            ids.asIntBuffer().put(s.tokens());
            tokens.put(ids);
            tokens.end();

            if (s.state() != null) writeState(ch, s.state());
            ch.force(true);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
        return Files.size(file);
    }

    private static byte[] metaJson(Session s, String model) {
        ObjectNode m = JSON.createObjectNode();
        m.put("id", s.id());
        if (s.owner() == null) m.putNull("owner");
        else m.put("owner", s.owner());
        m.put("created", s.createdMillis());
        m.put("updated", s.updatedMillis());
        m.put("model", model);
        m.put("tokens", s.tokens().length);
        m.put("state_tokens", s.stateTokens());
        ArrayNode conversation = m.putArray("conversation");
        for (ChatMessage c : s.conversation()) conversation.addObject().put("role", c.role()).put("content", c.content());
        return m.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void writeState(FileChannel ch, StateSnapshot state) throws IOException {
        int layers = state.mamba().length;
        long length = 8;
        for (int i = 0; i < layers; i++) length += 5 + 4L * layerFloats(state, i).length;
        Section sec = new Section(ch, STAT, length);
        sec.begin();
        sec.put(le(8).putInt(state.kvTokens()).putInt(layers).flip());
        for (int i = 0; i < layers; i++) {
            float[] values = layerFloats(state, i);
            byte kind = state.mamba()[i] != null ? MAMBA : state.kv()[i] != null ? KV : NONE;
            sec.put(le(5).put(kind).putInt(values.length).flip());
            for (int from = 0; from < values.length; from += CHUNK_FLOATS) {
                int n = Math.min(CHUNK_FLOATS, values.length - from);
                ByteBuffer chunk = le(4 * n);
                chunk.asFloatBuffer().put(values, from, n);
                sec.put(chunk);
            }
        }
        sec.end();
    }

    private static final int CHUNK_FLOATS = 1 << 18;
    private static final float[] EMPTY = new float[0];

    private static float[] layerFloats(StateSnapshot s, int layer) {
        if (s.mamba()[layer] != null) return s.mamba()[layer];
        return s.kv()[layer] != null ? s.kv()[layer] : EMPTY;
    }

    /** A section being written: its header, then payload pieces checksummed on the way, then the checksum. */
    private static final class Section {
        final FileChannel ch;
        final int tag;
        long length, written;
        final CRC32C crc = new CRC32C();

        Section(FileChannel ch, int tag, long length) {
            this.ch = ch;
            this.tag = tag;
            this.length = length;
        }

        void begin() throws IOException {
            writeFully(ch, le(12).putInt(tag).putLong(length).flip());
        }

        void put(ByteBuffer b) throws IOException {
            written += b.remaining();
            crc.update(b.duplicate());
            writeFully(ch, b);
        }

        void end() throws IOException {
            if (written != length) throw new IllegalStateException("section wrote " + written + " bytes, declared " + length);
            writeFully(ch, le(4).putInt((int) crc.getValue()).flip());
        }
    }

    // ---- reading ------------------------------------------------------------------------------------------

    /** META and TOKN only: what the store indexes at start-up. */
    static Header readHeader(Path file) throws SessionFileException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return header(file, ch);
        } catch (IOException e) {
            throw new SessionFileException(file + ": cannot read: " + e.getMessage());
        }
    }

    /**
     * The whole session. The state is dropped, and {@link Read#stateProblem} says why, when its section is damaged or
     * missing, or was saved by another model than {@code model}.
     */
    static Read read(Path file, String model) throws SessionFileException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Header h = header(file, ch);
            Session noState = new Session(h.id, h.owner, h.tokens, h.conversation, null, 0, h.createdMillis, h.updatedMillis);
            if (ch.position() == ch.size())
                return new Read(noState, h.stateTokens == 0 ? null : "its state section is missing");
            if (!h.model.equals(model))
                return new Read(noState, "its state was saved by another model (" + h.model + "; this one is " + model + ")");
            try {
                StateSnapshot state = readState(new SectionReader(file, ch, STAT, "STAT"));
                return new Read(new Session(h.id, h.owner, h.tokens, h.conversation, state, h.stateTokens,
                        h.createdMillis, h.updatedMillis), null);
            } catch (SessionFileException e) {
                return new Read(noState, e.getMessage());
            }
        } catch (IOException e) {
            throw new SessionFileException(file + ": cannot read: " + e.getMessage());
        }
    }

    private static Header header(Path file, FileChannel ch) throws IOException, SessionFileException {
        ByteBuffer head = readFully(file, ch, MAGIC.length + 4, "the header");
        byte[] magic = new byte[MAGIC.length];
        head.get(magic);
        if (!Arrays.equals(magic, MAGIC)) throw new SessionFileException(file + ": not a Jamba session file");
        int version = head.getInt();
        if (version != VERSION)
            throw new SessionFileException(file + ": session format version " + version + ", this build reads " + VERSION);
        ByteBuffer metaBytes = new SectionReader(file, ch, META, "META").whole();
        JsonNode meta;
        try {
            meta = JSON.readTree(metaBytes.array(), 0, metaBytes.limit());
        } catch (IOException e) {
            throw new SessionFileException(file + ": META is not JSON: " + e.getMessage());
        }
        ByteBuffer tokenBytes = new SectionReader(file, ch, TOKN, "TOKN").whole();
        int[] tokens = new int[tokenBytes.remaining() / 4];
        tokenBytes.asIntBuffer().get(tokens);
        if (tokens.length != meta.path("tokens").asInt(-1))
            throw new SessionFileException(file + ": TOKN holds " + tokens.length + " tokens, META says " + meta.path("tokens"));
        List<ChatMessage> conversation = new ArrayList<>();
        for (JsonNode m : meta.path("conversation")) conversation.add(new ChatMessage(m.path("role").asText(), m.path("content").asText()));
        String owner = meta.path("owner").isTextual() ? meta.path("owner").asText() : null;
        return new Header(meta.path("id").asText(), owner, meta.path("created").asLong(), meta.path("updated").asLong(),
                meta.path("model").asText(), meta.path("state_tokens").asInt(), tokens, conversation);
    }

    private static StateSnapshot readState(SectionReader in) throws IOException, SessionFileException {
        ByteBuffer head = in.next(8);
        int kvTokens = head.getInt(), layers = head.getInt();
        if (layers < 0 || layers > 10_000) throw new SessionFileException(in.file + ": STAT claims " + layers + " layers");
        float[][] mamba = new float[layers][], kv = new float[layers][];
        for (int i = 0; i < layers; i++) {
            ByteBuffer layer = in.next(5);
            byte kind = layer.get();
            int n = layer.getInt();
            if (n < 0 || 4L * n > in.left()) throw new SessionFileException(in.file + ": STAT layer " + i + " claims " + n + " floats");
            float[] values = new float[n];
            for (int from = 0; from < n; from += CHUNK_FLOATS) {
                int count = Math.min(CHUNK_FLOATS, n - from);
                in.next(4 * count).asFloatBuffer().get(values, from, count);
            }
            if (kind == MAMBA) mamba[i] = values;
            else if (kind == KV) kv[i] = values;
        }
        in.end();
        return new StateSnapshot(kvTokens, mamba, kv);
    }

    /** A section being read: its header, then payload pieces checksummed on the way, then the checksum. */
    private static final class SectionReader {
        final Path file;
        final FileChannel ch;
        final String name;
        final long length;
        long read;
        final CRC32C crc = new CRC32C();

        SectionReader(Path file, FileChannel ch, int tag, String name) throws IOException, SessionFileException {
            this.file = file;
            this.ch = ch;
            this.name = name;
            ByteBuffer head = readFully(file, ch, 12, name + "'s header");
            if (head.getInt() != tag) throw new SessionFileException(file + ": expected section " + name + ", found another");
            length = head.getLong();
            if (length < 0 || length > ch.size() - ch.position() - 4)
                throw new SessionFileException(file + ": section " + name + " claims " + length + " bytes, more than the file holds");
        }

        long left() {
            return length - read;
        }

        ByteBuffer next(int n) throws IOException, SessionFileException {
            if (n > left()) throw new SessionFileException(file + ": section " + name + " ends early");
            ByteBuffer b = readFully(file, ch, n, name);
            crc.update(b.duplicate());
            read += n;
            return b;
        }

        /** The rest of a small section, checked. */
        ByteBuffer whole() throws IOException, SessionFileException {
            if (left() > Integer.MAX_VALUE - 8) throw new SessionFileException(file + ": section " + name + " is too large");
            ByteBuffer b = next((int) left());
            end();
            return b;
        }

        void end() throws IOException, SessionFileException {
            if (left() != 0) throw new SessionFileException(file + ": section " + name + " has " + left() + " bytes left over");
            int stored = readFully(file, ch, 4, name + "'s checksum").getInt();
            if ((int) crc.getValue() != stored) throw new SessionFileException(file + ": section " + name + " fails its checksum");
        }
    }

    private static ByteBuffer readFully(Path file, FileChannel ch, int n, String what) throws IOException, SessionFileException {
        ByteBuffer b = le(n);
        while (b.hasRemaining()) if (ch.read(b) < 0) throw new SessionFileException(file + ": truncated in " + what);
        return b.flip();
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int tag(String four) {
        byte[] b = four.getBytes(StandardCharsets.US_ASCII);
        return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }
}
