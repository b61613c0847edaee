package ai.jamba.kernels;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Choosing a backend by name, and what happens where CUDA cannot start. */
class BackendsTest {

    @Test
    void cudaEitherOpensOrSaysInOneLineWhatItLookedFor() {
        List<String> log = new ArrayList<>();
        try (Backend b = Backends.open("cuda", 1, log::add)) {
            assertEquals("cuda", b.name());
            assertTrue(b.describe().startsWith("cuda: "), b.describe());
        } catch (BackendUnavailableException e) {
            assertFalse(e.getMessage().isBlank());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        }
    }

    @Test
    void autoFallsBackToTheCpuAndSaysWhy() {
        List<String> log = new ArrayList<>();
        try (Backend b = Backends.open("auto", 1, log::add)) {
            if (b.name().equals("cpu")) {
                assertEquals(1, log.size(), "one line saying why: " + log);
                assertTrue(log.get(0).startsWith("backend auto: CUDA unavailable ("), log.get(0));
            } else {
                assertEquals("cuda", b.name());
            }
        }
    }

    @Test
    void unknownNamesAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.open("tpu", 1, s -> {}));
        assertTrue(e.getMessage().contains("auto, cpu, cuda"), e.getMessage());
    }
}
