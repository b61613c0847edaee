package ai.jamba.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of worker threads that split one op's index range between them and the calling thread.
 * An op is too short (microseconds, for a small model) to pay for a task queue or a thread start: workers spin
 * briefly waiting for the next job and park when the engine goes idle.
 */
final class Parallel implements AutoCloseable {

    /** Work over an index range [from, to). */
    @FunctionalInterface
    interface Range {
        void run(int from, int to);
    }

    /** One op's chunks; each job has its own counters, so a late worker can never touch the next op's. */
    private static final class Job {
        final Range body;
        final int chunks, chunkSize, n;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(Range body, int n, int chunks, int chunkSize) {
            this.body = body;
            this.n = n;
            this.chunks = chunks;
            this.chunkSize = chunkSize;
        }

        void drain() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                try {
                    body.run(c * chunkSize, Math.min(n, (c + 1) * chunkSize));
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    done.incrementAndGet();
                }
            }
        }
    }

    private static final long SPIN_NANOS = 200_000;

    private final int threads;
    private final Thread[] workers;
    private volatile Job job;
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
     * Runs {@code body} over [0, n) in chunks of at least {@code grain} indices (a few per thread, for balance),
     * on the calling thread and the workers; returns when every chunk is done.
     */
    void forRange(int n, int grain, Range body) {
        if (n <= 0) return;
        int chunks = Math.max(1, Math.min(n / Math.max(1, grain), threads * 4));
        if (threads == 1 || chunks == 1) {
            body.run(0, n);
            return;
        }
        int size = (n + chunks - 1) / chunks;
        Job j = new Job(body, n, (n + size - 1) / size, size);
        job = j;
        for (Thread w : workers) LockSupport.unpark(w);
        j.drain();
        while (j.done.get() < j.chunks) Thread.onSpinWait();
        Throwable f = j.failure;
        if (f instanceof RuntimeException r) throw r;
        if (f instanceof Error e) throw e;
        if (f != null) throw new RuntimeException(f);
    }

    private void workerLoop() {
        Job seen = null;
        while (!closed) {
            long spinStart = System.nanoTime();
            Job j;
            while ((j = job) == seen && !closed) {
                if (System.nanoTime() - spinStart < SPIN_NANOS) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            if (closed) return;
            seen = j;
            j.drain();
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
