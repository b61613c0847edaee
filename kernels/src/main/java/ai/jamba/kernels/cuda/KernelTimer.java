package ai.jamba.kernels.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Device time of each launch between {@link #start} and {@link #stop}, measured with an event pair around it, and
 * summed by kernel name: where the time of one decode step goes. The events add gaps between kernels, so the
 * sum exceeds the step's time in a graph; the shares are what this is for.
 */
final class KernelTimer {
    /** One kernel's total over the timed work: launches and device milliseconds. */
    record Share(String kernel, int launches, double millis) {}

    private record Span(String kernel, long start, long end) {}

    private final CudaDriver driver;
    private final long stream;
    private final List<Span> spans = new ArrayList<>();
    private long pendingStart;
    private String pendingName;

    KernelTimer(CudaDriver driver, long stream) {
        this.driver = driver;
        this.stream = stream;
    }

    void before(String kernel) {
        pendingName = kernel;
        pendingStart = driver.eventCreate();
        driver.eventRecord(pendingStart, stream);
    }

    void after() {
        long end = driver.eventCreate();
        driver.eventRecord(end, stream);
        spans.add(new Span(pendingName, pendingStart, end));
    }

    /** Waits for the timed work and returns its kernels, most time first. */
    List<Share> shares() {
        driver.synchronize(stream);
        Map<String, double[]> sum = new LinkedHashMap<>();
        for (Span s : spans) {
            double[] a = sum.computeIfAbsent(s.kernel, k -> new double[2]);
            a[0]++;
            a[1] += driver.elapsedMillis(s.start, s.end);
            driver.eventDestroy(s.start);
            driver.eventDestroy(s.end);
        }
        spans.clear();
        List<Share> out = new ArrayList<>();
        sum.forEach((k, a) -> out.add(new Share(k, (int) a[0], a[1])));
        out.sort((a, b) -> Double.compare(b.millis(), a.millis()));
        return out;
    }
}
