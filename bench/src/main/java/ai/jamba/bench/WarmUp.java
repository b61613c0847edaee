package ai.jamba.bench;

import java.lang.management.ManagementFactory;

/**
 * Runs a workload until the JIT has compiled nothing new for two seconds: on two cores its compiler threads take
 * time from ours, and timed runs should measure compiled code only (a path taken for the first time, such as the
 * one-sequence decode kernel, is interpreted until then).
 */
final class WarmUp {
    private WarmUp() {}

    /** Repeats {@code work} until the JIT is quiet (at most two minutes); returns the seconds it took. */
    static double untilJitQuiet(Runnable work) {
        var jit = ManagementFactory.getCompilationMXBean();
        long start = System.nanoTime(), quietSince = start, compiled = -1;
        while (System.nanoTime() - quietSince < 2e9 && System.nanoTime() - start < 120e9) {
            work.run();
            long now = jit.getTotalCompilationTime();
            if (now != compiled) quietSince = System.nanoTime();
            compiled = now;
        }
        return (System.nanoTime() - start) / 1e9;
    }
}
