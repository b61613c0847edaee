package ai.jamba.kernels.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Zeroed off-heap memory for the weights a decode step streams, on 2 MB pages where Linux offers them: an anonymous
 * mapping advised MADV_HUGEPAGE before its first touch (Linux only maps huge pages on request when transparent huge
 * pages are set to "madvise", as on this VM). A core streams weights a few percent faster without a TLB miss every
 * 4 KB (bench/README.md, CPU). Elsewhere, or if the mapping fails, the memory comes from an automatic arena.
 */
final class WeightMemory {
    private WeightMemory() {}

    private static final long HUGE_PAGE = 2L << 20;
    private static final int PROT_READ_WRITE = 0x3, MAP_PRIVATE_ANONYMOUS = 0x22, MADV_HUGEPAGE = 14;
    private static final MethodHandle MMAP, MADVISE, MUNMAP;

    static {
        MethodHandle mmap = null, madvise = null, munmap = null;
        if (System.getProperty("os.name", "").equals("Linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(),
                        FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
                madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
            } catch (RuntimeException | LinkageError e) { // no native access, or an unusual libc: plain memory
                mmap = madvise = munmap = null;
            }
        }
        MMAP = mmap;
        MADVISE = madvise;
        MUNMAP = munmap;
    }

    /** {@code bytes} of zeroed memory, 64-byte aligned, freed when the segment is no longer reachable. */
    static MemorySegment allocate(long bytes) {
        if (MMAP == null || bytes < HUGE_PAGE) return Arena.ofAuto().allocate(bytes, 64);
        long size = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        try {
            MemorySegment m = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, size, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
            if (m.address() == -1L) return Arena.ofAuto().allocate(bytes, 64); // MAP_FAILED
            int advised = (int) MADVISE.invokeExact(m, size, MADV_HUGEPAGE); // refused: still good memory, on 4 KB pages
            return m.reinterpret(size, Arena.ofAuto(), s -> unmap(s, size)).asSlice(0, bytes);
        } catch (Throwable t) {
            throw new IllegalStateException("mapping " + bytes + " bytes for weights failed", t);
        }
    }

    private static void unmap(MemorySegment m, long size) {
        try {
            int unmapped = (int) MUNMAP.invokeExact(m, size);
        } catch (Throwable t) {
            throw new IllegalStateException("unmapping weight memory failed", t);
        }
    }
}
