package ai.jamba.engine.session;

import ai.jamba.engine.model.JambaModel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Names the model a saved state belongs to: a state is only valid for the weights that made it. SHA-256 over the
 * config and, for every safetensors file, its name, size and its first and last MiB (the header and some weights of
 * each end): cheap even for a 100 GB checkpoint, and two checkpoints that differ anywhere near their ends or in
 * shape, dtype or config get different names. Weights changed only in the middle of a file are not noticed. A model
 * built from weights that are in no file gets a name of its own, new each time: no saved state is trusted for it.
 */
public final class ModelFingerprint {
    private ModelFingerprint() {}

    private static final int SAMPLE = 1 << 20;

    public static String of(JambaModel model) {
        Optional<Path> dir = model.checkpointDir();
        if (dir.isEmpty()) return "unsaved-" + SessionIds.random();
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(model.config().toString().getBytes(StandardCharsets.UTF_8));
            List<Path> files;
            try (Stream<Path> list = Files.list(dir.get())) {
                files = list.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
            }
            for (Path f : files) {
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    long size = ch.size();
                    sha.update((f.getFileName() + ":" + size).getBytes(StandardCharsets.UTF_8));
                    sha.update(read(ch, 0, (int) Math.min(SAMPLE, size)));
                    sha.update(read(ch, Math.max(0, size - SAMPLE), (int) Math.min(SAMPLE, size)));
                }
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 16);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot fingerprint the checkpoint in " + dir.get(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ByteBuffer read(FileChannel ch, long at, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining() && ch.read(b, at + b.position()) >= 0) {
            // read until full or end of file
        }
        return b.flip();
    }
}
