package ai.jamba.engine.checkpoint;

import ai.jamba.kernels.HostTensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Hugging Face checkpoint folder: config.json and its weights, in one model.safetensors or sharded under
 * model.safetensors.index.json. Tensors are fetched by name with the shape the config implies, so a checkpoint
 * that disagrees with its config fails at load, naming the tensor and its file.
 */
public final class Checkpoint implements TensorSource {
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private final Path dir;
    private final JambaConfig config;
    /** Tensor name → the file that holds it. */
    private final Map<String, SafetensorsFile> files;

    private Checkpoint(Path dir, JambaConfig config, Map<String, SafetensorsFile> files) {
        this.dir = dir;
        this.config = config;
        this.files = files;
    }

    public static Checkpoint open(Path dir) {
        if (!Files.isDirectory(dir)) throw new CheckpointException(dir + ": not a checkpoint folder (no such directory)");
        JambaConfig config = JambaConfig.load(dir);
        Map<String, SafetensorsFile> files = new LinkedHashMap<>();
        Path index = dir.resolve(INDEX), single = dir.resolve(SINGLE);
        try {
            if (Files.exists(index)) {
                Map<String, SafetensorsFile> byShard = new LinkedHashMap<>();
                for (Map.Entry<String, String> e : readIndex(index).entrySet()) {
                    String shard = e.getValue();
                    SafetensorsFile f = byShard.get(shard);
                    if (f == null) {
                        Path p = dir.resolve(shard);
                        if (!Files.exists(p))
                            throw new CheckpointException(p + ": shard not found (" + INDEX + " puts " + e.getKey() + " in it)");
                        f = SafetensorsFile.open(p);
                        byShard.put(shard, f);
                    }
                    if (!f.contains(e.getKey()))
                        throw new CheckpointException(f.path() + ": no tensor " + e.getKey() + " (" + INDEX + " says it is there)");
                    files.put(e.getKey(), f);
                }
            } else if (Files.exists(single)) {
                SafetensorsFile f = SafetensorsFile.open(single);
                for (String name : f.names()) files.put(name, f);
            } else {
                throw new CheckpointException(dir + ": no " + SINGLE + " or " + INDEX);
            }
        } catch (RuntimeException e) {
            files.values().stream().distinct().forEach(SafetensorsFile::close);
            throw e;
        }
        return new Checkpoint(dir, config, files);
    }

    private static Map<String, String> readIndex(Path index) {
        JsonNode map;
        try {
            map = new ObjectMapper().readTree(Files.readString(index)).get("weight_map");
        } catch (IOException e) {
            throw new CheckpointException(index + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (map == null || !map.isObject()) throw new CheckpointException(index + ": no \"weight_map\" object");
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) throw new CheckpointException(index + ": weight_map entry " + e.getKey() + " is not a file name");
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    public Path dir() {
        return dir;
    }

    @Override
    public JambaConfig config() {
        return config;
    }

    @Override
    public boolean contains(String name) {
        return files.containsKey(name);
    }

    @Override
    public HostTensor tensor(String name, long... shape) {
        SafetensorsFile f = files.get(name);
        if (f == null) throw new CheckpointException(dir + ": missing tensor " + name);
        HostTensor t = f.tensor(name);
        if (!Arrays.equals(t.shape(), shape))
            throw new CheckpointException(f.path() + ": tensor " + name + " has shape " + Arrays.toString(t.shape())
                    + " but config.json implies " + Arrays.toString(shape));
        return t;
    }

    @Override
    public String origin() {
        return dir.toString();
    }

    @Override
    public void close() {
        files.values().stream().distinct().forEach(SafetensorsFile::close);
    }
}
