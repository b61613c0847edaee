package ai.jamba.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A kernel's arguments packed for cuLaunchKernel: each value in its own 8-byte-aligned slot, and an array of
 * pointers to the slots. One instance is reused launch after launch (cuLaunchKernel copies the values), so a
 * launch allocates nothing. Not thread-safe: one engine thread drives a backend.
 */
final class KernelArgs {
    private static final int MAX_ARGS = 32, VALUE_BYTES = 32 * 16;
    private final MemorySegment values, pointers;
    private final int[] offsets = new int[MAX_ARGS];
    private int count, offset;

    KernelArgs() {
        Arena arena = Arena.ofAuto();
        values = arena.allocate(VALUE_BYTES, 16);
        pointers = arena.allocate(ADDRESS, MAX_ARGS);
    }

    KernelArgs reset() {
        count = 0;
        offset = 0;
        return this;
    }

    private long slot(int bytes) {
        if (count == MAX_ARGS || offset + bytes > VALUE_BYTES) throw new IllegalStateException("too many kernel arguments");
        long at = offset;
        offsets[count] = offset;
        pointers.setAtIndex(ADDRESS, count++, values.asSlice(at, bytes));
        offset += (bytes + 7) & ~7;
        return at;
    }

    /** A device pointer (0 for a null pointer). */
    KernelArgs ptr(long devicePointer) {
        values.set(JAVA_LONG, slot(8), devicePointer);
        return this;
    }

    KernelArgs i32(int v) {
        values.set(JAVA_INT, slot(4), v);
        return this;
    }

    KernelArgs i64(long v) {
        values.set(JAVA_LONG, slot(8), v);
        return this;
    }

    KernelArgs f32(float v) {
        values.set(JAVA_FLOAT, slot(4), v);
        return this;
    }

    /** The kernels' BatchDesc struct: four device pointers, passed by value. */
    KernelArgs batch(DeviceBatch b) {
        long at = slot(32);
        values.set(JAVA_LONG, at, b.slots());
        values.set(JAVA_LONG, at + 8, b.starts());
        values.set(JAVA_LONG, at + 16, b.counts());
        values.set(JAVA_LONG, at + 24, b.rowSeq());
        return this;
    }

    MemorySegment pointers() {
        return pointers;
    }

    /** A copy of the arguments as they are now, which stays valid after this buffer is reused (recorded launches). */
    Frozen freeze() {
        Arena arena = Arena.ofAuto();
        MemorySegment v = arena.allocate(Math.max(offset, 8), 16);
        v.copyFrom(values.asSlice(0, offset));
        MemorySegment p = arena.allocate(ADDRESS, Math.max(count, 1));
        for (int i = 0; i < count; i++) p.setAtIndex(ADDRESS, i, v.asSlice(offsets[i]));
        return new Frozen(v.asSlice(0, offset), p);
    }

    /** Whether the arguments now are, byte for byte, those of a frozen copy. */
    boolean same(Frozen f) {
        return f.values().byteSize() == offset && values.asSlice(0, offset).mismatch(f.values()) == -1;
    }

    /** Argument values and the pointers to them, as cuLaunchKernel takes them. */
    record Frozen(MemorySegment values, MemorySegment pointers) {}
}
