package ai.jamba.kernels.cuda;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * CUDA graphs of repeating forward steps (decode: one token for each of the same number of sequences), one per
 * step shape. A launch through FFM costs ~5 µs of host time and a decode step is hundreds of launches; a graph
 * launch is one.
 *
 * <p>The first step of a shape runs as usual while its kernel launches are recorded; at its end they are captured
 * into graphs of {@link #SEGMENT} launches each. A later step of that shape runs its host code as usual (its
 * inputs, uploaded into the same device buffers, go out at once) but holds its launches back, checking each
 * against the recording (kernel, grid, arguments byte for byte); as soon as a segment's launches all matched, its
 * graph is launched, so the device starts on the step while the host is still checking the rest. Anything else
 * (a buffer that moved, another grid, a download in the middle of the step) launches what was held back and
 * records the step afresh, so a replay only ever runs exactly what the step asked for. Work the recorder cannot
 * see (cuBLAS) marks the shape as not repeatable: its steps then simply run.
 */
final class StepGraphs {
    /** One launch as recorded: what cuLaunchKernel got. */
    private record Launch(KernelCompiler.Kernel kernel, int gx, int gy, int gz, int block, int shared, boolean early,
                          KernelArgs.Frozen args) {
        boolean same(KernelCompiler.Kernel k, int x, int y, int z, int b, int s, boolean e, KernelArgs a) {
            return kernel.function() == k.function() && gx == x && gy == y && gz == z && block == b && shared == s
                    && early == e && a.same(args);
        }
    }

    /**
     * Launches per graph: a replay hands the device a segment as soon as the host has checked it. The first is
     * short, so the device starts early; the rest are long, since kernels in one graph overlap their starts and
     * ends (early launches) and the boundaries between graphs do not.
     */
    static final int FIRST = 8, SEGMENT = 48;

    /** What is known about one step shape: its launches and their graphs (one per segment), or that it cannot be replayed. */
    private static final class Shape {
        List<Launch> launches;
        long[] execs;
        boolean repeatable = true;
    }

    private enum Mode { OFF, RECORD, REPLAY }

    private final CudaDriver driver;
    private final long stream;
    private final boolean enabled;
    private boolean paused;
    private final Map<Integer, Shape> shapes = new HashMap<>();
    private Mode mode = Mode.OFF;
    private Shape shape;
    /** RECORD: this step's launches so far. */
    private List<Launch> log;
    /** REPLAY: launches matched so far, and how many of them went out (in whole segments' graphs). */
    private int matched, issued;
    private boolean foreign;

    StepGraphs(CudaDriver driver, long stream, boolean enabled) {
        this.driver = driver;
        this.stream = stream;
        this.enabled = enabled;
    }

    /** A repeating step of this shape begins. */
    void begin(int key) {
        if (mode != Mode.OFF) throw new IllegalStateException("a repeating step is already running");
        if (!enabled || paused) return;
        shape = shapes.computeIfAbsent(key, k -> new Shape());
        foreign = false;
        if (!shape.repeatable) return;
        if (shape.execs != null) {
            mode = Mode.REPLAY;
            matched = issued = 0;
        } else {
            mode = Mode.RECORD;
            log = new ArrayList<>();
        }
    }

    /**
     * A launch of the step: true when it is held back (it matches the recording and the graph will run it),
     * false when the caller must launch it now (it has been recorded).
     */
    boolean hold(KernelCompiler.Kernel k, int gx, int gy, int gz, int block, int shared, boolean early, KernelArgs args) {
        if (mode == Mode.REPLAY) {
            if (matched < shape.launches.size() && shape.launches.get(matched).same(k, gx, gy, gz, block, shared, early, args)) {
                matched++;
                if (segmentEnd(matched) || matched == shape.launches.size()) {
                    driver.graphLaunch(shape.execs[segment(matched - 1)], stream);
                    issued = matched;
                }
                return true;
            }
            derail();
        }
        if (mode == Mode.RECORD) log.add(new Launch(k, gx, gy, gz, block, shared, early, args.freeze()));
        return false;
    }

    /** The segment of launch i: the first {@link #FIRST} launches, then {@link #SEGMENT} a segment. */
    private static int segment(int i) {
        return i < FIRST ? 0 : 1 + (i - FIRST) / SEGMENT;
    }

    /** Whether the first n launches end a segment. */
    private static boolean segmentEnd(int n) {
        return n == FIRST || (n > FIRST && (n - FIRST) % SEGMENT == 0);
    }

    /** Something needs the launches so far to have been issued (a copy, a free): held ones go out now. */
    void flush() {
        if (mode == Mode.REPLAY) derail();
    }

    /**
     * The step does something a graph cannot replay: device work this recorder does not see (cuBLAS), or a
     * download whose result steers the host. Held launches go out, and the shape's steps simply run from now on.
     */
    void unrepeatable() {
        flush();
        if (mode != Mode.OFF) foreign = true;
    }

    /** The step ended; {@code completed} is false when it threw. */
    void end(boolean completed) {
        try {
            if (mode == Mode.REPLAY) {
                if (!completed || matched != shape.launches.size()) {
                    derail();
                    forget(shape);
                }
            } else if (mode == Mode.RECORD) {
                if (foreign) {
                    forget(shape);
                    shape.repeatable = false;
                } else if (completed) {
                    capture(shape, log);
                }
            } else if (shape != null && foreign) {
                shape.repeatable = false;
            }
        } finally {
            mode = Mode.OFF;
            shape = null;
            log = null;
        }
    }

    /**
     * Launches what was held back (matched, not yet sent in a segment's graph) and goes on recording, with the
     * launches so far as the start of the new log.
     */
    private void derail() {
        log = new ArrayList<>(shape.launches.subList(0, matched));
        for (Launch l : log.subList(issued, matched)) launch(l);
        mode = Mode.RECORD;
    }

    private void launch(Launch l) {
        if (l.early) driver.launchEarly(l.kernel.function(), l.gx, l.gy, l.gz, l.block, 1, 1, l.shared, stream, l.args.pointers(), l.kernel.name());
        else driver.launch(l.kernel.function(), l.gx, l.gy, l.gz, l.block, 1, 1, l.shared, stream, l.args.pointers(), l.kernel.name());
    }

    private void capture(Shape s, List<Launch> launches) {
        forget(s);
        if (launches.isEmpty()) return;
        long[] execs = new long[segment(launches.size() - 1) + 1];
        try {
            for (int i = 0; i < execs.length; i++) {
                int from = i == 0 ? 0 : FIRST + (i - 1) * SEGMENT, to = Math.min(launches.size(), i == 0 ? FIRST : FIRST + i * SEGMENT);
                driver.beginCapture(stream);
                try {
                    for (Launch l : launches.subList(from, to)) launch(l);
                } catch (RuntimeException e) {
                    driver.abandonCapture(stream);
                    throw e;
                }
                execs[i] = driver.endCapture(stream);
            }
        } catch (RuntimeException e) {
            for (long x : execs) if (x != 0) driver.graphDestroy(x);
            throw e;
        }
        s.execs = execs;
        s.launches = launches;
    }

    private void forget(Shape s) {
        if (s.execs != null) for (long x : s.execs) driver.graphDestroy(x);
        s.execs = null;
        s.launches = null;
    }

    /** While paused, repeating steps run launch by launch (timing kernels one at a time). */
    void pause(boolean p) {
        paused = p;
    }

    /** Step shapes with graphs now (for logs and tests). */
    int graphs() {
        int n = 0;
        for (Shape s : shapes.values()) if (s.execs != null) n++;
        return n;
    }

    void close() {
        for (Shape s : shapes.values()) forget(s);
        shapes.clear();
    }
}
