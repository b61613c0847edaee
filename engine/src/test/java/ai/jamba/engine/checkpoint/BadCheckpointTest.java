package ai.jamba.engine.checkpoint;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A damaged checkpoint fails at load with a message that names the file, the tensor and what is wrong. */
class BadCheckpointTest {
    @TempDir
    Path dir;

    static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    /** Loads {@code dir} and returns the error's message, which must mention every one of {@code expected}. */
    String loadFails(String... expected) {
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> JambaModel.load(dir, backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE).close());
        for (String s : expected) assertTrue(e.getMessage().contains(s), "\"" + e.getMessage() + "\" should mention " + s);
        return e.getMessage();
    }

    void copyFixture(String name) throws IOException {
        try (Stream<Path> files = Files.list(Fixtures.fixture(name))) {
            for (Path f : files.toList()) Files.copy(f, dir.resolve(f.getFileName()));
        }
    }

    @Test
    void truncatedFileNamesTheTensorAndFile() throws IOException {
        copyFixture("jamba-tiny-a");
        Path model = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(model);
        Files.write(model, java.util.Arrays.copyOf(bytes, bytes.length - 1000));
        loadFails("model.safetensors", "truncated", "tensor ");
    }

    @Test
    void fileShorterThanItsHeaderIsTruncated() throws IOException {
        copyFixture("jamba-tiny-a");
        Path model = dir.resolve("model.safetensors");
        Files.write(model, java.util.Arrays.copyOf(Files.readAllBytes(model), 100));
        loadFails("model.safetensors", "truncated", "header");
    }

    @Test
    void shapeThatDisagreesWithTheConfig() throws IOException {
        copyFixture("jamba-tiny-a");
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"intermediate_size\": 32", "\"intermediate_size\": 48"));
        loadFails("model.safetensors", "model.layers.0.feed_forward.gate_proj.weight", "[32, 64]", "[48, 64]");
    }

    @Test
    void missingShardNamesTheShard() throws IOException {
        copyFixture("jamba-tiny-b");
        Files.delete(dir.resolve("model-00007-of-00014.safetensors"));
        loadFails("model-00007-of-00014.safetensors", "not found");
    }

    @Test
    void missingTensor() throws IOException {
        copyFixture("jamba-tiny-b");
        Path index = dir.resolve(Checkpoint.INDEX);
        Files.writeString(index, Files.readString(index).replaceAll("\"model\\.layers\\.3\\.mamba\\.D\": \"[^\"]+\",?", ""));
        loadFails("missing tensor model.layers.3.mamba.D");
    }

    @Test
    void badJsonInConfigIndexAndHeader() throws IOException {
        copyFixture("jamba-tiny-b");
        Path index = dir.resolve(Checkpoint.INDEX);
        Files.writeString(index, "{\"weight_map\": {");
        loadFails(Checkpoint.INDEX, "not valid JSON");

        Files.writeString(dir.resolve("config.json"), "{ \"model_type\": \"jamba\", ");
        loadFails("config.json", "not valid JSON");
    }

    @Test
    void badHeaderJson() throws IOException {
        copyFixture("jamba-tiny-a");
        writeSafetensors(dir.resolve("model.safetensors"), "{\"x\": [1, 2", new byte[0]);
        loadFails("model.safetensors", "bad header", "not valid JSON");
    }

    @Test
    void unsupportedDtypeNamesTheTensor() throws IOException {
        copyFixture("jamba-tiny-a");
        // rewrite the header, declaring the final norm as I32 (same byte count as its F32 data)
        Path model = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(model);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        String changed = header.replaceFirst("(\"model\\.final_layernorm\\.weight\":\\{\"dtype\":\")F32", "$1I32");
        assertTrue(!changed.equals(header), "the fixture header should have the final norm as F32");
        writeSafetensors(model, changed, java.util.Arrays.copyOfRange(bytes, 8 + (int) n, bytes.length));
        loadFails("model.safetensors", "model.final_layernorm.weight", "I32");
    }

    @Test
    void configProblemsAreListed() throws IOException {
        copyFixture("jamba-tiny-a");
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config)
                .replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3")
                .replace("\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 20"));
        loadFails("config.json", "num_attention_heads 4 is not divisible by num_key_value_heads 3", "num_experts_per_tok 20 exceeds num_experts 16");
    }

    @Test
    void notAJambaConfig() throws IOException {
        copyFixture("jamba-tiny-a");
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"model_type\": \"jamba\"", "\"model_type\": \"llama\""));
        loadFails("config.json", "model_type is \"llama\"");
    }

    @Test
    void dtRankAutoIsHiddenOver16RoundedUp() {
        var node = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode()
                .put("model_type", "jamba").put("hidden_size", 4100).put("mamba_dt_rank", "auto")
                .put("num_attention_heads", 4).put("num_key_value_heads", 2);
        assertEquals(257, JambaConfig.parse(node).mambaDtRank());
    }

    @Test
    void folderWithoutWeights() throws IOException {
        Files.copy(Fixtures.fixture("jamba-tiny-a").resolve("config.json"), dir.resolve("config.json"));
        loadFails("no model.safetensors or model.safetensors.index.json");
    }

    static void writeSafetensors(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(file, b.array());
    }
}
