package ai.jamba.engine.model;

import ai.jamba.engine.Fixtures;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Mat;
import ai.jamba.kernels.cpu.CpuBackend;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Weights are memory-mapped, not copied: a checkpoint larger than the whole Java heap loads and runs.
 * The file is tiny-a's layout with a vocabulary big enough to make its embedding and head outweigh the heap,
 * written sparse (all zeros), so it costs no disk.
 */
class LargerThanHeapTest {
    @TempDir
    Path dir;

    @Test
    void aCheckpointLargerThanTheHeapLoadsAndRuns() throws IOException {
        long heap = Runtime.getRuntime().maxMemory();
        int hidden = 64;
        long vocab = heap / (hidden * 4L) * 3 / 4 + 1;  // embedding + lm_head: 1.5 heaps of float32
        assertTrue(vocab < Integer.MAX_VALUE / hidden, "heap too large for this test's int-indexed logits");

        ObjectMapper m = new ObjectMapper();
        ObjectNode config = (ObjectNode) m.readTree(Fixtures.fixture("jamba-tiny-a").resolve("config.json").toFile());
        config.put("vocab_size", vocab);
        Files.writeString(dir.resolve("config.json"), config.toString());

        // same tensors as tiny-a, re-laid out, vocabulary-sized ones enlarged; data left as a sparse hole
        byte[] src = Files.readAllBytes(Fixtures.fixture("jamba-tiny-a").resolve("model.safetensors"));
        long n = ByteBuffer.wrap(src, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectNode header = (ObjectNode) m.readTree(new String(src, 8, (int) n, StandardCharsets.UTF_8));
        ObjectNode out = m.createObjectNode();
        long offset = 0;
        for (Iterator<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it = header.fields(); it.hasNext(); ) {
            var e = it.next();
            if (e.getKey().equals("__metadata__")) continue;
            ObjectNode t = e.getValue().deepCopy();
            var shape = t.withArray("shape");
            if (shape.get(0).asLong() == 512) shape.set(0, m.getNodeFactory().numberNode(vocab));
            long bytes = 4;
            for (var d : shape) bytes *= d.asLong();
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
            out.set(e.getKey(), t);
        }
        byte[] h = out.toString().getBytes(StandardCharsets.UTF_8);
        Path file = dir.resolve("model.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
            f.write(len.array());
            f.write(h);
            f.setLength(8 + h.length + offset);
        }
        assertTrue(Files.size(file) > heap, "checkpoint of " + Files.size(file) + " bytes should exceed the heap of " + heap);

        try (CpuBackend backend = new CpuBackend(CpuBackend.defaultThreads());
             JambaModel model = JambaModel.load(dir, backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE)) {
            StatePool pool = model.newStatePool();
            int[] ids = {1, (int) (vocab - 1)};
            Mat logits = model.forward(pool, Batch.of(new int[]{pool.acquire()}, 2), ids, new int[]{1}, null);
            assertEquals(vocab, logits.cols());
            float[] row = new float[(int) vocab];
            backend.download(logits, row);
            for (float v : row) assertEquals(0f, v, "an all-zero model has zero logits");
        }
    }
}
