package ai.jamba.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of worker threads that split one op's index range between them and the calling thread.
 * An op is too short (microseconds, for a small model) to pay for a task queue, a thread start or an
 * allocation: the pool keeps one job slot, and idle workers keep looking for the next job for a millisecond
 * before they park.
 *
 * <p>Cores are shared with whatever else runs on the machine, and the pool is built to lose nothing to it.
 * Chunks are claimed one at a time by whoever is free, the caller included: a worker the OS has not scheduled
 * just claims nothing and the caller runs its chunks. An idle worker yields its core while it looks for work,
 * so it never takes CPU time from another process, or from our own calling thread (spinning in place, it made
 * a two-thread pool run the demo model 30-40% slower than one thread while another build ran). Work too small
 * to pay for a second thread runs on the caller alone. So a small model does not get slower with more threads.
 */
final class Parallel implements AutoCloseable {

    /** Work over an index range [from, to). */
    @FunctionalInterface
    interface Range {
        void run(int from, int to);
    }

    /** A chunk should hold at least this much work (about one multiply-add per unit, some microseconds). */
    static final long MIN_CHUNK_WORK = 1 << 16;
    /**
     * Chunks per thread: enough that a thread that starts late still gets a share, and that the last chunk, run by
     * one thread while the other waits (and the memory bus idles at half speed), is a small part of the op.
     */
    private static final int CHUNKS_PER_THREAD = 16;
    /** How long an idle worker keeps looking for the next job before it parks. */
    private static final long SPIN_NANOS = 1_000_000;

    private final int threads;
    private final Thread[] workers;

    // The current job. Written by the caller only while no job is open, then published by the write of claim.
    private Range body;
    private int n, chunkSize;
    /**
     * The claim word: job number (32 bits), chunk count (16), next chunk to run (16). A worker runs chunk c of job j
     * only by moving this word from (j, chunks, c) to (j, chunks, c + 1); while it can, job j is still open, so
     * the fields it read after seeing j are still job j's.
     */
    private final AtomicLong claim = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile Throwable failure;
    private final AtomicInteger sleeping = new AtomicInteger();
    private volatile boolean closed;

    Parallel(int threads) {
        this.threads = Math.max(1, threads);
        this.workers = new Thread[this.threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "jamba-cpu-" + (i + 1));
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    int threads() {
        return threads;
    }

    /**
     * Runs {@code body} over [0, n) on the calling thread and the workers; returns when every chunk is done.
     * {@code workPerIndex} (about multiply-adds) decides how many chunks the range is worth.
     */
    void forRange(int n, long workPerIndex, Range body) {
        if (n <= 0) return;
        long byWork = n * Math.max(1, workPerIndex) / MIN_CHUNK_WORK;
        int chunks = (int) Math.min(Math.min(n, byWork), (long) threads * CHUNKS_PER_THREAD);
        if (threads == 1 || chunks <= 1) {
            body.run(0, n);
            return;
        }
        int size = (n + chunks - 1) / chunks;
        chunks = (n + size - 1) / size;
        this.body = body;
        this.n = n;
        this.chunkSize = size;
        done.set(0);
        long job = (claim.get() >>> 32) + 1;
        claim.set(job << 32 | (long) chunks << 16);
        if (sleeping.get() > 0) for (Thread w : workers) LockSupport.unpark(w);
        drain(job);
        while (done.get() < chunks) Thread.onSpinWait();
        this.body = null;
        Throwable f = failure;
        if (f != null) {
            failure = null;
            if (f instanceof RuntimeException r) throw r;
            if (f instanceof Error e) throw e;
            throw new RuntimeException(f);
        }
    }

    /** Runs chunks of job {@code job} until none are left to claim (or a newer job has replaced it). */
    private void drain(long job) {
        while (true) {
            long c = claim.get();
            int chunks = (int) (c >>> 16) & 0xFFFF, next = (int) c & 0xFFFF;
            if (c >>> 32 != job || next >= chunks) return;
            Range b = body;
            int size = chunkSize, end = n;
            if (!claim.compareAndSet(c, c + 1)) continue;
            try {
                b.run(next * size, Math.min(end, (next + 1) * size));
            } catch (Throwable t) {
                failure = t;
            } finally {
                done.incrementAndGet();
            }
        }
    }

    private void workerLoop() {
        long seen = 0;
        while (!closed) {
            long job = awaitJob(seen);
            if (closed) return;
            seen = job;
            drain(job);
        }
    }

    /** Spins, then parks, until a job newer than {@code seen} is published; returns its number. */
    private long awaitJob(long seen) {
        long spinStart = System.nanoTime();
        while (true) {
            long job = claim.get() >>> 32;
            if (job != seen || closed) return job;
            if (System.nanoTime() - spinStart < SPIN_NANOS) {
                Thread.yield();
                continue;
            }
            sleeping.incrementAndGet();
            if (claim.get() >>> 32 == seen && !closed) LockSupport.park(this);
            sleeping.decrementAndGet();
            spinStart = System.nanoTime();
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
