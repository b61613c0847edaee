package ai.jamba.engine;

import ai.jamba.kernels.Backend;
import ai.jamba.kernels.BackendUnavailableException;
import ai.jamba.kernels.Backends;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The backend the engine tests run on: {@code -Djamba.test.backend=cuda} runs the same tests on the GPU
 * (default {@code cpu}). Where the named backend cannot start, the tests are skipped with the reason.
 */
public final class TestBackend {
    private TestBackend() {}

    public static final String PROPERTY = "jamba.test.backend";

    public static String name() {
        return System.getProperty(PROPERTY, "cpu");
    }

    public static Backend open() {
        String name = name();
        try {
            Backend b = Backends.open(name, 0, System.out::println);
            System.out.println("test backend: " + b.describe());
            return b;
        } catch (BackendUnavailableException e) {
            assumeTrue(false, "backend " + name + " unavailable, tests skipped: " + e.getMessage());
            throw e;
        }
    }

    /** Whether the backend promises bit-identical rows whatever the batch (the CPU backend does). */
    public static boolean bitExactRows(Backend b) {
        return b.name().equals("cpu");
    }
}
