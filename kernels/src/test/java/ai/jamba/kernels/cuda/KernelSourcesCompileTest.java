package ai.jamba.kernels.cuda;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every CUDA source compiles alone with nvcc ({@code nvcc -ptx -arch=sm_90 -std=c++17 -I <its folder>}), with the
 * defaults of its -D constants: CI has nvcc but no GPU, so a kernel that does not compile fails there. Skipped
 * (with the reason) where nvcc is not on the PATH.
 */
class KernelSourcesCompileTest {

    /** The sources' folder, or null when they are inside a jar (a prebuilt test jar: nothing to hand nvcc). */
    static Path sourceDir() throws URISyntaxException {
        var uri = KernelSourcesCompileTest.class.getResource("/ai/jamba/kernels/cuda/common.cuh").toURI();
        return uri.getScheme().equals("file") ? Path.of(uri).getParent() : null;
    }

    static boolean nvccOnPath() {
        try {
            Process p = new ProcessBuilder("nvcc", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @TestFactory
    Stream<DynamicTest> everyKernelSourceCompilesWithNvcc() throws IOException, URISyntaxException {
        assumeTrue(nvccOnPath(), "nvcc is not on the PATH: the CUDA sources were not compile-checked");
        Path dir = sourceDir();
        assumeTrue(dir != null, "the CUDA sources are inside a jar here; nvcc checks them in a source build");
        List<Path> sources;
        try (Stream<Path> s = Files.list(dir)) {
            sources = s.filter(p -> p.toString().endsWith(".cu")).sorted().toList();
        }
        assertFalse(sources.isEmpty(), "no .cu sources under " + dir);
        return sources.stream().map(src -> DynamicTest.dynamicTest(src.getFileName().toString(), () -> {
            Path out = Files.createTempFile("jamba-kernel", ".ptx");
            try {
                Process p = new ProcessBuilder("nvcc", "-ptx", "-arch=sm_90", "-std=c++17", "-I", dir.toString(),
                        src.toString(), "-o", out.toString()).redirectErrorStream(true).start();
                String log = new String(p.getInputStream().readAllBytes());
                assertEquals(0, p.waitFor(), () -> "nvcc failed on " + src.getFileName() + ":\n" + log);
            } finally {
                Files.deleteIfExists(out);
            }
        }));
    }
}
