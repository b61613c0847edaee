package ai.jamba.kernels;

import ai.jamba.kernels.cpu.CpuBackend;
import ai.jamba.kernels.cuda.CudaBackend;

import java.util.function.Consumer;

/** Picks a backend by name: {@code cpu}, {@code cuda}, or {@code auto} (CUDA when it starts, else the CPU). */
public final class Backends {
    private Backends() {}

    public static final String NAMES = "auto, cpu, cuda";

    /**
     * System property: {@code true} packs the CPU backend's bf16 matrices in 12 bits, losslessly (decoding one token
     * reads 3/4 of the bytes; batches and prompts run slower: bench/README.md, CPU).
     */
    public static final String CPU_PACK = "jamba.cpu.pack";

    /**
     * Opens the named backend. {@code threads} sizes the CPU pool (0 = one per core). {@code log} hears
     * what was chosen and why (auto falling back to the CPU says so).
     */
    public static Backend open(String name, int threads, Consumer<String> log) {
        int cpuThreads = threads > 0 ? threads : CpuBackend.defaultThreads();
        boolean pack = Boolean.getBoolean(CPU_PACK);
        return switch (name) {
            case "cpu" -> new CpuBackend(cpuThreads, pack);
            case "cuda" -> CudaBackend.open(log);
            case "auto" -> {
                try {
                    yield CudaBackend.open(log);
                } catch (BackendUnavailableException e) {
                    log.accept("backend auto: CUDA unavailable (" + e.getMessage() + "); using the CPU");
                    yield new CpuBackend(cpuThreads, pack);
                }
            }
            default -> throw new IllegalArgumentException("unknown backend \"" + name + "\"; choose one of " + NAMES);
        };
    }
}
