package ai.jamba.kernels.cuda;

import ai.jamba.kernels.BackendUnavailableException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Finds the CUDA shared libraries: the driver (libcuda, installed with the NVIDIA driver) and the toolkit's
 * libnvrtc and libcublas/libcublasLt. Looks in CUDA_HOME / CUDA_PATH, /usr/local/cuda*, the folders
 * {@code ldconfig -p} lists, and finally the loader's own search path; when nothing loads, the exception names
 * everything that was tried.
 */
final class NativeLibraries {
    private NativeLibraries() {}

    /** Libraries live as long as the process: CUDA cannot be unloaded safely while a context exists. */
    private static final Arena ARENA = Arena.global();

    static SymbolLookup driver() {
        return load("the NVIDIA driver library", List.of("libcuda.so.1"),
                List.of(Path.of("/usr/lib"), Path.of("/usr/lib/x86_64-linux-gnu"), Path.of("/usr/lib64"),
                        Path.of("/usr/local/nvidia/lib64"), Path.of("/usr/local/nvidia/lib")),
                "Is an NVIDIA GPU driver installed?");
    }

    static SymbolLookup nvrtc() {
        List<String> names = List.of("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so");
        return load("NVRTC (the CUDA runtime compiler)", names, toolkitDirs(), TOOLKIT_HINT);
    }

    static SymbolLookup cublas() {
        // libcublas needs libcublasLt; loading it first from the same folder spares the loader a search it may fail
        load("cuBLASLt", List.of("libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"), toolkitDirs(), TOOLKIT_HINT);
        return load("cuBLAS", List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so"), toolkitDirs(), TOOLKIT_HINT);
    }

    /** Where a CUDA toolkit's libraries may be, most specific first. */
    private static List<Path> toolkitDirs() {
        Set<Path> dirs = new LinkedHashSet<>();
        for (String env : List.of("CUDA_HOME", "CUDA_PATH")) {
            String home = System.getenv(env);
            if (home != null && !home.isBlank()) addToolkit(dirs, Path.of(home));
        }
        addToolkit(dirs, Path.of("/usr/local/cuda"));
        try (Stream<Path> s = Files.list(Path.of("/usr/local"))) {
            s.filter(p -> p.getFileName().toString().startsWith("cuda-"))
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed())
                    .forEach(p -> addToolkit(dirs, p));
        } catch (IOException | RuntimeException e) {
            // no /usr/local to list: the other places remain
        }
        return new ArrayList<>(dirs);
    }

    private static void addToolkit(Set<Path> dirs, Path home) {
        dirs.add(home.resolve("lib64"));
        dirs.add(home.resolve("targets/x86_64-linux/lib"));
        dirs.add(home.resolve("lib"));
    }

    /**
     * Loads the first of {@code names} found in {@code dirs}, then in the folders ldconfig knows, then through the
     * loader's search (LD_LIBRARY_PATH, the system folders).
     */
    private static final String TOOLKIT_HINT = "Install the CUDA 13 toolkit libraries or set CUDA_HOME.";

    private static SymbolLookup load(String what, List<String> names, List<Path> dirs, String hint) {
        List<String> tried = new ArrayList<>();
        List<Path> candidates = new ArrayList<>();
        for (Path dir : dirs) for (String name : names) candidates.add(dir.resolve(name));
        for (String name : names) candidates.addAll(ldconfig(name));
        for (Path file : candidates) {
            if (!Files.isRegularFile(file)) {
                tried.add(file.toString());
                continue;
            }
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup(file, ARENA);
                preloadCompanions(file);
                return lib;
            } catch (IllegalArgumentException e) {
                tried.add(file + " (" + e.getMessage() + ")");
            }
        }
        for (String name : names) {
            try {
                return SymbolLookup.libraryLookup(name, ARENA);
            } catch (IllegalArgumentException e) {
                tried.add(name + " through the loader's search path");
            }
        }
        throw new BackendUnavailableException(what + " not found; tried " + String.join(", ", tried) + ". " + hint);
    }

    /** NVRTC opens its builtins library by name at compile time; load it from beside libnvrtc so that works. */
    private static void preloadCompanions(Path file) {
        if (!file.getFileName().toString().startsWith("libnvrtc.so")) return;
        try (Stream<Path> s = Files.list(file.getParent())) {
            s.filter(p -> p.getFileName().toString().startsWith("libnvrtc-builtins.so"))
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString().length()).reversed())
                    .limit(1)
                    .forEach(p -> SymbolLookup.libraryLookup(p, ARENA));
        } catch (IOException | IllegalArgumentException e) {
            // NVRTC will report a missing builtins library itself, with its own message
        }
    }

    private static String ldconfigListing;

    /** Paths {@code ldconfig -p} gives for a library name (none when ldconfig is missing). */
    private static synchronized List<Path> ldconfig(String name) {
        if (ldconfigListing == null) ldconfigListing = runLdconfig();
        List<Path> found = new ArrayList<>();
        for (String line : ldconfigListing.split("\n")) {
            String t = line.trim();
            int arrow = t.indexOf("=>");
            if (t.startsWith(name + " ") && arrow > 0) found.add(Path.of(t.substring(arrow + 2).trim()));
        }
        return found;
    }

    private static String runLdconfig() {
        for (String exe : List.of("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig")) {
            try {
                Process p = new ProcessBuilder(exe, "-p").redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes());
                p.waitFor(5, TimeUnit.SECONDS);
                return out;
            } catch (IOException e) {
                // try the next place ldconfig may be
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "";
            }
        }
        return "";
    }
}
