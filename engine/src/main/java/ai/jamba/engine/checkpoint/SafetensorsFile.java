package ai.jamba.engine.checkpoint;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.HostTensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * One .safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the data. Tensors are slices of the mapping, so a model far larger
 * than the Java heap loads without copying. Every range is checked against the file's size when it is opened.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Headers beyond this are not a safetensors header but a damaged file. */
    private static final long MAX_HEADER = 100L << 20;

    private record Entry(String dtype, long[] shape, long begin, long end) {}

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, Entry> entries;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, Map<String, Entry> entries) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.entries = entries;
    }

    public static SafetensorsFile open(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new CheckpointException(path + ": truncated: " + size + " bytes, not even the 8-byte header length");
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            long headerLength = len.getLong(0);
            if (headerLength <= 0 || headerLength > MAX_HEADER)
                throw new CheckpointException(path + ": bad header: its length field says " + headerLength + " bytes");
            if (8 + headerLength > size)
                throw new CheckpointException(path + ": truncated: the header needs " + (8 + headerLength) + " bytes, the file has " + size);
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            ch.read(header, 8);
            Map<String, Entry> entries = parseHeader(path, new String(header.array(), StandardCharsets.UTF_8), size - 8 - headerLength);
            Arena arena = Arena.ofShared();
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new SafetensorsFile(path, arena, mapped.asSlice(8 + headerLength), entries);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(path + ": file not found");
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static Map<String, Entry> parseHeader(Path path, String json, long dataBytes) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new CheckpointException(path + ": bad header: not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        if (root == null || !root.isObject()) throw new CheckpointException(path + ": bad header: expected a JSON object");
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            String name = f.getKey();
            if (name.equals("__metadata__")) continue;
            JsonNode t = f.getValue();
            JsonNode shapeNode = t.get("shape"), offsets = t.get("data_offsets");
            if (!t.hasNonNull("dtype") || shapeNode == null || !shapeNode.isArray() || offsets == null || !offsets.isArray() || offsets.size() != 2)
                throw new CheckpointException(path + ": bad header: tensor " + name + " lacks dtype, shape or data_offsets");
            long[] shape = new long[shapeNode.size()];
            long elements = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).asLong(-1);
                if (shape[i] < 0) throw new CheckpointException(path + ": bad header: tensor " + name + " has shape " + shapeNode);
                elements *= shape[i];
            }
            long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
            if (begin < 0 || end < begin)
                throw new CheckpointException(path + ": bad header: tensor " + name + " has data_offsets " + offsets);
            if (end > dataBytes)
                throw new CheckpointException(path + ": truncated: tensor " + name + " needs data bytes up to " + end + ", the file holds " + dataBytes);
            String dtype = t.get("dtype").asText();
            DType known = DType.ofSafetensors(dtype);
            if (known != null && (end - begin) != elements * known.bytes)
                throw new CheckpointException(path + ": bad header: tensor " + name + " is " + dtype + Arrays.toString(shape)
                        + " (" + elements * known.bytes + " bytes) but spans " + (end - begin) + " bytes");
            entries.put(name, new Entry(dtype, shape, begin, end));
        }
        return entries;
    }

    public Path path() {
        return path;
    }

    public Set<String> names() {
        return entries.keySet();
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The dtype string of a tensor's header entry ("BF16", "I64", ...). */
    public String dtypeOf(String name) {
        return entry(name).dtype;
    }

    public long[] shapeOf(String name) {
        return entry(name).shape.clone();
    }

    /** A tensor's bytes as they are, whatever its dtype. */
    public MemorySegment bytes(String name) {
        Entry e = entry(name);
        return data.asSlice(e.begin, e.end - e.begin);
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new CheckpointException(path + ": no tensor " + name);
        return e;
    }

    /** The tensor as a slice of the mapping; an error names the tensor and file when its dtype is not one we compute with. */
    public HostTensor tensor(String name) {
        Entry e = entry(name);
        DType dtype = DType.ofSafetensors(e.dtype);
        if (dtype == null)
            throw new CheckpointException(path + ": tensor " + name + " has dtype " + e.dtype + "; supported are F32, BF16 and F16");
        return new HostTensor(name, dtype, e.shape.clone(), data.asSlice(e.begin, e.end - e.begin));
    }

    @Override
    public void close() {
        arena.close();
    }
}
