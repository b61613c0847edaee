package ai.jamba.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ParallelTest {
    @Test
    void everyIndexRunsExactlyOnceJobAfterJob() {
        try (Parallel pool = new Parallel(3)) {
            for (int job = 0; job < 20_000; job++) {
                int n = 1 + job % 97;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                pool.forRange(n, Parallel.MIN_CHUNK_WORK, (from, to) -> {
                    for (int i = from; i < to; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "job " + job + ", index " + i);
            }
        }
    }

    @Test
    void aFailureInAnyChunkReachesTheCaller() {
        try (Parallel pool = new Parallel(2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.forRange(64, Parallel.MIN_CHUNK_WORK, (from, to) -> {
                if (from <= 40 && 40 < to) throw new IllegalStateException("chunk with 40");
            }));
            assertEquals("chunk with 40", e.getMessage());
            int[] sum = new int[1];
            pool.forRange(1, 1, (from, to) -> sum[0] += to - from); // the pool still works
            assertEquals(1, sum[0]);
        }
    }
}
