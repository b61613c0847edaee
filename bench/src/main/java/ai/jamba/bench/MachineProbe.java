package ai.jamba.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;

/**
 * What the machine can do at most, measured with the same tools the kernels use (Vector API, all threads): the
 * read bandwidth of a buffer far larger than the caches (the bound of a decode step, which streams every weight
 * once) and the float32 FMA throughput (the bound of a prefill, which reuses each weight across many tokens).
 */
final class MachineProbe implements AutoCloseable {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** 1 GiB: 32 times the largest L3 we expect, so every pass comes from memory. */
    private static final long BUFFER_BYTES = 1L << 30;

    private final int threads;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;

    MachineProbe(int threads) {
        this.threads = threads;
        this.buffer = arena.allocate(BUFFER_BYTES, 64);
        buffer.fill((byte) 1); // touch every page, so no pass pays for page faults
    }

    /** Read bandwidth in GB/s: the median of {@code passes} passes over the buffer, split between the threads. */
    double readGBs(int passes) {
        for (int i = 0; i < 200; i++) sink(read(buffer.asSlice(0, 1 << 16))); // compiled before the first pass
        double[] gbs = new double[passes];
        long slice = BUFFER_BYTES / threads;
        for (int p = 0; p < passes; p++) {
            double seconds = timeOnAllThreads(t -> sink(read(buffer.asSlice(t * slice, slice))));
            gbs[p] = BUFFER_BYTES / seconds / 1e9;
        }
        return median(gbs);
    }

    /** float32 FMA throughput of all threads in GFLOP/s (2 flops per lane per FMA), best of a few runs. */
    double fmaGflops() {
        for (int i = 0; i < 200; i++) sink(fmaLoop(10_000)); // compiled as a method, not only on-stack-replaced
        long iterations = 20_000_000;
        double best = 0;
        for (int run = 0; run < 3; run++) {
            double seconds = timeOnAllThreads(t -> sink(fmaLoop(iterations)));
            best = Math.max(best, threads * (double) iterations * FMA_CHAINS * F.length() * 2 / seconds / 1e9);
        }
        return best;
    }

    private static float read(MemorySegment s) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        long step = F.vectorByteSize(), end = s.byteSize() - 4 * step;
        for (long off = 0; off <= end; off += 4 * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, s, off, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(F, s, off + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(F, s, off + 2 * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(F, s, off + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    /** Independent FMA chains, enough to cover the FMA latency on two pipes. */
    private static final int FMA_CHAINS = 12;

    private static float fmaLoop(long iterations) {
        FloatVector m = FloatVector.broadcast(F, 0.999f), c = FloatVector.broadcast(F, 1e-3f);
        FloatVector a0 = FloatVector.broadcast(F, 1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
                a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++) {
            a0 = a0.fma(m, c); a1 = a1.fma(m, c); a2 = a2.fma(m, c); a3 = a3.fma(m, c);
            a4 = a4.fma(m, c); a5 = a5.fma(m, c); a6 = a6.fma(m, c); a7 = a7.fma(m, c);
            a8 = a8.fma(m, c); a9 = a9.fma(m, c); a10 = a10.fma(m, c); a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).lane(0);
    }

    /** Keeps a result alive so the JIT cannot drop the loop that made it. */
    private static volatile float sink;

    private static void sink(float v) {
        sink = v;
    }

    /** Runs {@code work(t)} on each of the threads at once; seconds from all starting to all finishing. */
    private double timeOnAllThreads(java.util.function.IntConsumer work) {
        long[] span = new long[2];
        CyclicBarrier start = new CyclicBarrier(threads, () -> span[0] = System.nanoTime());
        CyclicBarrier end = new CyclicBarrier(threads, () -> span[1] = System.nanoTime());
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            int id = t;
            ts[t] = Thread.ofPlatform().start(() -> {
                work.accept(id); // warm-up: compiled code and warm TLBs for the timed pass
                try {
                    start.await();
                    work.accept(id);
                    end.await();
                } catch (InterruptedException | BrokenBarrierException e) {
                    throw new IllegalStateException(e);
                }
            });
        }
        for (Thread t : ts) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        return (span[1] - span[0]) / 1e9;
    }

    static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    @Override
    public void close() {
        arena.close();
    }
}
