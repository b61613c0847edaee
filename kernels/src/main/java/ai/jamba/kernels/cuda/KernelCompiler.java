package ai.jamba.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The CUDA C sources (resources beside this class: {@code *.cu} and the shared {@code common.cuh}) compiled by
 * NVRTC for this device, each specialised by {@code -D} options (the model's constants), loaded as modules.
 * Compiled cubins are cached on disk by (source hash, options, device, NVRTC version), so start-up pays the
 * compile once per machine. Cache folder: {@code -Djamba.cuda.cache=DIR}, else {@code ~/.cache/jamba/cuda}.
 */
final class KernelCompiler {
    /** Headers every source may include, by include name. */
    private static final List<String> HEADERS = List.of("common.cuh", "moe.cuh");

    private final CudaDriver driver;
    private final Nvrtc nvrtc;
    private final String arch;
    private final String deviceKey;
    private final Path cacheDir;
    private final Consumer<String> log;
    private final Map<String, Long> modules = new HashMap<>();
    private final Map<String, Kernel> kernels = new HashMap<>();

    KernelCompiler(CudaDriver driver, Nvrtc nvrtc, int ccMajor, int ccMinor, String deviceName, Consumer<String> log) {
        this.driver = driver;
        this.nvrtc = nvrtc;
        this.arch = "sm_" + ccMajor + ccMinor;
        this.deviceKey = deviceName + "/" + arch + "/nvrtc " + nvrtc.version();
        String dir = System.getProperty("jamba.cuda.cache");
        this.cacheDir = dir != null ? Path.of(dir) : Path.of(System.getProperty("user.home"), ".cache", "jamba", "cuda");
        this.log = log;
    }

    /** A kernel function of {@code source} (e.g. "mamba.cu") compiled with {@code defines} (e.g. "D_STATE=16"). */
    Kernel kernel(String source, String function, String... defines) {
        String key = source + " " + String.join(" ", defines) + " " + function;
        Kernel k = kernels.get(key);
        if (k == null) {
            long module = module(source, defines);
            k = new Kernel(driver.function(module, function), function);
            kernels.put(key, k);
        }
        return k;
    }

    long module(String source, String... defines) {
        String key = source + " " + String.join(" ", defines);
        Long m = modules.get(key);
        if (m != null) return m;
        List<String> options = new ArrayList<>(List.of("--gpu-architecture=" + arch, "-std=c++17"));
        for (String d : defines) options.add("-D" + d);
        byte[] cubin = cubin(source, options);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment image = a.allocate(cubin.length + 1L);
            image.copyFrom(MemorySegment.ofArray(cubin));
            long module = driver.moduleLoad(image, source + " " + String.join(" ", defines));
            modules.put(key, module);
            return module;
        }
    }

    private byte[] cubin(String source, List<String> options) {
        String text = resource(source);
        Map<String, String> headers = new HashMap<>();
        for (String h : HEADERS) headers.put(h, resource(h));
        String hash = sha256(text + "\0" + String.join("\0", headers.values()) + "\0" + options + "\0" + deviceKey);
        Path cached = cacheDir.resolve(source.replace(".cu", "") + "-" + hash.substring(0, 24) + ".cubin");
        try {
            if (Files.isRegularFile(cached)) return Files.readAllBytes(cached);
        } catch (IOException e) {
            // unreadable cache entry: compile again
        }
        long t0 = System.nanoTime();
        byte[] bin = nvrtc.compile(source, text, headers, options);
        log.accept(String.format("cuda: compiled %s %s in %d ms", source,
                options.stream().filter(o -> o.startsWith("-D")).toList(), (System.nanoTime() - t0) / 1_000_000));
        try {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempFile(cacheDir, "cubin", ".tmp");
            Files.write(tmp, bin);
            Files.move(tmp, cached, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | UnsupportedOperationException e) {
            log.accept("cuda: could not cache compiled kernels in " + cacheDir + " (" + e.getMessage() + "); they will be compiled again next time");
        }
        return bin;
    }

    /** The text of a kernel source shipped with this class. */
    static String resource(String name) {
        try (InputStream in = KernelCompiler.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("kernel source " + name + " is missing from the jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A loaded kernel function. */
    record Kernel(long function, String name) {}
}
